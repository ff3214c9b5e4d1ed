//! A real server on a free local port, for tests: this workspace's own
//! (the API tests, chat-client's, chat-bench's, the examples') and an
//! embedder's.

use std::net::SocketAddr;
use std::time::Duration;

use chat_core::auth::{Argon2Params, AuthConfig};
use chat_core::{ChatEngine, Email, ExternalUser, RateLimit, TokenPair, Username};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::AppState;

/// A server serving `state` on `127.0.0.1` and a free port; it stops
/// when this is dropped.
#[derive(Debug)]
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// `http://{addr}`.
    pub base: String,
    _shutdown: oneshot::Sender<()>,
}

impl TestServer {
    /// Starts serving `state`.
    ///
    /// # Errors
    /// When no local port can be bound.
    pub async fn start(state: AppState) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (shutdown, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let stop = async {
                let _ = stopped.await;
            };
            if let Err(e) = crate::serve(listener, state, stop).await {
                tracing::error!(error = %e, "the test server stopped");
            }
        });
        Ok(Self {
            addr,
            base: format!("http://{addr}"),
            _shutdown: shutdown,
        })
    }

    /// Lets the server run until the runtime it was started on ends, for
    /// a test that only keeps the address.
    pub fn detach(self) {
        tokio::spawn(async move {
            let _server = self;
            std::future::pending::<()>().await;
        });
    }
}

/// Authentication settings for tests: argon2 at its cheapest (the
/// production parameters cost tens of milliseconds per signup) and no
/// signup limit (every test user signs up from 127.0.0.1).
pub fn fast_auth_config() -> AuthConfig {
    AuthConfig {
        argon2: Argon2Params {
            memory_kib: 256,
            iterations: 1,
            parallelism: 1,
        },
        max_concurrent_hashes: 4,
        public_url: "http://chat.test".to_owned(),
        signup_client_limit: RateLimit::new(1_000_000, Duration::from_secs(3600)),
        ..AuthConfig::default()
    }
}

/// A user named `name` (email `name@example.com`), provisioned without a
/// password as an embedding application does, and a session for them:
/// for tests that need a token but not a login, and should not pay for
/// hashing a password.
///
/// # Errors
/// A `name` that is not a valid username; then as
/// [`AuthService::provision_user`](chat_core::AuthService::provision_user)
/// and [`AuthService::issue_tokens`](chat_core::AuthService::issue_tokens).
pub async fn provisioned_user(engine: &ChatEngine, name: &str) -> chat_core::Result<TokenPair> {
    let auth = engine.auth();
    let user = auth
        .provision_user(ExternalUser {
            username: Username::parse(name)?,
            email: Email::parse(&format!("{name}@example.com"))?,
            display_name: None,
        })
        .await?;
    auth.issue_tokens(user.id, None).await
}
