//! The refusals of `GET /ws`, sent straight to the router with `oneshot`:
//! they are answered before any socket exists, so no server or client
//! socket is needed. (Sessions over real sockets are in `ws_*.rs`.)

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chat_core::memory::MemoryMailer;
use chat_core::{ChatEngine, ManualClock, Timestamp, TokenPair};
use chat_server::{AppState, HttpSettings, WsSettings};
use serde_json::Value;
use tower::ServiceExt as _;

use crate::helpers::test_auth_config;

/// State over the in-memory backends, with a clock the test moves.
fn state(ws: WsSettings) -> (AppState, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(Timestamp::now()));
    let engine = ChatEngine::builder()
        .auth_config(test_auth_config())
        .mailer(Arc::new(MemoryMailer::new()))
        .clock(clock.clone())
        .jwt_secret(b"test-secret-test-secret-test-secret!".to_vec())
        .build()
        .expect("engine");
    let http = HttpSettings {
        ws,
        ..HttpSettings::default()
    };
    (AppState::with_settings(engine, http), clock)
}

/// A user with a session (provisioned: no password to hash).
async fn user(state: &AppState, name: &str) -> TokenPair {
    let user = chat_server::testing::provisioned_user(&state.engine, name);
    user.await.expect("a user")
}

/// `GET /ws?token=...` as a browser's upgrade request. hyper would hand
/// the handler the connection to upgrade; here it gets one that never
/// upgrades, which is all a refusal needs.
fn upgrade_request(token: &str) -> Request<Body> {
    let mut request = Request::get(format!("/ws?token={token}"))
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .body(Body::empty())
        .expect("a request");
    let on_upgrade = hyper::upgrade::on(&mut request);
    request.extensions_mut().insert(on_upgrade);
    request
}

/// The status and error code of `request`'s answer.
async fn answer(state: &AppState, request: Request<Body>) -> (StatusCode, String) {
    let response = chat_server::app(state.clone())
        .oneshot(request)
        .await
        .expect("an answer");
    let status = response.status();
    if status == StatusCode::SWITCHING_PROTOCOLS {
        return (status, String::new());
    }
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("a body");
    let body: Value = serde_json::from_slice(&body).expect("a JSON error body");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "an error carries a message: {body}");
    let code = body["error"]["code"].as_str().expect("an error code");
    (status, code.to_owned())
}

#[tokio::test]
async fn missing_invalid_expired_and_revoked_tokens_get_401_and_no_socket() {
    let (state, clock) = state(WsSettings::default());
    let alice = user(&state, "alice").await;
    let bob = user(&state, "bob").await;
    let refused = |code: &str| (StatusCode::UNAUTHORIZED, code.to_owned());

    assert_eq!(
        answer(&state, upgrade_request("")).await,
        refused("UNAUTHENTICATED")
    );
    let no_token = Request::get("/ws")
        .header("connection", "upgrade")
        .body(Body::empty())
        .expect("a request");
    assert_eq!(answer(&state, no_token).await, refused("UNAUTHENTICATED"));
    assert_eq!(
        answer(&state, upgrade_request("not-a-jwt")).await,
        refused("INVALID_TOKEN")
    );

    state
        .engine
        .auth()
        .logout(&alice.refresh_token)
        .await
        .expect("logout");
    assert_eq!(
        answer(&state, upgrade_request(&alice.access_token)).await,
        refused("SESSION_REVOKED")
    );

    clock.advance(Duration::from_secs(16 * 60));
    assert_eq!(
        answer(&state, upgrade_request(&bob.access_token)).await,
        refused("TOKEN_EXPIRED")
    );
}

#[tokio::test]
async fn a_request_without_the_upgrade_headers_gets_400() {
    let (state, _) = state(WsSettings::default());
    let alice = user(&state, "alice").await;
    let plain = Request::get(format!("/ws?token={}", alice.access_token))
        .body(Body::empty())
        .expect("a request");
    assert_eq!(
        answer(&state, plain).await,
        (
            StatusCode::BAD_REQUEST,
            "WEBSOCKET_UPGRADE_REQUIRED".to_owned()
        )
    );
}

#[tokio::test]
async fn a_user_holding_the_cap_of_sockets_gets_429_until_one_is_freed() {
    let (state, _) = state(WsSettings {
        max_sockets_per_user: 2,
        ..WsSettings::default()
    });
    let alice = user(&state, "alice").await;
    let bob = user(&state, "bob").await;
    // Two sockets of alice's are open (their seats are what counts).
    let first = state.sockets.take(alice.user_id).expect("a seat");
    let _second = state.sockets.take(alice.user_id).expect("a seat");

    assert_eq!(
        answer(&state, upgrade_request(&alice.access_token)).await,
        (
            StatusCode::TOO_MANY_REQUESTS,
            "TOO_MANY_CONNECTIONS".to_owned()
        )
    );
    let (status, _) = answer(&state, upgrade_request(&bob.access_token)).await;
    assert_eq!(
        status,
        StatusCode::SWITCHING_PROTOCOLS,
        "others are not counted"
    );

    drop(first);
    let (status, _) = answer(&state, upgrade_request(&alice.access_token)).await;
    assert_eq!(
        status,
        StatusCode::SWITCHING_PROTOCOLS,
        "a freed seat is hers again"
    );
}
