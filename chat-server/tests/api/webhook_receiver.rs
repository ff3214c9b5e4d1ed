//! A webhook receiver for tests, on a local port: it records every
//! delivery with its headers, checks its signature, and can be told to
//! fail for a while.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use chat_core::webhooks::signature;
use serde_json::Value;

/// One delivery the receiver took.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub(crate) event: String,
    pub(crate) delivery: String,
    pub(crate) body: Value,
}

#[derive(Default)]
struct Shared {
    received: Vec<Received>,
    /// Deliveries whose signature did not verify.
    forged: Vec<String>,
    /// Answer with this status instead of taking deliveries.
    failing: Option<u16>,
    attempts: u32,
}

/// The local receiver.
#[derive(Clone)]
pub(crate) struct WebhookReceiver {
    /// `http://127.0.0.1:port/hook`.
    pub(crate) url: String,
    secret: Arc<Mutex<String>>,
    shared: Arc<Mutex<Shared>>,
}

impl WebhookReceiver {
    /// Starts one (its secret is set once the webhook is registered).
    pub(crate) async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr: SocketAddr = listener.local_addr().expect("addr");
        let receiver = Self {
            url: format!("http://{addr}/hook"),
            secret: Arc::default(),
            shared: Arc::default(),
        };
        let app = Router::new()
            .route("/hook", post(take))
            .with_state(receiver.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        receiver
    }

    fn shared(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The secret deliveries must be signed with.
    pub(crate) fn expect_secret(&self, secret: &str) {
        *self.secret.lock().unwrap_or_else(|e| e.into_inner()) = secret.to_owned();
    }

    /// Answers every delivery with `status` (`None`: takes them again).
    pub(crate) fn fail_with(&self, status: Option<u16>) {
        self.shared().failing = status;
    }

    /// Requests made so far, taken or not.
    pub(crate) fn attempts(&self) -> u32 {
        self.shared().attempts
    }

    /// Waits until `n` deliveries were taken (at most `within`) and
    /// returns every one so far.
    pub(crate) async fn wait_for(&self, n: usize, within: Duration) -> Vec<Received> {
        crate::helpers::wait_until(within, || self.received(), |r| r.len() >= n).await
    }

    /// The deliveries taken so far; every one carried a valid signature.
    pub(crate) fn received(&self) -> Vec<Received> {
        let shared = self.shared();
        assert!(
            shared.forged.is_empty(),
            "bad signatures: {:?}",
            shared.forged
        );
        shared.received.clone()
    }
}

async fn take(
    State(receiver): State<WebhookReceiver>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let secret = receiver
        .secret
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let mut shared = receiver.shared();
    shared.attempts += 1;
    if let Some(status) = shared.failing {
        return StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let signed = header("chat-signature");
    if !signature::verify(&secret, &signed, &body, now, 300) {
        shared.forged.push(signed);
        return StatusCode::UNAUTHORIZED;
    }
    let Ok(json) = serde_json::from_slice::<Value>(&body) else {
        shared.forged.push("not JSON".to_owned());
        return StatusCode::BAD_REQUEST;
    };
    shared.received.push(Received {
        event: header("chat-event"),
        delivery: header("chat-delivery"),
        body: json,
    });
    StatusCode::NO_CONTENT
}
