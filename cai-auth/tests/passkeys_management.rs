//! Passkey management: the per-account limit and labels, listing and removal by the
//! owner or an administrator, the relying party's configuration, what the record keeps.
#![cfg(feature = "passkeys")]
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::time::Duration;

use cai_auth::conformance::PASSWORD;
use cai_auth::{AuthConfig, AuthError, Authenticator, LoginOutcome, PasskeyConfig};
use cai_core::domain::RequestMeta;
use common::passkeys::*;
use common::*;

#[tokio::test]
async fn the_number_of_passkeys_is_limited() {
    let f = fixture_with(passkey_config_with(|p| p.max_per_account = 2)).await;
    f.with_password(&f.client).await;
    let me = f.vouched(&f.client, false);
    let aal2 = f.vouched(&f.client, true);
    let mut a = Device::new();
    register(&f, &me, &mut a, "One").await;
    // With a passkey, the next one needs an AAL2 session; its options exclude the
    // first.
    assert!(matches!(
        f.auth.begin_passkey_registration(&me, "Two").await,
        Err(AuthError::SecondFactorRequired)
    ));
    let options = f
        .auth
        .begin_passkey_registration(&aal2, "Two")
        .await
        .unwrap();
    let excluded = a.cred_id.clone().unwrap();
    assert!(options.json().contains(&excluded));
    let mut b = Device::new();
    let response = b.create(options.json(), ORIGIN).unwrap();
    f.auth
        .finish_passkey_registration(&aal2, &response)
        .await
        .unwrap();
    let r = f.auth.begin_passkey_registration(&aal2, "Three").await;
    assert!(
        matches!(r, Err(AuthError::TooManyPasskeys { max: 2 })),
        "{r:?}"
    );
    assert_eq!(r.unwrap_err().to_string(), "at most 2 passkeys per account");
    // Labels are checked: 64 characters are fine (counted as characters, not bytes).
    let mut c = Device::new();
    let longest = "ü".repeat(64);
    f.auth
        .remove_passkey(
            &aal2,
            f.tenant.id,
            f.client.id,
            &f.auth
                .list_passkeys(&me, f.tenant.id, f.client.id)
                .await
                .unwrap()[1]
                .id,
        )
        .await
        .unwrap();
    let info = register(&f, &aal2, &mut c, &longest).await;
    assert_eq!(info.label, longest);
    for bad in ["", "   ", &"x".repeat(65), "a\nb"] {
        assert!(matches!(
            f.auth.begin_passkey_registration(&aal2, bad).await,
            Err(AuthError::Core(cai_core::Error::Invalid { .. }))
        ));
    }
    let labels: Vec<_> = f
        .auth
        .list_passkeys(&me, f.tenant.id, f.client.id)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.label)
        .collect();
    assert_eq!(labels, ["One".to_owned(), "ü".repeat(64)]);
}

#[tokio::test]
async fn owners_at_aal2_and_admins_remove_passkeys() {
    let f = passkey_fixture().await;
    let mut device = Device::new();
    client_with_passkey(&f, &mut device).await;
    let me = f.vouched(&f.client, false);
    let mut spare = Device::new();
    let session = passwordless(&f, &mut device).await.unwrap();
    let aal2 = f
        .auth
        .authenticate(session.token.expose(), RequestMeta::default())
        .await
        .unwrap();
    register(&f, &aal2, &mut spare, "Spare").await;
    let list = f
        .auth
        .list_passkeys(&me, f.tenant.id, f.client.id)
        .await
        .unwrap();
    let (laptop, spare_id) = (list[0].id.clone(), list[1].id.clone());
    let delivered = f.notifier.delivered().len();

    assert!(matches!(
        f.auth
            .remove_passkey(&me, f.tenant.id, f.client.id, &laptop)
            .await,
        Err(AuthError::SecondFactorRequired)
    ));
    // An administrator without a second factor may not.
    assert!(
        f.auth
            .remove_passkey(
                &f.vouched(&f.admin, false),
                f.tenant.id,
                f.client.id,
                &laptop
            )
            .await
            .is_err()
    );
    f.auth
        .remove_passkey(&aal2, f.tenant.id, f.client.id, &laptop)
        .await
        .unwrap();
    assert!(matches!(
        f.auth
            .remove_passkey(&aal2, f.tenant.id, f.client.id, &laptop)
            .await,
        Err(AuthError::Core(cai_core::Error::NotFound { .. }))
    ));
    // The removed one no longer logs in.
    assert!(matches!(
        passwordless(&f, &mut device).await,
        Err(AuthError::LoginFailed)
    ));
    // An admin removes the last one; the password alone logs in again.
    f.auth
        .remove_passkey(&f.admin_caller(), f.tenant.id, f.client.id, &spare_id)
        .await
        .unwrap();
    assert!(
        f.auth
            .list_passkeys(&f.admin_caller(), f.tenant.id, f.client.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        login(&f, CLIENT, PASSWORD, RequestMeta::default()).await,
        Ok(LoginOutcome::Session(_))
    ));
    assert!(f.notifier.delivered().len() >= delivered + 2);
    let removals = audit(&f)
        .await
        .into_iter()
        .filter(|e| {
            e.changes.iter().any(|c| {
                c.property == "passkey"
                    && c.after.as_deref().is_some_and(|a| a.starts_with("removed"))
            })
        })
        .count();
    assert_eq!(removals, 2);
}

#[tokio::test]
async fn the_relying_party_is_checked_and_required() {
    let svc = cai_core::Counselling::new(cai_core::Ports::in_memory().ports);
    let peppers = cai_auth::Peppers::new(cai_auth::Pepper::random("p").unwrap());
    let build = |p: PasskeyConfig| {
        Authenticator::new(
            svc.clone(),
            peppers.clone(),
            AuthConfig {
                passkeys: Some(p),
                ..AuthConfig::default()
            },
        )
    };
    let ok = PasskeyConfig::new(RP_ID, "Nord", &[ORIGIN, "https://nord.example:8443"]);
    build(ok.clone()).unwrap();
    assert_eq!(ok.max_per_account, 10);
    assert_eq!(ok.ceremony_validity, Duration::from_secs(300));
    assert_eq!(cai_auth::MAX_RESPONSE_BYTES, 65_536);
    for seconds in [30, 600] {
        build(PasskeyConfig {
            ceremony_validity: Duration::from_secs(seconds),
            ..ok.clone()
        })
        .unwrap();
    }
    for bad in [
        PasskeyConfig::new(RP_ID, "Nord", &[]),
        PasskeyConfig::new(RP_ID, "Nord", &["https://nord.example.evil"]),
        PasskeyConfig::new(RP_ID, "Nord", &[ORIGIN, "https://other.example"]),
        PasskeyConfig::new(RP_ID, "Nord", &["http://app.nord.example"]),
        PasskeyConfig::new(RP_ID, "Nord", &["not a url"]),
        PasskeyConfig::new(RP_ID, " ", &[ORIGIN]),
        PasskeyConfig {
            max_per_account: 0,
            ..ok.clone()
        },
        PasskeyConfig {
            max_per_account: cai_auth::MAX_PASSKEYS_LIMIT + 1,
            ..ok.clone()
        },
        PasskeyConfig {
            ceremony_validity: Duration::from_secs(29),
            ..ok.clone()
        },
        PasskeyConfig {
            ceremony_validity: Duration::from_secs(601),
            ..ok.clone()
        },
    ] {
        assert!(
            matches!(build(bad.clone()), Err(AuthError::Config(_))),
            "{bad:?}"
        );
    }
    PasskeyConfig::new("localhost", "Dev", &["http://localhost:8080"]);
    build(PasskeyConfig::new(
        "localhost",
        "Dev",
        &["http://localhost:8080"],
    ))
    .unwrap();
    // Without a relying party every passkey operation says so.
    let none = Authenticator::new(svc.clone(), peppers.clone(), AuthConfig::default()).unwrap();
    assert!(matches!(
        none.begin_passkey_login(cai_core::id::TenantId::random().unwrap())
            .await,
        Err(AuthError::Config(_))
    ));
}

#[tokio::test]
async fn the_record_holds_public_keys_and_pending_state_only_until_used() {
    let f = passkey_fixture().await;
    let mut device = Device::new();
    client_with_passkey(&f, &mut device).await;
    let r = record(&f).await;
    assert_eq!(r.passkeys.len(), 1);
    assert!(r.registration.is_none());
    let ticket = second_factor_ticket(&f).await;
    f.auth.begin_passkey_second_factor(&ticket).await.unwrap();
    f.auth.begin_passkey_second_factor(&ticket).await.unwrap();
    // One pending ceremony per ticket.
    assert_eq!(record(&f).await.authentications.len(), 1);
    passwordless(&f, &mut device).await.unwrap();
    assert_eq!(record(&f).await.used_logins.len(), 1);
    // Forgotten after the ticket's expiry, at the next use.
    f.clock.advance(VALIDITY);
    passwordless(&f, &mut device).await.unwrap();
    assert_eq!(record(&f).await.used_logins.len(), 1);
}

#[tokio::test]
async fn the_largest_record_fits_cai_cores_credential_limit() {
    let f = fixture_with(passkey_config_with(|p| {
        p.max_per_account = cai_auth::MAX_PASSKEYS_LIMIT;
    }))
    .await;
    f.with_password(&f.client).await;
    let aal2 = f.vouched(&f.client, true);
    let mut devices: Vec<Device> = (0..cai_auth::MAX_PASSKEYS_LIMIT)
        .map(|_| Device::new())
        .collect();
    for (i, d) in devices.iter_mut().enumerate() {
        register(
            &f,
            &aal2,
            d,
            &format!("Schlüssel Nummer {i} mit langem Namen xxxxxxxx"),
        )
        .await;
    }
    // The most pending ceremonies, each listing every passkey, and a pending
    // registration.
    let mut tickets = Vec::new();
    for _ in 0..cai_auth::MAX_PENDING {
        let t = second_factor_ticket(&f).await;
        f.auth.begin_passkey_second_factor(&t).await.unwrap();
        tickets.push(t);
    }
    assert!(matches!(
        f.auth.begin_passkey_registration(&aal2, "one more").await,
        Err(AuthError::TooManyPasskeys { .. })
    ));
    let size = f
        .store
        .credential(
            f.tenant.id,
            f.client.id,
            cai_core::ports::CredentialKind::Passkeys,
        )
        .await
        .unwrap()
        .unwrap()
        .data
        .len();
    assert!(size < cai_core::ports::Credential::MAX_LEN, "{size} bytes");
    // One more ceremony pushes out the oldest; the newest completes.
    let newest = second_factor_ticket(&f).await;
    f.auth.begin_passkey_second_factor(&newest).await.unwrap();
    assert_eq!(
        record(&f).await.authentications.len(),
        cai_auth::MAX_PENDING
    );
    let last = devices.last_mut().unwrap();
    let options = f.auth.begin_passkey_second_factor(&newest).await.unwrap();
    let response = last.get(options.json(), ORIGIN).unwrap();
    assert!(matches!(
        f.auth
            .complete_second_factor_with_passkey(&newest, &response, RequestMeta::default())
            .await,
        Ok(LoginOutcome::Session(_))
    ));
    println!("largest passkeys record: {size} bytes");
}

#[tokio::test]
async fn another_factor_gates_registration_and_the_offer_follows_the_passkeys() {
    let f = passkey_fixture().await;
    f.with_password(&f.client).await;
    let me = f.vouched(&f.client, false);
    f.auth.enable_email_codes(&me).await.unwrap();
    // E-mail codes are a second factor: AAL1 may not add a passkey.
    assert!(matches!(
        f.auth.begin_passkey_registration(&me, "Laptop").await,
        Err(AuthError::SecondFactorRequired)
    ));
    let Ok(LoginOutcome::SecondFactorRequired(c)) =
        login(&f, CLIENT, PASSWORD, RequestMeta::default()).await
    else {
        panic!("challenge expected")
    };
    assert_eq!(c.method, cai_auth::SecondFactorMethod::Email);
    assert!(!c.passkey);
    let mut device = Device::new();
    register(&f, &f.vouched(&f.client, true), &mut device, "Laptop").await;
    let Ok(LoginOutcome::SecondFactorRequired(c)) =
        login(&f, CLIENT, PASSWORD, RequestMeta::default()).await
    else {
        panic!("challenge expected")
    };
    assert_eq!(c.method, cai_auth::SecondFactorMethod::Email);
    assert!(c.passkey);
}

#[tokio::test]
async fn nobody_but_the_owner_and_admins_sees_or_removes_passkeys() {
    let f = passkey_fixture().await;
    f.auth
        .set_password(&f.vouched(&f.admin, false), None, PASSWORD)
        .await
        .unwrap();
    let mut device = Device::new();
    let admin_self = f.vouched(&f.admin, true);
    let info = register(&f, &admin_self, &mut device, "Admin key").await;
    // The client, even at AAL2, is neither the owner nor an administrator.
    let client = f.vouched(&f.client, true);
    assert!(
        f.auth
            .list_passkeys(&client, f.tenant.id, f.admin.id)
            .await
            .is_err()
    );
    assert!(
        f.auth
            .remove_passkey(&client, f.tenant.id, f.admin.id, &info.id)
            .await
            .is_err()
    );
    assert_eq!(
        f.auth
            .list_passkeys(&admin_self, f.tenant.id, f.admin.id)
            .await
            .unwrap()
            .len(),
        1
    );
}
