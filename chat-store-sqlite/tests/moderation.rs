//! Migration 0005 (moderation) beyond the conformance suite: upgrading a
//! database that holds conversations, and the constraints it adds.

mod common;

use chat_core::domain::ReportReason;
use chat_core::ids::ReportId;
use chat_core::model::{NewReport, PostingPolicy, ReportOutcome, ReportStatus};
use chat_core::store::{ConversationStore, ModerationStore};
use chat_core::testkit::fixtures::at;
use chat_core::{ConversationId, MessageId, UserId};
use chat_store_sqlite::SqliteStore;
use common::{database_at_migration, insert_user};

/// A database made before moderation (migrations 0001 to 0004), holding
/// a group with members and messages and a direct conversation, upgrades
/// in place: every member is unmuted, every conversation lets everyone
/// post, and blocks and reports work on what it held.
#[tokio::test]
async fn a_database_from_before_moderation_upgrades_unmuted_and_open_to_all() {
    let old = database_at_migration(4).await;
    let pool = &old.pool;

    let (alice, bob, carol, dave) = (UserId::new(), UserId::new(), UserId::new(), UserId::new());
    for (user, name) in [
        (alice, "alice"),
        (bob, "bob"),
        (carol, "carol"),
        (dave, "dave"),
    ] {
        insert_user(pool, user, name).await;
    }
    // Alice's group of three, with two messages everyone has read.
    let group = ConversationId::new();
    sqlx::query(
        "INSERT INTO conversations (conversation_id, kind, name, creator_id, created_at, \
             last_seq, message_count, last_activity_at) \
         VALUES (?1, 'group', 'Team', ?2, 0, 2, 2, 2000)",
    )
    .bind(group.as_uuid())
    .bind(alice.as_uuid())
    .execute(pool)
    .await
    .expect("group");
    for (user, role) in [(alice, "owner"), (bob, "admin"), (carol, "member")] {
        sqlx::query(
            "INSERT INTO conversation_members (conversation_id, user_id, role, joined_at, \
                 joined_seq, read_seq, read_message_count, delivered_seq) \
             VALUES (?1, ?2, ?3, 0, 0, 2, 2, 2)",
        )
        .bind(group.as_uuid())
        .bind(user.as_uuid())
        .bind(role)
        .execute(pool)
        .await
        .expect("member");
    }
    let messages = [MessageId::new(), MessageId::new()];
    let contents = ["hello team", "something rude"];
    for (seq, ((id, content), sender)) in
        (1_i64..).zip(messages.iter().zip(contents).zip([alice, bob]))
    {
        sqlx::query(
            "INSERT INTO messages (message_id, conversation_id, seq, sender_id, content, \
                 message_type, created_at) VALUES (?1, ?2, ?3, ?4, ?5, 'text', ?6)",
        )
        .bind(id.as_uuid())
        .bind(group.as_uuid())
        .bind(seq)
        .bind(sender.as_uuid())
        .bind(content)
        .bind(seq * 1000)
        .execute(pool)
        .await
        .expect("message");
    }
    // Alice and bob's direct conversation, no messages yet.
    let direct = ConversationId::new();
    let (low, high) = (alice.min(bob), alice.max(bob));
    sqlx::query(
        "INSERT INTO conversations (conversation_id, kind, created_at, last_activity_at, \
             direct_user_low, direct_user_high) VALUES (?1, 'direct', 0, 0, ?2, ?3)",
    )
    .bind(direct.as_uuid())
    .bind(low.as_uuid())
    .bind(high.as_uuid())
    .execute(pool)
    .await
    .expect("direct conversation");
    for user in [alice, bob] {
        sqlx::query(
            "INSERT INTO conversation_members (conversation_id, user_id, role, joined_at, \
                 joined_seq, read_seq, delivered_seq) VALUES (?1, ?2, 'member', 0, 0, 0, 0)",
        )
        .bind(direct.as_uuid())
        .bind(user.as_uuid())
        .execute(pool)
        .await
        .expect("direct member");
    }
    pool.close().await;

    let store = SqliteStore::connect(&old.url).await.expect("upgrade");

    // Nobody muted anything, and everyone may post everywhere.
    let members = store.members(group).await.expect("members");
    assert_eq!(members.len(), 3);
    assert!(members.iter().all(|m| !m.member.muted), "unmuted");
    for (conversation, user) in [(group, carol), (direct, alice)] {
        let membership = store
            .membership(conversation, user)
            .await
            .expect("membership")
            .expect("member");
        assert!(!membership.member.muted);
        assert_eq!(membership.conversation.posting, PostingPolicy::Everyone);
    }
    let listed = store.overviews(alice, None).await.expect("overviews");
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(|o| !o.membership.member.muted
        && o.membership.conversation.posting == PostingPolicy::Everyone
        && o.peer.as_ref().is_none_or(|p| !p.member.muted)));

    // The new columns take their values, and only the values they allow.
    assert!(store.set_muted(group, carol, true).await.expect("mute"));
    assert!(
        store
            .set_posting(group, PostingPolicy::Admins)
            .await
            .expect("posting")
    );
    assert!(
        !store
            .set_posting(direct, PostingPolicy::Admins)
            .await
            .expect("direct")
    );
    let carol_row = store
        .membership(group, carol)
        .await
        .expect("membership")
        .expect("member");
    assert!(carol_row.member.muted);
    assert_eq!(carol_row.conversation.posting, PostingPolicy::Admins);
    for refused in [
        "UPDATE conversations SET posting = 'owners'",
        "UPDATE conversation_members SET muted = 2",
    ] {
        let e = sqlx::query(refused)
            .execute(store.pool())
            .await
            .expect_err(refused);
        assert!(e.to_string().contains("CHECK constraint failed"), "{e}");
    }

    // Blocks between the users the old database held.
    assert!(store.block(alice, dave, at(1)).await.expect("block"));
    assert!(!store.block(alice, dave, at(2)).await.expect("block again"));
    let blocked = store.blocked_users(alice).await.expect("blocked");
    assert_eq!(blocked.len(), 1);
    assert_eq!((blocked[0].user.id, blocked[0].blocked_at), (dave, at(1)));
    assert_eq!(
        store.blockers_of(dave).await.expect("blockers"),
        vec![alice]
    );

    // A report of a message the old database held copies it.
    let new_report = |id| NewReport {
        id,
        conversation_id: group,
        message_id: messages[1],
        reporter_id: carol,
        reason: ReportReason::parse("rude").expect("reason"),
        created_at: at(5),
    };
    let ReportOutcome::Created(report) = store
        .create_report(new_report(ReportId::new()))
        .await
        .expect("report")
    else {
        panic!("report not created");
    };
    assert_eq!(
        (report.sender_id, report.content.as_str(), report.status),
        (bob, "something rude", ReportStatus::Open)
    );
    assert_eq!(
        store
            .create_report(new_report(ReportId::new()))
            .await
            .expect("report again"),
        ReportOutcome::Existing(report.clone())
    );
    let resolved = store
        .resolve_report(report.id, alice, at(6))
        .await
        .expect("resolve")
        .expect("exists");
    assert_eq!(
        (resolved.status, resolved.resolved_by),
        (ReportStatus::Resolved, Some(alice))
    );
    assert_eq!(
        store
            .reports(Some(ReportStatus::Resolved), 10, 0)
            .await
            .expect("reports"),
        vec![resolved]
    );
    store.pool().close().await;
}
