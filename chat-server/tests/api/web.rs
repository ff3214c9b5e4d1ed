//! The browser demo's files: served at `/` with their types, a strict
//! Content-Security-Policy, and revalidation by `ETag`.

use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH};

use crate::helpers::{assert_error, spawn_app};

#[tokio::test]
async fn pages_scripts_and_styles_are_served_with_their_types() {
    let app = spawn_app().await;
    for (path, content_type, marker) in [
        ("/", "text/html; charset=utf-8", "login.js"),
        ("/index.html", "text/html; charset=utf-8", "signup-form"),
        ("/chat.html", "text/html; charset=utf-8", "message-input"),
        ("/style.css", "text/css; charset=utf-8", ".composer"),
        ("/app.js", "text/javascript; charset=utf-8", "ChatSocket"),
        (
            "/socket.js",
            "text/javascript; charset=utf-8",
            "client_msg_id",
        ),
        // The service worker beside the pages, so its scope covers them.
        (
            "/sw.js",
            "text/javascript; charset=utf-8",
            "notificationclick",
        ),
        (
            "/notifications.js",
            "text/javascript; charset=utf-8",
            "pushManager",
        ),
        ("/favicon.svg", "image/svg+xml", "<svg"),
    ] {
        let r = app.http.get(app.url(path)).send().await.expect("send");
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        assert_eq!(r.headers()[CONTENT_TYPE], content_type, "{path}");
        assert_eq!(r.headers()[CACHE_CONTROL], "no-cache", "{path}");
        assert_eq!(r.headers()["x-content-type-options"], "nosniff", "{path}");
        let body = r.text().await.expect("body");
        assert!(body.contains(marker), "{path} lacks {marker}");
    }
}

#[tokio::test]
async fn the_policy_forbids_inline_scripts_and_foreign_origins() {
    let app = spawn_app().await;
    let r = app
        .http
        .get(app.url("/chat.html"))
        .send()
        .await
        .expect("send");
    let csp = r.headers()[CONTENT_SECURITY_POLICY]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(csp.contains("script-src 'self';"), "{csp}");
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    // The demo's own service worker, and no other.
    assert!(csp.contains("worker-src 'self';"), "{csp}");
    // Attachments show through object URLs (fetched with the token); no
    // other origin's images.
    assert!(csp.contains("img-src 'self' data: blob:;"), "{csp}");
    assert_eq!(r.headers()["referrer-policy"], "no-referrer");
}

#[tokio::test]
async fn a_matching_etag_gets_304_and_another_gets_the_file() {
    let app = spawn_app().await;
    let first = app.http.get(app.url("/app.js")).send().await.expect("send");
    let etag = first.headers()[ETAG].clone();
    let again = app
        .http
        .get(app.url("/app.js"))
        .header(IF_NONE_MATCH, etag.clone())
        .send()
        .await
        .expect("send");
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(again.headers()[ETAG], etag);
    assert!(again.text().await.expect("body").is_empty());

    let other = app
        .http
        .get(app.url("/app.js"))
        .header(IF_NONE_MATCH, "\"something-else\"")
        .send()
        .await
        .expect("send");
    assert_eq!(other.status(), StatusCode::OK);
    // Each file has its own tag.
    let css = app
        .http
        .get(app.url("/style.css"))
        .send()
        .await
        .expect("send");
    assert_ne!(css.headers()[ETAG], etag);
}

#[tokio::test]
async fn unknown_files_and_writes_get_json_errors() {
    let app = spawn_app().await;
    assert_error(
        &app.get("/nope.js", None).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    );
    let r = app
        .http
        .post(app.url("/index.html"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
}
