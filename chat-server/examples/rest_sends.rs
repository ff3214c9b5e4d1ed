//! Single-message REST sends per second (`POST /api/v1/messages/send`),
//! for `docs/benchmarks.md`: a real server on a local port, on embedded
//! SQLite and on PostgreSQL, driven by concurrent HTTP clients in the same
//! process (so client and server share the machine, as they would in a
//! small deployment).
//!
//! Run in release mode:
//! `DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo run --release -p chat-server --example rest_sends`
//! Without `DATABASE_URL`, only SQLite is measured.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chat_core::auth::{Argon2Params, AuthConfig};
use chat_core::rate_limit::RateLimit;
use chat_core::{ChatEngine, ConversationConfig, Store};
use chat_server::{AppState, HttpSettings};
use chat_store_postgres::PgTestDatabase;
use chat_store_sqlite::SqliteStore;
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// Concurrent sender connections.
const SENDERS: usize = 32;
/// Messages each sender sends.
const EACH: usize = 200;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    println!(
        "machine: {cores} cores; {SENDERS} concurrent HTTP/1.1 clients x {EACH} sends; release build"
    );

    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("chat.db").display());
    let sqlite: Arc<dyn Store> = Arc::new(SqliteStore::connect(&url).await?);
    run("SQLite (file, WAL, synchronous=FULL)", sqlite).await?;

    if std::env::var_os("DATABASE_URL").is_some()
        && let Some(db) = PgTestDatabase::create().await
    {
        let pg: Arc<dyn Store> = Arc::new(db.store().clone());
        run("PostgreSQL", pg).await?;
        db.teardown().await;
    }
    Ok(())
}

async fn run(label: &str, store: Arc<dyn Store>) -> Result<(), Box<dyn std::error::Error>> {
    let engine = ChatEngine::builder()
        .store(store)
        .auth_config(AuthConfig {
            // Signing up the benchmark users is not what is measured.
            argon2: Argon2Params {
                memory_kib: 256,
                iterations: 1,
                parallelism: 1,
            },
            ..AuthConfig::default()
        })
        .conversation_config(ConversationConfig {
            message_limit: RateLimit::new(u32::MAX, Duration::from_secs(60)),
            ..ConversationConfig::default()
        })
        .build()?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let state = AppState::with_settings(engine, HttpSettings::default());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(chat_server::serve(listener, state, async {
        let _ = stopped.await;
    }));

    let http = reqwest::Client::new();
    let mut pairs = Vec::new();
    for i in 0..SENDERS {
        let a = signup(&http, &base, &format!("sender{i}")).await?;
        let b = signup(&http, &base, &format!("receiver{i}")).await?;
        pairs.push((a, b));
    }

    let started = Instant::now();
    let tasks: Vec<_> = pairs
        .into_iter()
        .map(|((token, _), (_, recipient))| {
            let http = http.clone();
            let url = format!("{base}/api/v1/messages/send");
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(EACH);
                for i in 0..EACH {
                    let t = Instant::now();
                    let r = http
                        .post(&url)
                        .bearer_auth(&token)
                        .json(
                            &json!({"recipient_id": recipient, "content": format!("message {i}")}),
                        )
                        .send()
                        .await
                        .expect("send");
                    assert_eq!(r.status(), reqwest::StatusCode::CREATED);
                    r.bytes().await.expect("body");
                    latencies.push(t.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await?);
    }
    let elapsed = started.elapsed();
    all.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{label:<40} {:>7.0} sends/s   latency median {:.2} ms, p99 {:.2} ms",
        all.len() as f64 / elapsed.as_secs_f64(),
        ms(all[all.len() / 2]),
        ms(all[all.len() * 99 / 100]),
    );
    let _ = stop.send(());
    server.await??;
    Ok(())
}

/// Signs a user up; returns the access token and the user id.
async fn signup(
    http: &reqwest::Client,
    base: &str,
    username: &str,
) -> Result<(String, String), Box<dyn std::error::Error>> {
    let body: Value = http
        .post(format!("{base}/api/v1/auth/signup"))
        .json(&json!({
            "username": username,
            "email": format!("{username}@example.com"),
            "password": "bench-pass-1!",
        }))
        .send()
        .await?
        .json()
        .await?;
    let field = |k: &str| {
        body[k]
            .as_str()
            .map(str::to_owned)
            .ok_or(format!("no {k} in {body}"))
    };
    Ok((field("access_token")?, field("user_id")?))
}
