//! A bot on `chat-client`: it logs in (signing up on first run), listens on
//! the WebSocket and answers every message with `echo: <message>`.
//!
//! ```sh
//! cargo run -p chat-server &                       # a server on 127.0.0.1:8080
//! cargo run -p examples --example echo_bot -- http://127.0.0.1:8080
//! ```
//!
//! Then, in the browser demo, start a conversation with `echobot`. The bot
//! reconnects when the connection ends (for instance when its access token
//! expires: it refreshes the session first).

use std::time::Duration;

use chat_client::ChatClient;
use examples::echo_bot;

const USERNAME: &str = "echobot";
const PASSWORD: &str = "echo!echo1";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let server = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "http://127.0.0.1:8080".to_owned());
    let client = ChatClient::new(&server)?;
    let mut session = match client.login(USERNAME, PASSWORD).await {
        Ok(session) => session,
        Err(e) if e.code() == "INVALID_CREDENTIALS" => {
            println!("first run: signing up as {USERNAME}");
            client
                .signup(USERNAME, "echobot@example.com", PASSWORD)
                .await?
        }
        Err(e) => return Err(e.into()),
    };
    println!("{USERNAME} ({}) listens on {server}", session.user_id);
    let mut backoff = Duration::from_millis(500);
    loop {
        match echo_bot::run(&client, &session).await {
            Ok(n) => {
                println!("connection closed after {n} answers; reconnecting");
                backoff = Duration::from_millis(500);
            }
            Err(e) => {
                eprintln!(
                    "connection failed ({}): {e}; retrying in {backoff:?}",
                    e.code()
                );
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
        // The usual reason for a close is an expired access token.
        session = match client.refresh(&session.refresh_token).await {
            Ok(fresh) => fresh,
            Err(_) => client.login(USERNAME, PASSWORD).await?,
        };
    }
}
