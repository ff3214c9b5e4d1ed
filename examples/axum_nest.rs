//! An existing axum application, with its own routes and its own notion of
//! users, mounts the chat service under `/chat`.
//!
//! "Acme" logs its employees in itself (here: a name and a PIN from a fixed
//! list). The chat's built-in signup and login are turned off; Acme's own
//! `/login` provisions a chat account for the employee on first use and
//! hands out chat tokens. From then on the browser or app talks to
//! `/chat/api/v1/...` and `/chat/ws` with those tokens, as any chat client
//! does.
//!
//! The browser demo is served nested too, at `/chat/chat.html`. Acme's home
//! page logs an employee in and hands the tokens to it (docs/embedding.md),
//! so Ada (PIN 1815) and Grace (PIN 1906) chat in two browser windows.
//!
//! ```sh
//! cargo run -p examples --example axum_nest            # runs a short scripted visit, then exits
//! cargo run -p examples --example axum_nest -- --serve # keeps serving on 127.0.0.1:3000
//! cargo run -p examples --example axum_nest -- --serve 127.0.0.1:4000
//! ```

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Html;
use axum::routing::{get, post};
use axum::{Json, Router};
use chat_core::{ChatEngine, Email, ExternalUser, Username};
use chat_server::{AppOptions, AppState, NestChat as _};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// Acme's own people: (login name, PIN, display name). A real application
/// has its own user table and password or single sign-on.
const EMPLOYEES: &[(&str, &str, &str)] = &[
    ("ada", "1815", "Ada Lovelace"),
    ("grace", "1906", "Grace Hopper"),
];

#[derive(Clone)]
struct Acme {
    chat: ChatEngine,
}

#[derive(Deserialize)]
struct AcmeLogin {
    name: String,
    pin: String,
}

/// Acme's login: checks its own credentials, then gives the employee a chat
/// session.
async fn login(
    State(acme): State<Arc<Acme>>,
    Json(req): Json<AcmeLogin>,
) -> (StatusCode, Json<Value>) {
    let Some((name, _, display)) = EMPLOYEES
        .iter()
        .find(|(name, pin, _)| *name == req.name && *pin == req.pin)
    else {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "unknown employee or wrong PIN"})),
        );
    };
    match chat_tokens(&acme.chat, name, display).await {
        Ok(tokens) => (StatusCode::OK, Json(tokens)),
        Err(e) => {
            eprintln!("chat session failed: {e:#}");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({"error": "chat unavailable"})),
            )
        }
    }
}

async fn chat_tokens(chat: &ChatEngine, name: &str, display: &str) -> anyhow::Result<Value> {
    let user = chat
        .auth()
        .provision_user(ExternalUser {
            username: Username::parse(name)?,
            email: Email::parse(&format!("{name}@acme.example"))?,
            display_name: Some(chat_core::DisplayName::parse(display)?),
        })
        .await?;
    let pair = chat
        .auth()
        .issue_tokens(user.id, Some("acme intranet"))
        .await?;
    Ok(json!({
        "chat_user_id": user.id,
        "access_token": pair.access_token,
        "refresh_token": pair.refresh_token,
        "expires_in": pair.expires_in,
    }))
}

/// Acme's home page: its own login form. The script posts to Acme's
/// `/login` and hands the chat tokens to the demo's chat page, which keeps
/// its session in `sessionStorage` under `chat.session`
/// (docs/embedding.md).
const HOME: &str = r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Acme intranet</title></head>
<body>
  <h1>Acme intranet</h1>
  <form id="acme-login">
    <label>Name <input id="acme-name" name="name" autocomplete="username"></label>
    <label>PIN <input id="acme-pin" name="pin" type="password"></label>
    <button type="submit">Log in and chat</button>
  </form>
  <p id="acme-error" role="alert"></p>
  <script type="module">
    const form = document.querySelector('#acme-login');
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const fields = new FormData(form);
      const answer = await fetch('login', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: fields.get('name'), pin: fields.get('pin') }),
      });
      const tokens = await answer.json();
      if (!answer.ok) {
        document.querySelector('#acme-error').textContent = tokens.error;
        return;
      }
      sessionStorage.setItem('chat.session', JSON.stringify({
        userId: tokens.chat_user_id,
        accessToken: tokens.access_token,
        refreshToken: tokens.refresh_token,
        expiresAt: Date.now() + tokens.expires_in * 1000,
      }));
      location.assign('chat/chat.html');
    });
  </script>
</body>
</html>
"#;

fn acme_app(chat: ChatEngine) -> Router {
    let acme = Arc::new(Acme { chat: chat.clone() });
    // Acme owns the accounts: no built-in signup or login. The demo's chat
    // page still runs on the sessions Acme's login hands it.
    let chat_routes = chat_server::app_with(
        AppState::new(chat),
        AppOptions {
            builtin_accounts: false,
            demo: true,
        },
    );
    Router::new()
        .route("/", get(|| async { Html(HOME) }))
        .route("/login", post(login))
        .with_state(acme)
        .nest_chat("/chat", chat_routes)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // `--serve [ADDR]` keeps serving (on 127.0.0.1:3000 by default).
    let args: Vec<String> = std::env::args().skip(1).collect();
    let serve_forever = args.first().is_some_and(|a| a == "--serve");
    let address = match (serve_forever, args.get(1)) {
        (true, Some(address)) => address.as_str(),
        (true, None) => "127.0.0.1:3000",
        (false, _) => "127.0.0.1:0",
    };
    // In-memory backends; a real deployment passes its store (SQLite or
    // PostgreSQL) and, for several instances, the Redis backends.
    let chat = ChatEngine::builder().build()?;
    let app = acme_app(chat);
    let listener = TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address}"))?;
    let addr = listener.local_addr()?;
    println!("Acme listens on http://{addr} (chat under /chat)");
    let server = tokio::spawn(async move {
        // Gives the chat the client's address (login limits) and times out
        // clients that send their requests too slowly.
        chat_server::serve_router(
            listener,
            app,
            Duration::from_secs(10),
            std::future::pending(),
        )
        .await
    });
    if serve_forever {
        return Ok(server.await??);
    }
    visit(&format!("http://{addr}")).await?;
    server.abort();
    Ok(())
}

/// What a browser of Acme's would do: log in at Acme, then chat.
async fn visit(base: &str) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let home = http.get(format!("{base}/")).send().await?.text().await?;
    anyhow::ensure!(home.contains("acme-login"), "Acme's home page: {home}");
    println!("GET / -> Acme's login page");

    // The demo, nested: `/chat` leads to its pages, which find the API
    // relative to themselves (`/chat/api/v1`).
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let to_demo = no_redirects.get(format!("{base}/chat")).send().await?;
    let location = to_demo
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    println!("GET /chat -> {} {location}", to_demo.status());
    anyhow::ensure!(
        location == "/chat/index.html",
        "/chat should lead to the demo"
    );
    let chat_page = http.get(format!("{base}/chat/chat.html")).send().await?;
    println!("GET /chat/chat.html -> {}", chat_page.status());
    anyhow::ensure!(
        chat_page.status() == StatusCode::OK,
        "the demo's chat page should be served under /chat"
    );

    let refused = http
        .post(format!("{base}/chat/api/v1/auth/signup"))
        .json(&json!({"username": "mallory", "email": "m@example.com", "password": "s3cret!pass"}))
        .send()
        .await?
        .status();
    println!("POST /chat/api/v1/auth/signup -> {refused} (Acme owns the accounts)");
    anyhow::ensure!(
        refused == StatusCode::NOT_FOUND,
        "signup should not be served"
    );

    let ada = acme_login(&http, base, "ada", "1815").await?;
    let grace = acme_login(&http, base, "grace", "1906").await?;
    let wrong = http
        .post(format!("{base}/login"))
        .json(&json!({"name": "ada", "pin": "0000"}))
        .send()
        .await?
        .status();
    println!("POST /login with a wrong PIN -> {wrong}");

    let me: Value = http
        .get(format!("{base}/chat/api/v1/auth/me"))
        .bearer_auth(token(&ada))
        .send()
        .await?
        .json()
        .await?;
    println!(
        "GET /chat/api/v1/auth/me as ada -> {} ({})",
        me["username"], me["display_name"]
    );

    let sent: Value = http
        .post(format!("{base}/chat/api/v1/messages/send"))
        .bearer_auth(token(&ada))
        .json(&json!({"recipient_id": grace["chat_user_id"], "content": "Lunch at noon?", "client_msg_id": "ada-1"}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    println!(
        "ada -> grace: message {} (seq {})",
        sent["message_id"], sent["seq"]
    );

    let list: Value = http
        .get(format!("{base}/chat/api/v1/conversations"))
        .bearer_auth(token(&grace))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let first = &list["conversations"][0];
    println!(
        "grace's conversations: with {}, {} unread, last: {:?}",
        first["peer"]["display_name"], first["unread_count"], first["last_message"]["content"]
    );
    anyhow::ensure!(
        first["unread_count"] == 1,
        "grace should have one unread message"
    );
    Ok(())
}

async fn acme_login(
    http: &reqwest::Client,
    base: &str,
    name: &str,
    pin: &str,
) -> anyhow::Result<Value> {
    let tokens: Value = http
        .post(format!("{base}/login"))
        .json(&json!({"name": name, "pin": pin}))
        .send()
        .await?
        .error_for_status()
        .with_context(|| format!("Acme login of {name}"))?
        .json()
        .await?;
    println!(
        "POST /login as {name} -> chat user {}",
        tokens["chat_user_id"]
    );
    Ok(tokens)
}

fn token(tokens: &Value) -> &str {
    tokens["access_token"].as_str().unwrap_or_default()
}
