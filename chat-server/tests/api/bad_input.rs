//! Hostile input over HTTP: deep JSON, invalid UTF-8, huge headers and
//! URIs. Each gets a 4xx (in the API's error shape where the request gets
//! that far), never a 500 or a hang, and the server keeps serving.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{assert_error, read, spawn_app};

#[tokio::test]
async fn deeply_nested_json_is_refused_as_invalid() {
    let app = spawn_app().await;
    let depth = 10_000;
    let body = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let answer = app.post_raw("/api/v1/auth/login", body).await;
    let (status, body) = answer;
    assert!(status.is_client_error(), "{status} {body}");
    assert!(
        ["INVALID_JSON", "INVALID_BODY"]
            .contains(&body["error"]["code"].as_str().unwrap_or_default()),
        "{body}"
    );
}

#[tokio::test]
async fn a_body_that_is_not_utf8_is_refused_as_invalid_json() {
    let app = spawn_app().await;
    let answer = app
        .post_raw(
            "/api/v1/auth/login",
            vec![b'{', b'"', 0xff, 0xfe, b'"', b':', b'1', b'}'],
        )
        .await;
    let (status, body) = answer;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "INVALID_JSON");
}

#[tokio::test]
async fn huge_headers_and_uris_are_refused_and_the_server_keeps_serving() {
    let app = spawn_app().await;
    let r = app
        .http
        .get(app.url("/healthz"))
        .header("x-filler", "a".repeat(20 * 1024))
        .send()
        .await
        .expect("send");
    assert_error(
        &read(r).await,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "HEADERS_TOO_LARGE",
    );
    let long = format!("/api/v1/users/search?q={}", "a".repeat(9 * 1024));
    let r = app.http.get(app.url(&long)).send().await.expect("send");
    assert_error(&read(r).await, StatusCode::URI_TOO_LONG, "URI_TOO_LONG");
    // Far past hyper's own buffer: the connection is refused, not served.
    let r = app
        .http
        .get(app.url("/healthz"))
        .header("x-filler", "a".repeat(1024 * 1024))
        .send()
        .await;
    if let Ok(r) = r {
        assert!(r.status().is_client_error(), "{}", r.status());
    }
    let (status, _) = app.get("/healthz", None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn strings_built_to_look_like_sql_or_markup_are_only_strings() {
    let app = spawn_app().await;
    for name in ["a'; DROP TABLE users; --", "<b>x</b>"] {
        let (status, body) = app
            .post(
                "/api/v1/auth/signup",
                json!({"username": name, "email": "x@example.com", "password": "s3cret!pass"}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["error"]["code"], "INVALID_USERNAME");
    }
    let t = app.signup("robert").await;
    for q in ["%", "_", "' OR '1'='1", "\\"] {
        let (status, body) = app
            .get(
                &format!("/api/v1/users/search?q={}", urlencode(q)),
                Some(&t.access),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{q}: {body}");
        assert_eq!(body["users"], json!([]), "{q} matched nothing literally");
    }
}

fn urlencode(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}
