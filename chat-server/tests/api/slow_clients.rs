//! Slow clients: a request head or a body that trickles in is timed out,
//! so a few sockets cannot hold the server (slowloris), and everyone else
//! is still served.

use std::sync::Arc;
use std::time::Duration;

use chat_core::memory::MemoryStore;
use chat_server::HttpSettings;
use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{TestApp, spawn_app_with};

/// The server's limits in these tests.
const HEAD_TIMEOUT: Duration = Duration::from_millis(500);
const BODY_TIMEOUT: Duration = Duration::from_millis(500);

/// Far longer than the limits: a connection still open after it was not
/// timed out.
const GIVE_UP: Duration = Duration::from_secs(10);

async fn impatient_app() -> TestApp {
    let http = HttpSettings {
        header_timeout: HEAD_TIMEOUT,
        body_timeout: BODY_TIMEOUT,
        ..HttpSettings::default()
    };
    spawn_app_with(Arc::new(MemoryStore::new()), http).await
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .expect("connect")
}

/// Sends `head` a byte every 100 ms and returns what the server answered
/// once it closed the connection (or panics if it never did).
async fn trickle(app: &TestApp, head: &str) -> Vec<u8> {
    let mut tcp = connect(app).await;
    let (mut rx, mut tx) = tcp.split();
    let mut answer = Vec::new();
    let sending = async {
        for byte in head.bytes().cycle() {
            if tx.write_all(&[byte]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let reading = rx.read_to_end(&mut answer);
    tokio::time::timeout(GIVE_UP, async {
        tokio::select! {
            () = sending => {}
            _ = reading => {}
        }
    })
    .await
    .expect("the server closes a connection whose head trickles in");
    answer
}

#[tokio::test]
async fn a_request_head_that_trickles_in_is_cut_off() {
    let app = impatient_app().await;
    let answer = trickle(
        &app,
        "GET /healthz HTTP/1.1\r\nHost: chat.test\r\nX-Slow: aaaa",
    )
    .await;
    // No answer, or an error status: never a served request.
    let text = String::from_utf8_lossy(&answer);
    assert!(!text.contains("200 OK"), "{text}");
    // The server still serves everyone else.
    let (status, _) = app.get("/healthz", None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn an_upgrade_that_trickles_in_is_cut_off() {
    let app = impatient_app().await;
    let user = app.signup("slowpoke").await;
    let head = format!(
        "GET /ws?token={} HTTP/1.1\r\nHost: chat.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n",
        user.access
    );
    let answer = trickle(&app, &head).await;
    assert!(
        !String::from_utf8_lossy(&answer).contains("101"),
        "no upgrade"
    );
}

#[tokio::test]
async fn a_connection_that_never_sends_a_request_is_closed() {
    let app = impatient_app().await;
    let mut tcp = connect(&app).await;
    let mut answer = Vec::new();
    tokio::time::timeout(GIVE_UP, tcp.read_to_end(&mut answer))
        .await
        .expect("an idle connection is closed")
        .ok();
}

#[tokio::test]
async fn a_body_that_trickles_in_gets_408() {
    let app = impatient_app().await;
    let mut tcp = connect(&app).await;
    let body = r#"{"username": "someone", "password": "long enough 1!"}"#;
    let head = format!(
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: chat.test\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    tcp.write_all(head.as_bytes()).await.expect("write");
    tcp.write_all(&body.as_bytes()[..10]).await.expect("write");
    // The rest never comes.
    let mut answer = Vec::new();
    tokio::time::timeout(GIVE_UP, tcp.read_to_end(&mut answer))
        .await
        .expect("the server answers and closes")
        .ok();
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    let json = text.split("\r\n\r\n").nth(1).expect("a body");
    let body: Value = serde_json::from_str(json).expect("json");
    assert_eq!(body["error"]["code"], "REQUEST_TIMEOUT");
}

#[tokio::test]
async fn a_slow_but_steady_client_within_the_limits_is_served() {
    let app = impatient_app().await;
    let mut tcp = connect(&app).await;
    // Two halves of a head, each well within the limit.
    tcp.write_all(b"GET /healthz HTTP/1.1\r\n")
        .await
        .expect("write");
    tokio::time::sleep(HEAD_TIMEOUT / 5).await;
    tcp.write_all(b"Host: chat.test\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut answer = Vec::new();
    tokio::time::timeout(GIVE_UP, tcp.read_to_end(&mut answer))
        .await
        .expect("answered")
        .expect("read");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let app = impatient_app().await;
    let mut tcp = connect(&app).await;
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: chat.test\r\n\r\n")
        .await
        .expect("write");
    // The answer, then nothing more from the client: the server closes.
    let mut answer = Vec::new();
    tokio::time::timeout(GIVE_UP, tcp.read_to_end(&mut answer))
        .await
        .expect("an idle keep-alive connection is closed")
        .ok();
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"));
}
