//! Migration 0010 (bot accounts) beyond the conformance suite: bots made
//! before it are recognised, and nobody else is.

mod common;

use chat_core::UserId;
use chat_core::store::UserStore;
use chat_store_sqlite::SqliteStore;
use common::{database_at_migration, insert_user};

/// A database from before the flag holds a bot (no password, an
/// `@bots.invalid` email), an account the embedding application
/// provisioned (no password, an ordinary email) and a person whose email
/// happens to be at `bots.invalid`: only the bot becomes one.
#[tokio::test]
async fn bots_made_before_the_flag_are_flagged_and_nobody_else() {
    let old = database_at_migration(9).await;
    let pool = &old.pool;
    let (bot, provisioned, person) = (UserId::new(), UserId::new(), UserId::new());
    for (user, name) in [(bot, "deploybot"), (provisioned, "emb"), (person, "pat")] {
        insert_user(pool, user, name).await;
    }
    for (user, email, hash) in [
        (bot, "deploybot@bots.invalid", "!external"),
        (provisioned, "emb@example.com", "!external"),
        (
            person,
            "pat@BOTS.invalid",
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
        ),
    ] {
        sqlx::query(
            "UPDATE users SET email = ?2, email_key = lower(?2), password_hash = ?3 \
             WHERE user_id = ?1",
        )
        .bind(user.as_uuid())
        .bind(email)
        .bind(hash)
        .execute(pool)
        .await
        .expect("account");
    }
    old.pool.close().await;

    let store = SqliteStore::connect(&old.url).await.expect("upgrade");
    for (user, is_bot) in [(bot, true), (provisioned, false), (person, false)] {
        let read = store.user_by_id(user).await.expect("read").expect("found");
        assert_eq!(read.is_bot, is_bot, "{}", read.username);
    }
}
