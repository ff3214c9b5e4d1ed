//! Outgoing email: the [`Mailer`] trait and the development mailer.
//!
//! The SMTP mailer lives in `chat-server` (it needs `lettre`); an in-memory
//! mailer that records what was sent is in [`crate::memory`].

use async_trait::async_trait;

use crate::error::Result;

/// An email to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMail {
    /// Recipient address.
    pub to: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub body: String,
}

/// Sends email (password reset links).
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Sends one email.
    ///
    /// # Errors
    /// `INTERNAL` when the mail could not be handed over.
    async fn send(&self, mail: OutgoingMail) -> Result<()>;
}

/// Development mailer: writes each email, reset link included, to the log.
///
/// Meant for local use only (the server warns at start-up when it is
/// active); configure SMTP in production.
#[derive(Debug, Default, Clone, Copy)]
pub struct LogMailer;

#[async_trait]
impl Mailer for LogMailer {
    async fn send(&self, mail: OutgoingMail) -> Result<()> {
        tracing::warn!(
            target: "chat::dev_mailer",
            to = %mail.to,
            subject = %mail.subject,
            "development mailer (set CHAT_SMTP_URL to send real email):\n{}",
            mail.body
        );
        Ok(())
    }
}
