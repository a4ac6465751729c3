//! Guests' tokens (R-A7, R-S2): a guest link gives a self-authenticating token that
//! `authenticate` turns into the guest's `Caller`, confined to its one session, ending
//! at its absolute limit or when the guest leaves the session; wrong links counted per
//! client address.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::time::Duration;

use cai_auth::{AuthConfig, AuthError, Authenticator, GUEST_TOKEN_LEN};
use cai_core::domain::{
    ContentKind, Email, IncidentKind, InvitationSecret, Name, Pseudonym, Region, RequestMeta,
    TenantSettings,
};
use cai_core::id::{InvitationId, SubjectId};
use cai_core::ports::{AttemptKey, AttemptScope, AttemptSource, Clock};
use cai_core::service::{ContentBody, NewAccount, NewTenant};
use cai_core::throttle::ThrottlePolicy;
use common::*;

fn plain(text: &str) -> ContentBody {
    ContentBody::plain(text.as_bytes().to_vec())
}

fn invalid(r: Result<cai_core::Caller, AuthError>) -> String {
    match r {
        Err(e @ AuthError::InvalidToken) => e.to_string(),
        other => panic!("expected InvalidToken, got {other:?}"),
    }
}

#[tokio::test]
async fn an_admitted_guest_acts_in_its_session_and_nowhere_else() {
    let f = fixture().await;
    let w = guest_world(&f).await;
    let admitted = admit(&f, &w.link, from("198.51.100.7")).await;
    assert_eq!(admitted.token.expose().len(), GUEST_TOKEN_LEN);
    assert!(admitted.token.expose().starts_with("cg1_"));
    assert_eq!(admitted.guest.session, w.session);
    assert_eq!(admitted.caller.subject, SubjectId::Guest(admitted.guest.id));

    let meta = from("198.51.100.8");
    let caller = f
        .auth
        .authenticate(admitted.token.expose(), meta)
        .await
        .unwrap();
    assert_eq!(caller.tenant, f.tenant.id);
    assert_eq!(caller.subject, SubjectId::Guest(admitted.guest.id));
    assert!(!caller.authentication.second_factor);
    assert_eq!(caller.authentication.at, admitted.caller.authentication.at);
    assert_eq!(caller.request, meta);

    let svc = f.auth.service();
    svc.post_content(
        &caller,
        f.tenant.id,
        w.session,
        ContentKind::Message,
        plain("hallo"),
    )
    .await
    .unwrap();
    let elsewhere = svc
        .post_content(
            &caller,
            f.tenant.id,
            w.other,
            ContentKind::Message,
            plain("x"),
        )
        .await;
    assert!(
        matches!(
            elsewhere,
            Err(cai_core::Error::NotFound { what: "session" })
                | Err(cai_core::Error::Denied { .. })
        ),
        "{elsewhere:?}"
    );
    // A shortened token is no token.
    assert!(
        f.auth
            .authenticate(&admitted.token.expose()[..GUEST_TOKEN_LEN - 1], meta)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn every_altered_character_gives_the_one_answer() {
    let f = fixture().await;
    let w = guest_world(&f).await;
    let admitted = admit(&f, &w.link, RequestMeta::default()).await;
    let good = admitted.token.expose().to_owned();
    let mut answers = std::collections::BTreeSet::new();
    for i in 0..good.len() {
        // Each character replaced by another one of the same alphabet, so the shape
        // stays right and the MAC check (not the parser) has to catch it; and by a
        // character outside it.
        let c = good.as_bytes()[i];
        let same_alphabet = match c {
            b'0'..=b'8' | b'a'..=b'e' => c + 1,
            b'9' => b'a',
            b'f' => b'0',
            _ => b'x',
        };
        for replacement in [same_alphabet, b'G'] {
            let mut bad = good.clone().into_bytes();
            bad[i] = replacement;
            let bad = String::from_utf8(bad).unwrap();
            assert_ne!(bad, good);
            answers.insert(invalid(
                f.auth.authenticate(&bad, RequestMeta::default()).await,
            ));
        }
    }
    for bad in [
        String::new(),
        good[..good.len() - 1].to_owned(),
        format!("{good}0"),
        good.to_uppercase(),
        good.replacen("cg1_", "cs1_", 1),
    ] {
        answers.insert(invalid(
            f.auth.authenticate(&bad, RequestMeta::default()).await,
        ));
    }
    assert_eq!(answers.len(), 1, "{answers:?}");
    // The original still works.
    f.auth
        .authenticate(&good, RequestMeta::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn another_tenant_and_another_deployment_do_not_get_in() {
    let f = fixture().await;
    let w = guest_world(&f).await;
    let admitted = admit(&f, &w.link, RequestMeta::default()).await;
    let good = admitted.token.expose().to_owned();
    let svc = f.auth.service();
    let (other_tenant, _) = svc
        .create_tenant(
            NewTenant {
                name: Name::parse("Beratung Süd").unwrap(),
                region: Region::parse("DE").unwrap(),
                settings: TenantSettings::default(),
            },
            NewAccount::new(
                Email::parse("admin@sued.example").unwrap(),
                Name::parse("Sam Admin").unwrap(),
            ),
        )
        .await
        .unwrap();
    // The tenant field rewritten: the MAC no longer matches.
    let forged = format!(
        "cg1_{}{}",
        hex::encode(other_tenant.id.as_bytes()),
        &good[4 + 32..]
    );
    assert_eq!(forged.len(), good.len());
    let a = invalid(f.auth.authenticate(&forged, RequestMeta::default()).await);

    // A token another deployment (another pepper) issued for its own tenant.
    let elsewhere = fixture().await;
    let ew = guest_world(&elsewhere).await;
    let foreign = admit(&elsewhere, &ew.link, RequestMeta::default()).await;
    let b = invalid(
        f.auth
            .authenticate(foreign.token.expose(), RequestMeta::default())
            .await,
    );
    // Its guest link is no good here either (another tenant's id, another store).
    let r = f
        .auth
        .admit_guest(
            f.tenant.id,
            &ew.link,
            Pseudonym::parse("Mond").unwrap(),
            RequestMeta::default(),
        )
        .await;
    assert!(
        matches!(r, Err(AuthError::Core(cai_core::Error::NotAccepted))),
        "{r:?}"
    );
    assert_eq!(a, b);
}

#[tokio::test]
async fn a_token_ends_exactly_at_its_limit() {
    let config = AuthConfig {
        guest_session_absolute: Duration::from_secs(3600),
        ..AuthConfig::default()
    };
    let f = fixture_with(config.clone()).await;
    let w = guest_world(&f).await;
    let admitted = admit(&f, &w.link, RequestMeta::default()).await;
    assert_eq!(
        admitted.expires_at,
        admitted
            .caller
            .authentication
            .at
            .plus(Duration::from_secs(3600))
    );
    let token = admitted.token.expose().to_owned();
    f.clock.advance(Duration::from_millis(3_600_000 - 1));
    f.auth
        .authenticate(&token, RequestMeta::default())
        .await
        .unwrap();
    f.clock.advance(Duration::from_millis(1));
    let at = invalid(f.auth.authenticate(&token, RequestMeta::default()).await);
    f.clock.advance(Duration::from_millis(1));
    let past = invalid(f.auth.authenticate(&token, RequestMeta::default()).await);
    assert_eq!(at, past);
}

#[tokio::test]
async fn the_guest_s_own_end_and_a_shortened_setting_end_the_token_too() {
    // Default 12 h, but the tenant's guests end after 6 h (standard preset).
    let f = fixture().await;
    let w = guest_world(&f).await;
    let admitted = admit(&f, &w.link, RequestMeta::default()).await;
    assert_eq!(admitted.expires_at, admitted.guest.expires_at);
    let token = admitted.token.expose().to_owned();

    // Shortening the setting shortens tokens already out.
    let shorter = Authenticator::new(
        f.auth.service().clone(),
        f.peppers.clone(),
        AuthConfig {
            guest_session_absolute: Duration::from_secs(600),
            ..AuthConfig::default()
        },
    )
    .unwrap();
    f.clock.advance(Duration::from_secs(600));
    f.auth
        .authenticate(&token, RequestMeta::default())
        .await
        .unwrap();
    invalid(shorter.authenticate(&token, RequestMeta::default()).await);

    // One millisecond before the guest's end, then at it.
    let left = admitted.guest.expires_at.since(f.clock.now());
    f.clock.advance(left - Duration::from_millis(1));
    f.auth
        .authenticate(&token, RequestMeta::default())
        .await
        .unwrap();
    f.clock.advance(Duration::from_millis(1));
    invalid(f.auth.authenticate(&token, RequestMeta::default()).await);
}

#[tokio::test]
async fn removing_the_guest_from_the_session_ends_its_token() {
    let f = fixture().await;
    let w = guest_world(&f).await;
    let admitted = admit(&f, &w.link, RequestMeta::default()).await;
    let stays = admit(&f, &w.link, RequestMeta::default()).await;
    let token = admitted.token.expose().to_owned();
    f.auth
        .authenticate(&token, RequestMeta::default())
        .await
        .unwrap();
    f.auth
        .service()
        .remove_participant(
            &w.counsellor,
            f.tenant.id,
            w.session,
            SubjectId::Guest(admitted.guest.id),
            None,
        )
        .await
        .unwrap();
    invalid(f.auth.authenticate(&token, RequestMeta::default()).await);
    // The other guest is still in.
    f.auth
        .authenticate(stays.token.expose(), RequestMeta::default())
        .await
        .unwrap();
    // A guest token cannot be revoked on its own; removal is the way.
    assert!(matches!(
        f.auth.revoke(stays.token.expose()).await,
        Err(AuthError::InvalidToken)
    ));
}

#[tokio::test]
async fn wrong_links_are_counted_once_per_client_address() {
    let config = AuthConfig {
        guest_link_per_source: ThrottlePolicy {
            free_attempts: 2,
            ..ThrottlePolicy::default()
        },
        ..AuthConfig::default()
    };
    let f = fixture_with(config).await;
    let w = guest_world(&f).await;
    let ip = "203.0.113.9";
    let key = AttemptKey::per_source(
        f.tenant.id,
        AttemptScope::Invitation(cai_auth::ALL_INVITATIONS),
        AttemptSource::parse(ip).unwrap(),
    );
    let wrong = InvitationSecret::generate(InvitationId::random().unwrap()).unwrap();
    let try_link = |link: InvitationSecret, who: &'static str| {
        let auth = f.auth.clone();
        let tenant = f.tenant.id;
        async move {
            auth.admit_guest(tenant, &link, Pseudonym::parse("Gast").unwrap(), from(who))
                .await
        }
    };
    // Right links are not failures.
    for _ in 0..3 {
        try_link(w.link.clone(), ip).await.unwrap();
    }
    assert!(f.failures.state(&key).is_none_or(|s| s.failures == 0));

    for n in 1..=3 {
        let r = try_link(wrong.clone(), ip).await;
        assert!(
            matches!(r, Err(AuthError::Core(cai_core::Error::NotAccepted))),
            "{n}: {r:?}"
        );
        // Counted once per attempt: cai-core's join_as_guest counts nothing itself.
        assert_eq!(f.failures.state(&key).unwrap().failures, n);
    }
    // Blocked now, even with the right link; another address is not.
    let r = try_link(w.link.clone(), ip).await;
    assert!(matches!(r, Err(AuthError::TooManyRequests { .. })), "{r:?}");
    let r = try_link(wrong.clone(), ip).await;
    assert!(matches!(r, Err(AuthError::TooManyRequests { .. })), "{r:?}");
    assert_eq!(f.failures.state(&key).unwrap().failures, 3);
    try_link(w.link.clone(), "203.0.113.10").await.unwrap();

    // The first block raised one incident, with the address.
    let raised: Vec<_> = incidents(&f)
        .await
        .into_iter()
        .filter_map(|i| match i.kind {
            IncidentKind::RepeatedWrongSecret {
                attempts, source, ..
            } => Some((attempts, source)),
            _ => None,
        })
        .collect();
    assert_eq!(raised, vec![(3, Some(ip.to_owned()))]);

    // After the wait the address may try again.
    f.clock.advance(Duration::from_secs(2));
    try_link(w.link.clone(), ip).await.unwrap();
}

#[tokio::test]
async fn a_closed_session_admits_no_guest_and_counts_nothing() {
    let f = fixture().await;
    let w = guest_world(&f).await;
    f.auth
        .service()
        .close_session(&w.counsellor, f.tenant.id, w.session)
        .await
        .unwrap();
    let r = f
        .auth
        .admit_guest(
            f.tenant.id,
            &w.link,
            Pseudonym::parse("Gast").unwrap(),
            from("203.0.113.11"),
        )
        .await;
    assert!(r.is_err(), "{r:?}");
    let key = AttemptKey::per_source(
        f.tenant.id,
        AttemptScope::Invitation(cai_auth::ALL_INVITATIONS),
        AttemptSource::parse("203.0.113.11").unwrap(),
    );
    assert!(f.failures.state(&key).is_none_or(|s| s.failures == 0));
}
