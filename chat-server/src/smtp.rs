//! The SMTP [`Mailer`], selected by `CHAT_SMTP_URL`.

use async_trait::async_trait;
use chat_core::{ChatError, Mailer, OutgoingMail};
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::server_error::ServerError;

/// Sends email through an SMTP server.
///
/// URL forms (lettre's): `smtps://user:pass@host[:465]` (TLS),
/// `smtp://user:pass@host:587?tls=required` (STARTTLS), and
/// `smtp://host:port` (plain text; only for a local relay or tests).
#[derive(Clone)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl SmtpMailer {
    /// A mailer for the server at `url`, sending as `from`.
    ///
    /// # Errors
    /// [`ServerError::Config`] for a malformed URL or sender.
    pub fn new(url: &str, from: &str) -> Result<Self, ServerError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| ServerError::Config(format!("CHAT_SMTP_URL: {e}")))?
            .build();
        let from = from
            .parse::<Mailbox>()
            .map_err(|e| ServerError::Config(format!("CHAT_SMTP_FROM: {e}")))?;
        Ok(Self { transport, from })
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, mail: OutgoingMail) -> chat_core::Result<()> {
        let to = mail
            .to
            .parse::<Mailbox>()
            .map_err(|e| ChatError::internal(format!("recipient address: {e}")))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject)
            .header(ContentType::TEXT_PLAIN)
            .body(mail.body)
            .map_err(ChatError::internal)?;
        self.transport
            .send(message)
            .await
            .map_err(ChatError::internal)?;
        Ok(())
    }
}
