//! [`Pusher`] in process memory.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::error::Result;
use crate::model::{NewPushSubscription, PushNotification, PushSubscription};
use crate::push::{PushOutcome, PushRequest, Pusher, check_subscription_shape};

/// A pusher that keeps every push it is given, per endpoint, instead of
/// sending it: for embedders that deliver notifications their own way
/// (they read [`take`](Self::take)) and for tests. An outcome can be set
/// per endpoint, to play a push service that is gone or down.
#[derive(Debug, Default)]
pub struct MemoryPusher {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    sent: Vec<(String, PushRequest)>,
    outcomes: HashMap<String, PushOutcome>,
}

impl MemoryPusher {
    /// A pusher that has sent nothing.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Answers every later push to `endpoint` with `outcome` (only
    /// [`PushOutcome::Delivered`] pushes are kept).
    pub fn answer(&self, endpoint: &str, outcome: PushOutcome) {
        self.state().outcomes.insert(endpoint.to_owned(), outcome);
    }

    /// Takes the pushes delivered so far, oldest first, as (endpoint,
    /// notification).
    pub fn take(&self) -> Vec<(String, PushNotification)> {
        std::mem::take(&mut self.state().sent)
            .into_iter()
            .filter_map(|(endpoint, push)| {
                serde_json::from_slice(&push.payload)
                    .ok()
                    .map(|n| (endpoint, n))
            })
            .collect()
    }

    /// The requests delivered so far, without taking them.
    pub fn requests(&self) -> Vec<(String, PushRequest)> {
        self.state().sent.clone()
    }
}

#[async_trait]
impl Pusher for MemoryPusher {
    fn public_key(&self) -> Option<String> {
        None
    }

    async fn check(&self, subscription: &NewPushSubscription) -> Result<()> {
        check_subscription_shape(subscription)
    }

    async fn send(&self, subscription: &PushSubscription, push: &PushRequest) -> PushOutcome {
        let mut state = self.state();
        let outcome = state
            .outcomes
            .get(&subscription.endpoint)
            .cloned()
            .unwrap_or(PushOutcome::Delivered);
        if outcome == PushOutcome::Delivered {
            state
                .sent
                .push((subscription.endpoint.clone(), push.clone()));
        }
        outcome
    }
}
