//! A small interactive chat client for the terminal, on `chat-client`.
//!
//! ```sh
//! cargo run -p chat-server &
//! cargo run -p examples --example terminal_chat -- http://127.0.0.1:8080 alice 's3cret!pass'
//! # first time: add --signup alice@example.com
//! ```
//!
//! Type `/to bob` and then lines to send; `/help` lists the commands.
//! Messages that arrive are printed as they come.

use chat_client::ChatClient;
use examples::terminal_chat;
use tokio::io::BufReader;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(server), Some(username), Some(password)) = (args.first(), args.get(1), args.get(2))
    else {
        anyhow::bail!("usage: terminal_chat SERVER_URL USERNAME PASSWORD [--signup EMAIL]");
    };
    let client = ChatClient::new(server)?;
    let session = match args.iter().position(|a| a == "--signup") {
        Some(i) => {
            let email = args
                .get(i + 1)
                .ok_or_else(|| anyhow::anyhow!("--signup needs an email"))?;
            client.signup(username, email, password).await?
        }
        None => client.login(username, password).await?,
    };
    println!("logged in as {username}");
    terminal_chat::run(
        &client,
        &session,
        BufReader::new(tokio::io::stdin()),
        std::io::stdout(),
    )
    .await?;
    Ok(())
}
