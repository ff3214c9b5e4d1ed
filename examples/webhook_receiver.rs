//! A webhook receiver: how to take the chat server's deliveries, and what
//! `scripts/bench-webhooks` measures them with.
//!
//! It checks every delivery's `Chat-Signature` against the secret (on the
//! raw body, in constant time, refusing stale timestamps), drops repeats
//! by `Chat-Delivery`, and counts what it took; `GET /stats` answers the
//! counts and how long after its message each `message.created` arrived.
//!
//! ```sh
//! WEBHOOK_SECRET=some-long-secret cargo run -p examples --example webhook_receiver -- 127.0.0.1:9100
//! # as an operator of the chat server (CHAT_OUTBOUND_ALLOW=127.0.0.1/32 lets it post here):
//! curl -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
//!   -d '{"url": "http://127.0.0.1:9100/hook", "events": ["message.created"], "secret": "some-long-secret"}' \
//!   http://127.0.0.1:8080/api/v1/admin/webhooks
//! curl http://127.0.0.1:9100/stats
//! ```

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use chat_core::Timestamp;
use chat_core::webhooks::signature;
use serde_json::{Value, json};

/// How far a delivery's signing time may be from now.
const TOLERANCE_SECS: u64 = 300;

#[derive(Default)]
struct Counts {
    taken: u64,
    repeats: u64,
    forged: u64,
    seen: HashSet<String>,
    /// Milliseconds from each message's creation to its delivery.
    lags_ms: Vec<i64>,
}

#[derive(Clone)]
struct Receiver {
    secret: Arc<String>,
    counts: Arc<Mutex<Counts>>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let listen = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9100".to_owned());
    let secret = std::env::var("WEBHOOK_SECRET")
        .map_err(|_| anyhow::anyhow!("set WEBHOOK_SECRET to the webhook's secret"))?;
    let receiver = Receiver {
        secret: Arc::new(secret),
        counts: Arc::default(),
    };
    let app = Router::new()
        .route("/hook", post(take))
        .route("/stats", get(stats))
        .with_state(receiver);
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    eprintln!("webhook receiver on http://{listen}/hook (stats at /stats)");
    axum::serve(listener, app).await?;
    Ok(())
}

async fn take(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let signed = header("chat-signature").unwrap_or_default();
    let mut counts = r.counts.lock().unwrap_or_else(|e| e.into_inner());
    if !signature::verify(&r.secret, signed, &body, now, TOLERANCE_SECS) {
        counts.forged += 1;
        return StatusCode::UNAUTHORIZED;
    }
    // The same delivery again (a retry, or an instance that died after
    // posting it): already handled.
    let id = header("chat-delivery").unwrap_or_default().to_owned();
    if !counts.seen.insert(id) {
        counts.repeats += 1;
        return StatusCode::NO_CONTENT;
    }
    counts.taken += 1;
    let created = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|b| {
            b["data"]["message"]["created_at"]
                .as_str()
                .map(str::to_owned)
        })
        .and_then(|t| serde_json::from_value::<Timestamp>(json!(t)).ok());
    if let Some(created) = created {
        counts
            .lags_ms
            .push(Timestamp::now().as_millis() - created.as_millis());
    }
    StatusCode::NO_CONTENT
}

async fn stats(State(r): State<Receiver>) -> axum::Json<Value> {
    let counts = r.counts.lock().unwrap_or_else(|e| e.into_inner());
    let mut lags = counts.lags_ms.clone();
    lags.sort_unstable();
    let at = |q: f64| -> Option<i64> {
        if lags.is_empty() {
            return None;
        }
        let rank = ((q * lags.len() as f64).ceil() as usize).clamp(1, lags.len());
        Some(lags[rank - 1])
    };
    axum::Json(json!({
        "taken": counts.taken,
        "repeats": counts.repeats,
        "forged": counts.forged,
        "lag_ms_p50": at(0.50),
        "lag_ms_p99": at(0.99),
        "lag_ms_max": lags.last(),
    }))
}
