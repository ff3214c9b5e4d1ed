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
async fn a_request_id_unfit_for_the_log_is_replaced_by_the_servers_own() {
    let app = spawn_app().await;
    // Spaces, quotes and `key=value` would forge fields in a text log line.
    for forged in [
        r#"x" user_id=00000000-0000-0000-0000-000000000000 level="ERROR"#,
        "a b",
        &"x".repeat(65),
    ] {
        let r = app
            .http
            .get(app.url("/healthz"))
            .header("x-request-id", forged)
            .send()
            .await
            .expect("send");
        let id = r.headers()["x-request-id"].to_str().expect("ascii");
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{forged:?} became {id}");
    }
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
