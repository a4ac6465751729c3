//! cai-core's [`Mailer`] port over SMTP (feature `smtp`), with [lettre]'s tokio client
//! and rustls (ring; no OpenSSL).
//!
//! One connection per message: connect (implicit TLS, or plain then a *required*
//! `STARTTLS`), `EHLO`, `AUTH` if credentials are set, `MAIL FROM`/`RCPT TO`/`DATA`,
//! `QUIT`. Nothing is pooled or kept open between messages, so no background task
//! outlives a send and nothing is bound to one runtime.
//!
//! **TLS.** [`SmtpTls::Implicit`] (port 465, RFC 8314) or [`SmtpTls::StartTls`] (port
//! 587), both verifying the server's certificate against Mozilla's roots (bundled) plus
//! any [`SmtpConfig::extra_root_certificates`] (a private CA), TLS 1.2 or newer. With
//! `StartTls` a server that does not offer `STARTTLS` gets nothing — no opportunistic
//! fallback to plaintext. [`SmtpTls::None`] (plaintext) is accepted **only for a
//! loopback IP address literal** (`127.0.0.0/8` or `::1`), a relay on the same machine;
//! [`SmtpMailer::new`] refuses it for any other host, names included (a name such as
//! `localhost` could resolve elsewhere).
//!
//! **Secrets.** The credentials are zeroized on drop and redacted in `Debug`; a
//! message's body is a secret too (codes, links). Errors ([`SmtpError`]) are fixed
//! texts with at most an SMTP reply code: never the server's reply text, the
//! credentials, an address or the body. Limits of what can be wiped: lettre keeps the
//! credentials it sends in plain `String`s while the mailer lives, and the body passes
//! through its message buffers, which are not zeroized.
//!
//! **Timeouts.** [`SmtpConfig::connect_timeout`] bounds the TCP connect,
//! [`SmtpConfig::send_timeout`] the whole conversation of one message (TLS, every
//! command, the data); past it the connection is dropped and the answer is
//! [`SmtpError::Timeout`] — the message may or may not have been delivered.
//!
//! ```no_run
//! use cai_auth::smtp::{SmtpConfig, SmtpCredentials, SmtpMailer, SmtpTls};
//!
//! # fn main() -> Result<(), cai_auth::smtp::SmtpError> {
//! let mut config = SmtpConfig::new(
//!     "mail.nord.example",
//!     SmtpTls::Implicit,
//!     "Beratung Nord <no-reply@nord.example>",
//! );
//! // From the host's secret store, never from the database.
//! config.credentials = Some(SmtpCredentials::new("cai", "relay password"));
//! config.hello_name = Some("app1.nord.example".to_owned());
//! let mailer = SmtpMailer::new(config)?;
//! // `Ports { mailer: std::sync::Arc::new(mailer), .. }`
//! # Ok(())
//! # }
//! ```
//!
//! [lettre]: https://docs.rs/lettre

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use cai_core::ports::{Mail, MailError, Mailer, Unhealthy};
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{
    AsyncSmtpConnection, Certificate, TlsParameters, TlsVersion,
};
use lettre::transport::smtp::extension::ClientId;
use zeroize::Zeroizing;

/// How the connection to the server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SmtpTls {
    /// TLS from the first byte ("SMTPS", RFC 8314), usually port 465. The preferred
    /// mode.
    Implicit,
    /// Plaintext greeting, then `STARTTLS` is **required** (RFC 3207), usually port
    /// 587: a server that does not offer it gets no command beyond `EHLO`.
    StartTls,
    /// No TLS at all. Only for a relay on the same machine: the host must be a
    /// loopback IP address literal (`127.0.0.0/8`, `::1`), or [`SmtpMailer::new`]
    /// refuses the configuration.
    None,
}

impl SmtpTls {
    /// The customary port: 465, 587 or 25.
    pub fn default_port(self) -> u16 {
        match self {
            Self::Implicit => 465,
            Self::StartTls => 587,
            Self::None => 25,
        }
    }
}

/// A user name and password for SMTP `AUTH` (PLAIN, else LOGIN). Zeroized on drop;
/// `Debug` shows neither.
#[derive(Clone)]
pub struct SmtpCredentials {
    username: Zeroizing<String>,
    password: Zeroizing<String>,
}

impl SmtpCredentials {
    /// Credentials for `AUTH`.
    pub fn new(username: &str, password: &str) -> Self {
        Self {
            username: Zeroizing::new(username.to_owned()),
            password: Zeroizing::new(password.to_owned()),
        }
    }
}

impl fmt::Debug for SmtpCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SmtpCredentials(<redacted>)")
    }
}

/// Where and how to send. [`SmtpConfig::new`] fills in the defaults.
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    /// The server: a DNS name (also the name its certificate must carry) or an IP
    /// address literal.
    pub host: String,
    /// The port (default [`SmtpTls::default_port`]).
    pub port: u16,
    /// Implicit TLS, required STARTTLS, or none (loopback only).
    pub tls: SmtpTls,
    /// For `AUTH`, if the server wants it.
    pub credentials: Option<SmtpCredentials>,
    /// The `From` of every message, as an RFC 5322 mailbox: `no-reply@nord.example` or
    /// `Beratung Nord <no-reply@nord.example>`. Also the envelope sender.
    pub from: String,
    /// The name this client gives in `EHLO`, ideally its fully qualified host name
    /// (default: the address literal `[127.0.0.1]`; nothing is looked up).
    pub hello_name: Option<String>,
    /// PEM certificates trusted as roots besides Mozilla's (a private CA).
    pub extra_root_certificates: Vec<Vec<u8>>,
    /// Longest wait for the TCP connection (default 10 s).
    pub connect_timeout: Duration,
    /// Longest time for one whole message, connection included (default 30 s).
    pub send_timeout: Duration,
}

impl SmtpConfig {
    /// A configuration for `host` with `tls`'s customary port, no credentials, no
    /// extra roots, and the default timeouts.
    pub fn new(host: &str, tls: SmtpTls, from: &str) -> Self {
        Self {
            host: host.to_owned(),
            port: tls.default_port(),
            tls,
            credentials: None,
            from: from.to_owned(),
            hello_name: None,
            extra_root_certificates: Vec::new(),
            connect_timeout: Duration::from_secs(10),
            send_timeout: Duration::from_secs(30),
        }
    }
}

/// Why a message was not sent. Fixed texts and SMTP reply codes only: never the
/// server's reply text, a credential, an address or the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SmtpError {
    /// The configuration is unusable (the mailer was not built).
    #[error("invalid SMTP configuration: {0}")]
    Config(&'static str),
    /// The recipient address or the subject cannot go into a message.
    #[error("the message cannot be built")]
    InvalidMessage,
    /// No connection: refused, unreachable, or the name did not resolve.
    #[error("SMTP server unreachable")]
    Unreachable,
    /// The connect or the whole conversation took longer than allowed. The message may
    /// or may not have been delivered.
    #[error("SMTP server timed out")]
    Timeout,
    /// The server does not offer `STARTTLS`, which [`SmtpTls::StartTls`] requires.
    #[error("SMTP server does not offer STARTTLS")]
    StartTlsUnavailable,
    /// The TLS handshake failed (certificate not trusted or not for the host, no
    /// common protocol version, not a TLS server).
    #[error("TLS with the SMTP server failed")]
    Tls,
    /// The server refused the credentials, or offered no mechanism for them.
    #[error("SMTP authentication failed{}", code_suffix(*.code))]
    AuthenticationFailed {
        /// The reply code, if the server answered with one.
        code: Option<u16>,
    },
    /// The server refused the message or a recipient for good (a 5xx reply).
    #[error("SMTP server refused the message ({code})")]
    Rejected {
        /// The reply code.
        code: u16,
    },
    /// The server refused for now (a 4xx reply): try again later.
    #[error("SMTP server deferred the message ({code})")]
    Deferred {
        /// The reply code.
        code: u16,
    },
    /// The connection broke, or the server's answers made no sense.
    #[error("SMTP conversation failed")]
    Protocol,
}

fn code_suffix(code: Option<u16>) -> String {
    code.map(|c| format!(" ({c})")).unwrap_or_default()
}

impl SmtpError {
    /// Whether trying again later may succeed (deferred, timed out, unreachable, a
    /// broken connection).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Deferred { .. } | Self::Timeout | Self::Unreachable | Self::Protocol
        )
    }
}

impl From<SmtpError> for MailError {
    fn from(e: SmtpError) -> Self {
        MailError(e.to_string())
    }
}

/// Which step of the conversation an error of lettre's came from.
#[derive(Clone, Copy)]
enum Step {
    Connect,
    StartTls,
    Auth,
    Send,
}

/// Maps an error of lettre's to ours, from its kind only (its text may hold the
/// server's reply).
fn classify(step: Step, implicit: bool, e: &lettre::transport::smtp::Error) -> SmtpError {
    let code = e
        .status()
        .and_then(|c| c.to_string().parse::<u16>().ok())
        .unwrap_or(0);
    if e.is_timeout() {
        return SmtpError::Timeout;
    }
    if let Step::Auth = step {
        return SmtpError::AuthenticationFailed {
            code: e.status().map(|_| code),
        };
    }
    if e.is_permanent() {
        return SmtpError::Rejected { code };
    }
    if e.is_transient() {
        return SmtpError::Deferred { code };
    }
    if e.is_tls() {
        return SmtpError::Tls;
    }
    if e.is_response() || e.is_client() {
        return SmtpError::Protocol;
    }
    match (step, io_kind(e)) {
        // rustls reports a failed handshake as invalid data (tokio-rustls's io error).
        (Step::Connect, Some(std::io::ErrorKind::InvalidData)) if implicit => SmtpError::Tls,
        // Never got to the greeting: refused, unreachable, no address for the name.
        (Step::Connect, _) => SmtpError::Unreachable,
        // The handshake over an established connection failed.
        (Step::StartTls, _) => SmtpError::Tls,
        _ => SmtpError::Protocol,
    }
}

/// The kind of the first I/O error among `e`'s sources.
fn io_kind(e: &lettre::transport::smtp::Error) -> Option<std::io::ErrorKind> {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        source = s.source();
    }
    None
}

/// Sends cai-core's mail over SMTP. Build one per server and share it as
/// `Ports::mailer` (an `Arc<dyn Mailer>`).
pub struct SmtpMailer {
    host: String,
    port: u16,
    mode: SmtpTls,
    tls: Option<TlsParameters>,
    credentials: Option<Credentials>,
    from: Mailbox,
    hello: ClientId,
    connect_timeout: Duration,
    send_timeout: Duration,
}

impl fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.mode)
            .field("authenticates", &self.credentials.is_some())
            .finish_non_exhaustive()
    }
}

/// Whether `host` is a loopback IP address literal (brackets allowed around IPv6).
fn is_loopback_literal(host: &str) -> bool {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    IpAddr::from_str(bare).is_ok_and(|ip| ip.is_loopback())
}

impl SmtpMailer {
    /// Checks `config` and prepares the TLS settings. Refuses [`SmtpTls::None`] for
    /// anything but a loopback IP address literal, an empty host, a port 0, a `from`
    /// that is not a mailbox, zero timeouts, and root certificates that do not parse.
    pub fn new(config: SmtpConfig) -> Result<Self, SmtpError> {
        let host = config
            .host
            .trim()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        if host.is_empty() || host.len() > 253 || host.chars().any(char::is_whitespace) {
            return Err(SmtpError::Config(
                "host must be a DNS name or an IP address",
            ));
        }
        if config.port == 0 {
            return Err(SmtpError::Config("port must not be 0"));
        }
        if config.tls == SmtpTls::None && !is_loopback_literal(&host) {
            return Err(SmtpError::Config(
                "TLS mode None is allowed only for a loopback IP address (127.0.0.0/8 or ::1)",
            ));
        }
        if config.connect_timeout.is_zero() || config.send_timeout.is_zero() {
            return Err(SmtpError::Config("timeouts must be positive"));
        }
        let from = Mailbox::from_str(config.from.trim())
            .map_err(|_| SmtpError::Config("from must be a mailbox such as a@b.example"))?;
        let hello = match config.hello_name.as_deref().map(str::trim) {
            None => ClientId::default(),
            Some(name) => match IpAddr::from_str(name) {
                Ok(IpAddr::V4(ip)) => ClientId::Ipv4(ip),
                Ok(IpAddr::V6(ip)) => ClientId::Ipv6(ip),
                Err(_)
                    if !name.is_empty()
                        && name.len() <= 253
                        && name
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.') =>
                {
                    ClientId::Domain(name.to_owned())
                }
                Err(_) => return Err(SmtpError::Config("hello_name must be a host name")),
            },
        };
        let tls = match config.tls {
            SmtpTls::None => None,
            SmtpTls::Implicit | SmtpTls::StartTls => {
                let mut builder =
                    TlsParameters::builder(host.clone()).set_min_tls_version(TlsVersion::Tlsv12);
                for pem in &config.extra_root_certificates {
                    let cert = Certificate::from_pem(pem)
                        .map_err(|_| SmtpError::Config("a root certificate does not parse"))?;
                    builder = builder.add_root_certificate(cert);
                }
                Some(
                    builder
                        .build_rustls()
                        .map_err(|_| SmtpError::Config("TLS settings rejected"))?,
                )
            }
        };
        let credentials = config.credentials.as_ref().map(|c| {
            Credentials::new(
                c.username.as_str().to_owned(),
                c.password.as_str().to_owned(),
            )
        });
        Ok(Self {
            host,
            port: config.port,
            mode: config.tls,
            tls,
            credentials,
            from,
            hello,
            connect_timeout: config.connect_timeout,
            send_timeout: config.send_timeout,
        })
    }

    /// Sends `mail`, with a typed error. [`Mailer::send`] is this, its error turned
    /// into a `MailError` with the same text.
    pub async fn deliver(&self, mail: &Mail) -> Result<(), SmtpError> {
        let to = Mailbox::from_str(mail.to.as_str()).map_err(|_| SmtpError::InvalidMessage)?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            // A subject is one line: control characters (CR, LF, …) become spaces.
            .subject(
                mail.subject
                    .chars()
                    .map(|c| if c.is_control() { ' ' } else { c })
                    .collect::<String>(),
            )
            .message_id(Some(self.message_id()?))
            .header(ContentType::TEXT_PLAIN)
            .body(mail.body.as_str().to_owned())
            .map_err(|_| SmtpError::InvalidMessage)?;
        let mut raw = Zeroizing::new(message.formatted());
        // lettre ends the data with CRLF "." CRLF, whose first CRLF ends the last line:
        // one the message already has would arrive as an extra empty line.
        if raw.ends_with(b"\r\n") {
            let end = raw.len() - 2;
            raw.truncate(end);
        }
        let envelope = message.envelope().clone();
        drop(message);
        self.with_deadline(async {
            let mut conn = self.open().await?;
            let sent = conn
                .send(&envelope, &raw)
                .await
                .map_err(|e| classify(Step::Send, false, &e));
            match sent {
                Ok(_) => {
                    // Accepted: a failing QUIT changes nothing.
                    let _ = conn.quit().await;
                    Ok(())
                }
                Err(e) => {
                    conn.abort().await;
                    Err(e)
                }
            }
        })
        .await
    }

    /// Connects, secures and authenticates, then `NOOP` and `QUIT`: whether a message
    /// could be sent now.
    pub async fn check(&self) -> Result<(), SmtpError> {
        self.with_deadline(async {
            let mut conn = self.open().await?;
            let alive = conn.test_connected().await;
            let _ = conn.quit().await;
            if alive {
                Ok(())
            } else {
                Err(SmtpError::Protocol)
            }
        })
        .await
    }

    async fn with_deadline<T>(
        &self,
        work: impl Future<Output = Result<T, SmtpError>>,
    ) -> Result<T, SmtpError> {
        tokio::time::timeout(self.send_timeout, work)
            .await
            .unwrap_or(Err(SmtpError::Timeout))
    }

    /// A connection ready for `MAIL FROM`: TLS as configured, authenticated if
    /// credentials are set.
    async fn open(&self) -> Result<AsyncSmtpConnection, SmtpError> {
        let wrapper = match self.mode {
            SmtpTls::Implicit => self.tls.clone(),
            SmtpTls::StartTls | SmtpTls::None => None,
        };
        let mut conn = AsyncSmtpConnection::connect_tokio1(
            (self.host.as_str(), self.port),
            Some(self.connect_timeout),
            &self.hello,
            wrapper,
            None,
        )
        .await
        .map_err(|e| classify(Step::Connect, self.mode == SmtpTls::Implicit, &e))?;
        if self.mode == SmtpTls::StartTls {
            let Some(tls) = self.tls.clone() else {
                conn.abort().await;
                return Err(SmtpError::Config("STARTTLS without TLS settings"));
            };
            if !conn.can_starttls() {
                conn.abort().await;
                return Err(SmtpError::StartTlsUnavailable);
            }
            if let Err(e) = conn.starttls(tls, &self.hello).await {
                conn.abort().await;
                return Err(classify(Step::StartTls, false, &e));
            }
        }
        if let Some(credentials) = &self.credentials
            && let Err(e) = conn
                .auth(&[Mechanism::Plain, Mechanism::Login], credentials)
                .await
        {
            conn.abort().await;
            return Err(classify(Step::Auth, false, &e));
        }
        Ok(conn)
    }

    /// `<random@from-domain>`: names no host of ours.
    fn message_id(&self) -> Result<String, SmtpError> {
        let mut random = [0u8; 16];
        getrandom::fill(&mut random).map_err(|_| SmtpError::InvalidMessage)?;
        Ok(format!(
            "<{}@{}>",
            hex::encode(random),
            self.from.email.domain()
        ))
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    /// Connects, secures, authenticates and sends `NOOP`.
    async fn health(&self) -> Result<(), Unhealthy> {
        self.check().await.map_err(|e| Unhealthy(e.to_string()))
    }

    async fn send(&self, mail: Mail) -> Result<(), MailError> {
        self.deliver(&mail).await.map_err(MailError::from)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    const FROM: &str = "Beratung Nord <no-reply@nord.example>";

    #[test]
    fn plaintext_is_for_loopback_literals_only() {
        for host in ["127.0.0.1", "127.8.9.10", "::1", "[::1]"] {
            let c = SmtpConfig::new(host, SmtpTls::None, FROM);
            assert!(SmtpMailer::new(c).is_ok(), "{host}");
        }
        for host in [
            "localhost",
            "mail.nord.example",
            "10.0.0.5",
            "192.0.2.1",
            "::ffff:127.0.0.1",
            "0.0.0.0",
        ] {
            let c = SmtpConfig::new(host, SmtpTls::None, FROM);
            assert!(
                matches!(SmtpMailer::new(c), Err(SmtpError::Config(_))),
                "{host}"
            );
        }
        // With TLS, any name will do.
        SmtpMailer::new(SmtpConfig::new(
            "mail.nord.example",
            SmtpTls::StartTls,
            FROM,
        ))
        .unwrap();
        SmtpMailer::new(SmtpConfig::new(
            "mail.nord.example",
            SmtpTls::Implicit,
            FROM,
        ))
        .unwrap();
    }

    #[test]
    fn other_bad_settings_are_refused() {
        let ok = SmtpConfig::new("mail.nord.example", SmtpTls::Implicit, FROM);
        let bad = [
            SmtpConfig {
                host: String::new(),
                ..ok.clone()
            },
            SmtpConfig {
                host: "mail nord".into(),
                ..ok.clone()
            },
            SmtpConfig {
                port: 0,
                ..ok.clone()
            },
            SmtpConfig {
                from: "not a mailbox".into(),
                ..ok.clone()
            },
            SmtpConfig {
                hello_name: Some("bad name\r\nRCPT".into()),
                ..ok.clone()
            },
            SmtpConfig {
                send_timeout: Duration::ZERO,
                ..ok.clone()
            },
            SmtpConfig {
                extra_root_certificates: vec![b"-----BEGIN CERTIFICATE-----\nnope\n".to_vec()],
                ..ok.clone()
            },
        ];
        for c in bad {
            assert!(
                matches!(SmtpMailer::new(c.clone()), Err(SmtpError::Config(_))),
                "{c:?}"
            );
        }
    }

    #[test]
    fn credentials_never_show() {
        let mut c = SmtpConfig::new("mail.nord.example", SmtpTls::Implicit, FROM);
        c.credentials = Some(SmtpCredentials::new("relay-user-x", "relay-pass-y"));
        let m = SmtpMailer::new(c.clone()).unwrap();
        let shown = format!("{c:?} {m:?}");
        assert!(!shown.contains("relay-user-x") && !shown.contains("relay-pass-y"));
        assert!(shown.contains("authenticates: true"));
    }

    #[test]
    fn errors_are_fixed_texts() {
        assert_eq!(
            SmtpError::Rejected { code: 550 }.to_string(),
            "SMTP server refused the message (550)"
        );
        assert_eq!(
            SmtpError::AuthenticationFailed { code: None }.to_string(),
            "SMTP authentication failed"
        );
        assert_eq!(
            MailError::from(SmtpError::Unreachable).to_string(),
            "mail not sent: SMTP server unreachable"
        );
        assert!(SmtpError::Deferred { code: 451 }.is_transient());
        assert!(!SmtpError::Rejected { code: 550 }.is_transient());
    }
}
