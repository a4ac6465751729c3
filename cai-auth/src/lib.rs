//! # cai-auth
//!
//! Authentication for the cai SDK: how a person proves who they are, and how a host
//! turns that proof into the `cai_core::Caller` every service operation takes.
//!
//! - **Passwords only their owner knows** (R-A1, R-A2): peppered Argon2id PHC strings
//!   ([`password`]), re-layered with a fresh salt on every successful login and
//!   upgraded when the tenant's cost rises; the tenant's policy with every broken rule
//!   reported, a shipped list of 10 000 common passwords, no name or e-mail inside.
//!   Only the owner sets a password ([`Authenticator::set_password`]); no operation
//!   lets an administrator set or read one.
//! - **Login** ([`Authenticator::login`]) that never reveals whether an account exists
//!   — same answer, same Argon2 work — counted through cai-core's `FailureCounter`
//!   per account (lockout, R-A3) and per client address (credential stuffing, R-U3),
//!   recorded with time and client address (R-A9), only inside the account's validity
//!   window (R-I6). An expired password gives a change ticket, not a session.
//! - **Session tokens** (R-A7, R-A8): 256-bit opaque bearer tokens stored as SHA-256
//!   hashes, with idle and absolute timeouts and revocation;
//!   [`Authenticator::authenticate`] is *the* way from a token to a `Caller`, with the
//!   assurance level (second factor or not) and the time of the last authentication.
//!   A host with its own identity layer uses [`caller_vouched_by_host`], whose docs say
//!   what it then vouches for.
//! - **Second factor** (R-A4): TOTP per RFC 6238 ([`totp`]) with an `otpauth://` URI
//!   and an SVG QR code for enrolment ([`Authenticator::begin_totp_enrolment`]), a ±1
//!   step window, each code good once; with a confirmed TOTP a login yields
//!   [`LoginOutcome::SecondFactorRequired`] and [`Authenticator::complete_second_factor`]
//!   gives an AAL2 session; ten one-time recovery codes (stored as peppered HMACs) stand
//!   in for a lost phone. Where the tenant requires a second factor (administrators by
//!   default), a login without one gives [`LoginOutcome::SecondFactorEnrolmentRequired`]
//!   and the user enrols before getting any session.
//! - **Self-service recovery** (R-A5, [`Authenticator::begin_recovery`],
//!   [`Authenticator::complete_recovery`]): one answer for every address, a 256-bit
//!   single-use token mailed through cai-core's `Mailer` port (as text, or in a link's
//!   fragment — never a query), stored as a peppered HMAC, 30 minutes; completing applies
//!   the policy, ends every session, and leaves locks, the failure count and the second
//!   factor alone.
//! - **Four-eyes reset** (R-A6, [`Authenticator::approve_password_reset`] and friends):
//!   counsellors' and administrators' passwords are reset only after a second
//!   administrator approved and confirmed the person with a one-time QR challenge
//!   ([`Authenticator::show_reset_challenge`], [`Authenticator::confirm_reset_challenge`]).
//! - **Administration** ([`Authenticator::unlock_account`] and friends): unlock, reset
//!   the counter, force a change, end sessions, deactivate — authorized, audited,
//!   notified to admins (R-I5).
//! - **Passkeys** (feature `passkeys`, WebAuthn over `webauthn-rs`): registered by their
//!   owner (`Authenticator::begin_passkey_registration`), used as the second factor of a
//!   password login (`Authenticator::complete_second_factor_with_passkey`) or alone for a
//!   passwordless login with discoverable credentials (`begin_passkey_login`,
//!   `finish_passkey_login`); both give AAL2 (possession plus user verification). See
//!   `docs/AUTH.md` § 4b.
//!
//! Storage goes through cai-core's credential records (`ports::CredentialStore`,
//! written in atomic batches with revision preconditions), so every cai-core backend
//! holds `cai-auth`'s data too; [`conformance`] (feature `conformance`) checks the
//! properties `cai-auth` relies on against a backend.
//!
//! E-mailed one-time codes ([`Authenticator::enable_email_codes`]) are the second factor
//! of accounts without a TOTP that turn them on.
//!
//! - **Guests** ([`Authenticator::admit_guest`]): a guest link admits a guest to its
//!   ad-hoc session and gives a self-authenticating token (HMAC-SHA-256 under a key
//!   derived from the pepper, absolute expiry) that `authenticate` turns into the
//!   guest's `Caller` while the guest is still in the session; wrong links are counted
//!   per client address.
//! - **SMTP** (feature `smtp`, `smtp::SmtpMailer`): cai-core's `Mailer` port over
//!   SMTP with lettre and rustls — implicit TLS or required STARTTLS, plaintext only
//!   to a loopback address.
//! - **axum** (feature `axum`, `axum::Authenticated`): an extractor from
//!   `Authorization: Bearer` to the `Caller`, with 401/429/503 answers in cai-core's
//!   JSON error shape.
//! - **OpenID Connect** (feature `oidc`, module `oidc`): a centre's own identity
//!   provider. `Authenticator::login_with_id_token` verifies an ID token (pinned asymmetric
//!   algorithms, issuer, audience, `azp`, times against the clock port, nonce) with the
//!   keys of a JWKS the host fetched, maps its verified e-mail address to an account,
//!   links the account to the provider's `(iss, sub)` and refuses another identity
//!   later (an incident), and gives the same outcome as a password login.
//!
//! ```
//! use cai_auth::{AuthConfig, Authenticator, HashParams, LoginOutcome, Pepper, Peppers,
//!     TenantAuthConfig, caller_vouched_by_host};
//! use cai_core::domain::{Email, Name, Region, RequestMeta, TenantSettings, TwoFactorPolicy};
//! use cai_core::ports::Clock;
//! use cai_core::service::{NewAccount, NewTenant};
//! use cai_core::{Counselling, Ports};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mem = Ports::in_memory();
//! let svc = Counselling::new(mem.ports.clone());
//! let (tenant, admin) = svc
//!     .create_tenant(
//!         NewTenant {
//!             name: Name::parse("Beratung Nord")?,
//!             region: Region::parse("DE")?,
//!             // The only account here is the admin; by default an admin must enrol a
//!             // second factor before any session (`SecondFactorEnrolmentRequired`).
//!             settings: TenantSettings {
//!                 two_factor: TwoFactorPolicy { required_for_admins: false, ..Default::default() },
//!                 ..TenantSettings::default()
//!             },
//!         },
//!         NewAccount::new(Email::parse("kim@nord.example")?, Name::parse("Kim Berg")?),
//!     )
//!     .await?;
//! let config = AuthConfig {
//!     defaults: TenantAuthConfig { hash: HashParams::INSECURE_TEST, ..Default::default() },
//!     ..AuthConfig::default()
//! };
//! let auth = Authenticator::new(svc, Peppers::new(Pepper::random("p1")?), config)?;
//!
//! // The owner sets the first password (the host admitted them, e.g. by invitation).
//! let me = caller_vouched_by_host(tenant.id, admin.id, false, mem.clock.now(), RequestMeta::default());
//! auth.set_password(&me, None, "Leuchtturm-am-Deich-7").await?;
//!
//! // Log in, then turn the bearer token of every later request into a Caller.
//! let LoginOutcome::Session(session) = auth
//!     .login(tenant.id, "kim@nord.example", "Leuchtturm-am-Deich-7", RequestMeta::default())
//!     .await?
//! else {
//!     return Err("the password is fresh, a session was expected".into());
//! };
//! let caller = auth.authenticate(session.token.expose(), RequestMeta::default()).await?;
//! assert_eq!(caller.subject, session.caller.subject);
//! assert!(!caller.authentication.second_factor); // AAL1: password only
//!
//! // Wrong passwords and unknown addresses get the same answer.
//! let wrong = auth.login(tenant.id, "kim@nord.example", "nope", RequestMeta::default()).await;
//! let unknown = auth.login(tenant.id, "nobody@nord.example", "nope", RequestMeta::default()).await;
//! assert_eq!(wrong.unwrap_err().to_string(), unknown.unwrap_err().to_string());
//!
//! auth.revoke(session.token.expose()).await?;
//! assert!(auth.authenticate(session.token.expose(), RequestMeta::default()).await.is_err());
//! # Ok(())
//! # }
//! ```

mod admin;
mod audit;
mod authenticator;
#[cfg(feature = "axum")]
pub mod axum;
mod config;
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
mod email_code;
mod enrolment;
mod error;
mod guest;
mod login;
#[cfg(feature = "oidc")]
pub mod oidc;
mod owner;
#[cfg(feature = "passkeys")]
mod passkeys;
pub mod password;
mod pepper;
pub mod records;
mod recovery;
mod recovery_codes;
mod recovery_config;
mod recovery_mail;
mod recovery_throttle;
mod reset;
mod reset_qr;
mod second_factor;
mod sessions;
#[cfg(feature = "smtp")]
pub mod smtp;
mod token;
pub mod totp;

pub use authenticator::{ALL_ACCOUNTS, Authenticator};
pub use config::{AuthConfig, LockoutMode, TenantAuthConfig};
pub use email_code::{EMAIL_CODE_VALIDITY, EmailCodeRecord, PendingEmailCode, SecondFactorMethod};
pub use enrolment::{EnrolledLogin, EnrolmentTicket};
pub use error::{AuthError, Result};
pub use guest::{ALL_INVITATIONS, AdmittedGuest, GUEST_TOKEN_LEN};
pub use login::{ChangeReason, LoginOutcome, PasswordChangeTicket};
#[cfg(feature = "passkeys")]
pub use passkeys::{
    DEFAULT_CEREMONY_VALIDITY, DEFAULT_MAX_PASSKEYS, MAX_LABEL_CHARS, MAX_PASSKEYS_LIMIT,
    MAX_PENDING, MAX_RESPONSE_BYTES, PasskeyConfig, PasskeyInfo, PasskeyLoginChallenge,
    PasskeyOptions, PasskeysRecord, PendingAuthentication, PendingRegistration, StoredPasskey,
    UsedLogin,
};
pub use password::{HashParams, PolicyViolation};
pub use pepper::{Pepper, Peppers};
pub use recovery::{RECOVERY_ATTEMPTS, RECOVERY_TOKEN_LEN};
pub use recovery_codes::{RECOVERY_CODE_COUNT, RecoveryCodes};
pub use recovery_config::RecoveryConfig;
pub use reset::PasswordResetStatus;
pub use reset_qr::ResetChallenge;
pub use second_factor::{SecondFactorChallenge, TotpEnrolment, TotpRecord};
pub use sessions::{IssuedSession, caller_vouched_by_host};
pub use token::{TOKEN_LEN, Token};
