//! [`WebhookSender`] in process memory.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::error::{Result, ValidationError};
use crate::webhooks::{Delivery, DeliveryOutcome, WebhookSender};

/// A sender that keeps every delivery it is given, per URL, instead of
/// posting it: for embedders that consume events in process (they read
/// [`take`](Self::take)) and for tests. An outcome can be set per URL, to
/// play a receiver that fails.
#[derive(Debug, Default)]
pub struct MemoryWebhookSender {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    delivered: Vec<(String, Delivery)>,
    outcomes: HashMap<String, DeliveryOutcome>,
    attempts: HashMap<String, u32>,
}

impl MemoryWebhookSender {
    /// A sender that has delivered nothing.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Answers every later delivery to `url` with `outcome` (only
    /// [`DeliveryOutcome::Delivered`] ones are kept).
    pub fn answer(&self, url: &str, outcome: DeliveryOutcome) {
        self.state().outcomes.insert(url.to_owned(), outcome);
    }

    /// Takes the deliveries made so far, oldest first, as (url, delivery).
    pub fn take(&self) -> Vec<(String, Delivery)> {
        std::mem::take(&mut self.state().delivered)
    }

    /// Attempts made to `url` so far, delivered or not.
    pub fn attempts(&self, url: &str) -> u32 {
        self.state().attempts.get(url).copied().unwrap_or(0)
    }
}

#[async_trait]
impl WebhookSender for MemoryWebhookSender {
    async fn check(&self, url: &str) -> Result<()> {
        if url.starts_with("https://") || url.starts_with("http://") {
            Ok(())
        } else {
            Err(ValidationError::new("url", "INVALID_URL", "url must be an https URL").into())
        }
    }

    async fn post(&self, url: &str, delivery: &Delivery) -> DeliveryOutcome {
        let mut state = self.state();
        *state.attempts.entry(url.to_owned()).or_default() += 1;
        let outcome = state
            .outcomes
            .get(url)
            .cloned()
            .unwrap_or(DeliveryOutcome::Delivered);
        if outcome == DeliveryOutcome::Delivered {
            state.delivered.push((url.to_owned(), delivery.clone()));
        }
        outcome
    }
}
