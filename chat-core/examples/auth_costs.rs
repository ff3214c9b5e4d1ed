//! Measures the costs behind authentication, for `docs/benchmarks.md`:
//! one argon2id hash and verification with the production parameters,
//! logins per second through `AuthService` (memory store, so argon2 is the
//! only cost), and the cost of checking one access token.
//!
//! Run in release mode: `cargo run --release -p chat-core --example auth_costs`

use std::sync::Arc;
use std::time::{Duration, Instant};

use chat_core::auth::password::PasswordHasher;
use chat_core::auth::{Argon2Params, AuthConfig};
use chat_core::rate_limit::RateLimit;
use chat_core::{ChatEngine, Email, Password, Signup, Username};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main]
async fn main() -> chat_core::Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let params = Argon2Params::default();
    println!(
        "machine: {cores} cores; argon2id m={} KiB t={} p={}",
        params.memory_kib, params.iterations, params.parallelism
    );

    let hasher = PasswordHasher::new(params, 1)?;
    let mut hashes = Vec::new();
    let mut hash = String::new();
    for _ in 0..20 {
        let t = Instant::now();
        hash = hasher.hash("correct-horse1!").await?;
        hashes.push(t.elapsed());
    }
    let mut verifies = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        hasher.verify("correct-horse1!", Some(&hash)).await?;
        verifies.push(t.elapsed());
    }
    println!(
        "argon2 hash: median {:.1} ms; verify: median {:.1} ms (20 runs each)",
        median(hashes).as_secs_f64() * 1e3,
        median(verifies).as_secs_f64() * 1e3
    );

    for concurrent_hashes in [1, cores] {
        let engine = ChatEngine::builder()
            .auth_config(AuthConfig {
                max_concurrent_hashes: concurrent_hashes,
                login_limit: RateLimit::new(u32::MAX, Duration::from_secs(1)),
                ..AuthConfig::default()
            })
            .build()?;
        engine
            .auth()
            .signup(
                Signup {
                    username: Username::parse("bench")?,
                    email: Email::parse("bench@example.com")?,
                    password: Password::parse("correct-horse1!")?,
                    display_name: None,
                },
                None,
            )
            .await?;
        let engine = Arc::new(engine);
        let logins = 200;
        let start = Instant::now();
        let mut tasks = Vec::new();
        for i in 0..logins {
            let engine = engine.clone();
            tasks.push(tokio::spawn(async move {
                engine
                    .auth()
                    .login(
                        "bench",
                        "correct-horse1!",
                        &format!("10.0.0.{}", i % 250),
                        None,
                    )
                    .await
                    .map(|_| ())
            }));
        }
        for t in tasks {
            t.await.map_err(chat_core::ChatError::internal)??;
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "logins: {logins} concurrent, {concurrent_hashes} hash(es) at once: {:.1} logins/s",
            f64::from(logins) / secs
        );
    }

    // Token check: signature, expiry and revocation lookup, with 10,000
    // revoked sessions in the set.
    let engine = ChatEngine::builder()
        .auth_config(AuthConfig {
            argon2: Argon2Params {
                memory_kib: 64,
                iterations: 1,
                parallelism: 1,
            },
            ..AuthConfig::default()
        })
        .build()?;
    let mut tokens = Vec::new();
    for i in 0..10_001 {
        let pair = engine
            .auth()
            .signup(
                Signup {
                    username: Username::parse(&format!("user{i}"))?,
                    email: Email::parse(&format!("user{i}@example.com"))?,
                    password: Password::parse("correct-horse1!")?,
                    display_name: None,
                },
                None,
            )
            .await?;
        tokens.push(pair);
    }
    let live = tokens.pop().map(|p| p.access_token).unwrap_or_default();
    for pair in &tokens {
        engine.auth().logout(&pair.refresh_token).await?;
    }
    let rounds = 200_000;
    let mut samples = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        for _ in 0..rounds / 20 {
            std::hint::black_box(engine.auth().authenticate(std::hint::black_box(&live))?);
        }
        samples.push(t.elapsed() / (rounds / 20));
    }
    println!(
        "token check (authenticate, 10,000 revoked sessions): median {:.2} µs per call",
        median(samples).as_secs_f64() * 1e6
    );
    Ok(())
}
