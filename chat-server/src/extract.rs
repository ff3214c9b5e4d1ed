//! Extractors that answer in the API's own error shape.
//!
//! axum's built-in rejections are plain text; these wrappers turn every
//! failure into an [`ApiError`] so clients always get
//! `{"error": {"code", "message"}}`.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{
    ConnectInfo, FromRequest, FromRequestParts, OptionalFromRequest, Path, Query, Request,
};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use chat_core::{AuthContext, ChatError};
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::state::{AppState, DEFAULT_BODY_TIMEOUT};

/// A JSON body. Malformed JSON is `400 INVALID_JSON`, a body of the wrong
/// shape `422 INVALID_BODY`, a missing or wrong `Content-Type`
/// `415 UNSUPPORTED_MEDIA_TYPE`, an oversized body `413 PAYLOAD_TOO_LARGE`,
/// a body that takes longer than [`BodyTimeout`] to arrive
/// `408 REQUEST_TIMEOUT`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

/// The time a body has to arrive, as a request extension (the app sets
/// it from [`HttpSettings::body_timeout`](crate::HttpSettings::body_timeout);
/// without it, [`DEFAULT_BODY_TIMEOUT`]).
#[derive(Debug, Clone, Copy)]
pub struct BodyTimeout(pub Duration);

impl BodyTimeout {
    /// The request's limit.
    fn of(req: &Request) -> Duration {
        req.extensions()
            .get::<BodyTimeout>()
            .map_or(DEFAULT_BODY_TIMEOUT, |t| t.0)
    }
}

/// Runs `read` (an extractor reading the body) within `limit`, so a body
/// that trickles in cannot hold a handler.
async fn within<T>(
    limit: Duration,
    read: impl Future<Output = Result<T, ApiError>>,
) -> Result<T, ApiError> {
    tokio::time::timeout(limit, read).await.unwrap_or_else(|_| {
        Err(ApiError::request(
            StatusCode::REQUEST_TIMEOUT,
            "REQUEST_TIMEOUT",
            format!("the request body did not arrive within {limit:?}"),
        ))
    })
}

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        within(BodyTimeout::of(&req), async {
            match <axum::Json<T> as FromRequest<S>>::from_request(req, state).await {
                Ok(axum::Json(v)) => Ok(Self(v)),
                Err(rejection) => Err(json_rejection(rejection)),
            }
        })
        .await
    }
}

/// An optional JSON body (`Option<ApiJson<T>>`): a request without a
/// `Content-Type` has none; one with a body is read as [`ApiJson`] is.
impl<T, S> OptionalFromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Option<Self>, Self::Rejection> {
        within(BodyTimeout::of(&req), async {
            match <axum::Json<T> as OptionalFromRequest<S>>::from_request(req, state).await {
                Ok(v) => Ok(v.map(|axum::Json(v)| Self(v))),
                Err(rejection) => Err(json_rejection(rejection)),
            }
        })
        .await
    }
}

fn json_rejection(r: JsonRejection) -> ApiError {
    match r {
        JsonRejection::JsonSyntaxError(e) => ApiError::request(
            StatusCode::BAD_REQUEST,
            "INVALID_JSON",
            format!("the request body is not valid JSON: {}", e.body_text()),
        ),
        JsonRejection::JsonDataError(e) => ApiError::request(
            StatusCode::UNPROCESSABLE_ENTITY,
            "INVALID_BODY",
            e.body_text(),
        ),
        JsonRejection::MissingJsonContentType(_) => ApiError::request(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "expected Content-Type: application/json",
        ),
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::request(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                "the request body is too large",
            )
        }
        other => ApiError::request(StatusCode::BAD_REQUEST, "INVALID_BODY", other.body_text()),
    }
}

/// Query parameters; bad values are `400 INVALID_QUERY`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| Self(v))
            .map_err(|e: QueryRejection| {
                ApiError::request(StatusCode::BAD_REQUEST, "INVALID_QUERY", e.body_text())
            })
    }
}

/// Path parameters; an id that is not a UUID is `400 INVALID_ID`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(v)| Self(v))
            .map_err(|e: PathRejection| {
                ApiError::request(StatusCode::BAD_REQUEST, "INVALID_ID", e.body_text())
            })
    }
}

/// The caller, authenticated by `Authorization: Bearer <access token>`.
///
/// Costs a signature check and one hash probe in the revocation set; no
/// store access.
#[derive(Debug, Clone, Copy)]
pub struct AuthUser(pub AuthContext);

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer_token(parts).ok_or(ChatError::Unauthenticated)?;
        Ok(Self(state.engine.auth().authenticate(token)?))
    }
}

fn bearer_token(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// The client's address: the peer, or with a trusted proxy in front, the
/// last address in `X-Forwarded-For` that is not a trusted proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub Option<IpAddr>);

impl ClientIp {
    /// A key for per-client limits.
    pub fn key(&self) -> String {
        self.0
            .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
    }
}

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        let trusted = &state.http.trusted_proxies;
        let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
        let Some(peer) = peer else {
            return Ok(Self(None));
        };
        if !is_trusted(&peer) {
            return Ok(Self(Some(peer)));
        }
        let forwarded = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|s| s.trim().parse::<IpAddr>().ok())
            .collect::<Vec<_>>();
        let client = forwarded
            .iter()
            .rev()
            .find(|ip| !is_trusted(ip))
            .copied()
            .unwrap_or(peer);
        Ok(Self(Some(client)))
    }
}

/// The client's `User-Agent`, kept with sessions as device info.
#[derive(Debug, Clone, Default)]
pub struct UserAgent(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for UserAgent {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(
            parts
                .headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        ))
    }
}
