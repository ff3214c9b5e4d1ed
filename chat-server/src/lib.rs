//! The chat engine's HTTP face: the REST API under `/api/v1`, health
//! checks, the WebSocket at `/ws` and the browser demo at `/`.
//!
//! It is a library first: [`app`] builds an axum [`Router`] from an
//! [`AppState`], so an application can `nest` the chat API beside its own
//! routes, and [`serve`] runs it on a listener the caller binds (tests use
//! port 0) until the caller's shutdown future completes. The binary
//! (`main.rs`) only parses [`Config`], calls [`bootstrap::build_state`] and
//! [`serve`].
//!
//! # Layout
//!
//! - [`config`]: flags and `CHAT_*` environment variables.
//! - [`background`]: a lower-priority thread for outgoing HTTP no user
//!   waits on.
//! - [`bootstrap`]: builds the engine and its backends from a [`Config`].
//! - [`state`]: [`AppState`], shared by every handler.
//! - [`error`]: [`ApiError`] and the status code of every engine error.
//! - [`extract`]: extractors that answer in the API's error shape
//!   (`ApiJson`, `ApiQuery`, `ApiPath`, `AuthUser`, `ClientIp`).
//! - [`routes`]: one module per resource (`auth`, `users`, `messages`,
//!   `groups`, `conversations`, `health`).
//! - [`openapi`]: the OpenAPI document, built from the routes as they are
//!   registered and served at `/api/v1/openapi.json`.
//! - [`ws`]: the WebSocket gateway at `/ws`.
//! - [`limits`]: the cap on sockets per user and the rates of costly
//!   WebSocket frames.
//! - [`middleware`]: request ids, request logs, failure logs.
//! - [`smtp`]: the SMTP [`Mailer`](chat_core::Mailer).
//! - [`push`]: the VAPID key and [`WebPusher`](push::WebPusher), the
//!   [`Pusher`](chat_core::Pusher) that sends Web Push.
//! - [`outbound`]: the HTTP client for URLs users and operators give
//!   (push endpoints, webhooks), which reaches public addresses only.
//! - [`webhook_sender`]: the [`WebhookSender`](chat_core::WebhookSender)
//!   that posts webhook deliveries over it.
//! - [`message_hook`]: the moderation hook as an HTTP endpoint the
//!   operator runs.
//! - [`uploads`]: receiving, checking and serving attachments.
//! - [`web`]: the browser demo, embedded in the binary and served at `/`.
//! - [`NestChat`]: the chat mounted under a prefix of an application's own
//!   router.
//! - [`telemetry`]: log set-up.
//! - [`testing`]: [`TestServer`](testing::TestServer), a real server on a
//!   free port for tests, and cheap authentication settings for them.

pub mod background;
pub mod bootstrap;
pub mod config;
pub mod error;
pub mod extract;
pub mod limits;
pub mod message_hook;
pub mod middleware;
mod nest;
pub mod openapi;
pub mod outbound;
pub mod push;
pub mod routes;
mod serve;
mod server_error;
pub mod smtp;
pub mod state;
pub mod telemetry;
pub mod testing;
pub mod uploads;
pub mod web;
pub mod webhook_sender;
pub mod ws;

use std::future::Future;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::{Extension, Router};
use tokio::net::TcpListener;
use utoipa_axum::router::OpenApiRouter;

pub use config::Config;
pub use error::ApiError;
pub use nest::NestChat;
pub use serve::serve_router;
pub use server_error::ServerError;
pub use state::{AppState, HttpSettings, Instance, WsSettings};

/// Which optional parts [`app_with`] serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppOptions {
    /// The built-in accounts: `POST /auth/signup`, `/auth/login`,
    /// `/auth/forgot-password` and `/auth/reset-password`. An application
    /// that logs its people in itself turns them off and hands out chat
    /// tokens with [`AuthService::issue_tokens`](chat_core::AuthService::issue_tokens)
    /// (see `docs/embedding.md`).
    pub builtin_accounts: bool,
    /// The browser demo at `/`. Its login page needs the built-in
    /// accounts; without them its chat page runs on the sessions the
    /// application's own login hands it (docs/embedding.md).
    pub demo: bool,
}

impl Default for AppOptions {
    fn default() -> Self {
        Self {
            builtin_accounts: true,
            demo: true,
        }
    }
}

/// The complete HTTP application for `state`, with every part
/// ([`AppOptions::default`]).
///
/// Routes: `/api/v1/...` (the REST API), `/ws` (the WebSocket),
/// `/healthz`, `/readyz`, `/metrics`, and the browser demo at `/`. Unknown
/// paths and methods get JSON errors (`NOT_FOUND`, `METHOD_NOT_ALLOWED`).
///
/// An application can mount it under a path of its own with
/// [`NestChat::nest_chat`] and serve the outer router with [`serve_router`]
/// (it gives handlers the client's address, which the login limits need,
/// and times out slow clients), or with `axum::serve` and
/// `into_make_service_with_connect_info::<SocketAddr>()`.
pub fn app(state: AppState) -> Router {
    app_with(state, AppOptions::default())
}

/// [`app`] with a choice of its optional parts.
pub fn app_with(state: AppState, options: AppOptions) -> Router {
    let body_limit = state.http.max_body_bytes;
    let instance_id = state.instance.id.clone();
    let metrics = state.engine.metrics().clone();
    let head_limits = middleware::HeadLimits {
        uri_bytes: state.http.max_uri_bytes,
        head_bytes: state.http.max_head_bytes,
    };
    let (router, doc) = OpenApiRouter::with_openapi(openapi::base())
        .nest("/api/v1", routes::api(options.builtin_accounts))
        .merge(routes::health::router())
        .merge(ws::router())
        .split_for_parts();
    let mut router = router
        .layer(Extension(openapi::OpenApiJson::new(&doc)))
        .layer(Extension(extract::BodyTimeout(state.http.body_timeout)));
    if options.demo {
        router = router.merge(web::router());
    }
    let cors = middleware::cors(&state.http.cors_origins);
    let router = router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state);
    let router = match cors {
        Some(cors) => router.layer(cors),
        None => router,
    };
    middleware::apply(router, &instance_id, metrics, head_limits)
}

/// Serves [`app`] on `listener` until `shutdown` completes, then lets
/// in-flight requests finish.
///
/// # Errors
/// I/O errors from the listener.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let sessions = state.shutdown.clone();
    let metrics = state.engine.metrics().clone();
    let sweeper = uploads::sweep::spawn_sweeper(state.engine.clone(), sessions.subscribe());
    // Every instance runs a notifier; the offline queue's claims give each
    // user's notifications to one of them.
    let notifier = state.engine.push().spawn_notifier();
    let dispatcher = state.engine.webhooks().spawn_dispatcher();
    let header_timeout = state.http.header_timeout;
    let shutdown = async move {
        shutdown.await;
        // WebSocket sessions close with 1001.
        sessions.send_replace(true);
    };
    let served = serve::serve_router(listener, app(state), header_timeout, shutdown).await;
    sweeper.abort();
    notifier.abort();
    dispatcher.abort();
    served?;
    // An upgraded connection is no longer hyper's to wait for: give the
    // sessions a moment to send their close frames and finish their writes.
    let deadline = tokio::time::Instant::now() + SESSION_DRAIN_TIMEOUT;
    while metrics.connections() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// How long [`serve`] waits for WebSocket sessions to close at shutdown.
const SESSION_DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}

async fn not_found() -> ApiError {
    ApiError::request(StatusCode::NOT_FOUND, "NOT_FOUND", "no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::request(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        "this route does not accept that method",
    )
}
