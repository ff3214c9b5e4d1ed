//! [`HttpWebhookSender`]: webhook deliveries over HTTPS, to public
//! addresses only.

use std::time::Duration;

use async_trait::async_trait;
use chat_core::webhooks::{Delivery, DeliveryOutcome, WebhookSender};
use chat_core::{ChatError, Result, ValidationError};
use reqwest13::StatusCode;
use reqwest13::header::{CONTENT_TYPE, RETRY_AFTER, USER_AGENT};

use crate::outbound::{OutboundClient, UrlRefusal, refused_address};

/// Posts each delivery as JSON with `Chat-Event`, `Chat-Delivery` and
/// `Chat-Signature` headers, through an [`OutboundClient`].
#[derive(Debug, Clone)]
pub struct HttpWebhookSender {
    client: OutboundClient,
}

impl HttpWebhookSender {
    /// A sender over `client`.
    pub fn new(client: OutboundClient) -> Self {
        Self { client }
    }
}

#[async_trait]
impl WebhookSender for HttpWebhookSender {
    async fn check(&self, url: &str) -> Result<()> {
        match self.client.check(url).await {
            Ok(_) => Ok(()),
            Err(UrlRefusal::Malformed(why)) => Err(ChatError::from(ValidationError::new(
                "url",
                "INVALID_URL",
                format!("url: {why}"),
            ))),
            Err(UrlRefusal::NotAllowed(why)) => Err(ChatError::from(ValidationError::new(
                "url",
                "URL_NOT_ALLOWED",
                format!("url: {why}"),
            ))),
        }
    }

    async fn post(&self, url: &str, delivery: &Delivery) -> DeliveryOutcome {
        let parsed = match reqwest13::Url::parse(url) {
            Ok(parsed) => parsed,
            Err(e) => {
                return DeliveryOutcome::Failed {
                    reason: e.to_string(),
                };
            }
        };
        if let Err(e) = self.client.check_literal(&parsed) {
            return DeliveryOutcome::Failed {
                reason: e.to_string(),
            };
        }
        let sent = self
            .client
            .http()
            .post(parsed)
            .header(CONTENT_TYPE, "application/json")
            .header(
                USER_AGENT,
                concat!("chat-engine-webhooks/", env!("CARGO_PKG_VERSION")),
            )
            .header("chat-event", delivery.event)
            .header("chat-delivery", &delivery.id)
            .header("chat-signature", &delivery.signature)
            .body(delivery.body.clone())
            .send()
            .await;
        match sent {
            Ok(response) => outcome_of(
                response.status(),
                response
                    .headers()
                    .get(RETRY_AFTER)
                    .and_then(|v| v.to_str().ok()),
            ),
            Err(e) if refused_address(&e) => DeliveryOutcome::Failed {
                reason: crate::error::error_chain(&e),
            },
            Err(e) => DeliveryOutcome::Retry {
                after: None,
                reason: crate::error::error_chain(&e),
            },
        }
    }
}

/// What a receiver's answer means: 2xx delivered; 408, 429 and 5xx worth
/// another try; anything else (a redirect included: none is followed)
/// failed for good.
fn outcome_of(status: StatusCode, retry_after: Option<&str>) -> DeliveryOutcome {
    let reason = format!("the receiver answered {status}");
    match status.as_u16() {
        200..=299 => DeliveryOutcome::Delivered,
        408 | 429 | 500..=599 => DeliveryOutcome::Retry {
            after: retry_after
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs),
            reason,
        },
        _ => DeliveryOutcome::Failed { reason },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receiver_answers_map_to_outcomes() {
        assert_eq!(
            outcome_of(StatusCode::NO_CONTENT, None),
            DeliveryOutcome::Delivered
        );
        assert!(matches!(
            outcome_of(StatusCode::SERVICE_UNAVAILABLE, Some("3")),
            DeliveryOutcome::Retry { after: Some(d), .. } if d == Duration::from_secs(3)
        ));
        assert!(matches!(
            outcome_of(StatusCode::REQUEST_TIMEOUT, None),
            DeliveryOutcome::Retry { after: None, .. }
        ));
        for failed in [
            StatusCode::BAD_REQUEST,
            StatusCode::UNAUTHORIZED,
            StatusCode::NOT_FOUND,
            StatusCode::FOUND,
        ] {
            assert!(matches!(
                outcome_of(failed, None),
                DeliveryOutcome::Failed { .. }
            ));
        }
    }
}
