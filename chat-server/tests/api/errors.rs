//! Routing errors, body limits, request ids and health checks.

use reqwest::StatusCode;

use crate::helpers::{assert_error, read, spawn_app};

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_json() {
    let app = spawn_app().await;
    assert_error(
        &app.get("/api/v1/nope", None).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    );
    let r = app
        .http
        .delete(app.url("/api/v1/auth/login"))
        .send()
        .await
        .expect("send");
    assert_error(
        &read(r).await,
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
    );
}

#[tokio::test]
async fn oversized_bodies_are_refused_with_413() {
    let app = spawn_app().await;
    let body = format!(
        r#"{{"username":"{}","password":"x"}}"#,
        "a".repeat(70 * 1024)
    );
    let answer = app.post_raw("/api/v1/auth/login", body).await;
    assert_error(&answer, StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE");
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = spawn_app().await;
    let r = app
        .http
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("send");
    let id = r.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
    let r = app
        .http
        .get(app.url("/healthz"))
        .header("x-request-id", "from-the-client")
        .send()
        .await
        .expect("send");
    assert_eq!(r.headers()["x-request-id"], "from-the-client");
}

#[tokio::test]
async fn health_and_readiness_answer() {
    let app = spawn_app().await;
    let (status, body) = app.get("/healthz", None).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("ok"))
    );
    let (status, body) = app.get("/readyz", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ready");
    assert_eq!(body["store"], "ok");
}
