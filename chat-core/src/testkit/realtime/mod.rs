//! The conformance suite every real-time backend runs: [`OfflineQueue`],
//! [`Presence`], [`EventBus`], [`DueWork`] and the shared [`RateLimiter`].
//!
//! A backend's test crate invokes
//! [`realtime_conformance_tests!`](crate::realtime_conformance_tests) with an
//! expression that sets up fresh, empty backends (a shared backend such as
//! Redis uses a unique key prefix per test) and gets one `#[tokio::test]`
//! per case.
//!
//! ```text
//! chat_core::realtime_conformance_tests!(async {
//!     Some(chat_core::testkit::realtime::PlainRealtime::memory())
//! });
//! ```

use std::sync::Arc;

use async_trait::async_trait;

use crate::memory::{
    MemoryDueWork, MemoryEventBus, MemoryOfflineQueue, MemoryPresence, MemoryRateLimiter,
};
use crate::rate_limit::RateLimiter;
use crate::realtime::{DueWork, EventBus, OfflineQueue, Presence};

pub mod bus;
pub mod due;
pub mod limits;
pub mod presence;
pub mod queue;

/// Fresh real-time backends for one test case, and how to clean up after
/// them.
#[async_trait]
pub trait TestRealtime: Send + Sync {
    /// The offline queue under test.
    fn queue(&self) -> Arc<dyn OfflineQueue>;

    /// The presence backend under test.
    fn presence(&self) -> Arc<dyn Presence>;

    /// The due work backend under test.
    fn due_work(&self) -> Arc<dyn DueWork>;

    /// A second instance's due work over the same backend, or `None` for
    /// a per-process one.
    fn other_instance_due_work(&self) -> Option<Arc<dyn DueWork>> {
        None
    }

    /// The event bus under test (the same instance on every call).
    fn bus(&self) -> Arc<dyn EventBus>;

    /// A second bus acting as another server instance over the same
    /// backend, or `None` for a single-process bus (cross-instance cases
    /// then pass without checking anything).
    fn other_instance_bus(&self) -> Option<Arc<dyn EventBus>>;

    /// The rate limiter under test.
    fn rate_limiter(&self) -> Arc<dyn RateLimiter>;

    /// A second instance's rate limiter over the same backend, or `None`
    /// for a per-process limiter.
    fn other_instance_rate_limiter(&self) -> Option<Arc<dyn RateLimiter>> {
        None
    }

    /// Releases what setup created (a key prefix). Runs only when the case
    /// passed, so a failure leaves its data to inspect.
    async fn teardown(&self) {}
}

/// Real-time backends that need no cleanup.
pub struct PlainRealtime {
    /// The offline queue.
    pub queue: Arc<dyn OfflineQueue>,
    /// The presence backend.
    pub presence: Arc<dyn Presence>,
    /// The due work backend.
    pub due_work: Arc<dyn DueWork>,
    /// The event bus.
    pub bus: Arc<dyn EventBus>,
    /// A second instance's bus over the same backend, if there can be one.
    pub other_instance_bus: Option<Arc<dyn EventBus>>,
    /// The rate limiter.
    pub rate_limiter: Arc<dyn RateLimiter>,
}

impl PlainRealtime {
    /// Fresh in-memory backends (a single-process bus).
    pub fn memory() -> Self {
        Self {
            queue: Arc::new(MemoryOfflineQueue::new()),
            presence: Arc::new(MemoryPresence::new()),
            due_work: Arc::new(MemoryDueWork::new()),
            bus: Arc::new(MemoryEventBus::new()),
            other_instance_bus: None,
            rate_limiter: Arc::new(MemoryRateLimiter::new()),
        }
    }
}

#[async_trait]
impl TestRealtime for PlainRealtime {
    fn queue(&self) -> Arc<dyn OfflineQueue> {
        self.queue.clone()
    }

    fn presence(&self) -> Arc<dyn Presence> {
        self.presence.clone()
    }

    fn due_work(&self) -> Arc<dyn DueWork> {
        self.due_work.clone()
    }

    fn bus(&self) -> Arc<dyn EventBus> {
        self.bus.clone()
    }

    fn other_instance_bus(&self) -> Option<Arc<dyn EventBus>> {
        self.other_instance_bus.clone()
    }

    fn rate_limiter(&self) -> Arc<dyn RateLimiter> {
        self.rate_limiter.clone()
    }
}

/// Generates one test per conformance case for the backends built by
/// `$setup` (an expression of type
/// `impl Future<Output = Option<impl TestRealtime>>`).
#[macro_export]
macro_rules! realtime_conformance_tests {
    ($setup:expr) => {
        $crate::__realtime_conformance_cases!($setup;
            queue::realtime_queue_peek_returns_entries_oldest_first,
            queue::realtime_queue_push_to_several_users_fills_each_queue,
            queue::realtime_queue_peek_respects_the_limit,
            queue::realtime_queue_remove_through_clears_one_conversation_up_to_the_seq,
            queue::realtime_queue_len_counts_entries_and_clear_empties,
            queue::realtime_queue_users_have_independent_queues,
            queue::realtime_queue_unknown_user_has_an_empty_queue,
            queue::realtime_queue_unhandled_entries_follow_the_handled_marks,
            due::realtime_due_keys_are_claimed_once_until_released,
            due::realtime_due_claims_wait_for_the_settle_time_and_respect_the_limit,
            due::realtime_due_an_expired_claim_is_claimed_again,
            due::realtime_due_a_renewed_claim_is_not_claimed_again,
            due::realtime_due_concurrent_claimers_on_every_instance_get_each_key_once,
            due::realtime_due_kinds_are_apart,
            presence::realtime_presence_first_connection_brings_the_user_online,
            presence::realtime_presence_user_stays_online_while_a_connection_lives,
            presence::realtime_presence_last_disconnect_records_last_seen,
            presence::realtime_presence_statuses_keep_input_order,
            presence::realtime_presence_unknown_connection_disconnect_changes_nothing,
            presence::realtime_presence_heartbeat_keeps_a_connection_online,
            bus::realtime_bus_publish_reaches_every_connection_once,
            bus::realtime_bus_users_not_addressed_get_nothing,
            bus::realtime_bus_dropped_subscription_does_not_break_publishing,
            bus::realtime_bus_session_revocations_arrive_as_such,
            bus::realtime_bus_frames_keep_their_contents,
            bus::realtime_bus_events_arrive_in_publish_order,
            bus::realtime_bus_events_cross_instances,
            bus::realtime_bus_notices_reach_every_instance_once,
            limits::realtime_limits_hits_are_allowed_up_to_the_limit_then_refused,
            limits::realtime_limits_peek_does_not_count,
            limits::realtime_limits_keys_are_independent,
            limits::realtime_limits_hold_across_instances
        );
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __realtime_conformance_cases {
    ($setup:expr; $($module:ident :: $case:ident),+ $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let Some(harness) = $setup.await else { return };
                $crate::testkit::realtime::$module::$case(&harness).await;
                $crate::testkit::realtime::TestRealtime::teardown(&harness).await;
            }
        )+
    };
}
