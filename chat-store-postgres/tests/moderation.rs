//! Moderation on PostgreSQL, beyond the conformance suite: a database
//! written before moderation existed, upgraded by migration 0005; an
//! operator who is also a member; and reports made and resolved by
//! concurrent callers.

use chat_core::domain::ReportReason;
use chat_core::ids::ReportId;
use chat_core::model::{
    ChangeAction, ChangeOutcome, NewChange, NewReport, PostingPolicy, Report, ReportOutcome,
    ReportStatus,
};
use chat_core::store::{ConversationStore as _, MessageStore as _, ModerationStore as _};
use chat_core::testkit::fixtures::{at, create_group, create_user, membership, send};
use chat_core::{ConversationId, MessageId, UserId};
use chat_store_postgres::{PgStore, PgTestDatabase};
use sqlx::{Executor as _, PgPool};
use uuid::Uuid;

fn new_report(
    conversation: ConversationId,
    message: MessageId,
    reporter: UserId,
    secs: u64,
) -> NewReport {
    NewReport {
        id: ReportId::new(),
        conversation_id: conversation,
        message_id: message,
        reporter_id: reporter,
        reason: ReportReason::parse("spam").expect("valid reason"),
        created_at: at(secs),
    }
}

/// The file nodes of the tables 0005 adds columns to: a table rewrite
/// would give them new ones.
async fn file_nodes(pool: &PgPool) -> (i64, i64) {
    sqlx::query_as(
        "SELECT pg_relation_filenode('conversations')::bigint, \
                pg_relation_filenode('conversation_members')::bigint",
    )
    .fetch_one(pool)
    .await
    .expect("file nodes")
}

/// A database migrated to 0004 and written to, then upgraded: the new
/// columns come without rewriting the tables, every member is unmuted,
/// every conversation lets everyone post, and blocks and reports work
/// on the rows already there.
#[tokio::test]
async fn upgrading_leaves_members_unmuted_and_groups_open_to_everyone() {
    let Some(db) = PgTestDatabase::at_migration(4).await else {
        return;
    };
    let (alice, bob, carol) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let group = ConversationId::new().as_uuid();
    let direct = ConversationId::new().as_uuid();
    let (low, high) = if alice < bob {
        (alice, bob)
    } else {
        (bob, alice)
    };
    let rude = Uuid::now_v7();
    // A group of three (alice owns it) with two messages, bob's second;
    // and a direct conversation of alice and bob without messages.
    let seed = format!(
        "INSERT INTO users (user_id, username, username_key, email, email_key, password_hash, \
             created_at) VALUES \
             ('{alice}', 'alice', 'alice', 'a@example.com', 'a@example.com', 'x', now()), \
             ('{bob}', 'bob', 'bob', 'b@example.com', 'b@example.com', 'x', now()), \
             ('{carol}', 'carol', 'carol', 'c@example.com', 'c@example.com', 'x', now()); \
         INSERT INTO conversations (conversation_id, kind, name, creator_id, created_at, \
             last_seq, message_count, last_activity_at) \
             VALUES ('{group}', 'group', 'Room', '{alice}', now(), 2, 2, now()); \
         INSERT INTO conversations (conversation_id, kind, created_at, last_activity_at, \
             direct_user_low, direct_user_high) \
             VALUES ('{direct}', 'direct', now(), now(), '{low}', '{high}'); \
         INSERT INTO conversation_members (conversation_id, user_id, role, joined_at, \
             joined_seq, read_seq, read_message_count, delivered_seq) VALUES \
             ('{group}', '{alice}', 'owner', now(), 0, 1, 1, 2), \
             ('{group}', '{bob}', 'member', now(), 0, 2, 2, 2), \
             ('{group}', '{carol}', 'member', now(), 0, 0, 0, 0), \
             ('{direct}', '{alice}', 'member', now(), 0, 0, 0, 0), \
             ('{direct}', '{bob}', 'member', now(), 0, 0, 0, 0); \
         INSERT INTO messages (message_id, conversation_id, seq, sender_id, content, \
             message_type, created_at) VALUES \
             (gen_random_uuid(), '{group}', 1, '{alice}', 'welcome', 'text', now()), \
             ('{rude}', '{group}', 2, '{bob}', 'something rude', 'text', now());"
    );
    let pool = db.store().pool();
    pool.execute(seed.as_str()).await.expect("seed");
    let before = file_nodes(pool).await;

    let store = PgStore::from_pool(pool.clone()).await.expect("upgrade");
    assert_eq!(
        file_nodes(pool).await,
        before,
        "the columns were added without rewriting the tables"
    );
    let (group, direct) = (
        ConversationId::from_uuid(group),
        ConversationId::from_uuid(direct),
    );
    let (alice, bob, carol) = (
        UserId::from_uuid(alice),
        UserId::from_uuid(bob),
        UserId::from_uuid(carol),
    );
    for user in [alice, bob, carol] {
        let row = membership(&store, group, user).await;
        assert!(!row.member.muted, "members start unmuted");
        assert_eq!(row.conversation.posting, PostingPolicy::Everyone);
    }
    assert_eq!(
        membership(&store, direct, bob).await.conversation.posting,
        PostingPolicy::Everyone
    );
    let carol_view = store
        .overview(group, carol)
        .await
        .expect("overview")
        .expect("member");
    assert!(!carol_view.membership.member.muted);
    assert_eq!(
        carol_view.membership.unread_count(),
        2,
        "unread counts kept"
    );

    assert!(store.set_muted(group, carol, true).await.expect("mute"));
    assert!(membership(&store, group, carol).await.member.muted);
    assert!(
        store
            .set_posting(group, PostingPolicy::Admins)
            .await
            .expect("posting")
    );
    assert_eq!(
        membership(&store, group, bob).await.conversation.posting,
        PostingPolicy::Admins
    );
    // The posting constraint was added without checking the old rows
    // (NOT VALID), but it checks every write: a direct conversation
    // cannot be made an announcement channel, even behind the store.
    assert!(
        !store
            .set_posting(direct, PostingPolicy::Admins)
            .await
            .expect("direct")
    );
    let refused = pool
        .execute(
            format!(
                "UPDATE conversations SET posting = 'admins' WHERE conversation_id = '{direct}'"
            )
            .as_str(),
        )
        .await
        .expect_err("refused");
    assert_eq!(
        refused.as_database_error().and_then(|e| e.constraint()),
        Some("conversations_posting_known")
    );

    assert!(store.block(alice, bob, at(1)).await.expect("block"));
    let blocked = store.blocked_users(alice).await.expect("blocked");
    assert_eq!(blocked.len(), 1);
    assert_eq!(blocked[0].user.username, "bob");
    assert_eq!(store.blockers_of(bob).await.expect("blockers"), vec![alice]);

    let report = match store
        .create_report(new_report(group, MessageId::from_uuid(rude), carol, 2))
        .await
        .expect("report")
    {
        ReportOutcome::Created(r) => r,
        other => panic!("not created: {other:?}"),
    };
    assert_eq!(
        (report.sender_id, report.content.as_str()),
        (bob, "something rude"),
        "a message written before the upgrade is copied into the report"
    );
    let resolved = store
        .resolve_report(report.id, alice, at(3))
        .await
        .expect("resolve")
        .expect("exists");
    assert_eq!(resolved.status, ReportStatus::Resolved);
    assert_eq!(
        store.reports(None, 10, 0).await.expect("reports"),
        vec![resolved]
    );
    store.close().await;
    db.teardown().await;
}

/// An operator's change moves none of the operator's cursors, even when
/// they are a member of the conversation.
#[tokio::test]
async fn an_operator_who_is_a_member_keeps_their_cursors() {
    let Some(db) = PgTestDatabase::create().await else {
        return;
    };
    let store = db.store().clone();
    let op = create_user(&store, "operator").await.id;
    let bob = create_user(&store, "bob").await.id;
    let group = create_group(&store, "Room", op, &[bob]).await;
    let m = send(&store, group, bob, "spam").await;
    let before = membership(&store, group, op).await.member;
    let outcome = store
        .apply_change(NewChange {
            conversation_id: group,
            message_id: m.id,
            actor_id: op,
            by_operator: true,
            action: ChangeAction::Delete,
            at: at(5),
        })
        .await
        .expect("change");
    assert!(matches!(outcome, ChangeOutcome::Applied { .. }));
    let after = membership(&store, group, op).await;
    assert_eq!(after.conversation.last_seq, 2);
    assert_eq!(after.member, before, "no cursor of the operator's moved");
    db.teardown().await;
}

/// One reporter reporting one message from several connections at once
/// makes one report; operators resolving it at once keep one resolution.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_reports_and_resolutions_have_one_winner() {
    let Some(db) = PgTestDatabase::create().await else {
        return;
    };
    let store = db.store().clone();
    let ann = create_user(&store, "ann").await.id;
    let bob = create_user(&store, "bob").await.id;
    let group = create_group(&store, "Room", ann, &[bob]).await;
    let m = send(&store, group, bob, "rude").await;

    let reports: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .create_report(new_report(group, m.id, ann, 10 + i))
                    .await
                    .expect("report")
            })
        })
        .collect();
    let mut created: Vec<Report> = Vec::new();
    let mut existing: Vec<Report> = Vec::new();
    for task in reports {
        match task.await.expect("task") {
            ReportOutcome::Created(r) => created.push(r),
            ReportOutcome::Existing(r) => existing.push(r),
            ReportOutcome::MessageNotFound => panic!("the message is there"),
        }
    }
    assert_eq!(created.len(), 1, "one report per reporter and message");
    assert!(existing.iter().all(|r| *r == created[0]), "the winner's");

    let resolutions: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            let id = created[0].id;
            let by = if i % 2 == 0 { ann } else { bob };
            tokio::spawn(async move {
                store
                    .resolve_report(id, by, at(100 + i))
                    .await
                    .expect("resolve")
                    .expect("exists")
            })
        })
        .collect();
    let mut seen = Vec::new();
    for task in resolutions {
        seen.push(task.await.expect("task"));
    }
    assert!(
        seen.iter().all(|r| *r == seen[0]),
        "one resolution: {seen:?}"
    );
    assert_eq!(seen[0].status, ReportStatus::Resolved);
    db.teardown().await;
}
