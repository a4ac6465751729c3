//! A browser with a software authenticator (webauthn-authenticator-rs's `SoftPasskey`,
//! which signs with user verification) for the passkey tests: it takes the JSON the
//! server hands out and returns the JSON a browser would send back.

use std::time::Duration;

use cai_auth::conformance::{Fixture, PASSWORD};
use cai_auth::{
    AuthConfig, LoginOutcome, PasskeyConfig, PasskeyInfo, PasskeysRecord, SecondFactorMethod,
};
use cai_core::Caller;
use cai_core::domain::RequestMeta;
use cai_core::ports::{Clock, CredentialKind};
use serde_json::{Value, json};
use webauthn_authenticator_rs::AuthenticatorBackend;
use webauthn_authenticator_rs::prelude::{
    CreationChallengeResponse, PublicKeyCredential, RequestChallengeResponse, Url,
    WebauthnAuthenticator,
};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

pub const RP_ID: &str = "nord.example";
pub const ORIGIN: &str = "https://app.nord.example";

pub fn passkey_config() -> AuthConfig {
    passkey_config_with(|_| {})
}

pub fn passkey_config_with(change: impl FnOnce(&mut PasskeyConfig)) -> AuthConfig {
    let mut p = PasskeyConfig::new(RP_ID, "Beratung Nord", &[ORIGIN]);
    change(&mut p);
    AuthConfig {
        passkeys: Some(p),
        ..AuthConfig::default()
    }
}

pub async fn passkey_fixture() -> Fixture {
    super::fixture_with(passkey_config()).await
}

/// One authenticator ("device") and what it registered.
pub struct Device {
    pub soft: SoftPasskey,
    /// base64url of the credential id, once registered.
    pub cred_id: Option<String>,
    /// base64url of the user handle the server gave at registration.
    pub user_handle: Option<String>,
}

impl Device {
    pub fn new() -> Self {
        // `true`: it claims user verification (PIN/biometrics), as a passkey does.
        Self {
            soft: SoftPasskey::new(true),
            cred_id: None,
            user_handle: None,
        }
    }

    /// `navigator.credentials.create` at `origin`: the JSON to send back.
    pub fn create(&mut self, options_json: &str, origin: &str) -> Result<String, String> {
        let options: CreationChallengeResponse = serde_json::from_str(options_json).unwrap();
        let user = options.public_key.user.clone();
        let r = self
            .soft
            .do_registration(Url::parse(origin).unwrap(), options)
            .map_err(|e| format!("{e:?}"))?;
        let text = serde_json::to_string(&r).unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        self.cred_id = Some(v["rawId"].as_str().unwrap().to_owned());
        let user: Value = serde_json::to_value(&user).unwrap();
        self.user_handle = Some(user["id"].as_str().unwrap().to_owned());
        Ok(text)
    }

    /// `create` with the low-level backend: no client-side origin/RP checks, so the
    /// options can claim another RP ID (what a phishing site's authenticator signs).
    pub fn create_unchecked(&mut self, options_json: &str, origin: &str) -> String {
        let options: CreationChallengeResponse = serde_json::from_str(options_json).unwrap();
        let r = self
            .soft
            .perform_register(Url::parse(origin).unwrap(), options.public_key, 60_000)
            .unwrap();
        serde_json::to_string(&r).unwrap()
    }

    /// `navigator.credentials.get` with the server's (allow-listed) options.
    pub fn get(&mut self, options_json: &str, origin: &str) -> Result<String, String> {
        let options: RequestChallengeResponse = serde_json::from_str(options_json).unwrap();
        let r = self
            .soft
            .do_authentication(Url::parse(origin).unwrap(), options)
            .map_err(|e| format!("{e:?}"))?;
        Ok(serde_json::to_string(&r).unwrap())
    }

    /// `get` without client-side checks (a tampered RP ID).
    pub fn get_unchecked(&mut self, options_json: &str, origin: &str) -> String {
        let options: RequestChallengeResponse = serde_json::from_str(options_json).unwrap();
        let r = self
            .soft
            .perform_auth(Url::parse(origin).unwrap(), options.public_key, 60_000)
            .unwrap();
        serde_json::to_string(&r).unwrap()
    }

    /// A discoverable-credential login (conditional UI). `SoftPasskey` keeps no
    /// resident credentials, so the browser part is emulated as a platform
    /// authenticator does it: it picks its credential for the RP ID (here: the one it
    /// registered) and returns the user handle it stored at registration as
    /// `response.userHandle`. Neither is covered by the signature; the challenge,
    /// origin, RP ID hash, flags and counter are, and are the authenticator's own.
    pub fn discover(&mut self, options_json: &str, origin: &str) -> Result<String, String> {
        let mut options: Value = serde_json::from_str(options_json).unwrap();
        assert!(
            options["publicKey"]["allowCredentials"]
                .as_array()
                .is_none_or(Vec::is_empty),
            "a passwordless login names no credential"
        );
        options["publicKey"]["allowCredentials"] =
            json!([{"type": "public-key", "id": self.cred_id.clone().unwrap()}]);
        let text = self.get(&options.to_string(), origin)?;
        let mut v: Value = serde_json::from_str(&text).unwrap();
        v["response"]["userHandle"] = json!(self.user_handle.clone().unwrap());
        Ok(v.to_string())
    }

    /// As [`discover`], answering as the user handle `handle` (base64url).
    pub fn discover_as(&mut self, options_json: &str, handle: &str) -> String {
        let text = self.discover(options_json, ORIGIN).unwrap();
        let mut v: Value = serde_json::from_str(&text).unwrap();
        v["response"]["userHandle"] = json!(handle);
        v.to_string()
    }
}

/// The assertion JSON with one byte of its signed client data changed.
pub fn tamper_client_data(response_json: &str) -> String {
    let mut r: PublicKeyCredential = serde_json::from_str(response_json).unwrap();
    let text = String::from_utf8(r.response.client_data_json.clone()).unwrap();
    let tampered = text.replacen("\"type\"", " \"type\"", 1);
    assert_ne!(text, tampered);
    r.response.client_data_json = tampered.into_bytes();
    serde_json::to_string(&r).unwrap()
}

/// Registers a passkey for `caller` with `device` (at the right origin).
pub async fn register(
    f: &Fixture,
    caller: &Caller,
    device: &mut Device,
    label: &str,
) -> PasskeyInfo {
    let options = f
        .auth
        .begin_passkey_registration(caller, label)
        .await
        .unwrap();
    let response = device.create(options.json(), ORIGIN).unwrap();
    f.auth
        .finish_passkey_registration(caller, &response)
        .await
        .unwrap()
}

/// A passwordless login with `device`: the session or the error.
pub async fn passwordless(
    f: &Fixture,
    device: &mut Device,
) -> Result<cai_auth::IssuedSession, cai_auth::AuthError> {
    let c = f.auth.begin_passkey_login(f.tenant.id).await.unwrap();
    let response = device.discover(c.options.json(), ORIGIN).unwrap();
    f.auth
        .finish_passkey_login(
            f.tenant.id,
            c.ticket.expose(),
            &response,
            super::from("198.51.100.7"),
        )
        .await
}

pub const VALIDITY: Duration = cai_auth::DEFAULT_CEREMONY_VALIDITY;
pub const MS: Duration = Duration::from_millis(1);

pub async fn record(f: &Fixture) -> PasskeysRecord {
    let c = f
        .store
        .credential(f.tenant.id, f.client.id, CredentialKind::Passkeys)
        .await
        .unwrap()
        .unwrap();
    serde_json::from_slice(&c.data).unwrap()
}

/// The client with a password and one registered passkey on `device`.
pub async fn client_with_passkey(f: &Fixture, device: &mut Device) {
    f.with_password(&f.client).await;
    let me = f.vouched(&f.client, false);
    let info = register(f, &me, device, "Laptop").await;
    assert_eq!(info.label, "Laptop");
    assert_eq!(info.created_at, f.clock.now());
    assert_eq!(info.last_used_at, None);
}

/// A password login that must continue with the second factor: its ticket.
pub async fn second_factor_ticket(f: &Fixture) -> String {
    match super::login(f, super::CLIENT, PASSWORD, RequestMeta::default()).await {
        Ok(LoginOutcome::SecondFactorRequired(c)) => {
            assert_eq!(c.method, SecondFactorMethod::Passkey);
            assert!(c.passkey);
            c.ticket.expose().to_owned()
        }
        other => panic!("expected a second-factor challenge, got {other:?}"),
    }
}

/// base64url (no padding) of `bytes`, as WebAuthn JSON carries binary fields.
pub fn b64url(bytes: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let (mut out, mut buf, mut bits) = (String::new(), 0u32, 0u32);
    for b in bytes {
        buf = (buf << 8) | u32::from(*b);
        bits += 8;
        while bits >= 6 {
            bits -= 6;
            out.push(char::from(TABLE[((buf >> bits) & 63) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(TABLE[((buf << (6 - bits)) & 63) as usize]));
    }
    out
}
