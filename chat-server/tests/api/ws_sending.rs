//! A socket keeps receiving while its own send is under way: in a busy
//! group, the others' messages would otherwise fill its queue while the
//! send waits for its commit and fan-out, and the server would close a
//! socket that reads fine (1013).

use std::sync::Arc;
use std::time::Duration;

use chat_store_postgres::PgTestDatabase;
use serde_json::Value;

use crate::cluster::direct;
use chat_server::HttpSettings;

use crate::helpers::spawn_app_with;

/// The writer shard a conversation's writes go to, with two writers (as
/// chat-core picks it: the low 64 bits of the UUIDv7, which are random).
fn shard(conversation: &Value) -> u64 {
    let id = conversation
        .as_str()
        .expect("a conversation id")
        .replace('-', "");
    u64::from_str_radix(&id[16..], 16).expect("hex") % 2
}

#[tokio::test]
async fn on_postgres_events_keep_flowing_while_a_send_waits_for_its_commit() {
    let Some(db) = PgTestDatabase::create().await else {
        return;
    };
    // Two writers, so a send held in one conversation leaves others free.
    let store = Arc::new(db.store().clone().with_writers(2));
    let app = spawn_app_with(store, HttpSettings::default()).await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let mut alice_ws = app.ws(&alice.access).await;
    let mut bob_ws = app.ws(&bob.access).await;

    bob_ws.send(direct(&alice, "first", "b-0")).await;
    let with_bob = bob_ws.next_of("message.sent").await["conversation_id"].clone();
    alice_ws.next_of("message.new").await;
    // A peer whose conversation with alice is written by the other shard.
    let mut peer = None;
    for i in 0..12 {
        let carol = app.signup(&format!("carol{i}")).await;
        alice_ws
            .send(direct(&carol, "hello", &format!("a-{i}")))
            .await;
        let conversation = alice_ws.next_of("message.sent").await["conversation_id"].clone();
        if shard(&conversation) != shard(&with_bob) {
            peer = Some((carol, conversation));
            break;
        }
    }
    let (carol, held) = peer.expect("one of 12 conversations on the other shard");

    // Hold alice's next send at its commit: lock the conversation row.
    let mut lock = db.store().pool().begin().await.expect("begin");
    sqlx::query("SELECT 1 FROM conversations WHERE conversation_id = $1::uuid FOR UPDATE")
        .bind(held.as_str().expect("id"))
        .execute(&mut *lock)
        .await
        .expect("lock");
    alice_ws.send(direct(&carol, "pending", "a-pending")).await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Bob's message commits on the other shard and reaches alice while
    // her own send still waits.
    bob_ws.send(direct(&alice, "while you wait", "b-1")).await;
    bob_ws.next_of("message.sent").await;
    let frame = alice_ws.next().await;
    assert_eq!(frame["type"], "message.new", "{frame}");
    assert_eq!(frame["content"], "while you wait", "{frame}");

    lock.rollback().await.expect("unlock");
    let sent = alice_ws.next().await;
    assert_eq!(sent["type"], "message.sent", "{sent}");
    assert_eq!(sent["client_msg_id"], "a-pending");
    alice_ws
        .expect_silence(Duration::from_millis(300), &["presence"])
        .await;
    db.teardown().await;
}

/// Many sends under way on one socket at once (no waiting for each
/// answer): answered in the order sent, stored in that order, and the
/// sender never gets its own messages back as `message.group.new`, even
/// while another member's messages interleave with them.
#[tokio::test]
async fn on_postgres_a_socket_with_many_sends_under_way_keeps_every_order() {
    let Some(db) = PgTestDatabase::create().await else {
        return;
    };
    let store = Arc::new(db.store().clone());
    let app = spawn_app_with(store, HttpSettings::default()).await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let carol = app.signup("carol").await;
    let group = app.create_group(&alice, "busy", &[&bob, &carol]).await;
    let mut alice_ws = app.ws(&alice.access).await;
    let mut bob_ws = app.ws(&bob.access).await;
    let mut carol_ws = app.ws(&carol.access).await;

    const N: usize = 60;
    for i in 0..N {
        let send = |who: &str| {
            serde_json::json!({"type": "message.group.send", "group_id": group,
                "content": format!("{who} {i}"), "client_msg_id": format!("{who}-{i}")})
        };
        // Alice's sends go out back to back; Bob's interleave.
        alice_ws.send(send("a")).await;
        if i % 3 == 0 {
            bob_ws.send(send("b")).await;
        }
    }
    let bob_sends = N.div_ceil(3);
    let total = N + bob_sends;

    // Alice: her answers in the order she sent, seqs rising; Bob's
    // messages as group.new; never her own.
    let mut answered = Vec::new();
    let mut own_seqs = Vec::new();
    let mut others = Vec::new();
    while answered.len() < N || others.len() < bob_sends {
        let frame = alice_ws.next().await;
        match frame["type"].as_str() {
            Some("message.sent") => {
                answered.push(frame["client_msg_id"].as_str().expect("id").to_owned());
                own_seqs.push(frame["seq"].as_u64().expect("seq"));
            }
            Some("message.group.new") => {
                assert_ne!(
                    frame["sender_id"], alice.user_id,
                    "own message echoed: {frame}"
                );
                others.push(frame["seq"].as_u64().expect("seq"));
            }
            Some("error") => panic!("refused: {frame}"),
            _ => {}
        }
    }
    let expected: Vec<String> = (0..N).map(|i| format!("a-{i}")).collect();
    assert_eq!(answered, expected, "answered in the order sent");
    assert!(
        own_seqs.windows(2).all(|w| w[0] < w[1]),
        "stored in the order sent: {own_seqs:?}"
    );
    assert!(
        others.windows(2).all(|w| w[0] < w[1]),
        "others in seq order: {others:?}"
    );
    let mut all: Vec<u64> = own_seqs.iter().chain(&others).copied().collect();
    all.sort_unstable();
    assert_eq!(
        all,
        (1..=total as u64).collect::<Vec<_>>(),
        "every seq once"
    );

    // Carol gets all of them, in seq order, Alice's in the order she sent.
    let mut carol_seen = Vec::new();
    while carol_seen.len() < total {
        let frame = carol_ws.next_of("message.group.new").await;
        carol_seen.push((
            frame["seq"].as_u64().expect("seq"),
            frame["content"].as_str().expect("content").to_owned(),
        ));
    }
    assert!(
        carol_seen.windows(2).all(|w| w[0].0 + 1 == w[1].0),
        "gap-free, in order"
    );
    let alices: Vec<&str> = carol_seen
        .iter()
        .filter(|(_, c)| c.starts_with("a "))
        .map(|(_, c)| c.as_str())
        .collect();
    let sent: Vec<String> = (0..N).map(|i| format!("a {i}")).collect();
    assert_eq!(alices, sent);
    for ws in [alice_ws, bob_ws, carol_ws] {
        ws.close().await;
    }
}

/// One socket's sends share commits: with 40 sent back to back, the store
/// writes some of them in one batch (its batch-size histogram sums more
/// messages than batches), which one send at a time never would.
#[tokio::test]
async fn on_postgres_sends_of_one_socket_share_commits() {
    let Some(db) = PgTestDatabase::create().await else {
        return;
    };
    let store = Arc::new(db.store().clone());
    let app = spawn_app_with(store, HttpSettings::default()).await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let mut alice_ws = app.ws(&alice.access).await;
    for i in 0..40 {
        alice_ws.send(direct(&bob, "hi", &format!("c-{i}"))).await;
    }
    for _ in 0..40 {
        alice_ws.next_of("message.sent").await;
    }
    let text = reqwest::get(app.url("/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    let figure = |name: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} in {text}"))
    };
    let (messages, batches) = (
        figure("chat_write_batch_size_sum"),
        figure("chat_write_batch_size_count"),
    );
    assert!(
        messages > batches,
        "40 messages in {batches} batches: each committed alone"
    );
    alice_ws.close().await;
}
