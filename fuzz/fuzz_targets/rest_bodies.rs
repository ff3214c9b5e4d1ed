//! The JSON bodies (and query strings) of every REST endpoint that takes
//! one, sent through the real router with in-memory backends: whatever
//! the bytes, the answer is a success or a documented 4xx in the error
//! shape, never a 500 or a panic.
//!
//! The first input byte picks the endpoint; the rest is the body (or, for
//! the `GET`s, the query string). Requests carry a real user's token and
//! address real conversations, so bodies reach the handlers' own checks.

#![no_main]

use std::net::SocketAddr;
use std::sync::OnceLock;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request};
use chat_core::auth::Argon2Params;
use chat_core::{AuthConfig, ChatEngine, Email, GroupName, Password, Signup, Username};
use chat_server::AppState;
use libfuzzer_sys::fuzz_target;
use tokio::runtime::Runtime;
use tower::ServiceExt as _;

struct Target {
    rt: Runtime,
    app: Router,
    token: String,
    /// A group the user owns, a member of it, and their direct conversation.
    group: String,
    member: String,
    direct: String,
}

fn target() -> &'static Target {
    static TARGET: OnceLock<Target> = OnceLock::new();
    TARGET.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let (app, token, group, member, direct) = rt.block_on(async {
            let config = AuthConfig {
                // Cheap hashing: signups and logins are fuzzed too.
                argon2: Argon2Params {
                    memory_kib: 256,
                    iterations: 1,
                    parallelism: 1,
                },
                ..AuthConfig::default()
            };
            let engine = ChatEngine::builder()
                .auth_config(config)
                .build()
                .expect("engine");
            let signup = |name: &str| Signup {
                username: Username::parse(name).expect("username"),
                email: Email::parse(&format!("{name}@example.com")).expect("email"),
                password: Password::parse("fuzzing password 1!").expect("password"),
                display_name: None,
            };
            let owner = engine.auth().signup(signup("owner"), None).await.expect("owner");
            let member = engine.auth().signup(signup("member"), None).await.expect("member");
            let conversations = engine.conversations();
            let group = conversations
                .create_group(
                    owner.user_id,
                    GroupName::parse("fuzz").expect("name"),
                    vec![member.user_id],
                )
                .await
                .expect("group");
            let (direct, _) = conversations
                .open_direct(owner.user_id, "member")
                .await
                .expect("direct");
            let app = chat_server::app(AppState::new(engine));
            (
                app,
                owner.access_token,
                group.conversation.id.to_string(),
                member.user_id.to_string(),
                direct.membership.conversation.id.to_string(),
            )
        });
        Target {
            rt,
            app,
            token,
            group,
            member,
            direct,
        }
    })
}

/// `%XX` for every byte but unreserved ones and `=`/`&`, so any input is a
/// valid query string.
fn query(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~=&".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let t = target();
    let (g, m, d) = (&t.group, &t.member, &t.direct);
    let body_endpoints: [(Method, String); 14] = [
        (Method::POST, "/api/v1/auth/signup".into()),
        (Method::POST, "/api/v1/auth/login".into()),
        (Method::POST, "/api/v1/auth/logout".into()),
        (Method::POST, "/api/v1/auth/forgot-password".into()),
        (Method::POST, "/api/v1/auth/reset-password".into()),
        (Method::POST, "/api/v1/auth/session/refresh".into()),
        (Method::PUT, "/api/v1/users/me".into()),
        (Method::POST, "/api/v1/messages/send".into()),
        (Method::POST, "/api/v1/groups".into()),
        (Method::POST, format!("/api/v1/groups/{g}/members")),
        (Method::PATCH, format!("/api/v1/groups/{g}/members/{m}")),
        (Method::POST, format!("/api/v1/groups/{g}/messages")),
        (Method::POST, format!("/api/v1/conversations/{d}/read")),
        (Method::POST, format!("/api/v1/conversations/{d}/messages")),
    ];
    let query_endpoints: [String; 5] = [
        "/api/v1/users/search".into(),
        "/api/v1/conversations".into(),
        format!("/api/v1/conversations/{d}/messages"),
        format!("/api/v1/groups/{g}/messages"),
        "/api/v1/messages/unread".into(),
    ];
    let pick = usize::from(pick) % (body_endpoints.len() + query_endpoints.len());
    let request = match body_endpoints.get(pick) {
        Some((method, path)) => Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json")
            .body(Body::from(rest.to_vec())),
        None => {
            let path = &query_endpoints[pick - body_endpoints.len()];
            Request::builder()
                .method(Method::GET)
                .uri(format!("{path}?{}", query(rest)))
                .body(Body::empty())
        }
    };
    let mut request = request.expect("a valid request");
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {}", t.token).parse().expect("header"));
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
    let response = t
        .rt
        .block_on(t.app.clone().oneshot(request))
        .expect("infallible");
    let status = response.status();
    assert!(!status.is_server_error(), "{status} for endpoint {pick}");
    if status.is_client_error() {
        let bytes = t
            .rt
            .block_on(axum::body::to_bytes(response.into_body(), 1 << 20))
            .expect("body");
        let body: serde_json::Value = serde_json::from_slice(&bytes).expect("a JSON error");
        assert!(body["error"]["code"].is_string(), "{body}");
    }
});
