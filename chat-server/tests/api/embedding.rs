//! An application with its own routes and its own login mounts the chat
//! under `/chat` without the built-in accounts, and hands out chat tokens
//! for its own people.

use std::net::SocketAddr;

use axum::Router;
use axum::routing::get;
use chat_core::{ChatEngine, Email, ExternalUser, Username};
use chat_server::{AppOptions, AppState, NestChat as _};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::helpers::{assert_error, read, test_auth_config};
use crate::ws_client::Ws;

struct HostApp {
    base: String,
    http: reqwest::Client,
    engine: ChatEngine,
}

async fn host_app() -> HostApp {
    host_app_with(AppOptions {
        builtin_accounts: false,
        demo: false,
    })
    .await
}

async fn host_app_with(options: AppOptions) -> HostApp {
    let engine = ChatEngine::builder()
        .auth_config(test_auth_config())
        .jwt_secret(b"host-app-secret-host-app-secret!!".to_vec())
        .build()
        .expect("engine");
    let chat = chat_server::app_with(AppState::new(engine.clone()), options);
    let app = Router::new()
        .route("/hello", get(|| async { "the host application" }))
        .nest_chat("/chat", chat);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .expect("serve");
    });
    HostApp {
        base: format!("http://{addr}"),
        http: reqwest::Client::new(),
        engine,
    }
}

impl HostApp {
    /// What the host's own login handler does: provision, then issue.
    async fn chat_tokens(&self, name: &str) -> (String, String) {
        let user = self
            .engine
            .auth()
            .provision_user(ExternalUser {
                username: Username::parse(name).expect("username"),
                email: Email::parse(&format!("{name}@host.example")).expect("email"),
                display_name: None,
            })
            .await
            .expect("provision");
        let pair = self
            .engine
            .auth()
            .issue_tokens(user.id, Some("host app"))
            .await
            .expect("tokens");
        (user.id.to_string(), pair.access_token)
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        read(req.send().await.expect("send")).await
    }

    /// A plain GET, answered as it comes (pages, not JSON).
    async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("send")
    }
}

#[tokio::test]
async fn the_host_keeps_its_routes_and_the_chat_answers_under_its_prefix() {
    let host = host_app().await;
    let own = host.get("/hello").await;
    assert_eq!(own.text().await.expect("body"), "the host application");
    let (status, body) = host
        .call(reqwest::Method::GET, "/chat/healthz", None, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // No demo: the chat's `/` is not served, and says so in the chat's
    // error shape (docs/api.md), with or without the trailing slash.
    for path in ["/chat", "/chat/", "/chat/nowhere"] {
        let got = host.call(reqwest::Method::GET, path, None, None).await;
        assert_error(&got, StatusCode::NOT_FOUND, "NOT_FOUND");
    }
}

#[tokio::test]
async fn without_builtin_accounts_signup_login_and_reset_are_not_served() {
    let host = host_app().await;
    for path in ["signup", "login", "forgot-password", "reset-password"] {
        let got = host
            .call(
                reqwest::Method::POST,
                &format!("/chat/api/v1/auth/{path}"),
                None,
                Some(json!({})),
            )
            .await;
        assert_error(&got, StatusCode::NOT_FOUND, "NOT_FOUND");
    }
}

#[tokio::test]
async fn issued_tokens_work_for_rest_and_websocket_under_the_prefix() {
    let host = host_app().await;
    let (_, erin) = host.chat_tokens("erin").await;
    let (frank_id, frank) = host.chat_tokens("frank").await;

    let (status, me) = host
        .call(
            reqwest::Method::GET,
            "/chat/api/v1/auth/me",
            Some(&erin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["username"], "erin");

    let mut franks_device = Ws::connect(&format!("{}/chat", host.base), &frank).await;
    let (status, sent) = host
        .call(
            reqwest::Method::POST,
            "/chat/api/v1/messages/send",
            Some(&erin),
            Some(json!({"recipient_id": frank_id, "content": "hi from the host app"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    let frame = franks_device.next_of("message.new").await;
    assert_eq!(frame["content"], "hi from the host app");

    // Sessions work as usual: refresh and logout stay available.
    let (status, _) = host
        .call(
            reqwest::Method::GET,
            "/chat/api/v1/auth/session/check",
            Some(&frank),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn the_demo_works_under_the_prefix() {
    let host = host_app_with(AppOptions::default()).await;
    for path in ["/chat/index.html", "/chat/chat.html", "/chat/app.js"] {
        assert_eq!(host.get(path).await.status(), StatusCode::OK, "{path}");
    }
    // The pages use relative URLs, so `/chat` leads to `/chat/index.html`.
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .get(format!("{}/chat", host.base))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/chat/index.html");
    // `/chat/` is the login page itself: its relative URLs resolve under
    // the prefix from there.
    let r = host.get("/chat/").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
    let page = r.text().await.expect("body");
    assert!(page.contains("login.js"), "{page}");
}
