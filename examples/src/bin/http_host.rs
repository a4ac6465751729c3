//! A small HTTP host for `cai-core` on axum: the glue a host writes, and no more.
//!
//! ```sh
//! cargo run -p cai-examples --bin http_host        # listens on 127.0.0.1:8080
//! ```
//!
//! What it shows (docs/HOSTING.md explains each):
//! - an extractor that turns `Authorization: Bearer <token>` into a [`Caller`], with the
//!   request id and client address as [`RequestMeta`];
//! - one error type that maps every [`cai_core::Error`] to its HTTP status and JSON
//!   body (`Retry-After` for 429), logging the full error server-side only;
//! - paged listings with opaque cursors, JSON in and out, a health endpoint;
//! - Argon2 work on a bounded blocking pool ([`TokioPool`]).
//!
//! **The token table here is a stand-in for `cai-auth`**, which is not there yet: the
//! host must build a `Caller` only from a verified session token, never from anything
//! the client sends. Here a token is minted at start-up for a demo counsellor and
//! printed; nothing else creates one.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use axum::extract::{ConnectInfo, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use cai_core::blocking::TokioPool;
use cai_core::prelude::*;
use cai_core::service::Health;
use serde::Deserialize;

/// What the handlers share.
#[derive(Clone)]
struct AppState {
    service: Counselling,
    /// Token → caller. **Stand-in for `cai-auth`'s verified session tokens.**
    tokens: Arc<RwLock<HashMap<String, Caller>>>,
}

/// Every error a handler returns: the service's, answered with its status and body.
struct ApiError(Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        Self(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            // The details stay here; the body says only what a client may know.
            tracing::error!(error = %self.0, "request failed");
        }
        let body = self.0.to_body();
        let retry = body.retry_after_secs;
        let mut response = (status, Json(body)).into_response();
        if let Some(secs) = retry {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// The authenticated caller of a request.
struct Authenticated(Caller);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(Error::Unauthenticated)?;
        let caller = state
            .tokens
            .read()
            .map_err(|_| Error::Unauthenticated)?
            .get(token)
            .copied()
            .ok_or(Error::Unauthenticated)?;
        // What the transport saw: the request id a proxy set (ignored when malformed),
        // the peer address (behind a proxy, the host takes it from the header its
        // proxy sets, after checking the proxy is its own).
        let id = parts
            .headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| cai_core::domain::RequestId::parse(v).ok());
        let client = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        Ok(Self(caller.with_request(RequestMeta { id, client })))
    }
}

/// Query of a paged listing: `?limit=20&cursor=…&newest_first=false`. A cursor is no
/// secret; it may travel in the URL.
#[derive(Deserialize)]
struct PageQuery {
    cursor: Option<String>,
    limit: Option<u32>,
    newest_first: Option<bool>,
}

impl PageQuery {
    fn request(self) -> Result<PageRequest, Error> {
        Ok(PageRequest {
            cursor: self.cursor.as_deref().map(Cursor::parse).transpose()?,
            limit: self.limit,
            newest_first: self.newest_first,
        })
    }
}

async fn list_sessions(
    State(s): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(q): Query<PageQuery>,
) -> Result<Json<Paged<Session>>, ApiError> {
    let page = s
        .service
        .list_sessions(&caller, caller.tenant, q.request()?)
        .await?;
    Ok(Json(page))
}

async fn create_session(
    State(s): State<AppState>,
    Authenticated(caller): Authenticated,
    Json(new): Json<NewSession>,
) -> Result<(StatusCode, Json<Session>), ApiError> {
    let created = s
        .service
        .create_session(&caller, caller.tenant, new)
        .await?;
    Ok((StatusCode::CREATED, Json(created.session)))
}

/// A chat message in a server-managed session: the text travels over TLS, the service
/// seals it before the store sees it.
#[derive(Deserialize)]
struct NewMessage {
    text: String,
}

async fn post_message(
    State(s): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(session): Path<SessionId>,
    Json(m): Json<NewMessage>,
) -> Result<(StatusCode, Json<cai_core::domain::ContentItem>), ApiError> {
    let item = s
        .service
        .post_content(
            &caller,
            caller.tenant,
            session,
            ContentKind::Message,
            ContentBody::plain(m.text.into_bytes()),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(item)))
}

async fn read_messages(
    State(s): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(session): Path<SessionId>,
    Query(q): Query<PageQuery>,
) -> Result<Json<Paged<ContentView>>, ApiError> {
    let page = s
        .service
        .read_items(&caller, caller.tenant, session, q.request()?)
        .await?;
    Ok(Json(page))
}

async fn health(State(s): State<AppState>) -> (StatusCode, Json<Health>) {
    let h = s.service.health().await;
    let status = if h.healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(h))
}

fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/sessions", get(list_sessions).post(create_session))
        .route(
            "/sessions/{session}/messages",
            get(read_messages).post(post_message),
        )
        .with_state(state)
}

/// A tenant with one counsellor, and a token for it.
async fn demo_state(
    service: Counselling,
    clock_now: Timestamp,
) -> Result<(AppState, String), Error> {
    let (tenant, admin) = service
        .create_tenant(
            NewTenant {
                name: Name::parse("Beratungsstelle Nord")?,
                region: Region::parse("DE")?,
                settings: TenantSettings::default(),
            },
            NewAccount::new(Email::parse("ada@nord.example")?, Name::parse("Ada")?),
        )
        .await?;
    let ada = Caller::new(
        tenant.id,
        SubjectId::Account(admin.id),
        Authentication {
            second_factor: true,
            at: clock_now,
        },
    );
    let cora = service
        .create_account(
            &ada,
            tenant.id,
            NewAccount::new(Email::parse("cora@nord.example")?, Name::parse("Cora")?),
            &[BuiltinRole::Counsellor.id()],
        )
        .await?;
    let cora = Caller::new(
        tenant.id,
        SubjectId::Account(cora.id),
        Authentication {
            second_factor: false,
            at: clock_now,
        },
    );
    let token = hex_token()?;
    let tokens = Arc::new(RwLock::new(HashMap::from([(token.clone(), cora)])));
    Ok((AppState { service, tokens }, token))
}

/// 32 random bytes from the operating system, as 64 hex digits.
fn hex_token() -> Result<String, Error> {
    let random = cai_core::domain::InvitationSecret::generate(InvitationId::random()?)?;
    let text = random.expose();
    let hex = text.split_once('.').map(|(_, h)| h).ok_or(Error::Rng)?;
    Ok(format!("demo_{hex}"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut mem = Ports::in_memory();
    mem.ports.clock = Arc::new(SystemClock);
    mem.ports.blocking = Arc::new(TokioPool::current()?);
    let service = Counselling::new(mem.ports.clone());
    let (state, token) = demo_state(service, SystemClock.now()).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
    println!("listening on http://127.0.0.1:8080 — demo counsellor token: {token}");
    println!("try: curl -H 'Authorization: Bearer {token}' http://127.0.0.1:8080/sessions");
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use axum::body::{Body, to_bytes};
    use axum::http::Request;
    use tower::ServiceExt;

    async fn app() -> (Router, String) {
        let mem = Ports::in_memory();
        let now = mem.clock.now();
        let service = Counselling::new(mem.ports.clone());
        let (state, token) = demo_state(service, now).await.unwrap();
        (router(state), token)
    }

    async fn call(
        app: &Router,
        method: &str,
        uri: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> (StatusCode, serde_json::Value) {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let req = match body {
            Some(b) => req
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        }
        .unwrap();
        let res = app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let bytes = to_bytes(res.into_body(), 1 << 20).await.unwrap();
        let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        (status, json)
    }

    #[tokio::test]
    async fn a_frontend_creates_a_session_posts_and_pages_through_messages() {
        let (app, token) = app().await;
        let (status, body) = call(&app, "GET", "/sessions", None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["category"], "unauthenticated");

        let (status, session) = call(
            &app,
            "POST",
            "/sessions",
            Some(&token),
            Some(serde_json::json!({
                "kind": {"type": "classic"}, "title": null, "mode": "server_managed",
                "groups": [], "on_close": null, "passphrase_custody": null
            })),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{session}");
        let id = session["id"].as_str().unwrap().to_owned();
        for n in 0..3 {
            let (status, _) = call(
                &app,
                "POST",
                &format!("/sessions/{id}/messages"),
                Some(&token),
                Some(serde_json::json!({ "text": format!("message {n}") })),
            )
            .await;
            assert_eq!(status, StatusCode::CREATED);
        }
        let (status, page) = call(
            &app,
            "GET",
            &format!("/sessions/{id}/messages?limit=2"),
            Some(&token),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(page["items"].as_array().unwrap().len(), 2);
        let cursor = page["next"].as_str().unwrap();
        let (_, rest) = call(
            &app,
            "GET",
            &format!("/sessions/{id}/messages?limit=2&cursor={cursor}"),
            Some(&token),
            None,
        )
        .await;
        assert_eq!(rest["items"].as_array().unwrap().len(), 1);
        assert!(rest["next"].is_null());

        // Unknown session: 404 with a JSON body; a malformed id never reaches the
        // service; a bad cursor is 400.
        let unknown = SessionId::random().unwrap();
        let (status, body) = call(
            &app,
            "GET",
            &format!("/sessions/{unknown}/messages"),
            Some(&token),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["category"], "not_found");
        let (status, _) = call(
            &app,
            "GET",
            "/sessions/ses_XYZ/messages",
            Some(&token),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, body) = call(
            &app,
            "GET",
            &format!("/sessions/{id}/messages?cursor=acc.o.nonsense"),
            Some(&token),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["category"], "invalid_input");

        let (status, health) = call(&app, "GET", "/health", None, None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(health["healthy"], true);
    }

    #[tokio::test]
    async fn too_many_requests_carries_retry_after() {
        let res = ApiError(Error::TooManyRequests {
            retry_after: std::time::Duration::from_millis(2500),
        })
        .into_response();
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(res.headers()[header::RETRY_AFTER], "3");
        let res = ApiError(Error::KeyProvider("kms at 10.1.2.3 said no".into())).into_response();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        let bytes = to_bytes(res.into_body(), 1 << 16).await.unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains("10.1.2.3"));
    }
}
