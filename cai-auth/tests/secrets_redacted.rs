//! No secret — password, token, ticket, pepper, hash — appears in the `Debug` or
//! `Display` of any `cai-auth` type or error, nor in the audit trail, incidents or
//! admin notifications.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use cai_auth::conformance::PASSWORD;
use cai_auth::records::{PasswordRecord, TokenRecord};
use cai_auth::{AuthError, LoginOutcome, Pepper, Peppers, PolicyViolation};
use cai_core::domain::RequestMeta;
use cai_core::ports::CredentialKind;
use common::*;

const WRONG: &str = "Wrong-password-Secret-42";
/// Breaks the policy (no digit).
const BAD_NEW: &str = "Sesam-oeffne-Dich";

fn assert_clean(shown: &str, secrets: &[&str]) {
    for s in secrets {
        assert!(!s.is_empty());
        assert!(!shown.contains(s), "secret {s:?} leaked into {shown:?}");
    }
}

#[tokio::test]
async fn nothing_secret_is_ever_shown() {
    let f = fixture().await;
    f.with_password(&f.client).await;
    let session = client_session(&f).await;
    let token = session.token.expose().to_owned();
    let token_secret = token[token.len() - 64..].to_owned();
    let phc_record = f
        .store
        .credential(f.tenant.id, f.client.id, CredentialKind::Password)
        .await
        .unwrap()
        .unwrap();
    let record: PasswordRecord = serde_json::from_slice(&phc_record.data).unwrap();
    let phc = record.phc.clone();
    let hash_part = phc.rsplit('$').next().unwrap().to_owned();
    let tokens: TokenRecord = serde_json::from_slice(
        &f.store
            .credential(f.tenant.id, f.client.id, CredentialKind::Tokens)
            .await
            .unwrap()
            .unwrap()
            .data,
    )
    .unwrap();
    let token_hash = tokens.entries[0].hash.clone();

    f.auth
        .force_password_change(&f.admin_caller(), f.tenant.id, f.client.id)
        .await
        .unwrap();
    let ticket = match login(&f, CLIENT, PASSWORD, RequestMeta::default())
        .await
        .unwrap()
    {
        LoginOutcome::MustChangePassword(t) => t,
        other => panic!("{other:?}"),
    };
    let ticket_text = ticket.ticket.expose().to_owned();
    let pepper = Pepper::new("k9", &[0x42; 32]).unwrap();

    let mut errors: Vec<AuthError> = vec![
        login(&f, CLIENT, WRONG, RequestMeta::default())
            .await
            .unwrap_err(),
        f.auth
            .authenticate(&format!("{token}x"), RequestMeta::default())
            .await
            .unwrap_err(),
        f.auth
            .change_password_with_ticket(&ticket_text, BAD_NEW, RequestMeta::default())
            .await
            .unwrap_err(),
        AuthError::PolicyViolated(vec![
            PolicyViolation::Common,
            PolicyViolation::TooShort { min: 12 },
        ]),
    ];
    errors.push(
        f.auth
            .set_password(
                &f.vouched(&f.client, false),
                Some(WRONG),
                "Neuer-Deich-Turm-8",
            )
            .await
            .unwrap_err(),
    );
    let mut shown = String::new();
    for e in &errors {
        shown.push_str(&format!("{e} {e:?}\n"));
    }
    shown.push_str(&format!(
        "{session:?} {ticket:?} {record:?} {tokens:?} {:?} {:?} {:?}",
        pepper,
        Peppers::new(pepper.clone()),
        f.auth
    ));
    let secrets = [
        PASSWORD,
        WRONG,
        BAD_NEW,
        token.as_str(),
        token_secret.as_str(),
        ticket_text.as_str(),
        phc.as_str(),
        hash_part.as_str(),
        token_hash.as_str(),
        "66, 66, 66", // the pepper's bytes, as Debug of a slice would show them
        "424242",
    ];
    assert_clean(&shown, &secrets);

    // Nor in what is stored for people to read.
    let mut trail = String::new();
    for e in audit(&f).await {
        trail.push_str(&serde_json::to_string(&e).unwrap());
    }
    for i in incidents(&f).await {
        trail.push_str(&format!("{i:?}"));
    }
    for n in f.notifier.delivered() {
        trail.push_str(&format!("{n:?}"));
    }
    assert!(!trail.is_empty());
    assert_clean(&trail, &secrets);
}

#[tokio::test]
async fn nothing_secret_of_recovery_or_the_four_eyes_reset_is_shown() {
    use cai_auth::records::RecoveryRecord;
    use cai_core::domain::BuiltinRole;
    use common::recovery::*;

    let f = fixture().await;
    f.with_password(&f.client).await;
    let counsellor = account_with(
        &f,
        "kim@nord.example",
        "Kim Berg",
        &[BuiltinRole::Counsellor.id()],
    )
    .await;
    let stored_record = |account| {
        let store = f.store.clone();
        let tenant = f.tenant.id;
        async move {
            let c = store
                .credential(tenant, account, CredentialKind::Recovery)
                .await
                .unwrap()
                .unwrap();
            let r: RecoveryRecord = serde_json::from_slice(&c.data).unwrap();
            r
        }
    };

    // Self-service: errors of a wrong token and of a weak password.
    begin(&f, CLIENT).await.unwrap();
    let plain = mailed_token(&f, CLIENT);
    let plain_record = stored_record(f.client.id).await;
    let plain_hash = plain_record.token.as_ref().unwrap().hash.clone();
    let mut wrong = plain.clone();
    wrong.pop();
    wrong.push(if plain.ends_with('0') { '1' } else { '0' });
    let mut errors: Vec<AuthError> = vec![
        complete(&f, &wrong, NEW_PASSWORD).await.unwrap_err(),
        complete(&f, &plain, BAD_NEW).await.unwrap_err(),
    ];

    // Four eyes: token, challenge, a wrong and the right confirmation.
    begin(&f, "kim@nord.example").await.unwrap();
    let status = f
        .auth
        .approve_password_reset(&f.admin_caller(), f.tenant.id, counsellor.id)
        .await
        .unwrap();
    let four_eyes = mailed_token(&f, "kim@nord.example");
    errors.push(complete(&f, &four_eyes, NEW_PASSWORD).await.unwrap_err());
    let challenge = f
        .auth
        .show_reset_challenge(f.tenant.id, &four_eyes, RequestMeta::default())
        .await
        .unwrap();
    let code = challenge.code.to_string();
    let pending = stored_record(counsellor.id).await;
    let challenge_hash = pending
        .reset
        .as_ref()
        .unwrap()
        .challenge
        .as_ref()
        .unwrap()
        .hash
        .clone();
    let four_eyes_hash = pending.token.as_ref().unwrap().hash.clone();
    let not_the_code = if code.starts_with('A') {
        "BBBB-BBBB-BBBB-BBBB"
    } else {
        "AAAA-AAAA-AAAA-AAAA"
    };
    errors.push(
        f.auth
            .confirm_reset_challenge(&f.admin_caller(), f.tenant.id, counsellor.id, not_the_code)
            .await
            .unwrap_err(),
    );
    let verified = f
        .auth
        .confirm_reset_challenge(&f.admin_caller(), f.tenant.id, counsellor.id, &code)
        .await
        .unwrap();
    complete(&f, &four_eyes, NEW_PASSWORD).await.unwrap();
    complete(&f, &plain, NEW_PASSWORD).await.unwrap();
    errors.push(complete(&f, &plain, NEW_PASSWORD).await.unwrap_err());

    let mut shown = String::new();
    for e in &errors {
        shown.push_str(&format!("{e} {e:?}\n"));
    }
    shown.push_str(&format!(
        "{challenge:?} {status:?} {verified:?} {plain_record:?} {pending:?} {:?} {:?}",
        stored_record(counsellor.id).await,
        f.auth
    ));
    let secrets = [
        plain.as_str(),
        &plain[36..],
        four_eyes.as_str(),
        &four_eyes[36..],
        code.as_str(),
        &code.replace('-', ""),
        challenge.qr_svg.as_str(),
        plain_hash.as_str(),
        four_eyes_hash.as_str(),
        challenge_hash.as_str(),
        NEW_PASSWORD,
        BAD_NEW,
    ];
    assert_clean(&shown, &secrets);

    let mut trail = String::new();
    for e in audit(&f).await {
        trail.push_str(&serde_json::to_string(&e).unwrap());
    }
    for i in incidents(&f).await {
        trail.push_str(&format!("{i:?}"));
    }
    for n in f.notifier.delivered() {
        trail.push_str(&format!("{n:?}"));
    }
    assert!(trail.contains("password_reset"));
    assert_clean(&trail, &secrets);
    // Mail subjects name no secret either (bodies carry the token: that is the point).
    for m in f.mailer.sent() {
        assert_clean(&format!("{} {m:?}", m.subject), &secrets);
    }
}
