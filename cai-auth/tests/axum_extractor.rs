//! The axum extractor over a real router served on 127.0.0.1, spoken to with plain
//! HTTP/1.1 over a TCP socket: the bearer header, and only it, gives the `Caller`;
//! every refusal is a 401 with `WWW-Authenticate` and a JSON code, never echoing the
//! token.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::net::SocketAddr;

use axum::extract::{FromRef, State};
use axum::routing::get;
use axum::{Extension, Router};
use cai_auth::Authenticator;
use cai_auth::axum::Authenticated;
use cai_core::domain::RequestMeta;
use common::*;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A host's state with the authenticator in it, found through `FromRef`.
#[derive(Clone)]
struct AppState {
    auth: Authenticator,
    greeting: &'static str,
}

impl FromRef<AppState> for Authenticator {
    fn from_ref(state: &AppState) -> Self {
        state.auth.clone()
    }
}

async fn me(State(state): State<AppState>, Authenticated(caller): Authenticated) -> String {
    format!(
        "{} {} {} {}",
        state.greeting,
        caller.tenant,
        caller.subject,
        caller
            .request
            .client
            .map_or_else(|| "-".to_owned(), |ip| ip.to_string())
    )
}

/// Serves the router on a free port of 127.0.0.1, with the peer address available.
async fn serve(auth: Authenticator) -> SocketAddr {
    let state = AppState {
        auth,
        greeting: "hello",
    };
    let behind_proxy = Router::new()
        .route("/proxied/me", get(me))
        .layer(Extension(RequestMeta {
            id: None,
            client: Some("203.0.113.5".parse().unwrap()),
        }));
    let app = Router::new()
        .route("/me", get(me))
        .merge(behind_proxy)
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    addr
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
    raw: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("not JSON: {}", self.raw))
    }
}

/// `GET path` with `headers`, over a fresh connection.
async fn get_with(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Answer {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let raw = String::from_utf8(raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            (n.trim().to_ascii_lowercase(), v.trim().to_owned())
        })
        .collect::<Vec<_>>();
    assert!(
        !headers
            .iter()
            .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked")),
        "a fixed-length body was expected: {raw}"
    );
    Answer {
        status,
        headers,
        body: body.to_owned(),
        raw: raw.clone(),
    }
}

/// A 401 with the challenge and the code, that does not repeat `token`.
fn refused(a: &Answer, code: &str, challenge: &str, token: &str) {
    assert_eq!(a.status, 401, "{}", a.raw);
    assert_eq!(a.header("www-authenticate"), Some(challenge), "{}", a.raw);
    assert_eq!(a.header("cache-control"), Some("no-store"));
    assert_eq!(a.header("content-type"), Some("application/json"));
    let body = a.json();
    assert_eq!(body["code"], code, "{}", a.raw);
    assert_eq!(body["category"], "unauthenticated");
    assert!(body["message"].is_string());
    if !token.is_empty() {
        assert!(!a.raw.contains(token), "token echoed: {}", a.raw);
    }
}

#[tokio::test]
async fn a_valid_token_reaches_the_handler_as_its_caller() {
    let f = fixture().await;
    f.with_password(&f.client).await;
    let session = client_session(&f).await;
    let token = session.token.expose().to_owned();
    let addr = serve(f.auth.clone()).await;

    let a = get_with(
        addr,
        "/me",
        &[("Authorization", &format!("Bearer {token}"))],
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.raw);
    assert_eq!(
        a.body,
        format!("hello {} {} 127.0.0.1", f.tenant.id, session.caller.subject)
    );
    // Scheme in any case.
    let a = get_with(
        addr,
        "/me",
        &[("Authorization", &format!("bearer {token}"))],
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.raw);

    // Behind a proxy the host supplies the client address itself.
    let a = get_with(
        addr,
        "/proxied/me",
        &[("Authorization", &format!("Bearer {token}"))],
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.raw);
    assert!(a.body.ends_with(" 203.0.113.5"), "{}", a.body);

    // A guest's token too.
    let w = guest_world(&f).await;
    let guest = admit(&f, &w.link, RequestMeta::default()).await;
    let a = get_with(
        addr,
        "/me",
        &[("Authorization", &format!("Bearer {}", guest.token.expose()))],
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.raw);
    assert!(
        a.body.contains(&guest.caller.subject.to_string()),
        "{}",
        a.body
    );
}

#[tokio::test]
async fn without_a_good_bearer_header_the_answer_is_401() {
    let f = fixture().await;
    f.with_password(&f.client).await;
    let session = client_session(&f).await;
    let token = session.token.expose().to_owned();
    let addr = serve(f.auth.clone()).await;
    let bearer = format!("Bearer {token}");

    refused(
        &get_with(addr, "/me", &[]).await,
        "missing_token",
        "Bearer",
        "",
    );
    for malformed in ["Bearer", "Bearer ", "Bearer a b", "Bearer tok\"en"] {
        refused(
            &get_with(addr, "/me", &[("Authorization", malformed)]).await,
            "invalid_request",
            "Bearer error=\"invalid_request\"",
            "",
        );
    }
    // Two headers, even if one is good.
    refused(
        &get_with(
            addr,
            "/me",
            &[("Authorization", &bearer), ("Authorization", "Bearer x")],
        )
        .await,
        "invalid_request",
        "Bearer error=\"invalid_request\"",
        &token,
    );
    for other in [
        format!("Basic {token}"),
        format!("Token {token}"),
        token.clone(),
    ] {
        refused(
            &get_with(addr, "/me", &[("Authorization", &other)]).await,
            "unsupported_scheme",
            "Bearer",
            &token,
        );
    }
    let unknown = format!("cs1_{}", "0".repeat(128));
    for bad in [unknown.as_str(), "cs1_nope", &token[..token.len() - 1]] {
        refused(
            &get_with(addr, "/me", &[("Authorization", &format!("Bearer {bad}"))]).await,
            "invalid_token",
            "Bearer error=\"invalid_token\"",
            bad,
        );
    }

    // The token works, then is revoked.
    assert_eq!(
        get_with(addr, "/me", &[("Authorization", &bearer)])
            .await
            .status,
        200
    );
    f.auth.revoke(&token).await.unwrap();
    refused(
        &get_with(addr, "/me", &[("Authorization", &bearer)]).await,
        "invalid_token",
        "Bearer error=\"invalid_token\"",
        &token,
    );
}

#[tokio::test]
async fn a_token_anywhere_but_the_header_is_ignored() {
    let f = fixture().await;
    f.with_password(&f.client).await;
    let session = client_session(&f).await;
    let token = session.token.expose().to_owned();
    let addr = serve(f.auth.clone()).await;
    for path in [
        format!("/me?access_token={token}"),
        format!("/me?token={token}"),
        format!("/me?authorization=Bearer%20{token}"),
    ] {
        refused(
            &get_with(addr, &path, &[]).await,
            "missing_token",
            "Bearer",
            &token,
        );
    }
    for (name, value) in [
        ("Cookie", format!("access_token={token}; session={token}")),
        ("X-Access-Token", token.clone()),
        ("Proxy-Authorization", format!("Bearer {token}")),
    ] {
        refused(
            &get_with(addr, "/me", &[(name, &value)]).await,
            "missing_token",
            "Bearer",
            &token,
        );
    }
    // The same token in the header is fine.
    assert_eq!(
        get_with(
            addr,
            "/me",
            &[("Authorization", &format!("Bearer {token}"))]
        )
        .await
        .status,
        200
    );
}
