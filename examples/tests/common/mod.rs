//! What the example tests share: a real server on a free port, and users.

use chat_client::{ChatClient, Session};
use chat_core::ChatEngine;
use chat_server::AppState;
use chat_server::testing::TestServer;

/// A chat server (in-memory engine) on a free port, and a client for it.
/// The server lives as long as the test's runtime.
pub(crate) async fn server() -> ChatClient {
    let engine = ChatEngine::builder().build().expect("engine");
    let server = TestServer::start(AppState::new(engine))
        .await
        .expect("a test server");
    let client = ChatClient::new(&server.base).expect("client");
    server.detach();
    client
}

/// Signs `name` up.
pub(crate) async fn sign_up(client: &ChatClient, name: &str) -> Session {
    client
        .signup(name, &format!("{name}@example.com"), "s3cret!pass")
        .await
        .expect("signup")
}
