//! An [axum] extractor from `Authorization: Bearer <token>` to the `Caller` of
//! [`Authenticator::authenticate`] (feature `axum`, axum 0.8).
//!
//! ```no_run
//! use axum::Router;
//! use axum::extract::FromRef;
//! use axum::routing::get;
//! use cai_auth::Authenticator;
//! use cai_auth::axum::Authenticated;
//!
//! // The host's state: the `Authenticator` is found in it through `FromRef`.
//! #[derive(Clone)]
//! struct AppState {
//!     auth: Authenticator,
//!     // … the host's own things
//! }
//!
//! impl FromRef<AppState> for Authenticator {
//!     fn from_ref(state: &AppState) -> Self {
//!         state.auth.clone() // cheap: an `Arc` inside
//!     }
//! }
//!
//! async fn me(Authenticated(caller): Authenticated) -> String {
//!     caller.subject.to_string()
//! }
//!
//! # async fn serve(auth: Authenticator) -> std::io::Result<()> {
//! let app = Router::new().route("/me", get(me)).with_state(AppState { auth });
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! // `into_make_service_with_connect_info` gives the extractor the peer address.
//! axum::serve(
//!     listener,
//!     app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
//! )
//! .await
//! # }
//! ```
//!
//! (A state that *is* an `Authenticator`, `Router::with_state(auth)`, works as it
//! is: axum implements `FromRef<T> for T`.)
//!
//! **Only the header.** The token is read from the `Authorization` header with the
//! `Bearer` scheme (RFC 6750 §2.1) and nowhere else: never a query parameter or a path
//! (proxies and browsers log URLs, R-A8), never a cookie (no CSRF exposure to think
//! about). A request carrying several `Authorization` headers is refused.
//!
//! **The client address.** The `RequestMeta` passed to `authenticate` (and so on every
//! audit event the `Caller` causes) comes from, in order: a `cai_core::domain::RequestMeta`
//! the host put into the request's extensions (its own middleware, which knows its
//! proxies and request ids); else the peer address of axum's `ConnectInfo<SocketAddr>`
//! (serve with `into_make_service_with_connect_info`); else none. **Behind a reverse
//! proxy the peer is the proxy**: the host must then insert the `RequestMeta` itself,
//! with the client address taken from the forwarding header *its own* proxy sets
//! (never from one a client could send straight to it).
//!
//! **Answers.** Failures become [`AuthRejection`]: a response with cai-core's JSON
//! error body (`cai_core::ErrorBody`, the shape of every other error of a cai host)
//! with a stable `code`, `Cache-Control: no-store`, and never the token:
//!
//! ```json
//! {"category":"unauthenticated","code":"invalid_token","message":"invalid or expired token","retry_after_secs":null}
//! ```
//!
//! | `code` | Status | `category` | When | Headers |
//! |---|---|---|---|---|
//! | `missing_token` | 401 | `unauthenticated` | no `Authorization` header | `WWW-Authenticate: Bearer` |
//! | `unsupported_scheme` | 401 | `unauthenticated` | another scheme (`Basic`, …) | `WWW-Authenticate: Bearer` |
//! | `invalid_request` | 401 | `unauthenticated` | malformed header: several, no token, not a token's characters, over 1 KiB | `WWW-Authenticate: Bearer error="invalid_request"` |
//! | `invalid_token` | 401 | `unauthenticated` | unknown, malformed, expired, revoked token; guest no longer in its session | `WWW-Authenticate: Bearer error="invalid_token"` |
//! | `too_many_requests` | 429 | `too_many_requests` | throttled | `Retry-After: <s>` (also `retry_after_secs`) |
//! | `unavailable` | 503 | `unavailable` | a store backend, a failure counter or the hashing pool cannot serve now | `Retry-After: 1` |
//! | `internal_error` | 500 | `internal` | a corrupt record, anything unexpected (logged) | |
//!
//! A request whose token is refused answers 401 whether the token was never issued,
//! expired, revoked or forged: one `invalid_token` for all, like `authenticate`.
//!
//! [axum]: https://docs.rs/axum/0.8

use std::net::SocketAddr;
use std::time::Duration;

use ::axum::Json;
use ::axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use ::axum::http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts};
use ::axum::response::{IntoResponse, Response};
use cai_core::domain::RequestMeta;
use cai_core::{Caller, ErrorBody, ErrorCategory};

use crate::authenticator::Authenticator;
use crate::error::AuthError;

/// Longest `Authorization` header looked at (every token of ours is far shorter).
pub const MAX_AUTHORIZATION_LEN: usize = 1024;

/// Extracts the `Caller` of the request's bearer token (see the
/// [module documentation](self)). The handler's state must give an
/// [`Authenticator`] through `FromRef`.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Caller);

/// Why a request was not authenticated; a response with a stable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthRejection {
    /// No `Authorization` header.
    #[error("no bearer token")]
    MissingToken,
    /// An `Authorization` header of another scheme.
    #[error("not a bearer token")]
    UnsupportedScheme,
    /// A malformed `Authorization` header.
    #[error("malformed authorization header")]
    InvalidRequest,
    /// The token is unknown, malformed, expired or revoked.
    #[error("invalid or expired token")]
    InvalidToken,
    /// Throttled: try again after the wait.
    #[error("too many requests")]
    TooManyRequests {
        /// How long to wait.
        retry_after: Duration,
    },
    /// A port below cannot serve now.
    #[error("authentication unavailable")]
    Unavailable,
    /// Something unexpected (details in the log, never in the answer).
    #[error("internal error")]
    Internal,
}

impl AuthRejection {
    /// The stable code in the JSON body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingToken => "missing_token",
            Self::UnsupportedScheme => "unsupported_scheme",
            Self::InvalidRequest => "invalid_request",
            Self::InvalidToken => "invalid_token",
            Self::TooManyRequests { .. } => "too_many_requests",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal_error",
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MissingToken
            | Self::UnsupportedScheme
            | Self::InvalidRequest
            | Self::InvalidToken => StatusCode::UNAUTHORIZED,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// cai-core's category of the answer (`unauthenticated`, `too_many_requests`,
    /// `unavailable`, `internal`).
    pub fn category(&self) -> ErrorCategory {
        match self {
            Self::MissingToken
            | Self::UnsupportedScheme
            | Self::InvalidRequest
            | Self::InvalidToken => ErrorCategory::Unauthenticated,
            Self::TooManyRequests { .. } => ErrorCategory::TooManyRequests,
            Self::Unavailable => ErrorCategory::Unavailable,
            Self::Internal => ErrorCategory::Internal,
        }
    }

    /// The JSON body: cai-core's [`ErrorBody`], the shape of every other error a
    /// cai host answers with.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            category: self.category(),
            code: self.code().to_owned(),
            message: self.to_string(),
            retry_after_secs: match self {
                // Rounded up: a client that waits what it was told is not too early.
                Self::TooManyRequests { retry_after } => {
                    Some((retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0)).max(1))
                }
                _ => None,
            },
        }
    }

    /// The answer to an error of [`Authenticator::authenticate`]. Errors of cai-core
    /// below go by its own [`ErrorCategory`]: a store backend, a failure counter or the
    /// hashing pool that cannot serve is 503, a corrupt record 500.
    pub fn from_error(e: &AuthError) -> Self {
        match e {
            AuthError::InvalidToken => Self::InvalidToken,
            AuthError::TooManyRequests { retry_after } => Self::TooManyRequests {
                retry_after: *retry_after,
            },
            AuthError::Unavailable(_) => Self::Unavailable,
            AuthError::Core(core) => match core.category() {
                ErrorCategory::Unavailable => Self::Unavailable,
                ErrorCategory::Unauthenticated => Self::InvalidToken,
                ErrorCategory::TooManyRequests => match core {
                    cai_core::Error::TooManyRequests { retry_after } => Self::TooManyRequests {
                        retry_after: *retry_after,
                    },
                    _ => Self::TooManyRequests {
                        retry_after: Duration::from_secs(1),
                    },
                },
                _ => Self::Internal,
            },
            _ => Self::Internal,
        }
    }
}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        let body = self.body();
        let retry_after = match self {
            Self::Unavailable => Some(1),
            _ => body.retry_after_secs,
        };
        let mut response = (self.status(), Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        let challenge = match self {
            Self::MissingToken | Self::UnsupportedScheme => Some("Bearer"),
            Self::InvalidRequest => Some("Bearer error=\"invalid_request\""),
            Self::InvalidToken => Some("Bearer error=\"invalid_token\""),
            _ => None,
        };
        if let Some(c) = challenge {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(c));
        }
        if let Some(secs) = retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// The token of the one `Authorization: Bearer` header (RFC 6750 §2.1: the scheme in
/// any case, one or more spaces, a `b64token`).
pub fn bearer_token(headers: &HeaderMap) -> Result<&str, AuthRejection> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Err(AuthRejection::MissingToken);
    };
    if values.next().is_some() || value.len() > MAX_AUTHORIZATION_LEN {
        return Err(AuthRejection::InvalidRequest);
    }
    let value = value.to_str().map_err(|_| AuthRejection::InvalidRequest)?;
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthRejection::UnsupportedScheme);
    }
    let token = rest.trim_matches(' ');
    let body = token.trim_end_matches('=');
    let b64token = !body.is_empty()
        && body.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        });
    if b64token {
        Ok(token)
    } else {
        Err(AuthRejection::InvalidRequest)
    }
}

/// The request's metadata: the host's `RequestMeta` extension, else the peer address
/// of `ConnectInfo`, else nothing.
pub fn request_meta(parts: &Parts) -> RequestMeta {
    if let Some(meta) = parts.extensions.get::<RequestMeta>() {
        return *meta;
    }
    RequestMeta {
        id: None,
        client: parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(peer)| peer.ip()),
    }
}

impl<S> FromRequestParts<S> for Authenticated
where
    Authenticator: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let token = bearer_token(&parts.headers)?;
        let meta = request_meta(parts);
        let auth = Authenticator::from_ref(state);
        match auth.authenticate(token, meta).await {
            Ok(caller) => Ok(Self(caller)),
            Err(e) => {
                let rejection = AuthRejection::from_error(&e);
                if matches!(
                    rejection,
                    AuthRejection::Unavailable | AuthRejection::Internal
                ) {
                    // The error names no token (AuthError never holds one).
                    tracing::warn!(error = %e, "bearer token not checked");
                }
                Err(rejection)
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn with(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn only_one_well_formed_bearer_header_passes() {
        assert_eq!(bearer_token(&with(&["Bearer cs1_ab"])), Ok("cs1_ab"));
        assert_eq!(bearer_token(&with(&["bearer   cs1_ab "])), Ok("cs1_ab"));
        assert_eq!(
            bearer_token(&with(&["BEARER a-b.c~d+e/f=="])),
            Ok("a-b.c~d+e/f==")
        );
        assert_eq!(bearer_token(&with(&[])), Err(AuthRejection::MissingToken));
        for (v, want) in [
            ("Basic dXNlcjpwYXNz", AuthRejection::UnsupportedScheme),
            ("Token cs1_ab", AuthRejection::UnsupportedScheme),
            ("Bearercs1_ab", AuthRejection::UnsupportedScheme),
            ("cs1_ab", AuthRejection::UnsupportedScheme),
            ("Bearer", AuthRejection::InvalidRequest),
            ("Bearer ", AuthRejection::InvalidRequest),
            ("Bearer a b", AuthRejection::InvalidRequest),
            ("Bearer a,b", AuthRejection::InvalidRequest),
            ("Bearer ==", AuthRejection::InvalidRequest),
            ("Bearer a=b", AuthRejection::InvalidRequest),
        ] {
            assert_eq!(bearer_token(&with(&[v])), Err(want), "{v}");
        }
        assert_eq!(
            bearer_token(&with(&["Bearer a", "Bearer b"])),
            Err(AuthRejection::InvalidRequest)
        );
        let long = format!("Bearer {}", "a".repeat(MAX_AUTHORIZATION_LEN));
        assert_eq!(
            bearer_token(&with(&[&long])),
            Err(AuthRejection::InvalidRequest)
        );
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_bytes(b"Bearer \xc3\xa9").unwrap(),
        );
        assert_eq!(bearer_token(&h), Err(AuthRejection::InvalidRequest));
    }

    #[test]
    fn errors_map_to_statuses() {
        use cai_core::ports::StoreError;
        let cases = [
            (AuthError::InvalidToken, 401, "invalid_token"),
            (
                AuthError::TooManyRequests {
                    retry_after: Duration::from_secs(3),
                },
                429,
                "too_many_requests",
            ),
            (AuthError::Unavailable("x"), 503, "unavailable"),
            (
                AuthError::from(StoreError::backend(std::io::Error::other("down"))),
                503,
                "unavailable",
            ),
            (
                AuthError::from(StoreError::Corrupt { what: "x" }),
                500,
                "internal_error",
            ),
            (AuthError::Corrupt { what: "x" }, 500, "internal_error"),
        ];
        for (e, status, code) in cases {
            let r = AuthRejection::from_error(&e);
            assert_eq!(r.status().as_u16(), status, "{e}");
            assert_eq!(r.code(), code);
        }
        let throttled = AuthRejection::TooManyRequests {
            retry_after: Duration::from_millis(2500),
        };
        // Rounded up, never below one second.
        assert_eq!(throttled.body().retry_after_secs, Some(3));
        for (ms, secs) in [(3000, 3), (3001, 4), (1, 1), (0, 1)] {
            let t = AuthRejection::TooManyRequests {
                retry_after: Duration::from_millis(ms),
            };
            assert_eq!(t.body().retry_after_secs, Some(secs), "{ms} ms");
        }
        let r = throttled.into_response();
        assert_eq!(r.headers()[header::RETRY_AFTER], "3");
        assert_eq!(r.headers()[header::CACHE_CONTROL], "no-store");
        assert!(r.headers().get(header::WWW_AUTHENTICATE).is_none());
    }
}
