//! The WebSocket gateway at `/ws` (the protocol is in `docs/protocol.md`
//! and [`chat_core::protocol`]).
//!
//! - `upgrade` (here): `GET /ws?token=...`: the token is checked before
//!   the upgrade, so a bad one gets HTTP 401 and no socket.
//! - `session`: one task per connection, over any `Sink` + `Stream` of
//!   messages (axum's `WebSocket`; channels in the session tests): a
//!   `select!` over the socket, the sends under way, the connection's
//!   events, the heartbeat, token expiry and shutdown. It owns the
//!   connection's state, and nothing else writes it: it applies what the
//!   frame handlers return.
//! - `frames`: what each client frame does, one file per family (`send`,
//!   `receipts`, `typing`, `sync`, `auth`); handlers return an `Outcome`.
//! - `sends`: the send under way and those queued behind it.
//! - `outbox`: what the connection is sent unasked: the catch-up, live
//!   events in order (gap fills, events held while a send is under way),
//!   resyncs.
//! - `socket`: every write within the write timeout; the close handshake.
//! - `acks`: acknowledgements, written by a worker beside the session.
//! - The limits it applies (sockets per user, frame rates) are in
//!   [`crate::limits`], which the state holds.

mod acks;
mod frames;
mod outbox;
mod sends;
mod session;
#[cfg(test)]
mod session_tests;
mod socket;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chat_core::protocol::MAX_CLIENT_FRAME_BYTES;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// Bytes read from the socket at a time. tungstenite's default (128 KiB,
/// allocated up front) would dominate an idle connection's memory; a
/// larger frame makes the buffer grow to its size while it is read.
const READ_BUFFER_BYTES: usize = 1024;
/// Bytes written before frames are flushed to the socket.
const WRITE_BUFFER_BYTES: usize = 4 * 1024;
/// Most unflushed bytes a connection may hold when writes fail.
const MAX_WRITE_BUFFER_BYTES: usize = 1024 * 1024;

/// The `/ws` route.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(upgrade))
}

/// `GET /ws` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct WsQuery {
    /// An access token (browsers cannot set headers on a WebSocket).
    token: Option<String>,
}

/// Open the real-time WebSocket (protocol: docs/protocol.md).
///
/// The access token is checked before the upgrade: a missing, invalid,
/// expired or revoked one gets 401 and no socket.
// The token is never logged: the request log records the path only.
#[utoipa::path(
    get,
    path = "/ws",
    tag = "realtime",
    params(WsQuery),
    responses(
        (status = 101, description = "Switching to the WebSocket protocol"),
        (status = "4XX", description = "Refused: `error.code` says why (401 for a bad token, 400 `WEBSOCKET_UPGRADE_REQUIRED` without an upgrade, 429 `TOO_MANY_CONNECTIONS` when the user holds `CHAT_WS_MAX_SOCKETS_PER_USER` sockets on this instance)", body = ErrorBody<'static>)
    )
)]
async fn upgrade(
    State(state): State<AppState>,
    Query(query): Query<WsQuery>,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let token = query
        .token
        .filter(|t| !t.is_empty())
        .ok_or(chat_core::ChatError::Unauthenticated)?;
    let auth = state.engine.auth().authenticate_live(&token).await?;
    let ws = ws.map_err(|e| {
        ApiError::request(
            StatusCode::BAD_REQUEST,
            "WEBSOCKET_UPGRADE_REQUIRED",
            format!("this endpoint speaks WebSocket only: {e}"),
        )
    })?;
    let seat = state.sockets.take(auth.user_id).ok_or_else(|| {
        ApiError::request(
            StatusCode::TOO_MANY_REQUESTS,
            "TOO_MANY_CONNECTIONS",
            format!(
                "this user already holds {} sockets on this server; close one first",
                state.sockets.max_per_user()
            ),
        )
    })?;
    Ok(ws
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(WRITE_BUFFER_BYTES)
        .max_write_buffer_size(MAX_WRITE_BUFFER_BYTES)
        .max_message_size(MAX_CLIENT_FRAME_BYTES)
        .max_frame_size(MAX_CLIENT_FRAME_BYTES)
        .on_upgrade(move |socket| session::run(socket, state, auth, seat)))
}
