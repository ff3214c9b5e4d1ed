//! Extractors that answer in the API's own error shape.
//!
//! axum's built-in rejections are plain text; these wrappers turn every
//! failure into an [`ApiError`] so clients always get
//! `{"error": {"code", "message"}}`.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::{
    ConnectInfo, FromRequest, FromRequestParts, OptionalFromRequest, Path, Query, Request,
};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use bytes::Bytes;
use chat_core::domain::{field_with_forbidden_control, json_has_forbidden_control};
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
        if !has_json_content_type(&req) {
            return Err(unsupported_media_type());
        }
        within(BodyTimeout::of(&req), async {
            let bytes = Bytes::from_request(req, state)
                .await
                .map_err(bytes_rejection)?;
            parse_body(&bytes).map(Self)
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
        if !req.headers().contains_key(header::CONTENT_TYPE) {
            return Ok(None);
        }
        <Self as FromRequest<S>>::from_request(req, state)
            .await
            .map(Some)
    }
}

/// `application/json`, or another `application/*+json` type.
fn has_json_content_type(req: &Request) -> bool {
    let Some(value) = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

fn unsupported_media_type() -> ApiError {
    ApiError::request(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "UNSUPPORTED_MEDIA_TYPE",
        "expected Content-Type: application/json",
    )
}

fn bytes_rejection(e: BytesRejection) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::request(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            "the request body is too large",
        )
    } else {
        ApiError::request(StatusCode::BAD_REQUEST, "INVALID_BODY", e.body_text())
    }
}

/// A body's value. Every body is a JSON object: serde would also read a
/// struct from an array (`[null]` as the first field set to null), so
/// anything else is refused before it can. A string holding NUL or another
/// control character is refused wherever it is (see
/// [`chat_core::domain::json_has_forbidden_control`]).
fn parse_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let starts_as_object = bytes
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'{');
    if (!starts_as_object || json_has_forbidden_control(bytes))
        && let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes)
    {
        if !value.is_object() {
            return Err(ApiError::request(
                StatusCode::UNPROCESSABLE_ENTITY,
                "INVALID_BODY",
                "the request body must be a JSON object",
            ));
        }
        if let Some(field) = field_with_forbidden_control(&value) {
            return Err(ApiError::Request {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                code: "INVALID_TEXT",
                message: format!(
                    "`{field}` must not contain NUL or other control characters (newline and tab are allowed)"
                ),
                field: Some(field),
            });
        }
    }
    match axum::Json::<T>::from_bytes(bytes) {
        Ok(axum::Json(v)) => Ok(v),
        Err(rejection) => Err(json_rejection(rejection)),
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
        JsonRejection::MissingJsonContentType(_) => unsupported_media_type(),
        JsonRejection::BytesRejection(e) => bytes_rejection(e),
        other => ApiError::request(StatusCode::BAD_REQUEST, "INVALID_BODY", other.body_text()),
    }
}

/// Query parameters; bad values, and values holding control characters,
/// are `400 INVALID_QUERY`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if parts.uri.query().is_some_and(query_has_forbidden_control) {
            return Err(ApiError::request(
                StatusCode::BAD_REQUEST,
                "INVALID_QUERY",
                "query parameters must not contain NUL or other control characters",
            ));
        }
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| Self(v))
            .map_err(|e: QueryRejection| {
                ApiError::request(StatusCode::BAD_REQUEST, "INVALID_QUERY", e.body_text())
            })
    }
}

/// Whether a query string, once percent-decoded, holds a control
/// character other than newline and tab.
fn query_has_forbidden_control(query: &str) -> bool {
    let bytes = query.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                decoded.push(byte);
                i += 3;
            }
            (byte, _) => {
                decoded.push(byte);
                i += 1;
            }
        }
    }
    chat_core::domain::has_forbidden_control(&String::from_utf8_lossy(&decoded))
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
        Ok(Self(state.engine.auth().authenticate_live(token).await?))
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
