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
