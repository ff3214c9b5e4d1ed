//! What the example tests share: a real server on a free port, and users.

use chat_client::{ChatClient, Session};
use chat_core::ChatEngine;
use chat_server::AppState;
use tokio::net::TcpListener;

/// A chat server (in-memory engine) on a free port, and a client for it.
pub(crate) async fn server() -> ChatClient {
    let engine = ChatEngine::builder().build().expect("engine");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(chat_server::serve(
        listener,
        AppState::new(engine),
        std::future::pending(),
    ));
    ChatClient::new(&format!("http://{addr}")).expect("client")
}

/// Signs `name` up.
pub(crate) async fn sign_up(client: &ChatClient, name: &str) -> Session {
    client
        .signup(name, &format!("{name}@example.com"), "s3cret!pass")
        .await
        .expect("signup")
}
