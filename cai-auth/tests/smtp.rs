//! The SMTP mailer against a real SMTP server on 127.0.0.1: `scripts/test-all.sh`
//! starts `scripts/smtp_sink.py` (aiosmtpd), which writes every message it receives to
//! a directory, and exports `CAI_TEST_SMTP_ADDR` (host:port) and `CAI_TEST_SMTP_DIR`.
//! Without them these tests fail, naming the script — they never pass by skipping.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use cai_auth::conformance::{Fixture, PASSWORD};
use cai_auth::smtp::{SmtpConfig, SmtpCredentials, SmtpError, SmtpMailer, SmtpTls};
use cai_auth::{AuthConfig, LoginOutcome, SecondFactorMethod};
use cai_core::domain::{Email, RequestMeta};
use cai_core::memory::MemoryStore;
use cai_core::ports::{Mail, Mailer};
use serde_json::Value;
use zeroize::Zeroizing;

const ADDR_VAR: &str = "CAI_TEST_SMTP_ADDR";
const DIR_VAR: &str = "CAI_TEST_SMTP_DIR";
const FROM: &str = "Beratung Nord <no-reply@nord.example>";
const CLIENT: &str = "robin@nord.example";

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: the SMTP tests need the server that scripts/test-all.sh \
             starts (scripts/smtp_sink.py, aiosmtpd on 127.0.0.1); run them through that \
             script, or start `python3 scripts/smtp_sink.py DIR` yourself and export \
             {ADDR_VAR}=127.0.0.1:PORT (the line it prints) and {DIR_VAR}=DIR"
        )
    })
}

/// The sink's host and port.
fn sink() -> (String, u16) {
    let addr = var(ADDR_VAR);
    let (host, port) = addr
        .rsplit_once(':')
        .unwrap_or_else(|| panic!("{ADDR_VAR}={addr:?} is not host:port"));
    (host.to_owned(), port.parse().unwrap())
}

fn dir() -> PathBuf {
    PathBuf::from(var(DIR_VAR))
}

/// A plaintext mailer for the sink (loopback, so allowed).
fn config() -> SmtpConfig {
    let (host, port) = sink();
    let mut c = SmtpConfig::new(&host, SmtpTls::None, FROM);
    c.port = port;
    c.hello_name = Some("cai-test.nord.example".into());
    c.send_timeout = Duration::from_secs(10);
    c
}

fn mailer() -> SmtpMailer {
    SmtpMailer::new(config()).unwrap()
}

/// The files the sink has written so far.
fn delivered() -> HashSet<PathBuf> {
    std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect()
}

/// The one message to `to` among the files written since `before` (the sink writes
/// the file before it answers `250`, so it is there once the send returned).
fn received(before: &HashSet<PathBuf>, to: &str) -> Value {
    for _ in 0..50 {
        let mut found: Vec<Value> = delivered()
            .difference(before)
            .map(|p| serde_json::from_str::<Value>(&std::fs::read_to_string(p).unwrap()).unwrap())
            .filter(|m| m["rcpt_tos"].as_array().unwrap().iter().any(|r| r == to))
            .collect();
        match found.len() {
            0 => std::thread::sleep(Duration::from_millis(20)),
            1 => return found.pop().unwrap(),
            n => panic!("{n} messages to {to}"),
        }
    }
    panic!("no message to {to} arrived in {}", dir().display())
}

/// A recipient no other test uses.
fn fresh_recipient() -> String {
    let id: cai_core::id::TenantId = cai_core::conformance::data::rid();
    format!("t{}@nord.example", hex::encode(&id.as_bytes()[8..]))
}

fn mail(to: &str, subject: &str, body: &str) -> Mail {
    Mail {
        to: Email::parse(to).unwrap(),
        subject: subject.to_owned(),
        body: Zeroizing::new(body.to_owned()),
    }
}

/// A port on 127.0.0.1 where nothing listens.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    port
}

#[tokio::test]
async fn an_emailed_code_goes_out_over_smtp_and_completes_the_login() {
    let before = delivered();
    let f = Fixture::with_mailer(
        Arc::new(MemoryStore::new()),
        AuthConfig::default(),
        Arc::new(mailer()),
    )
    .await;
    f.with_password(&f.client).await;
    f.auth
        .enable_email_codes(&f.vouched(&f.client, false))
        .await
        .unwrap();
    let ticket = match f
        .auth
        .login(f.tenant.id, CLIENT, PASSWORD, RequestMeta::default())
        .await
    {
        Ok(LoginOutcome::SecondFactorRequired(c)) => {
            assert_eq!(c.method, SecondFactorMethod::Email);
            c.ticket.expose().to_owned()
        }
        other => panic!("expected an e-mail challenge, got {other:?}"),
    };
    assert!(f.mailer.sent().is_empty(), "the code went out over SMTP");

    let m = received(&before, CLIENT);
    assert_eq!(m["subject"], "Your sign-in code");
    let body = m["body"].as_str().unwrap();
    let code = body
        .split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .expect("a six-digit code in the delivered mail")
        .to_owned();

    let done = f
        .auth
        .complete_second_factor(&ticket, &code, RequestMeta::default())
        .await;
    let Ok(LoginOutcome::Session(session)) = done else {
        panic!("expected a session, got {done:?}")
    };
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
    assert!(caller.authentication.second_factor, "AAL2");
    // The code works once.
    assert!(
        f.auth
            .complete_second_factor(&ticket, &code, RequestMeta::default())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_recovery_token_goes_out_over_smtp_and_sets_the_new_password() {
    let f = Fixture::with_mailer(
        Arc::new(MemoryStore::new()),
        AuthConfig::default(),
        Arc::new(mailer()),
    )
    .await;
    f.with_password(&f.client).await;
    let before = delivered();
    f.auth
        .begin_recovery(f.tenant.id, CLIENT, RequestMeta::default())
        .await
        .unwrap();
    assert!(f.mailer.sent().is_empty(), "the token went out over SMTP");
    let m = received(&before, CLIENT);
    let body = m["body"].as_str().unwrap();
    let token = body
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .find(|w| w.starts_with("cr1_"))
        .expect("a recovery token in the delivered mail")
        .to_owned();
    assert_eq!(token.len(), 100, "cr1_ + 32 + 64 hex digits");

    let new_password = "Neuer-Leuchtturm-am-Deich-8";
    let before = delivered();
    f.auth
        .complete_recovery(f.tenant.id, &token, new_password, RequestMeta::default())
        .await
        .unwrap();
    // The owner is told by mail that the password changed.
    let _confirmation = received(&before, CLIENT);
    // The new password logs in; the old one and the token do not work any more.
    let login = f
        .auth
        .login(f.tenant.id, CLIENT, new_password, RequestMeta::default())
        .await;
    assert!(matches!(login, Ok(LoginOutcome::Session(_))), "{login:?}");
    assert!(
        f.auth
            .login(f.tenant.id, CLIENT, PASSWORD, RequestMeta::default())
            .await
            .is_err()
    );
    assert!(
        f.auth
            .complete_recovery(
                f.tenant.id,
                &token,
                "Noch-ein-Passwort-9",
                RequestMeta::default()
            )
            .await
            .is_err()
    );
}

#[tokio::test]
async fn headers_and_non_ascii_text_arrive_intact() {
    let to = fresh_recipient();
    let subject = "Grüße aus Nord — Ihr Termin ✓";
    let body = "Grüß Gott, Jürgen!\nÜmläute, ß, 日本語, emoji 🌻.\n\nZeile nach einer Leerzeile.\n.\nA line that is a dot, above.\n";
    let before = delivered();
    mailer().deliver(&mail(&to, subject, body)).await.unwrap();
    let m = received(&before, &to);

    assert_eq!(m["mail_from"], "no-reply@nord.example");
    assert_eq!(m["rcpt_tos"], serde_json::json!([to]));
    assert_eq!(m["from"], FROM);
    assert_eq!(m["to"], to.as_str());
    assert_eq!(m["subject"], subject);
    assert_eq!(m["content_type"], "text/plain");
    assert_eq!(m["charset"], "utf-8");
    let got = m["body"].as_str().unwrap().replace("\r\n", "\n");
    assert_eq!(got, body);
    let raw = m["raw"].as_str().unwrap();
    assert!(raw.is_ascii(), "transfer-encoded for any relay: {raw}");
    let message_id = raw
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("message-id:"))
        .expect("a Message-ID");
    assert!(
        message_id.trim_end().ends_with("@nord.example>"),
        "{message_id}"
    );
    assert!(raw.lines().any(|l| l.starts_with("Date: ")));
}

#[tokio::test]
async fn a_subject_cannot_add_headers_or_recipients() {
    let to = fresh_recipient();
    let evil = fresh_recipient();
    let subject = format!("Hallo\r\nBcc: {evil}\r\nX-Injected: yes");
    let before = delivered();
    mailer()
        .deliver(&mail(&to, &subject, "body\n"))
        .await
        .unwrap();
    let m = received(&before, &to);
    assert_eq!(m["rcpt_tos"], serde_json::json!([to]));
    let raw = m["raw"].as_str().unwrap();
    let head = raw.split("\r\n\r\n").next().unwrap();
    for line in head.split("\r\n") {
        let name = line.split(':').next().unwrap().to_ascii_lowercase();
        assert!(name != "bcc" && name != "x-injected", "{line:?} in {head}");
    }
    // The subject stays one line.
    assert_eq!(
        m["subject"],
        format!("Hallo  Bcc: {evil}  X-Injected: yes").as_str()
    );
}

#[tokio::test]
async fn a_closed_port_is_a_typed_error_without_secrets() {
    let mut c = config();
    c.port = closed_port();
    c.credentials = Some(SmtpCredentials::new("relay-user", "relay-pass-7x"));
    let m = SmtpMailer::new(c).unwrap();
    let secret_body = "Your code is 918273.";
    let r = m
        .deliver(&mail(&fresh_recipient(), "Code", secret_body))
        .await;
    assert_eq!(r, Err(SmtpError::Unreachable));
    assert!(r.unwrap_err().is_transient());

    let e = m
        .send(mail(&fresh_recipient(), "Code", secret_body))
        .await
        .unwrap_err();
    let shown = format!("{e} {e:?}");
    assert!(shown.contains("SMTP server unreachable"), "{shown}");
    for secret in ["918273", "relay-user", "relay-pass-7x", "nord.example"] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
    assert!(m.health().await.is_err());
}

#[test]
fn plaintext_to_a_host_off_this_machine_is_refused_at_config_time() {
    for host in ["192.0.2.25", "mail.nord.example", "localhost", "10.1.2.3"] {
        let r = SmtpMailer::new(SmtpConfig::new(host, SmtpTls::None, FROM));
        assert!(matches!(r, Err(SmtpError::Config(_))), "{host}: {r:?}");
    }
    SmtpMailer::new(SmtpConfig::new("127.0.0.1", SmtpTls::None, FROM)).unwrap();
}

#[tokio::test]
async fn required_starttls_is_never_downgraded_to_plaintext() {
    let (host, port) = sink();
    let mut c = SmtpConfig::new(&host, SmtpTls::StartTls, FROM);
    c.port = port;
    let to = fresh_recipient();
    let before = delivered();
    let r = SmtpMailer::new(c)
        .unwrap()
        .deliver(&mail(&to, "x", "not for plaintext"))
        .await;
    assert_eq!(r, Err(SmtpError::StartTlsUnavailable));
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        !delivered()
            .difference(&before)
            .any(|p| std::fs::read_to_string(p).unwrap().contains(&to)),
        "nothing was sent"
    );
}

#[tokio::test]
async fn implicit_tls_to_a_plaintext_server_fails_as_tls() {
    let (host, port) = sink();
    let mut c = SmtpConfig::new(&host, SmtpTls::Implicit, FROM);
    c.port = port;
    let r = SmtpMailer::new(c)
        .unwrap()
        .deliver(&mail(&fresh_recipient(), "x", "y"))
        .await;
    assert_eq!(r, Err(SmtpError::Tls));
}

#[tokio::test]
async fn credentials_the_server_cannot_take_fail_authentication() {
    // The sink offers no AUTH: credentials are not silently dropped.
    let mut c = config();
    c.credentials = Some(SmtpCredentials::new("relay-user", "relay-pass-7x"));
    let r = SmtpMailer::new(c)
        .unwrap()
        .deliver(&mail(&fresh_recipient(), "x", "y"))
        .await;
    assert_eq!(r, Err(SmtpError::AuthenticationFailed { code: None }));
}

#[tokio::test]
async fn a_silent_server_times_out() {
    // Accepts the connection, never greets.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hold = tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(5)).await;
        drop(socket);
    });
    let mut c = config();
    c.port = port;
    c.send_timeout = Duration::from_millis(300);
    let started = std::time::Instant::now();
    let r = SmtpMailer::new(c)
        .unwrap()
        .deliver(&mail(&fresh_recipient(), "x", "y"))
        .await;
    assert_eq!(r, Err(SmtpError::Timeout));
    assert!(started.elapsed() < Duration::from_secs(3));
    hold.abort();
}

#[tokio::test]
async fn health_is_a_round_trip_to_the_server() {
    mailer().health().await.unwrap();
    mailer().check().await.unwrap();
}
