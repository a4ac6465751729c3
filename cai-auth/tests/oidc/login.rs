//! From a verified token to an account and a session: mapping by verified e-mail, the
//! link to `(iss, sub)`, the account's checks, second factor, audit, throttling.

use super::*;

#[tokio::test]
async fn a_valid_token_gives_a_session_for_the_accounts_caller_and_links_it() {
    let f = fixture().await;
    let token = sign(&claims(&f, CLIENT));
    let s = session(&f, &token).await;
    let caller = f
        .auth
        .authenticate(s.token.expose(), RequestMeta::default())
        .await
        .unwrap();
    assert_eq!(caller.subject, SubjectId::Account(f.client.id));
    assert_eq!(caller.tenant, f.tenant.id);
    assert!(!caller.authentication.second_factor, "AAL1 by default");
    // authenticated_at is the provider's auth_time.
    assert_eq!(
        caller.authentication.at.unix_millis(),
        (now_s(&f) - 30) * 1000
    );
    assert_eq!(s.caller.subject, caller.subject);

    let l = link(&f, f.client.id).await.expect("linked on first use");
    assert_eq!((l.issuer.as_str(), l.subject.as_str()), (ISSUER, SUB));
    assert_eq!(l.linked_at, f.clock.now().unix_millis());
    let stored = f
        .store
        .credential(f.tenant.id, f.client.id, CredentialKind::OidcLink)
        .await
        .unwrap()
        .unwrap();
    let shape: Value = serde_json::from_slice(&stored.data).unwrap();
    assert_eq!(
        shape,
        json!({"issuer": ISSUER, "subject": SUB, "linked_at": f.clock.now().unix_millis()})
    );

    // Recorded like a password login, with the client's address; the link once.
    let events = audit(&f).await;
    let ok: Vec<_> = events
        .iter()
        .filter(|e| e.changes.iter().any(|c| c.property == "login_method"))
        .collect();
    assert_eq!(ok.len(), 1);
    assert_eq!(ok[0].request.client, Some("198.51.100.7".parse().unwrap()));
    assert!(ok[0].changes.iter().any(|c| c.property == "last_login"));
    assert!(ok[0].changes.iter().any(|c| c.property == "oidc_link"));

    // The same identity comes back: another session, the link unchanged.
    f.clock.advance(Duration::from_secs(60));
    let again = sign(&claims(&f, CLIENT));
    session(&f, &again).await;
    assert_eq!(link(&f, f.client.id).await.unwrap().linked_at, l.linked_at);
    assert_eq!(
        audit(&f)
            .await
            .iter()
            .filter(|e| e.changes.iter().any(|c| c.property == "oidc_link"))
            .count(),
        1
    );
}

#[tokio::test]
async fn only_a_verified_email_maps_to_an_account() {
    let f = fixture().await;
    let c = || claims(&f, CLIENT);
    let err = oidc_login(
        &f,
        &provider(&f),
        &sign(&with(c(), "email_verified", json!(false))),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, AuthError::Oidc(OidcError::EmailNotVerified)),
        "{err:?}"
    );
    let missing = sign(&without(c(), "email_verified"));
    let err = oidc_login(&f, &provider(&f), &missing).await.unwrap_err();
    assert!(matches!(err, AuthError::Oidc(OidcError::EmailNotVerified)));
    let err = oidc_login(&f, &provider(&f), &sign(&without(c(), "email")))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        AuthError::Oidc(OidcError::MissingClaim("email"))
    ));
    let err = oidc_login(
        &f,
        &provider(&f),
        &sign(&with(c(), "email", json!("no-at-sign"))),
    )
    .await
    .unwrap_err();
    assert!(matches!(
        err,
        AuthError::Oidc(OidcError::InvalidClaim("email"))
    ));
    assert!(link(&f, f.client.id).await.is_none());
    // A provider that only issues verified addresses may leave the claim out; false
    // is still refused.
    let lenient = OidcProvider {
        require_email_verified: false,
        ..provider(&f)
    };
    let err = oidc_login(
        &f,
        &lenient,
        &sign(&with(c(), "email_verified", json!(false))),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, AuthError::Oidc(OidcError::EmailNotVerified)));
    assert!(matches!(
        oidc_login(&f, &lenient, &missing).await,
        Ok(LoginOutcome::Session(_))
    ));
    let err = oidc_login(
        &f,
        &provider(&f),
        &sign(&with(c(), "email_verified", json!("false"))),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, AuthError::Oidc(OidcError::EmailNotVerified)),
        "{err:?}"
    );
    let err = oidc_login(
        &f,
        &provider(&f),
        &sign(&with(c(), "email_verified", json!("yes"))),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            AuthError::Oidc(OidcError::InvalidClaim("email_verified"))
        ),
        "{err:?}"
    );
    // The string form some providers send counts; the address is matched case-blind.
    let text = with(
        with(c(), "email_verified", json!("true")),
        "email",
        json!("Robin@Nord.Example"),
    );
    assert!(matches!(
        oidc_login(&f, &provider(&f), &sign(&text)).await,
        Ok(LoginOutcome::Session(_))
    ));
}

#[tokio::test]
async fn unknown_addresses_deactivated_accounts_and_other_identities_get_one_answer() {
    let f = fixture().await;
    let unknown = oidc_login(&f, &provider(&f), &sign(&claims(&f, "nobody@nord.example")))
        .await
        .unwrap_err();
    assert!(matches!(unknown, AuthError::LoginFailed));

    // Linked to SUB; then the provider hands the address to someone else.
    session(&f, &sign(&claims(&f, CLIENT))).await;
    let other = sign(&with(claims(&f, CLIENT), "sub", json!("someone-else")));
    let mismatch = oidc_login(&f, &provider(&f), &other).await.unwrap_err();
    assert!(matches!(mismatch, AuthError::LoginFailed));
    // Another issuer (a second provider of the tenant) with the same subject: refused.
    let second = OidcProvider::new(f.tenant.id, "https://other-idp.example", CLIENT_ID);
    let from_second = sign(&with(
        claims(&f, CLIENT),
        "iss",
        json!("https://other-idp.example"),
    ));
    let err = f
        .auth
        .login_with_id_token(
            &second,
            &keys(),
            &from_second,
            NONCE,
            RequestMeta::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::LoginFailed));

    f.auth
        .deactivate_account(&f.admin_caller(), f.tenant.id, f.client.id, None)
        .await
        .unwrap();
    let deactivated = oidc_login(&f, &provider(&f), &sign(&claims(&f, CLIENT)))
        .await
        .unwrap_err();
    assert!(matches!(deactivated, AuthError::LoginFailed));

    for e in [&mismatch, &deactivated] {
        assert_eq!(e.to_string(), unknown.to_string());
        assert_eq!(format!("{e:?}"), format!("{unknown:?}"));
    }
    let trail = login_changes(&audit(&f).await);
    for expected in [
        "failed (oidc): no account",
        "refused (oidc): linked identity differs",
        "refused: account not usable",
    ] {
        assert!(
            trail.iter().any(|t| t == expected),
            "{expected} in {trail:?}"
        );
    }
}

#[tokio::test]
async fn a_different_subject_for_a_linked_address_is_an_incident_for_the_admins() {
    let f = fixture().await;
    session(&f, &sign(&claims(&f, CLIENT))).await;
    let before = f.notifier.delivered().len();
    let other = sign(&with(claims(&f, CLIENT), "sub", json!("someone-else")));
    oidc_login(&f, &provider(&f), &other).await.unwrap_err();
    let incidents = incidents(&f).await;
    assert_eq!(incidents.len(), 1);
    assert!(matches!(
        &incidents[0].kind,
        IncidentKind::ExternalIdentityMismatch { account, issuer } if *account == f.client.id && issuer == ISSUER
    ));
    assert!(f.notifier.delivered().len() > before, "the admins are told");
    // The link still names the first identity, which still logs in.
    assert_eq!(link(&f, f.client.id).await.unwrap().subject, SUB);
    session(&f, &sign(&claims(&f, CLIENT))).await;

    // An administrator removes the link (audited); the next login links anew.
    let plain = f.vouched(&f.client, false);
    assert!(
        f.auth
            .remove_oidc_link(&plain, f.tenant.id, f.client.id)
            .await
            .is_err()
    );
    f.auth
        .remove_oidc_link(&f.admin_caller(), f.tenant.id, f.client.id)
        .await
        .unwrap();
    assert!(link(&f, f.client.id).await.is_none());
    assert!(
        f.auth
            .remove_oidc_link(&f.admin_caller(), f.tenant.id, f.client.id)
            .await
            .is_err()
    );
    session(&f, &other).await;
    assert_eq!(link(&f, f.client.id).await.unwrap().subject, "someone-else");
}

#[tokio::test]
async fn the_token_grants_no_roles_and_the_tenants_second_factor_rule_applies() {
    let f = fixture().await;
    // The admin: the tenant requires a second factor of admins (the default).
    let admin = f.admin.email.as_ref().unwrap().as_str().to_owned();
    let c = with(
        with(claims(&f, &admin), "sub", json!("admin-sub")),
        "roles",
        json!(["tenant_admin", "owner"]),
    );
    match oidc_login(&f, &provider(&f), &sign(&c)).await.unwrap() {
        LoginOutcome::SecondFactorEnrolmentRequired(_) => {}
        other => panic!("expected enrolment, got {other:?}"),
    }
    // The provider's MFA counts only where the tenant's configuration trusts it.
    let mfa = with(c.clone(), "amr", json!(["pwd", "otp"]));
    assert!(matches!(
        oidc_login(&f, &provider(&f), &sign(&mfa)).await.unwrap(),
        LoginOutcome::SecondFactorEnrolmentRequired(_)
    ));
    let trusting = OidcProvider {
        trust_idp_mfa: true,
        ..provider(&f)
    };
    let LoginOutcome::Session(s) = oidc_login(&f, &trusting, &sign(&mfa)).await.unwrap() else {
        panic!("a session with the provider's MFA");
    };
    assert!(s.caller.authentication.second_factor);
    let caller = f
        .auth
        .authenticate(s.token.expose(), RequestMeta::default())
        .await
        .unwrap();
    assert!(caller.authentication.second_factor);
    // Password only at the provider: not enough even when trusted.
    let pwd = with(c.clone(), "amr", json!(["pwd"]));
    assert!(matches!(
        oidc_login(&f, &trusting, &sign(&pwd)).await.unwrap(),
        LoginOutcome::SecondFactorEnrolmentRequired(_)
    ));
    // acr counts only if listed.
    let acr = with(c, "acr", json!("gold"));
    assert!(matches!(
        oidc_login(&f, &trusting, &sign(&acr)).await.unwrap(),
        LoginOutcome::SecondFactorEnrolmentRequired(_)
    ));
    let by_acr = OidcProvider {
        mfa_acr: vec!["gold".into()],
        ..trusting.clone()
    };
    assert!(matches!(
        oidc_login(&f, &by_acr, &sign(&acr)).await.unwrap(),
        LoginOutcome::Session(_)
    ));
    // The client's roles are what the tenant gave, whatever the token said.
    let client = sign(&with(claims(&f, CLIENT), "roles", json!(["tenant_admin"])));
    session(&f, &client).await;
    let stored = f
        .store
        .account(f.tenant.id, f.client.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.roles, f.client.roles);
}

#[tokio::test]
async fn an_accounts_own_second_factor_is_asked_after_the_provider() {
    let f = fixture().await;
    f.auth
        .enable_email_codes(&f.vouched(&f.client, false))
        .await
        .unwrap();
    let LoginOutcome::SecondFactorRequired(challenge) =
        oidc_login(&f, &provider(&f), &sign(&claims(&f, CLIENT)))
            .await
            .unwrap()
    else {
        panic!("the account's e-mail code is asked for");
    };
    assert_eq!(challenge.method, SecondFactorMethod::Email);
    let mail = f.mailer.sent().pop().expect("a code was mailed");
    let code = mail
        .body
        .split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .unwrap()
        .to_owned();
    // The account has no password: the second step still ends in an AAL2 session.
    let outcome = f
        .auth
        .complete_second_factor(challenge.ticket.expose(), &code, RequestMeta::default())
        .await
        .unwrap();
    let LoginOutcome::Session(s) = outcome else {
        panic!("a session after the code, got {outcome:?}");
    };
    assert!(s.caller.authentication.second_factor);
}

#[tokio::test]
async fn an_administrator_without_trusted_mfa_enrols_cais_own_second_factor() {
    use cai_auth::totp::{STEP_SECS, TotpSecret, step_at};
    let f = fixture().await;
    let admin = f.admin.email.as_ref().unwrap().as_str().to_owned();
    let token = sign(&with(claims(&f, &admin), "sub", json!("admin-sub")));
    let LoginOutcome::SecondFactorEnrolmentRequired(t) =
        oidc_login(&f, &provider(&f), &token).await.unwrap()
    else {
        panic!("an enrolment ticket");
    };
    let ticket = t.ticket.expose().to_owned();
    let e = f
        .auth
        .begin_enrolment_with_ticket(&ticket, "Beratung Nord", RequestMeta::default())
        .await
        .unwrap();
    let secret = TotpSecret::from_base32(&e.secret_base32).unwrap();
    let secs = u64::try_from(f.clock.now().unix_millis() / 1000).unwrap();
    let code = secret.code_at_step(step_at(secs, STEP_SECS)).unwrap();
    // The admin has no password: the enrolment still ends in an AAL2 session.
    let done = f
        .auth
        .finish_enrolment_with_ticket(&ticket, &code, RequestMeta::default())
        .await
        .unwrap();
    let LoginOutcome::Session(s) = done.outcome else {
        panic!("a session after enrolment");
    };
    assert!(s.caller.authentication.second_factor);
    assert_eq!(s.caller.subject, SubjectId::Account(f.admin.id));
    // From now on the provider's login asks for the TOTP.
    f.clock.advance(Duration::from_secs(STEP_SECS));
    let again = sign(&with(claims(&f, &admin), "sub", json!("admin-sub")));
    assert!(matches!(
        oidc_login(&f, &provider(&f), &again).await.unwrap(),
        LoginOutcome::SecondFactorRequired(_)
    ));
}

#[tokio::test]
async fn the_password_plays_no_part_in_an_oidc_login() {
    let f = fixture().await;
    f.with_password(&f.client).await;
    f.auth
        .force_password_change(&f.admin_caller(), f.tenant.id, f.client.id)
        .await
        .unwrap();
    // A forced change concerns the password, not the provider's login.
    session(&f, &sign(&claims(&f, CLIENT))).await;
    assert!(matches!(
        login(
            &f,
            CLIENT,
            cai_auth::conformance::PASSWORD,
            RequestMeta::default()
        )
        .await,
        Ok(LoginOutcome::MustChangePassword(_))
    ));
}

#[tokio::test]
async fn bad_tokens_from_one_address_are_throttled_with_an_incident() {
    let f = fixture().await;
    let bad = sign_with(
        &claims(&f, CLIENT),
        &rsa_b(),
        Algorithm::RS256,
        Some("rsa-a"),
    );
    let mut answers = Vec::new();
    for _ in 0..22 {
        answers.push(oidc_login(&f, &provider(&f), &bad).await.unwrap_err());
    }
    assert!(
        answers[..20]
            .iter()
            .all(|e| matches!(e, AuthError::Oidc(OidcError::BadSignature)))
    );
    assert!(
        matches!(answers[21], AuthError::TooManyRequests { .. }),
        "{:?}",
        answers[21]
    );
    assert!(incidents(&f).await.iter().any(|i| matches!(
        &i.kind,
        IncidentKind::RepeatedWrongSecret { source: Some(s), .. } if s == "198.51.100.7"
    )));
    // Unknown keys (a rotation the host has not fetched yet) are not counted.
    let g = fixture().await;
    let rotated = sign_with(
        &claims(&g, CLIENT),
        &rsa_b(),
        Algorithm::RS256,
        Some("rsa-b"),
    );
    for _ in 0..25 {
        let e = oidc_login(&g, &provider(&g), &rotated).await.unwrap_err();
        assert!(matches!(e, AuthError::Oidc(OidcError::UnknownKey)), "{e:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_first_logins_link_one_identity() {
    let f = fixture().await;
    let keys = std::sync::Arc::new(keys());
    // The same identity eight times at once: every login succeeds, one link.
    let token = sign(&claims(&f, CLIENT));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (auth, p, keys, token) = (f.auth.clone(), provider(&f), keys.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            auth.login_with_id_token(&p, &keys, &token, NONCE, RequestMeta::default())
                .await
        }));
    }
    for t in tasks {
        assert!(matches!(t.await.unwrap(), Ok(LoginOutcome::Session(_))));
    }
    let links = audit(&f)
        .await
        .iter()
        .filter(|e| e.changes.iter().any(|c| c.property == "oidc_link"))
        .count();
    assert_eq!(links, 1);

    // Eight identities for one unlinked address at once: exactly one is linked, every
    // other is refused as a mismatch.
    let g = fixture().await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let token = sign(&with(
            claims(&g, CLIENT),
            "sub",
            json!(format!("person-{i}")),
        ));
        let (auth, p, keys) = (g.auth.clone(), provider(&g), keys.clone());
        tasks.push(tokio::spawn(async move {
            let r = auth
                .login_with_id_token(&p, &keys, &token, NONCE, RequestMeta::default())
                .await;
            (i, r)
        }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            (i, Ok(LoginOutcome::Session(_))) => winners.push(format!("person-{i}")),
            (_, Err(AuthError::LoginFailed)) => {}
            (_, other) => panic!("{other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    assert_eq!(link(&g, g.client.id).await.unwrap().subject, winners[0]);
    let mismatches = incidents(&g)
        .await
        .iter()
        .filter(|i| matches!(i.kind, IncidentKind::ExternalIdentityMismatch { .. }))
        .count();
    assert_eq!(mismatches, 7);
}

#[tokio::test]
async fn an_invalid_provider_configuration_is_refused() {
    let f = fixture().await;
    let bad = OidcProvider {
        client_id: String::new(),
        ..provider(&f)
    };
    let err = oidc_login(&f, &bad, &sign(&claims(&f, CLIENT)))
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::Config(_)));
}

#[tokio::test]
async fn no_token_text_in_errors_debug_or_the_audit_trail() {
    let f = fixture().await;
    let good = sign(&claims(&f, CLIENT));
    let forged = sign_with(
        &claims(&f, CLIENT),
        &rsa_b(),
        Algorithm::RS256,
        Some("rsa-a"),
    );
    let expired = sign(&with(claims(&f, CLIENT), "exp", json!(now_s(&f) - 3600)));
    let wrong_iss = sign(&with(
        claims(&f, CLIENT),
        "iss",
        json!("https://evil.example"),
    ));
    let mut shown = String::new();
    for t in [&forged, &expired, &wrong_iss] {
        let e = oidc_login(&f, &provider(&f), t).await.unwrap_err();
        shown.push_str(&format!("{e} {e:?}\n"));
    }
    let s = session(&f, &good).await;
    let verified = verify(&f, &provider(&f), &good).unwrap();
    let nonce = OidcNonce::generate().unwrap();
    shown.push_str(&format!(
        "{s:?} {verified:?} {:?} {:?} {nonce:?}",
        keys(),
        provider(&f)
    ));
    let mut secrets: Vec<String> = vec![
        nonce.expose().to_owned(),
        NONCE.to_owned(),
        "evil.example".to_owned(),
    ];
    for t in [&good, &forged, &expired, &wrong_iss] {
        secrets.push(t.clone());
        secrets.extend(t.split('.').filter(|p| p.len() > 8).map(str::to_owned));
    }
    for secret in &secrets {
        assert!(
            !shown.contains(secret.as_str()),
            "{secret} leaked into {shown}"
        );
    }
    let mut trail = String::new();
    for e in audit(&f).await {
        trail.push_str(&serde_json::to_string(&e).unwrap());
    }
    for i in incidents(&f).await {
        trail.push_str(&format!("{i:?}"));
    }
    assert!(trail.contains("oidc"));
    for secret in &secrets {
        assert!(
            !trail.contains(secret.as_str()),
            "{secret} in the audit trail"
        );
    }
}
