//! CORS: same-origin only by default; configured origins, and only they,
//! may call the API from a browser page.

use std::sync::Arc;

use chat_core::memory::MemoryStore;
use chat_server::HttpSettings;
use reqwest::{Method, StatusCode};

use crate::helpers::{TestApp, spawn_app, spawn_app_with};

const ALLOWED: &str = "https://app.example.com";
const OTHER: &str = "https://evil.example.net";

async fn get_from(app: &TestApp, origin: &str) -> reqwest::Response {
    app.http
        .get(app.url("/healthz"))
        .header("origin", origin)
        .send()
        .await
        .expect("send")
}

async fn preflight(app: &TestApp, origin: &str) -> reqwest::Response {
    app.http
        .request(Method::OPTIONS, app.url("/api/v1/messages/send"))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .await
        .expect("send")
}

#[tokio::test]
async fn by_default_no_origin_is_allowed() {
    let app = spawn_app().await;
    for origin in [ALLOWED, OTHER] {
        let r = get_from(&app, origin).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r.headers().get("access-control-allow-origin").is_none());
        let r = preflight(&app, origin).await;
        assert!(r.headers().get("access-control-allow-origin").is_none());
        assert!(r.headers().get("access-control-allow-methods").is_none());
    }
}

#[tokio::test]
async fn configured_origins_and_only_they_are_allowed() {
    let http = HttpSettings {
        cors_origins: vec![ALLOWED.to_owned()],
        ..HttpSettings::default()
    };
    let app = spawn_app_with(Arc::new(MemoryStore::new()), http).await;

    let r = get_from(&app, ALLOWED).await;
    assert_eq!(r.headers()["access-control-allow-origin"], ALLOWED);
    assert_eq!(r.headers()["access-control-expose-headers"], "x-request-id");
    assert!(
        r.headers()
            .get("access-control-allow-credentials")
            .is_none(),
        "no cookies, so no credentials"
    );
    let r = preflight(&app, ALLOWED).await;
    assert!(r.status().is_success(), "{}", r.status());
    assert_eq!(r.headers()["access-control-allow-origin"], ALLOWED);
    let methods = r.headers()["access-control-allow-methods"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(methods.contains("POST"), "{methods}");
    let headers = r.headers()["access-control-allow-headers"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(headers.contains("authorization"), "{headers}");

    let r = get_from(&app, OTHER).await;
    assert!(r.headers().get("access-control-allow-origin").is_none());
    let r = preflight(&app, OTHER).await;
    assert!(r.headers().get("access-control-allow-origin").is_none());
}
