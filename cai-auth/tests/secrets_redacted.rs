//! No secret — password, token (guests' too), ticket, pepper, hash — appears in the `Debug` or
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
async fn guest_tokens_are_never_shown() {
    let f = fixture().await;
    let w = guest_world(&f).await;
    let admitted = admit(&f, &w.link, from("198.51.100.20")).await;
    let token = admitted.token.expose().to_owned();
    let mac = token[token.len() - 64..].to_owned();
    let link = w.link.expose().to_string();
    let link_secret = link.rsplit('.').next().unwrap().to_owned();

    let mut tampered = token.clone().into_bytes();
    let last = tampered.len() - 1;
    tampered[last] = if tampered[last] == b'0' { b'1' } else { b'0' };
    let tampered = String::from_utf8(tampered).unwrap();
    let errors = [
        f.auth
            .authenticate(&tampered, RequestMeta::default())
            .await
            .unwrap_err(),
        f.auth
            .authenticate(&format!("{token}x"), RequestMeta::default())
            .await
            .unwrap_err(),
        f.auth.revoke(&token).await.unwrap_err(),
        f.auth
            .admit_guest(
                f.tenant.id,
                &cai_core::domain::InvitationSecret::generate(
                    cai_core::id::InvitationId::random().unwrap(),
                )
                .unwrap(),
                cai_core::domain::Pseudonym::parse("Gast").unwrap(),
                from("198.51.100.20"),
            )
            .await
            .unwrap_err(),
    ];
    let caller = f
        .auth
        .authenticate(&token, RequestMeta::default())
        .await
        .unwrap();
    let mut shown = format!("{admitted:?} {caller:?} {:?}", f.auth);
    for e in &errors {
        shown.push_str(&format!("{e} {e:?}\n"));
    }
    for a in audit(&f).await {
        shown.push_str(&serde_json::to_string(&a).unwrap());
    }
    assert_clean(
        &shown,
        &[
            token.as_str(),
            tampered.as_str(),
            mac.as_str(),
            link_secret.as_str(),
        ],
    );
    assert!(shown.contains("<redacted>"));
}

/// Every string of at least 16 characters inside `v` (ids, keys, challenges).
#[cfg(feature = "passkeys")]
fn long_strings(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) if s.len() >= 16 => out.push(s.clone()),
        serde_json::Value::Array(a) => a.iter().for_each(|x| long_strings(x, out)),
        serde_json::Value::Object(o) => o.values().for_each(|x| long_strings(x, out)),
        _ => {}
    }
}

#[cfg(feature = "passkeys")]
#[tokio::test]
async fn no_passkey_material_or_challenge_is_ever_shown() {
    use common::passkeys::*;
    let f = passkey_fixture().await;
    f.with_password(&f.client).await;
    let me = f.vouched(&f.client, false);
    let mut device = Device::new();
    register(&f, &me, &mut device, "Laptop").await;
    let aal2 = f.vouched(&f.client, true);
    // A registration left pending, a second-factor ceremony pending, a login begun.
    let creation = f
        .auth
        .begin_passkey_registration(&aal2, "Phone")
        .await
        .unwrap();
    let ticket = match login(&f, CLIENT, PASSWORD, RequestMeta::default())
        .await
        .unwrap()
    {
        LoginOutcome::SecondFactorRequired(c) => c,
        other => panic!("{other:?}"),
    };
    let request = f
        .auth
        .begin_passkey_second_factor(ticket.ticket.expose())
        .await
        .unwrap();
    let challenge = f.auth.begin_passkey_login(f.tenant.id).await.unwrap();
    let session = passwordless(&f, &mut device).await.unwrap();
    let stored = f
        .store
        .credential(f.tenant.id, f.client.id, CredentialKind::Passkeys)
        .await
        .unwrap()
        .unwrap();
    let record: cai_auth::PasskeysRecord = serde_json::from_slice(&stored.data).unwrap();
    assert!(record.registration.is_some() && !record.authentications.is_empty());

    let mut secrets = Vec::new();
    for json in [creation.json(), request.json(), challenge.options.json()] {
        let v: serde_json::Value = serde_json::from_str(json).unwrap();
        secrets.push(v["publicKey"]["challenge"].as_str().unwrap().to_owned());
    }
    long_strings(
        &serde_json::to_value(&record.passkeys[0].passkey).unwrap(),
        &mut secrets,
    );
    long_strings(
        &serde_json::to_value(record.registration.as_ref().unwrap()).unwrap(),
        &mut secrets,
    );
    secrets.push(device.cred_id.clone().unwrap());
    secrets.push(challenge.ticket.expose().to_owned());
    secrets.push(session.token.expose().to_owned());
    secrets.sort();
    secrets.dedup();
    // The label and the passkey's id are fine to show; nothing else of it.
    secrets.retain(|s| s != "Phone" && *s != record.passkeys[0].id);
    assert!(secrets.len() > 5, "{secrets:?}");

    let errors = [
        AuthError::TooManyPasskeys { max: 10 },
        AuthError::PasskeyRejected,
        f.auth
            .finish_passkey_login(
                f.tenant.id,
                challenge.ticket.expose(),
                "{}",
                RequestMeta::default(),
            )
            .await
            .unwrap_err(),
    ];
    let list = f
        .auth
        .list_passkeys(&me, f.tenant.id, f.client.id)
        .await
        .unwrap();
    let shown = format!(
        "{creation:?} {request:?} {challenge:?} {session:?} {record:?} {:?} {:?} {:?} {list:?} {errors:?} {}",
        record.passkeys,
        record.registration,
        record.authentications,
        errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" ")
    );
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    assert_clean(&shown, &secrets);
    assert!(shown.contains("Laptop") && shown.contains("redacted"));

    let mut trail = String::new();
    for e in audit(&f).await {
        trail.push_str(&serde_json::to_string(&e).unwrap());
    }
    for n in f.notifier.delivered() {
        trail.push_str(&format!("{n:?}"));
    }
    assert_clean(&trail, &secrets);
}

/// OpenID Connect: the nonce of a login is never shown; the errors about an ID token
/// name the failed check only (`tests/oidc/` checks real tokens end to end).
#[cfg(feature = "oidc")]
#[test]
fn oidc_nonces_and_errors_show_nothing_secret() {
    use cai_auth::oidc::{OidcError, OidcKeys, OidcNonce};

    let nonce = OidcNonce::generate().unwrap();
    let secret = nonce.expose().to_owned();
    let token = format!("eyJhbGciOiJIUzI1NiJ9.{secret}.c2lnbmF0dXJl");
    let keys = OidcKeys::from_jwks_json(token.as_bytes()).unwrap_err();
    let mut shown = format!("{nonce:?} {keys} {keys:?}");
    for e in [
        OidcError::BadSignature,
        OidcError::NonceMismatch,
        OidcError::MissingClaim("nonce"),
        OidcError::TooLarge { limit: 16384 },
    ] {
        let auth = AuthError::from(e);
        shown.push_str(&format!("{e} {e:?} {auth} {auth:?}\n"));
    }
    assert_clean(&shown, &[secret.as_str(), token.as_str(), "c2lnbmF0dXJl"]);
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
    // The mailed token was replaced when the challenge was shown.
    errors.push(complete(&f, &four_eyes, NEW_PASSWORD).await.unwrap_err());
    let completion = challenge.token.to_string();
    complete(&f, &completion, NEW_PASSWORD).await.unwrap();
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
        completion.as_str(),
        &completion[36..],
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
