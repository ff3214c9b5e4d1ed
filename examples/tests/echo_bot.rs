//! The echo bot against a real server on a free port: it answers direct and
//! group messages, including those that waited while it was away, once each.

mod common;

use std::time::Duration;

use chat_client::{ChatClient, ServerFrame, Session};
use common::{server, sign_up};
use examples::echo_bot;

/// The contents of the next `n` messages `session` receives live.
async fn next_contents(client: &ChatClient, session: &Session, n: usize) -> Vec<String> {
    let mut ws = client
        .connect(&session.access_token)
        .await
        .expect("connect");
    let mut got = Vec::new();
    while got.len() < n {
        let frame = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("an answer in time")
            .expect("frame")
            .expect("open");
        let views = match frame {
            ServerFrame::MessageNew(v) | ServerFrame::GroupMessageNew(v) => vec![v],
            ServerFrame::Offline { messages, .. } => {
                messages.into_iter().map(|m| m.message).collect()
            }
            _ => vec![],
        };
        got.extend(
            views
                .into_iter()
                .filter(|v| v.message.sender_id != session.user_id)
                .map(|v| v.message.content),
        );
    }
    got
}

#[tokio::test]
async fn the_bot_answers_direct_and_group_messages_and_what_waited() {
    let client = server().await;
    let bot = sign_up(&client, "echobot").await;
    let alice = sign_up(&client, "alice").await;
    let bob = sign_up(&client, "bob").await;

    // Sent while the bot is offline: answered when it connects.
    client
        .user(&alice)
        .send_direct(bot.user_id, "are you there?", Some("a-1"))
        .await
        .expect("send");
    let bot_task = {
        let client = client.clone();
        let bot = bot.clone();
        tokio::spawn(async move { echo_bot::run(&client, &bot).await })
    };
    let group = client
        .user(&bob)
        .create_group("bots", &[bot.user_id, alice.user_id])
        .await
        .expect("group");
    let alice_hears = {
        let client = client.clone();
        let alice = alice.clone();
        tokio::spawn(async move { next_contents(&client, &alice, 1).await })
    };
    assert_eq!(
        alice_hears.await.expect("alice"),
        vec!["echo: are you there?".to_owned()]
    );

    let bob_hears = {
        let client = client.clone();
        let bob = bob.clone();
        tokio::spawn(async move { next_contents(&client, &bob, 1).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    client
        .user(&bob)
        .send_group(group, "hello bots", Some("b-1"))
        .await
        .expect("send");
    assert_eq!(
        bob_hears.await.expect("bob"),
        vec!["echo: hello bots".to_owned()]
    );

    // Each message was answered once: history holds exactly the two echoes.
    let page = client
        .user(&bob)
        .history(group, Some(10), None)
        .await
        .expect("history");
    let contents: Vec<_> = page
        .messages
        .iter()
        .map(|m| m.message.content.as_str())
        .collect();
    assert_eq!(contents, vec!["echo: hello bots", "hello bots"]);
    bot_task.abort();
}
