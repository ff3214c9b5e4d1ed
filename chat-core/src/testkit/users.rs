//! Conformance cases for [`UserStore`](crate::store::UserStore).

use std::sync::Arc;

use super::fixtures::{at, create_direct, create_user, new_user, new_user_named, t0};
use crate::domain::{DisplayName, Email};
use crate::error::ChatError;
use crate::ids::UserId;
use crate::model::{Credential, ProfileUpdate};
use crate::store::Store;

/// A created user reads back identically by id, username, email, and as credentials by id.
pub async fn users_create_and_fetch(store: Arc<dyn Store>) {
    let new = new_user_named("Alice", "Alice Liddell");
    let created = store.create_user(new.clone()).await.expect("create");
    assert_eq!(created.id, new.id);
    assert_eq!(created.username, "Alice");
    assert_eq!(created.email, "Alice@example.com");
    assert_eq!(created.display_name.as_deref(), Some("Alice Liddell"));
    assert_eq!(created.created_at, t0());
    assert_eq!(created.last_seen, None);
    assert!(created.is_active);

    let by_id = store.user_by_id(new.id).await.expect("by id");
    assert_eq!(by_id.as_ref(), Some(&created));
    let by_name = store
        .credentials_by_username("alice")
        .await
        .expect("by username")
        .expect("found");
    assert_eq!(by_name.user, created);
    assert_eq!(
        by_name.credential,
        Credential::Password("hash-of-Alice".into())
    );
    let by_email = store
        .credentials_by_email("alice@example.com")
        .await
        .expect("by email")
        .expect("found");
    assert_eq!(by_email.user, created);
    let by_id = store
        .credentials_by_id(new.id)
        .await
        .expect("creds by id")
        .expect("found");
    assert_eq!(
        by_id.credential,
        Credential::Password("hash-of-Alice".into())
    );
}

/// A bot account says so wherever a store shows a user: the account,
/// search, summaries, member lists, a direct conversation's peer and the
/// block list. A person does not.
pub async fn users_a_bot_says_so_everywhere(store: Arc<dyn Store>) {
    let bot = store
        .create_user(crate::model::NewUser {
            credential: Credential::External,
            is_bot: true,
            ..new_user("deploybot")
        })
        .await
        .expect("create bot");
    let person = create_user(&*store, "dora").await;
    assert!(bot.is_bot);
    assert!(!person.is_bot);
    let read = store
        .user_by_id(bot.id)
        .await
        .expect("read")
        .expect("found");
    assert!(read.is_bot);
    let creds = store
        .credentials_by_username("deploybot")
        .await
        .expect("creds")
        .expect("found");
    assert!(creds.user.is_bot);
    assert_eq!(creds.credential, Credential::External);

    let found = store.search_users("d", 10).await.expect("search");
    let flags: Vec<(&str, bool)> = found
        .iter()
        .map(|u| (u.username.as_str(), u.is_bot))
        .collect();
    assert_eq!(flags, [("deploybot", true), ("dora", false)]);
    let mut summaries = store
        .user_summaries(&[bot.id, person.id])
        .await
        .expect("summaries");
    summaries.sort_by(|a, b| a.username.cmp(&b.username));
    assert_eq!(
        summaries.iter().map(|u| u.is_bot).collect::<Vec<_>>(),
        [true, false]
    );

    let direct = create_direct(&*store, person.id, bot.id).await;
    let members = store.members(direct).await.expect("members");
    for entry in &members {
        assert_eq!(entry.profile.is_bot, entry.member.user_id == bot.id);
    }
    let overview = store
        .overview(direct, person.id)
        .await
        .expect("overview")
        .expect("a member");
    let peer = overview.peer.expect("a direct conversation has a peer");
    assert_eq!(peer.profile.id, bot.id);
    assert!(peer.profile.is_bot);

    assert!(store.block(person.id, bot.id, t0()).await.expect("block"));
    let blocked = store.blocked_users(person.id).await.expect("blocked");
    assert_eq!(blocked.len(), 1);
    assert!(blocked[0].user.is_bot);
}

/// Usernames are unique whatever their case.
pub async fn users_duplicate_username_is_refused_case_insensitively(store: Arc<dyn Store>) {
    create_user(&*store, "bob").await;
    let mut dup = new_user("BOB");
    dup.email = Email::parse("other@example.com").expect("email");
    let err = store.create_user(dup).await.expect_err("duplicate");
    assert!(matches!(err, ChatError::UsernameTaken), "{err:?}");
}

/// Emails are unique whatever their case.
pub async fn users_duplicate_email_is_refused_case_insensitively(store: Arc<dyn Store>) {
    create_user(&*store, "carol").await;
    let mut dup = new_user("carol2");
    dup.email = Email::parse("CAROL@Example.com").expect("email");
    let err = store.create_user(dup).await.expect_err("duplicate");
    assert!(matches!(err, ChatError::EmailTaken), "{err:?}");
}

/// Lookups of users that do not exist return `None`, not errors.
pub async fn users_unknown_lookups_return_nothing(store: Arc<dyn Store>) {
    assert!(store.user_by_id(UserId::new()).await.expect("ok").is_none());
    assert!(
        store
            .credentials_by_username("nobody")
            .await
            .expect("ok")
            .is_none()
    );
    assert!(
        store
            .credentials_by_email("nobody@example.com")
            .await
            .expect("ok")
            .is_none()
    );
    assert!(
        store
            .credentials_by_id(UserId::new())
            .await
            .expect("ok")
            .is_none()
    );
}

/// Profile updates change only what they name; a new email moves the
/// lookup key.
pub async fn users_update_profile(store: Arc<dyn Store>) {
    let user = create_user(&*store, "dave").await;
    let named = store
        .update_profile(
            user.id,
            ProfileUpdate {
                display_name: Some(Some(DisplayName::parse("Dave D").expect("name"))),
                email: None,
            },
        )
        .await
        .expect("update name");
    assert_eq!(named.display_name.as_deref(), Some("Dave D"));
    assert_eq!(named.email, "dave@example.com");

    let moved = store
        .update_profile(
            user.id,
            ProfileUpdate {
                display_name: Some(None),
                email: Some(Email::parse("Dave@New.example").expect("email")),
            },
        )
        .await
        .expect("update email");
    assert_eq!(moved.display_name, None);
    assert_eq!(moved.email, "Dave@New.example");
    assert!(
        store
            .credentials_by_email("dave@example.com")
            .await
            .expect("ok")
            .is_none()
    );
    let found = store
        .credentials_by_email("dave@new.example")
        .await
        .expect("ok")
        .expect("found by new email");
    assert_eq!(found.user.id, user.id);
    assert_eq!(store.user_by_id(user.id).await.expect("ok"), Some(moved));

    let err = store
        .update_profile(UserId::new(), ProfileUpdate::default())
        .await
        .expect_err("unknown user");
    assert!(matches!(err, ChatError::UserNotFound), "{err:?}");
}

/// Taking another user's email is refused and changes nothing.
pub async fn users_update_profile_refuses_a_taken_email(store: Arc<dyn Store>) {
    create_user(&*store, "erin").await;
    let frank = create_user(&*store, "frank").await;
    let err = store
        .update_profile(
            frank.id,
            ProfileUpdate {
                display_name: Some(Some(DisplayName::parse("Frank").expect("name"))),
                email: Some(Email::parse("ERIN@example.com").expect("email")),
            },
        )
        .await
        .expect_err("taken");
    assert!(matches!(err, ChatError::EmailTaken), "{err:?}");
    let unchanged = store
        .user_by_id(frank.id)
        .await
        .expect("ok")
        .expect("exists");
    assert_eq!(unchanged, frank);
    // Re-saving one's own email (in another case) is allowed.
    store
        .update_profile(
            frank.id,
            ProfileUpdate {
                display_name: None,
                email: Some(Email::parse("FRANK@example.com").expect("email")),
            },
        )
        .await
        .expect("own email");
}

/// A new password hash replaces the old one.
pub async fn users_set_password_hash(store: Arc<dyn Store>) {
    let user = create_user(&*store, "gina").await;
    store
        .set_password_hash(user.id, "new-hash".to_owned())
        .await
        .expect("set");
    let creds = store
        .credentials_by_id(user.id)
        .await
        .expect("ok")
        .expect("found");
    assert_eq!(creds.credential, Credential::Password("new-hash".into()));
    let err = store
        .set_password_hash(UserId::new(), "x".to_owned())
        .await
        .expect_err("unknown");
    assert!(matches!(err, ChatError::UserNotFound), "{err:?}");
}

/// A deactivated account is marked inactive and left out of searches and
/// summaries until it is reactivated.
pub async fn users_set_active(store: Arc<dyn Store>) {
    let user = create_user(&*store, "ivan").await;
    store.set_active(user.id, false).await.expect("deactivate");
    let found = store.user_by_id(user.id).await.expect("ok").expect("kept");
    assert!(!found.is_active);
    assert!(store.search_users("ivan", 10).await.expect("ok").is_empty());
    assert!(
        store
            .user_summaries(&[user.id])
            .await
            .expect("ok")
            .is_empty()
    );
    store.set_active(user.id, true).await.expect("reactivate");
    assert!(
        store
            .user_by_id(user.id)
            .await
            .expect("ok")
            .expect("kept")
            .is_active
    );
    assert_eq!(store.search_users("ivan", 10).await.expect("ok").len(), 1);
    let err = store
        .set_active(UserId::new(), false)
        .await
        .expect_err("unknown");
    assert!(matches!(err, ChatError::UserNotFound), "{err:?}");
}

/// Search matches username or display-name prefixes, ignores case, sorts
/// by username and honours the limit.
pub async fn users_search_matches_prefixes_case_insensitively(store: Arc<dyn Store>) {
    for (u, d) in [
        ("harry", "Harold Finch"),
        ("Hermione", "Granger"),
        ("ron", "Ronald"),
        ("zed", "Harpo"),
    ] {
        store
            .create_user(new_user_named(u, d))
            .await
            .expect("create");
    }
    let found = store.search_users("h", 20).await.expect("search");
    let names: Vec<&str> = found.iter().map(|u| u.username.as_str()).collect();
    assert_eq!(names, ["harry", "Hermione", "zed"]);
    assert_eq!(found[0].display_name.as_deref(), Some("Harold Finch"));

    let found = store.search_users("gran", 20).await.expect("search");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].username, "Hermione");

    assert_eq!(store.search_users("h", 2).await.expect("search").len(), 2);
    assert!(
        store
            .search_users("arry", 20)
            .await
            .expect("search")
            .is_empty()
    );
}

/// `%`, `_` and `\` in a query are literal characters, not patterns.
pub async fn users_search_treats_wildcards_literally(store: Arc<dyn Store>) {
    create_user(&*store, "a_b").await;
    create_user(&*store, "axb").await;
    let found = store.search_users("a_", 20).await.expect("search");
    let names: Vec<&str> = found.iter().map(|u| u.username.as_str()).collect();
    assert_eq!(names, ["a_b"]);
    assert!(
        store
            .search_users("%", 20)
            .await
            .expect("search")
            .is_empty()
    );
    assert!(
        store
            .search_users("\\", 20)
            .await
            .expect("search")
            .is_empty()
    );
}

/// `last_seen` only moves forward.
pub async fn users_touch_last_seen_never_moves_backwards(store: Arc<dyn Store>) {
    let user = create_user(&*store, "ivan").await;
    store.touch_last_seen(user.id, at(10)).await.expect("touch");
    store.touch_last_seen(user.id, at(5)).await.expect("touch");
    let seen = store.user_by_id(user.id).await.expect("ok").expect("found");
    assert_eq!(seen.last_seen, Some(at(10)));
}

/// Summaries list each known user once and skip unknown ids.
pub async fn users_summaries_list_active_users_once(store: Arc<dyn Store>) {
    let alice = create_user(&*store, "alice").await;
    let bob = store
        .create_user(new_user_named("bob", "Bobby"))
        .await
        .expect("create");
    let mut found = store
        .user_summaries(&[bob.id, UserId::new(), alice.id, bob.id])
        .await
        .expect("summaries");
    found.sort_by(|x, y| x.username.cmp(&y.username));
    assert_eq!(found.len(), 2);
    assert_eq!(
        (found[0].id, found[0].username.as_str()),
        (alice.id, "alice")
    );
    assert_eq!(found[1].display_name.as_deref(), Some("Bobby"));
    assert!(store.user_summaries(&[]).await.expect("empty").is_empty());
}
