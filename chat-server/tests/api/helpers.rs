//! `spawn_app()`: a real server on port 0 with in-memory backends, a
//! recording mailer and a clock the test moves.

use std::sync::Arc;
use std::time::Duration;

use chat_core::auth::AuthConfig;
use chat_core::memory::{MemoryMailer, MemoryStore};
use chat_core::{ChatEngine, ChatEngineBuilder, ConversationConfig, ManualClock, Store, Timestamp};
use chat_server::testing::TestServer;
use chat_server::{AppState, HttpSettings};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// A running server and what a test needs to drive it.
pub(crate) struct TestApp {
    pub(crate) base: String,
    pub(crate) http: reqwest::Client,
    pub(crate) mailer: Arc<MemoryMailer>,
    pub(crate) clock: Arc<ManualClock>,
    pub(crate) engine: ChatEngine,
    _server: TestServer,
}

/// Tokens from signup or login.
#[derive(Debug, Clone)]
pub(crate) struct Tokens {
    pub(crate) user_id: String,
    pub(crate) access: String,
    pub(crate) refresh: String,
}

/// Cheap argon2 so tests run fast; the production parameters are covered
/// by chat-core's own tests and the benchmarks.
pub(crate) fn test_auth_config() -> AuthConfig {
    chat_server::testing::fast_auth_config()
}

pub(crate) async fn spawn_app() -> TestApp {
    spawn_app_with(Arc::new(MemoryStore::new()), HttpSettings::default()).await
}

pub(crate) async fn spawn_app_with(store: Arc<dyn Store>, http: HttpSettings) -> TestApp {
    spawn_app_configured(store, http, ConversationConfig::default()).await
}

/// A server with the given conversation settings (member limit, message rate).
pub(crate) async fn spawn_app_with_conversations(config: ConversationConfig) -> TestApp {
    spawn_app_configured(
        Arc::new(MemoryStore::new()),
        HttpSettings::default(),
        config,
    )
    .await
}

async fn spawn_app_configured(
    store: Arc<dyn Store>,
    http: HttpSettings,
    conversations: ConversationConfig,
) -> TestApp {
    spawn_app_custom(http, |b| b.store(store).conversation_config(conversations)).await
}

/// A server whose engine builder `customize` adjusts (backends, limits),
/// with the test mailer, clock, argon2 settings and secret.
pub(crate) async fn spawn_app_custom(
    http: HttpSettings,
    customize: impl FnOnce(ChatEngineBuilder) -> ChatEngineBuilder,
) -> TestApp {
    let mailer = Arc::new(MemoryMailer::new());
    let clock = Arc::new(ManualClock::new(Timestamp::now()));
    let builder = ChatEngine::builder().auth_config(test_auth_config());
    let engine = customize(builder)
        .mailer(mailer.clone())
        .clock(clock.clone())
        .jwt_secret(b"test-secret-test-secret-test-secret!".to_vec())
        .build()
        .expect("engine");
    let state = AppState::with_settings(engine, http);
    serve_state(state, mailer, clock).await
}

pub(crate) async fn serve_state(
    state: AppState,
    mailer: Arc<MemoryMailer>,
    clock: Arc<ManualClock>,
) -> TestApp {
    let engine = state.engine.clone();
    let server = TestServer::start(state).await.expect("a test server");
    TestApp {
        base: server.base.clone(),
        http: reqwest::Client::new(),
        mailer,
        clock,
        engine,
        _server: server,
    }
}

impl TestApp {
    /// `POST path` with raw bytes declared as JSON (for bodies a JSON
    /// serializer would never produce).
    pub(crate) async fn post_raw(
        &self,
        path: &str,
        body: impl Into<reqwest::Body>,
    ) -> (StatusCode, Value) {
        let r = self
            .http
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("send");
        read(r).await
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub(crate) async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let r = self
            .http
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .expect("request");
        read(r).await
    }

    pub(crate) async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        let mut req = self.http.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        read(req.send().await.expect("request")).await
    }

    pub(crate) async fn put(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        let r = self
            .http
            .put(self.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("request");
        read(r).await
    }

    /// Any request with a bearer token and an optional JSON body.
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method, self.url(path)).bearer_auth(token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        read(req.send().await.expect("request")).await
    }

    /// `POST` with a bearer token.
    pub(crate) async fn post_as(
        &self,
        token: &str,
        path: &str,
        body: Value,
    ) -> (StatusCode, Value) {
        self.call(Method::POST, path, token, Some(body)).await
    }

    /// `GET` with a bearer token.
    pub(crate) async fn get_as(&self, token: &str, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, token, None).await
    }

    /// Sends a direct message, expecting it to be created; returns the answer.
    pub(crate) async fn send_direct(&self, from: &Tokens, to: &Tokens, content: &str) -> Value {
        let (status, body) = self
            .post_as(
                &from.access,
                "/api/v1/messages/send",
                json!({"recipient_id": to.user_id, "content": content}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

    /// Creates a group owned by `owner` with `members`; returns its id.
    pub(crate) async fn create_group(
        &self,
        owner: &Tokens,
        name: &str,
        members: &[&Tokens],
    ) -> String {
        let ids: Vec<&str> = members.iter().map(|m| m.user_id.as_str()).collect();
        let (status, body) = self
            .post_as(
                &owner.access,
                "/api/v1/groups",
                json!({"name": name, "member_ids": ids}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["group_id"].as_str().expect("group_id").to_owned()
    }

    /// Sends a group message, expecting it to be created; returns the answer.
    pub(crate) async fn send_group(&self, from: &Tokens, group: &str, content: &str) -> Value {
        let (status, body) = self
            .post_as(
                &from.access,
                &format!("/api/v1/groups/{group}/messages"),
                json!({"content": content}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

    pub(crate) async fn signup(&self, username: &str) -> Tokens {
        let (status, body) = self
            .post(
                "/api/v1/auth/signup",
                json!({
                    "username": username,
                    "email": format!("{username}@example.com"),
                    "password": password_of(username),
                }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        tokens(&body)
    }

    pub(crate) async fn login(&self, login: &str, password: &str) -> (StatusCode, Value) {
        self.post(
            "/api/v1/auth/login",
            json!({"username": login, "password": password}),
        )
        .await
    }

    pub(crate) fn advance(&self, d: Duration) {
        self.clock.advance(d);
    }
}

/// The password `signup` gives each user.
pub(crate) fn password_of(username: &str) -> String {
    format!("pw-{username}-1!")
}

pub(crate) fn tokens(body: &Value) -> Tokens {
    Tokens {
        user_id: body["user_id"].as_str().expect("user_id").to_owned(),
        access: body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned(),
        refresh: body["refresh_token"]
            .as_str()
            .expect("refresh_token")
            .to_owned(),
    }
}

pub(crate) async fn read(r: reqwest::Response) -> (StatusCode, Value) {
    let status = r.status();
    let text = r.text().await.expect("body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"))
    };
    (status, body)
}

/// Asserts the error shape and code, returning the body.
#[track_caller]
pub(crate) fn assert_error(got: &(StatusCode, Value), status: StatusCode, code: &str) {
    assert_eq!(got.0, status, "{}", got.1);
    assert_eq!(got.1["error"]["code"], code, "{}", got.1);
    assert!(
        got.1["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "an error carries a message: {}",
        got.1
    );
}

/// Reads `read()` every 20 ms until `done` holds of it or `within` has
/// passed, and returns the last reading (for things that arrive on their
/// own time: pushes, webhook deliveries).
pub(crate) async fn wait_until<T>(
    within: Duration,
    read: impl Fn() -> T,
    done: impl Fn(&T) -> bool,
) -> T {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let value = read();
        if done(&value) || tokio::time::Instant::now() >= deadline {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
