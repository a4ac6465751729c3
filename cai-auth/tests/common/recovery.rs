//! Helpers of the recovery and four-eyes tests: accounts with roles, the mailed
//! recovery token, the audit trail's recovery entries.

use cai_auth::RECOVERY_TOKEN_LEN;
use cai_auth::conformance::Fixture;
use cai_core::Caller;
use cai_core::domain::{Account, Email, Name, RequestMeta};
use cai_core::id::RoleId;
use cai_core::ports::Mail;
use cai_core::service::NewAccount;

/// A new password that passes the default policy.
pub const NEW_PASSWORD: &str = "Neuer-Deich-Turm-2026";

/// An account of the fixture's tenant with `roles` and the fixture's password.
pub async fn account_with(f: &Fixture, email: &str, name: &str, roles: &[RoleId]) -> Account {
    let a = f
        .auth
        .service()
        .create_account(
            &f.admin_caller(),
            f.tenant.id,
            NewAccount::new(Email::parse(email).unwrap(), Name::parse(name).unwrap()),
            roles,
        )
        .await
        .unwrap();
    f.with_password(&a).await;
    a
}

/// `account` as its host vouches, with a second factor, just authenticated.
pub fn strong(f: &Fixture, account: &Account) -> Caller {
    f.vouched(account, true)
}

/// Every mail sent to `to`, oldest first.
pub fn mails_to(f: &Fixture, to: &str) -> Vec<Mail> {
    f.mailer
        .sent()
        .into_iter()
        .filter(|m| m.to.as_str() == to)
        .collect()
}

/// The recovery token in `mail`, if it carries one.
pub fn token_in(mail: &Mail) -> Option<String> {
    mail.body
        .split(|c: char| c.is_whitespace() || c == '#')
        .find(|w| w.starts_with("cr1_"))
        .map(|w| {
            assert_eq!(w.len(), RECOVERY_TOKEN_LEN, "{w}");
            w.to_owned()
        })
}

/// The token of the last mail to `to`; panics unless there is one.
pub fn mailed_token(f: &Fixture, to: &str) -> String {
    let mail = mails_to(f, to).pop().expect("a mail was sent");
    token_in(&mail).expect("the mail carries a token")
}

/// Asks for recovery of `email` with the default request.
pub async fn begin(f: &Fixture, email: &str) -> Result<(), cai_auth::AuthError> {
    f.auth
        .begin_recovery(f.tenant.id, email, RequestMeta::default())
        .await
}

/// Completes recovery with `token` and `new`, default request.
pub async fn complete(f: &Fixture, token: &str, new: &str) -> Result<(), cai_auth::AuthError> {
    f.auth
        .complete_recovery(f.tenant.id, token, new, RequestMeta::default())
        .await
}

/// The `after` values of the audit trail's changes of `property`, oldest first.
pub async fn trail(f: &Fixture, property: &str) -> Vec<String> {
    super::audit(f)
        .await
        .into_iter()
        .flat_map(|e| e.changes)
        .filter(|c| c.property == property)
        .filter_map(|c| c.after)
        .collect()
}
