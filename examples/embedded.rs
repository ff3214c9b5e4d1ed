//! The engine inside a plain tokio program: in-memory backends, no HTTP,
//! no database. Alice and Bob sign up, Bob's device connects, Alice sends,
//! Bob's device receives the live event, acknowledges it, and Alice reads
//! the history with its delivery mark.
//!
//! ```sh
//! cargo run -p examples --example embedded
//! ```

use std::time::Duration;

use chat_core::realtime::EventKind;
use chat_core::{
    AckTarget, ChatEngine, ConversationRef, Email, OutgoingMessage, PageRequest, Password, Signup,
    TokenPair, Username,
};

async fn sign_up(engine: &ChatEngine, name: &str) -> anyhow::Result<TokenPair> {
    let pair = engine
        .auth()
        .signup(
            Signup {
                username: Username::parse(name)?,
                email: Email::parse(&format!("{name}@example.com"))?,
                password: Password::parse("s3cret!pass")?,
                display_name: None,
            },
            Some("embedded example"),
        )
        .await?;
    println!("{name} signed up: user {}", pair.user_id);
    Ok(pair)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Every backend defaults to its in-memory implementation.
    let engine = ChatEngine::builder().build()?;
    let alice = sign_up(&engine, "alice").await?;
    let bob = sign_up(&engine, "bob").await?;

    // Bob's device connects: it subscribes to his live events.
    let (mut bobs_device, catch_up) = engine
        .delivery()
        .connect(bob.user_id, bob.session_id)
        .await?;
    println!(
        "bob's device connected; {} messages to catch up",
        catch_up.remaining()
    );

    // Alice sends a direct message; the conversation is created on first use.
    let message = OutgoingMessage::parse("Hello Bob!", None, Some("hello-1"))?;
    let sent = engine
        .conversations()
        .send(alice.user_id, ConversationRef::Direct(bob.user_id), message)
        .await?
        .message;
    println!(
        "alice sent {:?}: conversation {}, seq {}",
        sent.content.as_str(),
        sent.conversation_id,
        sent.seq
    );

    // The event Bob's device receives is the server frame a WebSocket
    // client would get, already serialized.
    let event = tokio::time::timeout(Duration::from_secs(5), bobs_device.subscription.recv())
        .await?
        .ok_or_else(|| anyhow::anyhow!("bob's subscription ended"))?;
    if let EventKind::Frame(frame) = event.kind() {
        println!(
            "bob's device received: {}",
            String::from_utf8_lossy(&frame.json)
        );
    }

    // The device has it: acknowledging moves Bob's delivery cursor.
    engine
        .delivery()
        .ack(
            bob.user_id,
            AckTarget::Through {
                conversation: sent.conversation_id,
                seq: sent.seq,
            },
        )
        .await?;

    let history = engine
        .conversations()
        .history(
            alice.user_id,
            ConversationRef::Direct(bob.user_id),
            PageRequest::default(),
        )
        .await?;
    for view in &history.messages {
        println!(
            "history: seq {} {:?} from {} ({:?})",
            view.message.seq,
            view.message.content.as_str(),
            view.message.sender_id,
            view.target
        );
    }
    engine.delivery().disconnect(bobs_device).await;
    println!("done");
    Ok(())
}
