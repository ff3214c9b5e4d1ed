//! Blocks, muting, posting policies, reports and the admin service
//! through the engine: what each refuses, with which code, and what a
//! blocker no longer sees live.

use std::sync::Arc;
use std::time::Duration;

use chat_core::domain::ReportReason;
use chat_core::memory::MemoryStore;
use chat_core::model::{ChangeKind, PostingPolicy, ReportStatus};
use chat_core::protocol::ServerFrame;
use chat_core::realtime::{EventKind, Subscription};
use chat_core::testkit::fixtures::create_user;
use chat_core::{
    AdminConfig, ChatEngine, ChatError, ConversationId, ConversationRef, Emoji, GroupName,
    MessageContent, MessageId, OutgoingMessage, SessionId, TypingTarget, UserId, Username,
};

struct World {
    engine: ChatEngine,
    alice: UserId,
    bob: UserId,
    carol: UserId,
    root: UserId,
    group: ConversationId,
}

async fn world() -> World {
    let store = Arc::new(MemoryStore::new());
    let engine = ChatEngine::builder()
        .store(store.clone())
        .admin_config(AdminConfig {
            usernames: vec![Username::parse("Root").expect("username")],
        })
        .build()
        .expect("engine");
    let alice = create_user(store.as_ref(), "alice").await.id;
    let bob = create_user(store.as_ref(), "bob").await.id;
    let carol = create_user(store.as_ref(), "carol").await.id;
    let root = create_user(store.as_ref(), "root").await.id;
    let group = engine
        .conversations()
        .create_group(
            alice,
            GroupName::parse("team").expect("name"),
            vec![bob, carol],
        )
        .await
        .expect("group")
        .conversation
        .id;
    World {
        engine,
        alice,
        bob,
        carol,
        root,
        group,
    }
}

fn text(t: &str) -> OutgoingMessage {
    OutgoingMessage::text(MessageContent::parse(t).expect("content"))
}

impl World {
    async fn send(
        &self,
        from: UserId,
        to: ConversationRef,
        t: &str,
    ) -> Result<MessageId, ChatError> {
        self.engine
            .conversations()
            .send(from, to, text(t))
            .await
            .map(|s| s.message.id)
    }
}

fn code<T: std::fmt::Debug>(r: Result<T, ChatError>) -> &'static str {
    r.expect_err("refused").code()
}

/// The next frame a subscription receives, parsed.
async fn next_frame(sub: &mut Subscription) -> ServerFrame {
    loop {
        let event = tokio::time::timeout(Duration::from_secs(5), sub.recv())
            .await
            .expect("in time")
            .expect("an event");
        if let EventKind::Frame(frame) = event.kind() {
            return serde_json::from_slice(&frame.json).expect("json");
        }
    }
}

#[tokio::test]
async fn a_block_stops_direct_messages_both_ways_and_lifts_cleanly() {
    let w = world().await;
    let (c, m) = (w.engine.conversations(), w.engine.moderation());
    w.send(w.bob, ConversationRef::Direct(w.alice), "hi alice")
        .await
        .expect("before the block");
    m.block(w.alice, w.bob).await.expect("block");
    m.block(w.alice, w.bob)
        .await
        .expect("blocking twice is fine");

    // The blocked user learns only that the recipient is unavailable.
    assert_eq!(
        code(
            w.send(w.bob, ConversationRef::Direct(w.alice), "hello?")
                .await
        ),
        "RECIPIENT_UNAVAILABLE"
    );
    // The blocker is told it is their own block.
    assert_eq!(
        code(w.send(w.alice, ConversationRef::Direct(w.bob), "hey").await),
        "USER_BLOCKED"
    );
    // Also by conversation id, and when opening the conversation by name.
    c.open_direct(w.carol, "alice")
        .await
        .expect("carol is not blocked");
    let existing = c
        .conversations(w.bob, Some(chat_core::model::ConversationKind::Direct))
        .await
        .expect("list")[0]
        .membership
        .conversation
        .id;
    assert_eq!(
        code(w.send(w.bob, ConversationRef::Id(existing), "by id").await),
        "RECIPIENT_UNAVAILABLE"
    );
    assert_eq!(
        code(c.open_direct(w.bob, "alice").await),
        "RECIPIENT_UNAVAILABLE"
    );
    assert_eq!(code(c.open_direct(w.alice, "bob").await), "USER_BLOCKED");
    // Groups they share are untouched.
    w.send(w.bob, ConversationRef::Group(w.group), "in the group")
        .await
        .expect("group send");

    let blocked = m.blocked_users(w.alice).await.expect("list");
    assert_eq!(blocked.len(), 1);
    assert_eq!(blocked[0].user.id, w.bob);
    assert!(m.blocked_users(w.bob).await.expect("list").is_empty());

    m.unblock(w.alice, w.bob).await.expect("unblock");
    m.unblock(w.alice, w.bob)
        .await
        .expect("unblocking twice is fine");
    w.send(w.bob, ConversationRef::Direct(w.alice), "friends again")
        .await
        .expect("after the unblock");

    let err = m.block(w.alice, w.alice).await.expect_err("self");
    assert_eq!(
        (err.code(), err.field()),
        ("CANNOT_BLOCK_SELF", Some("user_id"))
    );
    assert_eq!(
        code(m.block(w.alice, UserId::new()).await),
        "USER_NOT_FOUND"
    );
}

#[tokio::test]
async fn a_blocker_stops_seeing_the_blocked_users_typing_and_presence() {
    let w = world().await;
    let d = w.engine.delivery();
    w.send(w.bob, ConversationRef::Direct(w.alice), "hi")
        .await
        .expect("direct conversation");
    w.engine
        .moderation()
        .block(w.alice, w.bob)
        .await
        .expect("block");

    let (alice_conn, _) = d.connect(w.alice, SessionId::new()).await.expect("connect");
    let mut alice_events = alice_conn.subscription;
    let (carol_conn, _) = d.connect(w.carol, SessionId::new()).await.expect("connect");
    let (bob_conn, _) = d.connect(w.bob, SessionId::new()).await.expect("connect");

    // Bob types in the group, then Carol does: Alice's first typing frame
    // is Carol's, so Bob's never reached her.
    d.typing(&bob_conn, TypingTarget::Conversation(w.group), true)
        .await
        .expect("bob types");
    d.typing(&carol_conn, TypingTarget::Conversation(w.group), true)
        .await
        .expect("carol types");
    loop {
        match next_frame(&mut alice_events).await {
            ServerFrame::Typing(t) => {
                assert_eq!(t.user_id, w.carol, "bob's typing is hidden from alice");
                break;
            }
            ServerFrame::Presence(p) => {
                assert_ne!(p.user_id, w.bob, "bob's presence is hidden from alice")
            }
            _ => {}
        }
    }
    let seen_by_alice = d
        .statuses(w.alice, &[w.bob, w.carol])
        .await
        .expect("statuses");
    assert_eq!(
        seen_by_alice.iter().map(|s| s.online).collect::<Vec<_>>(),
        vec![false, true]
    );
    assert_eq!(seen_by_alice[0].last_seen, None);
    let seen_by_carol = d.statuses(w.carol, &[w.bob]).await.expect("statuses");
    assert!(seen_by_carol[0].online, "only the blocker is affected");
    // The blocked user still sees the blocker (the block is not revealed).
    assert!(d.statuses(w.bob, &[w.alice]).await.expect("statuses")[0].online);
}

#[tokio::test]
async fn only_owners_and_admins_post_where_the_policy_says_so() {
    let w = world().await;
    let c = w.engine.conversations();
    let m = w
        .send(w.bob, ConversationRef::Group(w.group), "before")
        .await
        .expect("everyone posts at first");
    assert_eq!(
        code(c.set_posting(w.bob, w.group, PostingPolicy::Admins).await),
        "PERMISSION_DENIED"
    );
    let info = c
        .set_posting(w.alice, w.group, PostingPolicy::Admins)
        .await
        .expect("owner sets it");
    assert_eq!(info.conversation.posting, PostingPolicy::Admins);
    assert_eq!(
        code(
            w.send(w.bob, ConversationRef::Group(w.group), "after")
                .await
        ),
        "POSTING_RESTRICTED"
    );
    w.send(w.alice, ConversationRef::Group(w.group), "announcement")
        .await
        .expect("the owner posts");
    c.react(w.bob, w.group, m, Emoji::parse("👍").expect("emoji"), true)
        .await
        .expect("members still react");
    c.set_role(w.alice, w.group, w.bob, chat_core::model::MemberRole::Admin)
        .await
        .expect("promote");
    w.send(w.bob, ConversationRef::Group(w.group), "as admin")
        .await
        .expect("an admin posts");
    assert_eq!(
        code(w.send(w.carol, ConversationRef::Id(w.group), "by id").await),
        "POSTING_RESTRICTED"
    );
    c.set_posting(w.bob, w.group, PostingPolicy::Everyone)
        .await
        .expect("an admin opens it again");
    w.send(w.carol, ConversationRef::Group(w.group), "free again")
        .await
        .expect("everyone posts");
    let direct = c.open_direct(w.alice, "bob").await.expect("direct").0;
    assert_eq!(
        code(
            c.set_posting(
                w.alice,
                direct.membership.conversation.id,
                PostingPolicy::Admins
            )
            .await
        ),
        "CONVERSATION_NOT_FOUND"
    );
}

#[tokio::test]
async fn a_muted_conversation_keeps_counting_unread_messages() {
    let w = world().await;
    let c = w.engine.conversations();
    let overview = c.set_muted(w.bob, w.group, true).await.expect("mute");
    assert!(overview.membership.member.muted);
    w.send(w.alice, ConversationRef::Group(w.group), "still counted")
        .await
        .expect("send");
    let listed = c.conversation(w.bob, w.group).await.expect("overview");
    assert!(listed.membership.member.muted);
    assert_eq!(listed.membership.unread_count(), 1);
    assert!(
        !c.conversation(w.alice, w.group)
            .await
            .expect("overview")
            .membership
            .member
            .muted,
        "muting is the member's own"
    );
    assert!(
        !c.set_muted(w.bob, w.group, false)
            .await
            .expect("unmute")
            .membership
            .member
            .muted
    );
    assert_eq!(
        code(c.set_muted(w.root, w.group, true).await),
        "CONVERSATION_NOT_FOUND"
    );
}

#[tokio::test]
async fn reports_reach_the_operators_and_only_them() {
    let w = world().await;
    let (m, admin) = (w.engine.moderation(), w.engine.admin());
    let rude = w
        .send(w.bob, ConversationRef::Group(w.group), "rude words")
        .await
        .expect("send");
    let reason = |r: &str| ReportReason::parse(r).expect("reason");
    let (report, created) = m
        .report(w.alice, w.group, rude, reason("insults"))
        .await
        .expect("report");
    assert!(created);
    assert_eq!(
        (report.sender_id, report.content.as_str()),
        (w.bob, "rude words")
    );
    let (again, created) = m
        .report(w.alice, w.group, rude, reason("twice"))
        .await
        .expect("again");
    assert!(!created);
    assert_eq!(again.id, report.id);
    assert_eq!(
        code(m.report(w.root, w.group, rude, reason("")).await),
        "CONVERSATION_NOT_FOUND",
        "only members report"
    );
    assert_eq!(
        code(
            m.report(w.alice, w.group, MessageId::new(), reason(""))
                .await
        ),
        "MESSAGE_NOT_FOUND"
    );

    assert_eq!(
        code(admin.reports(w.alice, None, None, None).await),
        "PERMISSION_DENIED"
    );
    assert!(!admin.is_admin(w.alice).await.expect("is admin"));
    assert!(
        admin.is_admin(w.root).await.expect("is admin"),
        "names are case-insensitive"
    );
    let open = admin
        .reports(w.root, Some(ReportStatus::Open), None, None)
        .await
        .expect("reports");
    assert_eq!(open.len(), 1);
    let resolved = admin
        .resolve_report(w.root, report.id)
        .await
        .expect("resolve");
    assert_eq!(
        (resolved.status, resolved.resolved_by),
        (ReportStatus::Resolved, Some(w.root))
    );
    assert!(
        admin
            .reports(w.root, Some(ReportStatus::Open), None, None)
            .await
            .expect("reports")
            .is_empty()
    );
    assert_eq!(
        code(
            admin
                .resolve_report(w.root, chat_core::ids::ReportId::new())
                .await
        ),
        "REPORT_NOT_FOUND"
    );
    assert_eq!(
        code(admin.reports(w.root, None, Some(0), None).await),
        "INVALID_PAGINATION"
    );

    // The operator deletes the message; members see who did.
    let d = w.engine.delivery();
    let (conn, _) = d.connect(w.carol, SessionId::new()).await.expect("connect");
    let mut carol_events = conn.subscription;
    let deleted = admin
        .delete_message(w.root, w.group, rude)
        .await
        .expect("operator deletes");
    assert!(deleted.message.message.deleted_at.is_some());
    loop {
        if let ServerFrame::MessageChanged(change) = next_frame(&mut carol_events).await {
            assert_eq!(
                (change.change, change.actor_id),
                (ChangeKind::Deleted, w.root)
            );
            break;
        }
    }
    assert_eq!(
        code(admin.delete_message(w.root, w.group, rude).await),
        "MESSAGE_DELETED"
    );
    assert_eq!(
        code(admin.delete_message(w.alice, w.group, rude).await),
        "PERMISSION_DENIED"
    );
    let kept = admin
        .reports(w.root, None, None, None)
        .await
        .expect("reports");
    assert_eq!(
        kept[0].content, "rude words",
        "the report keeps the evidence"
    );
}

#[tokio::test]
async fn operators_list_deactivate_and_sign_out_accounts() {
    let w = world().await;
    let (admin, auth) = (w.engine.admin(), w.engine.auth());
    let users = admin
        .list_users(w.root, None, false, None, None)
        .await
        .expect("list");
    let names: Vec<&str> = users.iter().map(|u| u.username.as_str()).collect();
    assert_eq!(names, vec!["alice", "bob", "carol", "root"]);
    assert_eq!(
        code(admin.list_users(w.bob, None, false, None, None).await),
        "PERMISSION_DENIED"
    );

    let tokens = auth.issue_tokens(w.bob, None).await.expect("tokens");
    let user = admin
        .set_active(w.root, w.bob, false)
        .await
        .expect("deactivate");
    assert!(!user.is_active);
    assert_eq!(
        code(auth.authenticate(&tokens.access_token)),
        "SESSION_REVOKED"
    );
    let active = admin
        .list_users(w.root, Some("B"), false, None, None)
        .await
        .expect("list");
    assert!(active.is_empty(), "bob is inactive");
    let all = admin
        .list_users(w.root, Some("B"), true, None, None)
        .await
        .expect("list");
    assert_eq!(all.len(), 1);
    assert!(
        admin
            .set_active(w.root, w.bob, true)
            .await
            .expect("reactivate")
            .is_active
    );
    assert_eq!(
        code(admin.set_active(w.root, w.root, false).await),
        "PERMISSION_DENIED"
    );
    assert_eq!(
        code(admin.set_active(w.root, UserId::new(), false).await),
        "USER_NOT_FOUND"
    );

    let tokens = auth.issue_tokens(w.carol, None).await.expect("tokens");
    admin
        .revoke_sessions(w.root, w.carol)
        .await
        .expect("revoke");
    assert_eq!(
        code(auth.authenticate(&tokens.access_token)),
        "SESSION_REVOKED"
    );
    auth.issue_tokens(w.carol, None)
        .await
        .expect("carol logs in again");
    assert_eq!(
        code(admin.revoke_sessions(w.root, UserId::new()).await),
        "USER_NOT_FOUND"
    );
}
