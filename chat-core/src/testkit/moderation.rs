//! Conformance cases for blocks, reports, muting, posting policies, the
//! admin user list and changes made by operators.

use std::sync::Arc;

use super::fixtures::{at, create_direct, create_group, create_user, membership, send};
use crate::domain::ReportReason;
use crate::ids::{ReportId, UserId};
use crate::model::{
    ChangeAction, ChangeKind, ChangeOutcome, NewChange, NewReport, PostingPolicy, Report,
    ReportOutcome, ReportStatus, UserListQuery,
};
use crate::store::Store;

fn report(
    conversation: crate::ids::ConversationId,
    message: crate::ids::MessageId,
    reporter: UserId,
    reason: &str,
    secs: u64,
) -> NewReport {
    NewReport {
        id: ReportId::new(),
        conversation_id: conversation,
        message_id: message,
        reporter_id: reporter,
        reason: ReportReason::parse(reason).expect("valid reason"),
        created_at: at(secs),
    }
}

fn created(outcome: ReportOutcome) -> Report {
    match outcome {
        ReportOutcome::Created(r) => r,
        other => panic!("report not created: {other:?}"),
    }
}

fn query(prefix: Option<&str>, include_inactive: bool, limit: u32, offset: u32) -> UserListQuery {
    UserListQuery {
        prefix_key: prefix.map(str::to_owned),
        include_inactive,
        limit,
        offset,
    }
}

fn names(users: &[crate::model::User]) -> Vec<&str> {
    users.iter().map(|u| u.username.as_str()).collect()
}

/// A block is one-way and placed once; lifting it is idempotent; the
/// blocker's list shows the newest first, deactivated accounts included.
pub async fn moderation_blocks_are_one_way_and_listed(store: Arc<dyn Store>) {
    let s = &*store;
    let ann = create_user(s, "ann").await.id;
    let bob = create_user(s, "bob").await.id;
    let cat = create_user(s, "cat").await.id;

    assert!(s.block(ann, bob, at(1)).await.expect("block"));
    assert!(!s.block(ann, bob, at(5)).await.expect("block again"));
    assert!(s.block(ann, cat, at(2)).await.expect("block"));
    assert!(s.block(cat, bob, at(3)).await.expect("block"));
    s.set_active(cat, false).await.expect("deactivate");

    let list = s.blocked_users(ann).await.expect("list");
    let listed: Vec<(UserId, _)> = list.iter().map(|b| (b.user.id, b.blocked_at)).collect();
    assert_eq!(
        listed,
        vec![(cat, at(2)), (bob, at(1))],
        "newest first, first time kept"
    );
    assert_eq!(list[1].user.username, "bob");
    assert!(
        s.blocked_users(bob).await.expect("list").is_empty(),
        "one-way"
    );

    let mut blockers = s.blockers_of(bob).await.expect("blockers");
    blockers.sort();
    let mut expected = vec![ann, cat];
    expected.sort();
    assert_eq!(blockers, expected);
    assert!(s.blockers_of(ann).await.expect("blockers").is_empty());

    assert!(s.unblock(ann, bob).await.expect("unblock"));
    assert!(!s.unblock(ann, bob).await.expect("unblock again"));
    assert_eq!(s.blockers_of(bob).await.expect("blockers"), vec![cat]);
}

/// A report copies the message's sender and content, survives the
/// message's deletion, is made once per reporter and message, and is
/// resolved once.
pub async fn moderation_reports_keep_the_evidence(store: Arc<dyn Store>) {
    let s = &*store;
    let ann = create_user(s, "ann").await.id;
    let bob = create_user(s, "bob").await.id;
    let cat = create_user(s, "cat").await.id;
    let group = create_group(s, "Room", ann, &[bob, cat]).await;
    let other = create_direct(s, ann, bob).await;
    let rude = send(s, group, bob, "something rude").await;

    let first = created(
        s.create_report(report(group, rude.id, ann, "insulting", 10))
            .await
            .expect("report"),
    );
    assert_eq!(
        (first.sender_id, first.content.as_str(), first.reporter_id),
        (bob, "something rude", ann)
    );
    assert_eq!(
        (first.reason.as_str(), first.status),
        ("insulting", ReportStatus::Open)
    );
    assert_eq!((first.resolved_at, first.resolved_by), (None, None));

    match s
        .create_report(report(group, rude.id, ann, "again", 11))
        .await
        .expect("report again")
    {
        ReportOutcome::Existing(r) => assert_eq!(r, first, "the first report, unchanged"),
        other => panic!("expected the existing report, got {other:?}"),
    }
    assert_eq!(
        s.create_report(report(other, rude.id, ann, "", 12))
            .await
            .expect("wrong conversation"),
        ReportOutcome::MessageNotFound,
        "a message is reported in its own conversation"
    );

    let deleted = s
        .apply_change(NewChange {
            conversation_id: group,
            message_id: rude.id,
            actor_id: bob,
            by_operator: false,
            action: ChangeAction::Delete,
            at: at(20),
        })
        .await
        .expect("delete");
    assert!(matches!(deleted, ChangeOutcome::Applied { .. }));
    let second = created(
        s.create_report(report(group, rude.id, cat, "", 30))
            .await
            .expect("report of a tombstone"),
    );
    assert_eq!(second.content, "", "a tombstone has no content to copy");

    let all = s.reports(None, 10, 0).await.expect("reports");
    assert_eq!(all, vec![second.clone(), first.clone()], "newest first");
    assert_eq!(
        s.reports(None, 1, 1).await.expect("page"),
        vec![first.clone()]
    );
    assert_eq!(
        first.content, all[1].content,
        "the copy outlives the deletion"
    );

    let resolved = s
        .resolve_report(first.id, cat, at(40))
        .await
        .expect("resolve")
        .expect("exists");
    assert_eq!(
        (resolved.status, resolved.resolved_at, resolved.resolved_by),
        (ReportStatus::Resolved, Some(at(40)), Some(cat))
    );
    let again = s
        .resolve_report(first.id, ann, at(50))
        .await
        .expect("resolve again")
        .expect("exists");
    assert_eq!(again, resolved, "the first resolution stays");
    assert_eq!(
        s.resolve_report(ReportId::new(), ann, at(50))
            .await
            .expect("unknown"),
        None
    );
    assert_eq!(
        s.reports(Some(ReportStatus::Open), 10, 0)
            .await
            .expect("open"),
        vec![second]
    );
    assert_eq!(
        s.reports(Some(ReportStatus::Resolved), 10, 0)
            .await
            .expect("resolved"),
        vec![resolved]
    );
}

/// Muting is per member and shows in memberships and overviews; a
/// group's posting policy shows in every member's membership.
pub async fn moderation_mute_and_posting_policy_are_stored(store: Arc<dyn Store>) {
    let s = &*store;
    let ann = create_user(s, "ann").await.id;
    let bob = create_user(s, "bob").await.id;
    let group = create_group(s, "Room", ann, &[bob]).await;
    let direct = create_direct(s, ann, bob).await;

    assert!(
        !membership(s, group, bob).await.member.muted,
        "unmuted at first"
    );
    assert!(s.set_muted(group, bob, true).await.expect("mute"));
    assert!(membership(s, group, bob).await.member.muted);
    assert!(!membership(s, group, ann).await.member.muted, "per member");
    let overview = s
        .overview(group, bob)
        .await
        .expect("overview")
        .expect("member");
    assert!(overview.membership.member.muted);
    let listed = s.overviews(bob, None).await.expect("overviews");
    let muted: Vec<bool> = listed.iter().map(|o| o.membership.member.muted).collect();
    assert_eq!(listed.len(), 2);
    assert_eq!(
        muted.iter().filter(|m| **m).count(),
        1,
        "only the group is muted"
    );
    assert!(s.set_muted(group, bob, false).await.expect("unmute"));
    assert!(!membership(s, group, bob).await.member.muted);
    let stranger = create_user(s, "cat").await.id;
    assert!(
        !s.set_muted(group, stranger, true)
            .await
            .expect("not a member")
    );

    assert_eq!(
        membership(s, group, bob).await.conversation.posting,
        PostingPolicy::Everyone
    );
    assert!(
        s.set_posting(group, PostingPolicy::Admins)
            .await
            .expect("set")
    );
    assert_eq!(
        membership(s, group, bob).await.conversation.posting,
        PostingPolicy::Admins
    );
    let overview = s
        .overview(group, ann)
        .await
        .expect("overview")
        .expect("member");
    assert_eq!(
        overview.membership.conversation.posting,
        PostingPolicy::Admins
    );
    assert!(
        !s.set_posting(direct, PostingPolicy::Admins)
            .await
            .expect("direct")
    );
    assert_eq!(
        membership(s, direct, ann).await.conversation.posting,
        PostingPolicy::Everyone
    );
    assert!(
        !s.set_posting(crate::ids::ConversationId::new(), PostingPolicy::Admins)
            .await
            .expect("unknown")
    );
}

/// The admin list: ordered by username, prefixes of username, display
/// name or email, inactive accounts only when asked, paged.
pub async fn moderation_admin_user_list(store: Arc<dyn Store>) {
    let s = &*store;
    for name in ["dora", "Alan", "bea", "alba"] {
        create_user(s, name).await;
    }
    let named = s
        .create_user(super::fixtures::new_user_named("zed", "Albert Z"))
        .await
        .expect("create");
    let bea = s
        .list_users(query(Some("bea"), false, 10, 0))
        .await
        .expect("list")
        .remove(0);
    s.set_active(bea.id, false).await.expect("deactivate");

    let active = s.list_users(query(None, false, 10, 0)).await.expect("list");
    assert_eq!(names(&active), vec!["Alan", "alba", "dora", "zed"]);
    let all = s.list_users(query(None, true, 10, 0)).await.expect("list");
    assert_eq!(names(&all), vec!["Alan", "alba", "bea", "dora", "zed"]);
    assert!(!all[2].is_active);
    assert_eq!(all[2].email, "bea@example.com", "operators see emails");

    let al = s
        .list_users(query(Some("al"), false, 10, 0))
        .await
        .expect("list");
    assert_eq!(
        names(&al),
        vec!["Alan", "alba", "zed"],
        "display name Albert matches"
    );
    assert_eq!(al[2].id, named.id);
    let by_email = s
        .list_users(query(Some("dora@"), false, 10, 0))
        .await
        .expect("list");
    assert_eq!(names(&by_email), vec!["dora"]);
    let page = s.list_users(query(None, true, 2, 2)).await.expect("page");
    assert_eq!(names(&page), vec!["bea", "dora"]);
    let wild = s
        .list_users(query(Some("%"), true, 10, 0))
        .await
        .expect("list");
    assert!(wild.is_empty(), "wildcards are literal");
}

/// An operator's change needs no membership and moves no cursor of
/// theirs; a non-member without it is still refused.
pub async fn moderation_operators_change_without_membership(store: Arc<dyn Store>) {
    let s = &*store;
    let ann = create_user(s, "ann").await.id;
    let bob = create_user(s, "bob").await.id;
    let op = create_user(s, "operator").await.id;
    let group = create_group(s, "Room", ann, &[bob]).await;
    let m = send(s, group, bob, "spam spam").await;
    let change = |by_operator| NewChange {
        conversation_id: group,
        message_id: m.id,
        actor_id: op,
        by_operator,
        action: ChangeAction::Delete,
        at: at(9),
    };
    assert_eq!(
        s.apply_change(change(false)).await.expect("refused"),
        ChangeOutcome::NotMember
    );
    match s.apply_change(change(true)).await.expect("operator") {
        ChangeOutcome::Applied { change, message } => {
            assert_eq!((change.change, change.actor_id), (ChangeKind::Deleted, op));
            assert!(message.is_deleted());
            assert_eq!(change.seq, 2);
        }
        other => panic!("operator change not applied: {other:?}"),
    }
    assert!(
        s.membership(group, op).await.expect("membership").is_none(),
        "the operator did not join"
    );
    let bob_row = membership(s, group, bob).await;
    assert_eq!(bob_row.conversation.last_seq, 2);
    assert_eq!(bob_row.unread_count(), 0, "a change is never unread");
}
