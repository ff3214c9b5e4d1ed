//! The conformance suite every store backend runs.
//!
//! A behaviour is specified once, here, and holds for every backend: each
//! backend's test crate invokes [`store_conformance_tests!`](crate::store_conformance_tests)
//! with an expression that sets up a fresh, empty store, and gets one
//! `#[tokio::test]` per case.
//!
//! ```text
//! chat_core::store_conformance_tests!(async {
//!     Some(chat_core::testkit::Plain(std::sync::Arc::new(chat_core::memory::MemoryStore::new())))
//! });
//! ```
//!
//! The setup returns `None` when the backend is unavailable and skipping is
//! allowed (it says why, and records the skip for `scripts/test`'s summary:
//! see [`backend_unavailable`]); backends that must run panic instead.

use std::sync::Arc;

use async_trait::async_trait;

use crate::store::Store;

pub mod attachments;
pub mod batches;
pub mod blobs;
pub mod changes;
pub mod conversations;
pub mod fixtures;
pub mod health;
pub mod messages;
pub mod moderation;
pub mod password_resets;
pub mod push;
pub mod realtime;
pub mod search;
pub mod sessions;
mod skip;
pub mod users;
pub mod webhooks;

pub use skip::{SKIPPED_TESTS_FILE, backend_unavailable, record_skip};

/// A fresh store for one test case, and how to clean up after it.
#[async_trait]
pub trait TestStore: Send + Sync {
    /// The store under test.
    fn store(&self) -> Arc<dyn Store>;

    /// Releases what setup created (a database, a key prefix). Runs only
    /// when the case passed, so a failure leaves its data to inspect.
    async fn teardown(&self) {}
}

/// A store that needs no cleanup (memory, a temporary SQLite file).
pub struct Plain(pub Arc<dyn Store>);

#[async_trait]
impl TestStore for Plain {
    fn store(&self) -> Arc<dyn Store> {
        self.0.clone()
    }
}

/// True when backend tests must run rather than skip
/// (`CHAT_REQUIRE_BACKENDS=1`, set by CI). Setup functions call
/// [`backend_unavailable`], which checks it.
pub fn backends_required() -> bool {
    std::env::var("CHAT_REQUIRE_BACKENDS").is_ok_and(|v| v == "1" || v == "true")
}

/// Generates one test per conformance case for the store built by `$setup`
/// (an expression of type `impl Future<Output = Option<impl TestStore>>`).
#[macro_export]
macro_rules! store_conformance_tests {
    ($setup:expr) => {
        $crate::__store_conformance_cases!($setup;
            health::health_ping_answers,
            attachments::attachments_round_trip,
            attachments::attachments_unsent_are_listed_oldest_first_and_deleted_once,
            attachments::attachments_sent_in_a_message_are_linked_and_carried,
            attachments::attachments_a_message_sends_only_the_senders_unsent_uploads,
            attachments::attachments_of_a_deleted_message_leave_their_blobs_to_the_sweep,
            attachments::attachments_refuse_a_reused_id_and_an_image_without_pixels,
            attachments::attachments_one_upload_is_sent_once_under_concurrency,
            users::users_create_and_fetch,
            users::users_a_bot_says_so_everywhere,
            users::users_duplicate_username_is_refused_case_insensitively,
            users::users_duplicate_email_is_refused_case_insensitively,
            users::users_unknown_lookups_return_nothing,
            users::users_update_profile,
            users::users_update_profile_refuses_a_taken_email,
            users::users_set_password_hash,
            users::users_set_active,
            users::users_search_matches_prefixes_case_insensitively,
            users::users_search_treats_wildcards_literally,
            users::users_touch_last_seen_never_moves_backwards,
            sessions::sessions_create_and_find_token,
            sessions::sessions_rotate_replaces_the_token_once,
            sessions::sessions_concurrent_rotations_have_one_winner,
            sessions::sessions_revoked_session_refuses_rotation_and_new_tokens,
            sessions::sessions_revoke_user_sessions_keeps_the_exception,
            sessions::sessions_revoked_since_lists_recent_revocations,
            sessions::sessions_revocation_racing_rotation_leaves_a_revoked_session,
            password_resets::resets_token_is_consumed_once,
            password_resets::resets_expired_and_unknown_tokens_are_refused,
            password_resets::resets_consuming_spends_the_users_other_tokens,
            password_resets::resets_concurrent_consumers_have_one_winner,
            password_resets::resets_concurrent_consumers_of_different_tokens_have_one_winner,
            push::push_subscriptions_round_trip,
            push::push_subscriptions_an_endpoint_is_registered_once,
            push::push_subscriptions_gone_ones_are_deleted_by_id,
            webhooks::webhooks_round_trip,
            webhooks::webhooks_cursors_move_forward_only,
            webhooks::webhooks_cursor_moves_are_written_together,
            webhooks::webhooks_dead_letters_are_kept_per_webhook,
            conversations::conversations_direct_is_created_once_per_pair,
            conversations::conversations_concurrent_direct_creation_has_one_winner,
            conversations::conversations_group_is_created_with_its_members,
            conversations::conversations_non_members_have_no_membership,
            conversations::conversations_added_members_start_at_the_current_seq,
            conversations::conversations_member_limit_refuses_the_whole_addition,
            conversations::conversations_owner_leaving_passes_ownership_on,
            conversations::conversations_non_members_cannot_be_removed_or_re_roled,
            conversations::conversations_rejoining_starts_fresh_cursors,
            conversations::conversations_overviews_list_by_recent_activity,
            messages::messages_seq_starts_at_one_without_gaps,
            messages::messages_concurrent_senders_get_gap_free_seqs,
            messages::messages_non_members_store_nothing,
            messages::messages_client_msg_id_returns_the_original,
            messages::messages_concurrent_duplicates_store_one,
            messages::messages_history_pages_newest_first,
            messages::messages_lookup_is_scoped_to_the_conversation,
            messages::messages_by_ids_finds_messages_across_conversations,
            messages::messages_unread_counts_exclude_own_messages,
            messages::messages_read_cursor_never_moves_backwards,
            messages::messages_reading_implies_delivery,
            messages::messages_unread_span_conversations_oldest_first,
            changes::changes_share_the_log_and_are_never_unread,
            changes::changes_edit_and_delete_a_message,
            changes::changes_reactions_are_once_per_member_and_emoji,
            changes::changes_need_a_member_and_a_message_of_the_conversation,
            changes::changes_log_interleaves_and_history_skips_changes,
            changes::changes_concurrent_with_messages_get_gap_free_seqs,
            changes::changes_mentions_are_counted_after_the_read_cursor,
            search::search_sees_only_the_searchers_messages_since_joining,
            search::search_matches_every_word_whole_and_in_any_case,
            search::search_follows_edits_and_deletions,
            search::search_ranks_then_pages_newest_first,
            search::search_latest_first_follows_the_log,
            search::search_requires_unranked_words,
            search::search_ranks_by_the_words_it_may_rank_by,
            search::search_word_counts_count_live_messages,
            search::search_messages_after_a_seq_come_oldest_first,
            moderation::moderation_blocks_are_one_way_and_listed,
            moderation::moderation_reports_keep_the_evidence,
            moderation::moderation_mute_and_posting_policy_are_stored,
            moderation::moderation_admin_user_list,
            moderation::moderation_operators_change_without_membership,
            users::users_summaries_list_active_users_once,
            batches::batches_store_each_message_as_single_inserts_would,
            batches::batches_concurrent_batches_get_gap_free_seqs,
            batches::batches_move_delivery_cursors_as_single_moves_would,
            batches::batches_repeat_a_key_within_one_batch,
            batches::batches_write_messages_and_cursor_moves_together,
            batches::batches_record_mentions_and_replies
        );
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __store_conformance_cases {
    ($setup:expr; $($module:ident :: $case:ident),+ $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let Some(harness) = $setup.await else { return };
                $crate::testkit::$module::$case(
                    $crate::testkit::TestStore::store(&harness),
                )
                .await;
                $crate::testkit::TestStore::teardown(&harness).await;
            }
        )+
    };
}
