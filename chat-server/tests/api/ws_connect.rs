//! `/ws`: who may connect, how long a connection lives, and presence.

use std::time::Duration;

use chat_server::HttpSettings;
use chat_server::state::WsSettings;
use serde_json::json;

use crate::helpers::{spawn_app, spawn_app_custom};
use crate::ws_client::Ws;

/// Pings every 300 ms: expiry is checked at each ping, and a connection
/// silent for 600 ms is closed.
fn quick_pings() -> HttpSettings {
    HttpSettings {
        ws: WsSettings {
            ping_interval: Duration::from_millis(300),
            ..WsSettings::default()
        },
        ..HttpSettings::default()
    }
}

#[tokio::test]
async fn a_ping_frame_gets_a_pong() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let mut ws = app.ws(&alice.access).await;
    ws.send(json!({"type": "ping"})).await;
    assert_eq!(ws.next().await, json!({"type": "pong"}));
}

#[tokio::test]
async fn logout_closes_the_sessions_sockets_with_4001_and_spares_other_sessions() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let (_, other) = app
        .login("alice", &crate::helpers::password_of("alice"))
        .await;
    let other = crate::helpers::tokens(&other);
    let mut first = app.ws(&alice.access).await;
    let mut second = app.ws(&other.access).await;

    let (status, _) = app
        .post(
            "/api/v1/auth/logout",
            json!({"refresh_token": alice.refresh}),
        )
        .await;
    assert!(status.is_success());

    assert_eq!(first.close_code().await, 4001);
    second.send(json!({"type": "ping"})).await;
    assert_eq!(
        second.next().await["type"],
        "pong",
        "the other session lives on"
    );
}

#[tokio::test]
async fn an_expired_token_closes_the_socket_with_4001() {
    let app = spawn_app_custom(quick_pings(), |b| b).await;
    let alice = app.signup("alice").await;
    let mut ws = app.ws(&alice.access).await;
    app.advance(Duration::from_secs(15 * 60 + 1));
    assert_eq!(ws.close_code().await, 4001);
}

#[tokio::test]
async fn a_fresh_token_sent_in_band_keeps_the_socket_open_past_the_old_expiry() {
    let app = spawn_app_custom(quick_pings(), |b| b).await;
    let alice = app.signup("alice").await;
    let mut ws = app.ws(&alice.access).await;

    app.advance(Duration::from_secs(10 * 60));
    let (_, body) = app
        .post(
            "/api/v1/auth/session/refresh",
            json!({"refresh_token": alice.refresh}),
        )
        .await;
    let fresh = body["access_token"].as_str().expect("access_token");
    ws.send(json!({"type": "auth", "token": fresh})).await;
    assert_eq!(ws.next_of("auth.ok").await["type"], "auth.ok");

    app.advance(Duration::from_secs(6 * 60));
    ws.expect_silence(Duration::from_millis(400), &[]).await;
    ws.send(json!({"type": "ping"})).await;
    assert_eq!(ws.next().await["type"], "pong");
}

#[tokio::test]
async fn another_users_token_is_refused_in_band() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let mut ws = app.ws(&alice.access).await;
    ws.send(json!({"type": "auth", "token": bob.access})).await;
    let e = ws.next().await;
    assert_eq!(e["type"], "error");
    assert_eq!(e["code"], "INVALID_TOKEN");
}

#[tokio::test]
async fn peers_see_presence_and_profiles_show_online() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    app.send_direct(&alice, &bob, "hi").await;
    let mut a = app.ws(&alice.access).await;

    let b = app.ws(&bob.access).await;
    let p = a.next_of("presence").await;
    assert_eq!(p["user_id"], bob.user_id.as_str());
    assert_eq!(p["online"], true);
    let (_, profile) = app
        .get_as(&alice.access, &format!("/api/v1/users/{}", bob.user_id))
        .await;
    assert_eq!(profile["online"], true, "{profile}");
    // Bob's own profile says the same (docs/api.md, `/auth/me`).
    let (_, me) = app.get_as(&bob.access, "/api/v1/auth/me").await;
    assert_eq!(me["online"], true, "{me}");

    b.close().await;
    let p = a.next_of("presence").await;
    assert_eq!(p["online"], false);
    assert!(p["last_seen"].is_string(), "{p}");
    let (_, profile) = app
        .get_as(&alice.access, &format!("/api/v1/users/{}", bob.user_id))
        .await;
    assert_eq!(profile["online"], false, "{profile}");
    let (_, me) = app.get_as(&bob.access, "/api/v1/auth/me").await;
    assert_eq!(me["online"], false, "{me}");
    assert!(me["last_seen"].is_string(), "{me}");
}

#[tokio::test]
async fn a_connection_that_never_answers_pings_is_closed() {
    let app = spawn_app_custom(quick_pings(), |b| b).await;
    let alice = app.signup("alice").await;
    let ws = Ws::connect_silently(&app.base, &alice.access).await;
    // Not reading means not answering pings.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut ws = ws;
    assert_eq!(ws.close_code().await, 1000);
}
