//! Conformance cases for [`ConversationStore`](crate::store::ConversationStore).

use std::sync::Arc;

use super::fixtures::{
    at, create_direct, create_group, create_user, membership, send, send_at, t0,
};
use crate::error::ChatError;
use crate::ids::{ConversationId, UserId};
use crate::model::{ConversationKind, MemberRole, NewDirectConversation, NewMember};
use crate::store::Store;

fn member(user_id: UserId) -> NewMember {
    NewMember {
        user_id,
        role: MemberRole::Member,
    }
}

/// A pair has one direct conversation, whichever side opens it.
pub async fn conversations_direct_is_created_once_per_pair(store: Arc<dyn Store>) {
    let a = create_user(&*store, "alice").await.id;
    let b = create_user(&*store, "bob").await.id;
    let first = NewDirectConversation {
        id: ConversationId::new(),
        user_a: a,
        user_b: b,
        created_at: t0(),
    };
    let (id, created) = store.create_direct(first).await.expect("create");
    assert!(created);
    let again = NewDirectConversation {
        id: ConversationId::new(),
        user_a: b,
        user_b: a,
        created_at: at(5),
    };
    assert_eq!(
        store.create_direct(again).await.expect("again"),
        (id, false)
    );
    assert_eq!(store.direct_between(a, b).await.expect("ok"), Some(id));
    assert_eq!(store.direct_between(b, a).await.expect("ok"), Some(id));

    let m = membership(&*store, id, a).await;
    assert_eq!(m.conversation.kind, ConversationKind::Direct);
    assert_eq!(m.conversation.name, None);
    assert_eq!(m.conversation.creator_id, None);
    assert_eq!(m.conversation.created_at, t0());
    assert_eq!(m.conversation.last_seq, 0);
    assert_eq!(m.conversation.last_activity_at, t0());
    assert_eq!(m.member.role, MemberRole::Member);
    assert_eq!((m.member.read_seq, m.member.delivered_seq), (0, 0));
    assert_eq!((m.member.read_at, m.member.delivered_at), (None, None));
    assert_eq!(m.unread_count(), 0);
    let members = store.members(id).await.expect("members");
    assert_eq!(members.len(), 2);

    let c = create_user(&*store, "carol").await.id;
    assert_eq!(store.direct_between(a, c).await.expect("ok"), None);
}

/// Concurrent openers of one pair all get the same conversation, and
/// exactly one of them created it.
pub async fn conversations_concurrent_direct_creation_has_one_winner(store: Arc<dyn Store>) {
    let a = create_user(&*store, "alice").await.id;
    let b = create_user(&*store, "bob").await.id;
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            let (x, y) = if i % 2 == 0 { (a, b) } else { (b, a) };
            tokio::spawn(async move {
                store
                    .create_direct(NewDirectConversation {
                        id: ConversationId::new(),
                        user_a: x,
                        user_b: y,
                        created_at: t0(),
                    })
                    .await
                    .expect("create")
            })
        })
        .collect();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.expect("task"));
    }
    let id = results[0].0;
    assert!(results.iter().all(|(i, _)| *i == id));
    assert_eq!(results.iter().filter(|(_, created)| *created).count(), 1);
    assert_eq!(store.members(id).await.expect("members").len(), 2);
}

/// A group is stored with its name, creator and first members.
pub async fn conversations_group_is_created_with_its_members(store: Arc<dyn Store>) {
    let owner = create_user(&*store, "owner").await.id;
    let m1 = create_user(&*store, "member1").await.id;
    let m2 = create_user(&*store, "member2").await.id;
    let g = create_group(&*store, "Lunch", owner, &[m1, m2]).await;

    let me = membership(&*store, g, owner).await;
    assert_eq!(me.conversation.kind, ConversationKind::Group);
    assert_eq!(me.conversation.name.as_deref(), Some("Lunch"));
    assert_eq!(me.conversation.creator_id, Some(owner));
    assert_eq!(me.member.role, MemberRole::Owner);
    assert_eq!(me.member.joined_at, t0());
    assert_eq!(
        membership(&*store, g, m1).await.member.role,
        MemberRole::Member
    );

    let members = store.members(g).await.expect("members");
    let mut ids: Vec<UserId> = members.iter().map(|e| e.member.user_id).collect();
    ids.sort();
    let mut expected = vec![owner, m1, m2];
    expected.sort();
    assert_eq!(
        ids, expected,
        "members are ordered by joined_at, then user id"
    );
    let owner_entry = members
        .iter()
        .find(|e| e.member.user_id == owner)
        .expect("owner listed");
    assert_eq!(owner_entry.profile.username, "owner");
    assert_eq!(owner_entry.profile.id, owner);
}

/// Non-members and unknown conversations have no membership.
pub async fn conversations_non_members_have_no_membership(store: Arc<dyn Store>) {
    let a = create_user(&*store, "alice").await.id;
    let b = create_user(&*store, "bob").await.id;
    let stranger = create_user(&*store, "stranger").await.id;
    let d = create_direct(&*store, a, b).await;
    let g = create_group(&*store, "Team", a, &[b]).await;
    for conv in [d, g] {
        assert!(
            store
                .membership(conv, stranger)
                .await
                .expect("ok")
                .is_none()
        );
        assert!(store.overview(conv, stranger).await.expect("ok").is_none());
    }
    assert!(
        store
            .membership(ConversationId::new(), a)
            .await
            .expect("ok")
            .is_none()
    );
    assert!(
        store
            .members(ConversationId::new())
            .await
            .expect("ok")
            .is_empty()
    );
}

/// New members join at the current seq: earlier messages are not unread
/// for them. Existing members and repeats are skipped.
pub async fn conversations_added_members_start_at_the_current_seq(store: Arc<dyn Store>) {
    let owner = create_user(&*store, "owner").await.id;
    let old = create_user(&*store, "oldtimer").await.id;
    let new = create_user(&*store, "newcomer").await.id;
    let g = create_group(&*store, "Team", owner, &[old]).await;
    for i in 0..3 {
        send(&*store, g, owner, &format!("m{i}")).await;
    }
    let added = store
        .add_members(g, vec![member(new), member(old), member(new)], at(60), 10)
        .await
        .expect("add");
    assert_eq!(added, vec![new]);

    let m = membership(&*store, g, new).await;
    assert_eq!(m.member.role, MemberRole::Member);
    assert_eq!(m.member.joined_at, at(60));
    assert_eq!(m.member.joined_seq, 3);
    assert_eq!((m.member.read_seq, m.member.delivered_seq), (3, 3));
    assert_eq!(m.unread_count(), 0);
    assert_eq!(membership(&*store, g, old).await.unread_count(), 3);
    assert_eq!(membership(&*store, g, old).await.member.joined_at, t0());
    assert_eq!(store.members(g).await.expect("members").len(), 3);

    let none = store.add_members(g, vec![member(old)], at(61), 10).await;
    assert_eq!(none.expect("add"), Vec::<UserId>::new());
    let missing = store
        .add_members(ConversationId::new(), vec![member(new)], at(61), 10)
        .await;
    assert!(matches!(missing, Err(ChatError::ConversationNotFound)));
}

/// The member limit holds, and a refused addition adds no one.
pub async fn conversations_member_limit_refuses_the_whole_addition(store: Arc<dyn Store>) {
    let owner = create_user(&*store, "owner").await.id;
    let a = create_user(&*store, "usera").await.id;
    let b = create_user(&*store, "userb").await.id;
    let c = create_user(&*store, "userc").await.id;
    let g = create_group(&*store, "Small", owner, &[a]).await;
    let refused = store
        .add_members(g, vec![member(b), member(c)], at(1), 3)
        .await;
    assert!(matches!(refused, Err(ChatError::GroupFull { max: 3 })));
    assert_eq!(store.members(g).await.expect("members").len(), 2);
    assert!(store.membership(g, b).await.expect("ok").is_none());

    let added = store
        .add_members(g, vec![member(b), member(a)], at(2), 3)
        .await
        .expect("fits");
    assert_eq!(added, vec![b]);
    let full = store.add_members(g, vec![member(c)], at(3), 3).await;
    assert!(matches!(full, Err(ChatError::GroupFull { .. })));
    // With the limit lowered below the current size, re-adding members
    // adds no one and is not an error.
    let nobody = store
        .add_members(g, vec![member(a), member(b)], at(4), 2)
        .await
        .expect("nothing to add");
    assert!(nobody.is_empty());
}

/// When the owner leaves, the longest-standing admin becomes owner; with
/// no admin, the longest-standing member.
pub async fn conversations_owner_leaving_passes_ownership_on(store: Arc<dyn Store>) {
    let owner = create_user(&*store, "owner").await.id;
    let veteran = create_user(&*store, "veteran").await.id;
    let admin_late = create_user(&*store, "adminlate").await.id;
    let admin_early = create_user(&*store, "adminearly").await.id;
    let g = create_group(&*store, "Club", owner, &[veteran]).await;
    store
        .add_members(g, vec![member(admin_early)], at(10), 10)
        .await
        .expect("add");
    store
        .add_members(g, vec![member(admin_late)], at(20), 10)
        .await
        .expect("add");
    for admin in [admin_late, admin_early] {
        assert!(
            store
                .set_member_role(g, admin, MemberRole::Admin)
                .await
                .expect("set role")
        );
    }

    let removal = store
        .remove_member(g, owner)
        .await
        .expect("remove")
        .expect("was a member");
    assert_eq!(removal.role, MemberRole::Owner);
    assert_eq!(removal.new_owner, Some(admin_early));
    assert_eq!(
        membership(&*store, g, admin_early).await.member.role,
        MemberRole::Owner
    );
    assert!(store.membership(g, owner).await.expect("ok").is_none());

    store
        .set_member_role(g, admin_late, MemberRole::Member)
        .await
        .expect("demote");
    let removal = store
        .remove_member(g, admin_early)
        .await
        .expect("remove")
        .expect("was a member");
    assert_eq!(
        removal.new_owner,
        Some(veteran),
        "oldest member, no admin left"
    );

    let removal = store
        .remove_member(g, admin_late)
        .await
        .expect("remove")
        .expect("was a member");
    assert_eq!(
        (removal.role, removal.new_owner),
        (MemberRole::Member, None)
    );
    let last = store
        .remove_member(g, veteran)
        .await
        .expect("remove")
        .expect("was a member");
    assert_eq!((last.role, last.new_owner), (MemberRole::Owner, None));
    assert!(store.members(g).await.expect("members").is_empty());
}

/// Removing or re-roling a non-member changes nothing.
pub async fn conversations_non_members_cannot_be_removed_or_re_roled(store: Arc<dyn Store>) {
    let owner = create_user(&*store, "owner").await.id;
    let stranger = create_user(&*store, "stranger").await.id;
    let g = create_group(&*store, "Team", owner, &[]).await;
    assert_eq!(store.remove_member(g, stranger).await.expect("ok"), None);
    assert!(
        !store
            .set_member_role(g, stranger, MemberRole::Admin)
            .await
            .expect("ok")
    );
    assert_eq!(
        store
            .remove_member(ConversationId::new(), owner)
            .await
            .expect("ok"),
        None
    );
    assert_eq!(store.members(g).await.expect("members").len(), 1);
}

/// A member who leaves and rejoins starts again at the current seq.
pub async fn conversations_rejoining_starts_fresh_cursors(store: Arc<dyn Store>) {
    let owner = create_user(&*store, "owner").await.id;
    let m = create_user(&*store, "wanderer").await.id;
    let g = create_group(&*store, "Team", owner, &[m]).await;
    send(&*store, g, m, "hello").await;
    store.remove_member(g, m).await.expect("leave");
    send(&*store, g, owner, "while away").await;
    send(&*store, g, owner, "still away").await;
    assert!(store.membership(g, m).await.expect("ok").is_none());
    store
        .add_members(g, vec![member(m)], at(30), 10)
        .await
        .expect("rejoin");
    let again = membership(&*store, g, m).await;
    assert_eq!(again.member.joined_at, at(30));
    assert_eq!(again.member.joined_seq, 3);
    assert_eq!(again.member.own_unread, 0);
    assert_eq!(again.unread_count(), 0);
    send(&*store, g, owner, "welcome back").await;
    assert_eq!(membership(&*store, g, m).await.unread_count(), 1);
}

/// The conversation list: most recent activity first, each with its last
/// message, unread count and, for direct conversations, the peer.
pub async fn conversations_overviews_list_by_recent_activity(store: Arc<dyn Store>) {
    let me = create_user(&*store, "myself").await.id;
    let bob = create_user(&*store, "bob").await.id;
    let carol = create_user(&*store, "carol").await.id;
    let with_bob = create_direct(&*store, me, bob).await;
    let with_carol = create_direct(&*store, me, carol).await;
    let team = create_group(&*store, "Team", carol, &[me, bob]).await;
    let quiet = create_group(&*store, "Quiet", me, &[]).await;

    send_at(&*store, with_bob, bob, "hi me", at(10)).await;
    send_at(&*store, team, carol, "standup?", at(20)).await;
    send_at(&*store, team, bob, "yes", at(21)).await;
    let last_to_bob = send_at(&*store, with_bob, me, "hi bob", at(30)).await;
    // Inserted last but sent earliest: activity is the send time.
    send_at(&*store, quiet, me, "note", at(5)).await;

    let list = store.overviews(me, None).await.expect("list");
    let order: Vec<ConversationId> = list.iter().map(|o| o.membership.conversation.id).collect();
    assert_eq!(order[..3], [with_bob, team, quiet]);
    assert_eq!(
        order[3], with_carol,
        "no messages: created_at is its activity"
    );
    assert_eq!(list.len(), 4);

    let bob_entry = &list[0];
    assert_eq!(bob_entry.last_message.as_ref(), Some(&last_to_bob));
    assert_eq!(bob_entry.membership.conversation.last_activity_at, at(30));
    let peer = bob_entry.peer.as_ref().expect("direct has a peer");
    assert_eq!(peer.member.user_id, bob);
    assert_eq!(peer.profile.username, "bob");
    assert_eq!(bob_entry.membership.unread_count(), 1, "bob's message only");

    let team_entry = &list[1];
    assert!(team_entry.peer.is_none());
    assert_eq!(team_entry.membership.unread_count(), 2);
    assert_eq!(
        team_entry.last_message.as_ref().map(|m| m.content.as_str()),
        Some("yes")
    );
    assert_eq!(list[3].last_message, None);
    assert_eq!(list[3].membership.unread_count(), 0);

    let groups = store
        .overviews(me, Some(ConversationKind::Group))
        .await
        .expect("groups");
    let group_ids: Vec<ConversationId> = groups
        .iter()
        .map(|o| o.membership.conversation.id)
        .collect();
    assert_eq!(group_ids, vec![team, quiet]);
    let directs = store
        .overviews(me, Some(ConversationKind::Direct))
        .await
        .expect("directs");
    assert_eq!(directs.len(), 2);

    let single = store.overview(team, me).await.expect("ok").expect("member");
    assert_eq!(&single, team_entry);
    assert!(
        store
            .overviews(UserId::new(), None)
            .await
            .expect("ok")
            .is_empty()
    );
}
