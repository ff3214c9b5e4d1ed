use std::sync::Mutex;

use async_trait::async_trait;
use tokio::sync::Notify;

use crate::error::Result;
use crate::mailer::{Mailer, OutgoingMail};

/// A mailer that keeps every email in memory, for tests and embedding.
#[derive(Debug, Default)]
pub struct MemoryMailer {
    sent: Mutex<Vec<OutgoingMail>>,
    arrived: Notify,
}

impl MemoryMailer {
    /// An empty outbox.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every email sent so far, oldest first.
    pub fn outbox(&self) -> Vec<OutgoingMail> {
        self.sent.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Waits until at least `count` emails have been sent and returns them.
    /// Sending may happen in a background task, so tests wait here.
    pub async fn wait_for(&self, count: usize) -> Vec<OutgoingMail> {
        loop {
            let notified = self.arrived.notified();
            let sent = self.outbox();
            if sent.len() >= count {
                return sent;
            }
            notified.await;
        }
    }
}

#[async_trait]
impl Mailer for MemoryMailer {
    async fn send(&self, mail: OutgoingMail) -> Result<()> {
        self.sent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(mail);
        self.arrived.notify_waiters();
        Ok(())
    }
}
