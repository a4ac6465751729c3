//! Passkeys (WebAuthn) end to end with a software authenticator: registration, the
//! second factor of a password login, passwordless login, and what is refused —
//! wrong origin or RP ID, unknown credentials, replays, expired ceremonies, tampered
//! client data, unusable accounts; failures counted per client address. Management
//! is in `passkeys_management.rs`.
#![cfg(feature = "passkeys")]
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use cai_auth::conformance::{Fixture, PASSWORD};
use cai_auth::{AuthConfig, AuthError, LoginOutcome, SecondFactorMethod};
use cai_core::domain::RequestMeta;
use cai_core::ports::Clock;
use common::passkeys::*;
use common::*;

#[tokio::test]
async fn register_then_log_in_without_a_password_gives_an_aal2_session() {
    let f = passkey_fixture().await;
    let mut device = Device::new();
    client_with_passkey(&f, &mut device).await;
    let session = passwordless(&f, &mut device).await.unwrap();
    assert!(session.caller.authentication.second_factor);
    let caller = f
        .auth
        .authenticate(session.token.expose(), RequestMeta::default())
        .await
        .unwrap();
    assert_eq!(
        caller.subject,
        cai_core::id::SubjectId::Account(f.client.id)
    );
    assert_eq!(caller.tenant, f.tenant.id);
    assert!(caller.authentication.second_factor);
    assert_eq!(caller.authentication.at, f.clock.now());

    // Recorded (R-A9), the registration notified to the admins, the use stored.
    let trail = audit(&f).await;
    let changes: Vec<_> = trail
        .iter()
        .flat_map(|e| {
            e.changes
                .iter()
                .map(|c| (c.property.clone(), c.after.clone()))
        })
        .collect();
    assert!(
        changes
            .iter()
            .any(|(k, v)| k == "last_login" && v.as_deref() == Some("succeeded (passkey)"))
    );
    assert!(
        changes
            .iter()
            .any(|(k, v)| k == "passkey" && v.as_deref().is_some_and(|v| v.starts_with("added")))
    );
    assert!(!f.notifier.delivered().is_empty());
    let list = f
        .auth
        .list_passkeys(&caller, f.tenant.id, f.client.id)
        .await
        .unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].last_used_at, Some(f.clock.now()));
}

#[tokio::test]
async fn a_password_login_completes_with_the_passkey_as_second_factor() {
    let f = passkey_fixture().await;
    f.with_password(&f.client).await;
    // Without a passkey the password alone gives a session, as before.
    assert!(matches!(
        login(&f, CLIENT, PASSWORD, RequestMeta::default()).await,
        Ok(LoginOutcome::Session(_))
    ));
    let mut device = Device::new();
    register(&f, &f.vouched(&f.client, false), &mut device, "Key").await;
    let ticket = second_factor_ticket(&f).await;
    // The passkey method takes no code.
    assert!(matches!(
        f.auth
            .complete_second_factor(&ticket, "123456", RequestMeta::default())
            .await,
        Err(AuthError::WrongCode)
    ));
    let options = f.auth.begin_passkey_second_factor(&ticket).await.unwrap();
    let counter_before = counter(&f).await;
    let response = device.get(options.json(), ORIGIN).unwrap();
    let done = f
        .auth
        .complete_second_factor_with_passkey(&ticket, &response, RequestMeta::default())
        .await;
    let Ok(LoginOutcome::Session(s)) = done else {
        panic!("{done:?}")
    };
    let caller = f
        .auth
        .authenticate(s.token.expose(), RequestMeta::default())
        .await
        .unwrap();
    assert!(caller.authentication.second_factor);
    // The sign counter moved forward and was stored; the ceremony is used up.
    assert!(counter(&f).await > counter_before);
    assert!(record(&f).await.authentications.is_empty());

    // Replayed: with the used ticket, and with a fresh login's ticket.
    assert!(matches!(
        f.auth
            .complete_second_factor_with_passkey(&ticket, &response, RequestMeta::default())
            .await,
        Err(AuthError::InvalidToken)
    ));
    let fresh = second_factor_ticket(&f).await;
    f.auth.begin_passkey_second_factor(&fresh).await.unwrap();
    assert!(matches!(
        f.auth
            .complete_second_factor_with_passkey(&fresh, &response, RequestMeta::default())
            .await,
        Err(AuthError::WrongCode)
    ));
}

/// The stored sign counter of the client's first passkey.
async fn counter(f: &Fixture) -> u64 {
    let v = serde_json::to_value(&record(f).await.passkeys[0].passkey).unwrap();
    v["cred"]["counter"].as_u64().unwrap()
}

#[tokio::test]
async fn with_a_totp_too_the_passkey_is_offered_beside_it() {
    let f = passkey_fixture().await;
    let mut device = Device::new();
    client_with_passkey(&f, &mut device).await;
    // A TOTP enrolled from an AAL2 (passkey) session.
    let s = passwordless(&f, &mut device).await.unwrap();
    let aal2 = f
        .auth
        .authenticate(s.token.expose(), RequestMeta::default())
        .await
        .unwrap();
    let e = f.auth.begin_totp_enrolment(&aal2, "Nord").await.unwrap();
    let secret = cai_auth::totp::TotpSecret::from_base32(&e.secret_base32).unwrap();
    let step = cai_auth::totp::step_at(
        u64::try_from(f.clock.now().unix_millis() / 1000).unwrap(),
        cai_auth::totp::STEP_SECS,
    );
    f.auth
        .confirm_totp(&aal2, &secret.code_at_step(step).unwrap())
        .await
        .unwrap();
    let Ok(LoginOutcome::SecondFactorRequired(c)) =
        login(&f, CLIENT, PASSWORD, RequestMeta::default()).await
    else {
        panic!("challenge expected")
    };
    assert_eq!(c.method, SecondFactorMethod::Totp);
    assert!(c.passkey);
    let options = f
        .auth
        .begin_passkey_second_factor(c.ticket.expose())
        .await
        .unwrap();
    let response = device.get(options.json(), ORIGIN).unwrap();
    assert!(matches!(
        f.auth
            .complete_second_factor_with_passkey(
                c.ticket.expose(),
                &response,
                RequestMeta::default()
            )
            .await,
        Ok(LoginOutcome::Session(_))
    ));
}

#[tokio::test]
async fn a_wrong_origin_or_rp_id_is_refused() {
    let f = passkey_fixture().await;
    f.with_password(&f.client).await;
    let me = f.vouched(&f.client, false);
    let mut device = Device::new();
    // Registration from a sibling origin the host did not allow (the browser accepts
    // it: it is inside the RP ID).
    let options = f.auth.begin_passkey_registration(&me, "x").await.unwrap();
    let response = device
        .create(options.json(), "https://evil.nord.example")
        .unwrap();
    assert!(matches!(
        f.auth.finish_passkey_registration(&me, &response).await,
        Err(AuthError::PasskeyRejected)
    ));
    // An authenticator that signed for another RP ID, from the right origin.
    let options = f.auth.begin_passkey_registration(&me, "x").await.unwrap();
    let mut v: serde_json::Value = serde_json::from_str(options.json()).unwrap();
    v["publicKey"]["rp"]["id"] = "evil.example".into();
    let response = device.create_unchecked(&v.to_string(), ORIGIN);
    assert!(matches!(
        f.auth.finish_passkey_registration(&me, &response).await,
        Err(AuthError::PasskeyRejected)
    ));
    assert!(record(&f).await.passkeys.is_empty());

    // Logins: a registered passkey used at a wrong origin or for a wrong RP ID.
    register(&f, &me, &mut device, "Laptop").await;
    let c = f.auth.begin_passkey_login(f.tenant.id).await.unwrap();
    let wrong_origin = device
        .discover(c.options.json(), "https://evil.nord.example")
        .unwrap();
    assert!(matches!(
        f.auth
            .finish_passkey_login(
                f.tenant.id,
                c.ticket.expose(),
                &wrong_origin,
                RequestMeta::default()
            )
            .await,
        Err(AuthError::LoginFailed)
    ));
    let ticket = second_factor_ticket(&f).await;
    let options = f.auth.begin_passkey_second_factor(&ticket).await.unwrap();
    let mut v: serde_json::Value = serde_json::from_str(options.json()).unwrap();
    v["publicKey"]["rpId"] = "evil.example".into();
    let wrong_rp = device.get_unchecked(&v.to_string(), ORIGIN);
    assert!(matches!(
        f.auth
            .complete_second_factor_with_passkey(&ticket, &wrong_rp, RequestMeta::default())
            .await,
        Err(AuthError::WrongCode)
    ));
    // The right one still works after those.
    let right = device.get(options.json(), ORIGIN).unwrap();
    assert!(
        f.auth
            .complete_second_factor_with_passkey(&ticket, &right, RequestMeta::default())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn an_unregistered_credential_or_unknown_user_reads_like_a_bad_signature() {
    let f = passkey_fixture().await;
    let mut device = Device::new();
    client_with_passkey(&f, &mut device).await;
    // A second authenticator that went through a registration never finished.
    let mut stranger = Device::new();
    let me = f.vouched(&f.client, false);
    let aal2 = f.vouched(&f.client, true);
    let options = f
        .auth
        .begin_passkey_registration(&aal2, "never")
        .await
        .unwrap();
    stranger.create(options.json(), ORIGIN).unwrap();
    let unregistered = passwordless(&f, &mut stranger).await.unwrap_err();
    // A registered passkey answering for a user handle that is no account.
    let c = f.auth.begin_passkey_login(f.tenant.id).await.unwrap();
    let nobody = device.discover_as(c.options.json(), "AAECAwQFBgcICQoLDA0ODw");
    let unknown = f
        .auth
        .finish_passkey_login(
            f.tenant.id,
            c.ticket.expose(),
            &nobody,
            RequestMeta::default(),
        )
        .await
        .unwrap_err();
    // …for another existing account (the admin's): its record has no such key.
    let c = f.auth.begin_passkey_login(f.tenant.id).await.unwrap();
    let admin_handle = b64url(f.admin.id.as_bytes());
    let other = device.discover_as(c.options.json(), &admin_handle);
    let other_account = f
        .auth
        .finish_passkey_login(
            f.tenant.id,
            c.ticket.expose(),
            &other,
            RequestMeta::default(),
        )
        .await
        .unwrap_err();
    // A bad signature: tampered client data.
    let c = f.auth.begin_passkey_login(f.tenant.id).await.unwrap();
    let good = device.discover(c.options.json(), ORIGIN).unwrap();
    let bad = f
        .auth
        .finish_passkey_login(
            f.tenant.id,
            c.ticket.expose(),
            &tamper_client_data(&good),
            RequestMeta::default(),
        )
        .await
        .unwrap_err();
    for e in [&unregistered, &unknown, &other_account, &bad] {
        assert!(matches!(e, AuthError::LoginFailed), "{e:?}");
        assert_eq!(e.to_string(), bad.to_string());
    }
    // The untampered answer to that ticket still works: nothing was used up.
    f.auth
        .finish_passkey_login(
            f.tenant.id,
            c.ticket.expose(),
            &good,
            RequestMeta::default(),
        )
        .await
        .unwrap();
    let _ = me;
}

#[tokio::test]
async fn a_replayed_passwordless_assertion_is_refused() {
    let f = passkey_fixture().await;
    let mut device = Device::new();
    client_with_passkey(&f, &mut device).await;
    let c = f.auth.begin_passkey_login(f.tenant.id).await.unwrap();
    let response = device.discover(c.options.json(), ORIGIN).unwrap();
    let finish = |t: String, r: String| {
        let auth = f.auth.clone();
        let tenant = f.tenant.id;
        async move {
            auth.finish_passkey_login(tenant, &t, &r, RequestMeta::default())
                .await
        }
    };
    finish(c.ticket.expose().to_owned(), response.clone())
        .await
        .unwrap();
    assert!(matches!(
        finish(c.ticket.expose().to_owned(), response.clone()).await,
        Err(AuthError::LoginFailed)
    ));
    // With a fresh ticket the old assertion answers the wrong challenge.
    let fresh = f.auth.begin_passkey_login(f.tenant.id).await.unwrap();
    assert!(matches!(
        finish(fresh.ticket.expose().to_owned(), response).await,
        Err(AuthError::LoginFailed)
    ));
    // A tampered or foreign ticket is no ticket.
    let mut forged = fresh.ticket.expose().to_owned();
    let last = forged.pop().unwrap();
    forged.push(if last == '0' { '1' } else { '0' });
    let answer = device.discover(fresh.options.json(), ORIGIN).unwrap();
    assert!(matches!(
        finish(forged, answer.clone()).await,
        Err(AuthError::InvalidToken)
    ));
    assert!(matches!(
        f.auth
            .finish_passkey_login(
                cai_core::id::TenantId::random().unwrap(),
                fresh.ticket.expose(),
                &answer,
                RequestMeta::default()
            )
            .await,
        Err(AuthError::InvalidToken)
    ));
    // Concurrent use of one ticket: one login.
    let c = f.auth.begin_passkey_login(f.tenant.id).await.unwrap();
    let response = device.discover(c.options.json(), ORIGIN).unwrap();
    let (a, b) = tokio::join!(
        finish(c.ticket.expose().to_owned(), response.clone()),
        finish(c.ticket.expose().to_owned(), response)
    );
    assert_eq!(u8::from(a.is_ok()) + u8::from(b.is_ok()), 1, "{a:?} {b:?}");
}

#[tokio::test]
async fn tickets_and_ceremonies_expire_with_the_clock() {
    let f = passkey_fixture().await;
    let mut device = Device::new();
    f.with_password(&f.client).await;
    let me = f.vouched(&f.client, false);

    // Registration: one past the limit, then exactly at it (the last millisecond).
    let options = f
        .auth
        .begin_passkey_registration(&me, "Late")
        .await
        .unwrap();
    let response = device.create(options.json(), ORIGIN).unwrap();
    f.clock.advance(VALIDITY);
    let r = f.auth.finish_passkey_registration(&me, &response).await;
    assert!(matches!(r, Err(AuthError::InvalidToken)), "{r:?}");
    let options = f
        .auth
        .begin_passkey_registration(&me, "Laptop")
        .await
        .unwrap();
    let response = device.create(options.json(), ORIGIN).unwrap();
    f.clock.advance(VALIDITY - MS);
    f.auth
        .finish_passkey_registration(&me, &response)
        .await
        .unwrap();
    // Used up (and with a passkey now, the AAL1 caller may not even try).
    assert!(matches!(
        f.auth.finish_passkey_registration(&me, &response).await,
        Err(AuthError::SecondFactorRequired)
    ));
    assert!(matches!(
        f.auth
            .finish_passkey_registration(&f.vouched(&f.client, true), &response)
            .await,
        Err(AuthError::InvalidToken)
    ));

    // Passwordless ticket.
    let c = f.auth.begin_passkey_login(f.tenant.id).await.unwrap();
    assert_eq!(c.expires_at, f.clock.now().plus(VALIDITY));
    let late = device.discover(c.options.json(), ORIGIN).unwrap();
    f.clock.advance(VALIDITY);
    assert!(matches!(
        f.auth
            .finish_passkey_login(
                f.tenant.id,
                c.ticket.expose(),
                &late,
                RequestMeta::default()
            )
            .await,
        Err(AuthError::InvalidToken)
    ));
    let c = f.auth.begin_passkey_login(f.tenant.id).await.unwrap();
    let in_time = device.discover(c.options.json(), ORIGIN).unwrap();
    f.clock.advance(VALIDITY - MS);
    f.auth
        .finish_passkey_login(
            f.tenant.id,
            c.ticket.expose(),
            &in_time,
            RequestMeta::default(),
        )
        .await
        .unwrap();

    // Second-factor ceremony (its login ticket lives 10 minutes, the ceremony 5).
    let ticket = second_factor_ticket(&f).await;
    let options = f.auth.begin_passkey_second_factor(&ticket).await.unwrap();
    let late = device.get(options.json(), ORIGIN).unwrap();
    f.clock.advance(VALIDITY);
    assert!(matches!(
        f.auth
            .complete_second_factor_with_passkey(&ticket, &late, RequestMeta::default())
            .await,
        Err(AuthError::InvalidToken)
    ));
    let options = f.auth.begin_passkey_second_factor(&ticket).await.unwrap();
    let in_time = device.get(options.json(), ORIGIN).unwrap();
    f.clock.advance(VALIDITY - MS);
    assert!(matches!(
        f.auth
            .complete_second_factor_with_passkey(&ticket, &in_time, RequestMeta::default())
            .await,
        Ok(LoginOutcome::Session(_))
    ));
}

#[tokio::test]
async fn tampered_client_data_is_refused_everywhere() {
    let f = passkey_fixture().await;
    let mut device = Device::new();
    client_with_passkey(&f, &mut device).await;
    // Second factor (counted like a wrong code).
    let ticket = second_factor_ticket(&f).await;
    let options = f.auth.begin_passkey_second_factor(&ticket).await.unwrap();
    let response = device.get(options.json(), ORIGIN).unwrap();
    assert!(matches!(
        f.auth
            .complete_second_factor_with_passkey(
                &ticket,
                &tamper_client_data(&response),
                RequestMeta::default()
            )
            .await,
        Err(AuthError::WrongCode)
    ));
    assert!(audit(&f).await.iter().any(|e| {
        e.changes
            .iter()
            .any(|c| c.after.as_deref() == Some("wrong passkey assertion"))
    }));
    // Garbage is no better.
    for junk in ["", "{}", "null", &"x".repeat(70_000)] {
        assert!(matches!(
            f.auth
                .complete_second_factor_with_passkey(&ticket, junk, RequestMeta::default())
                .await,
            Err(AuthError::WrongCode)
        ));
    }
    // Registration: a tampered challenge in the client data.
    let aal2 = f.vouched(&f.client, true);
    let options = f
        .auth
        .begin_passkey_registration(&aal2, "Phone")
        .await
        .unwrap();
    let mut other = Device::new();
    let response = other.create(options.json(), ORIGIN).unwrap();
    let mut r: serde_json::Value = serde_json::from_str(&response).unwrap();
    let cdj = r["response"]["clientDataJSON"].as_str().unwrap().to_owned();
    // Flip one base64url character inside the encoded challenge.
    let mut chars: Vec<char> = cdj.chars().collect();
    let i = chars.len() / 2;
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    r["response"]["clientDataJSON"] = chars.into_iter().collect::<String>().into();
    assert!(matches!(
        f.auth
            .finish_passkey_registration(&aal2, &r.to_string())
            .await,
        Err(AuthError::PasskeyRejected)
    ));
}

#[tokio::test]
async fn a_deactivated_account_cannot_log_in_with_its_passkey() {
    let f = passkey_fixture().await;
    let mut device = Device::new();
    client_with_passkey(&f, &mut device).await;
    f.auth
        .deactivate_account(&f.admin_caller(), f.tenant.id, f.client.id, None)
        .await
        .unwrap();
    assert!(matches!(
        passwordless(&f, &mut device).await,
        Err(AuthError::LoginFailed)
    ));
    assert!(audit(&f).await.iter().any(|e| {
        e.changes
            .iter()
            .any(|c| c.after.as_deref() == Some("refused: account not usable"))
    }));
}

#[tokio::test]
async fn failures_are_counted_per_client_address() {
    let f = fixture_with(AuthConfig {
        per_source: cai_core::throttle::ThrottlePolicy {
            free_attempts: 3,
            ..cai_core::throttle::ThrottlePolicy::default()
        },
        ..passkey_config()
    })
    .await;
    let mut device = Device::new();
    client_with_passkey(&f, &mut device).await;
    let c = f.auth.begin_passkey_login(f.tenant.id).await.unwrap();
    let good = device.discover(c.options.json(), ORIGIN).unwrap();
    let bad = tamper_client_data(&good);
    let attacker = from("203.0.113.9");
    // Three free failures and the one that crosses the threshold.
    for _ in 0..4 {
        let r = f
            .auth
            .finish_passkey_login(f.tenant.id, c.ticket.expose(), &bad, attacker)
            .await;
        assert!(matches!(r, Err(AuthError::LoginFailed)), "{r:?}");
    }
    assert!(matches!(
        f.auth
            .finish_passkey_login(f.tenant.id, c.ticket.expose(), &good, attacker)
            .await,
        Err(AuthError::TooManyRequests { .. })
    ));
    // Another address is not blocked, and the account is not locked.
    f.auth
        .finish_passkey_login(f.tenant.id, c.ticket.expose(), &good, from("198.51.100.1"))
        .await
        .unwrap();
    assert!(!incidents(&f).await.is_empty());
}

#[tokio::test]
async fn malformed_tickets_are_refused_without_panicking() {
    let f = passkey_fixture().await;
    let mut device = Device::new();
    client_with_passkey(&f, &mut device).await;
    let c = f.auth.begin_passkey_login(f.tenant.id).await.unwrap();
    let answer = device.discover(c.options.json(), ORIGIN).unwrap();
    let pepper = f.peppers.current().id().to_owned();
    let long = format!("pl1_{pepper}_{}", "00".repeat(2100));
    for bad in [
        String::new(),
        "pl1_".to_owned(),
        format!("pl1_{pepper}"),
        format!("pl1_{pepper}_"),
        format!("pl1_{pepper}_00"),
        // One byte short of a nonce and a tag, then exactly both with nothing sealed.
        format!("pl1_{pepper}_{}", "00".repeat(27)),
        format!("pl1_{pepper}_{}", "00".repeat(28)),
        format!("pl1_{pepper}_zz"),
        format!("pl1_unknown_{}", "00".repeat(40)),
        c.ticket.expose().replacen("pl1_", "cs1_", 1),
        long,
    ] {
        let r = f
            .auth
            .finish_passkey_login(f.tenant.id, &bad, &answer, RequestMeta::default())
            .await;
        assert!(
            matches!(r, Err(AuthError::InvalidToken)),
            "{bad:.40}: {r:?}"
        );
    }
    // The real ticket still works.
    f.auth
        .finish_passkey_login(
            f.tenant.id,
            c.ticket.expose(),
            &answer,
            RequestMeta::default(),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn one_account_uses_at_most_64_passwordless_tickets_per_validity_period() {
    let f = passkey_fixture().await;
    let mut device = Device::new();
    client_with_passkey(&f, &mut device).await;
    for _ in 0..64 {
        passwordless(&f, &mut device).await.unwrap();
    }
    assert!(matches!(
        passwordless(&f, &mut device).await,
        Err(AuthError::LoginFailed)
    ));
    // Once the used tickets have expired, logins work again.
    f.clock.advance(VALIDITY);
    passwordless(&f, &mut device).await.unwrap();
}
