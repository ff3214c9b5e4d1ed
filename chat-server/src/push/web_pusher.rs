//! [`WebPusher`]: Web Push over HTTP to the devices' push services.

use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chat_core::model::{NewPushSubscription, PushSubscription};
use chat_core::push::{PushOutcome, PushRequest, Pusher};
use chat_core::{ChatError, Result, ValidationError};
use reqwest13::StatusCode;
use reqwest13::header::{HeaderValue, RETRY_AFTER};
use web_push_native::p256::PublicKey;
use web_push_native::{Auth, WebPushBuilder};

use super::VapidKey;
use crate::outbound::{OutboundClient, UrlRefusal, refused_address};

/// The longest a VAPID signature is valid (RFC 8292 allows 24 hours).
const SIGNATURE_LIFETIME: Duration = Duration::from_secs(12 * 3600);

/// Sends each notification to its device's push service: encrypted for
/// the device (RFC 8291, `aes128gcm`), signed with the server's VAPID
/// key, with `TTL`, `Topic` and `Urgency` (RFC 8030), over an
/// [`OutboundClient`] that reaches public addresses only.
#[derive(Debug, Clone)]
pub struct WebPusher {
    key: VapidKey,
    /// The contact push services see (`mailto:` or `https:`).
    subject: String,
    client: OutboundClient,
}

impl WebPusher {
    /// A pusher signing with `key` as `subject`, sending through `client`.
    pub fn new(key: VapidKey, subject: String, client: OutboundClient) -> Self {
        Self {
            key,
            subject,
            client,
        }
    }

    /// The request for one push, or why it cannot be made.
    fn build(
        &self,
        subscription: &PushSubscription,
        push: &PushRequest,
    ) -> std::result::Result<reqwest13::Request, String> {
        let url = reqwest13::Url::parse(&subscription.endpoint).map_err(|e| e.to_string())?;
        self.client.check_literal(&url).map_err(|e| e.to_string())?;
        let endpoint = subscription
            .endpoint
            .parse()
            .map_err(|e: axum::http::uri::InvalidUri| e.to_string())?;
        let public = decode(&subscription.p256dh)
            .and_then(|k| PublicKey::from_sec1_bytes(&k).ok())
            .ok_or("the subscription's key is not a P-256 point")?;
        let auth = decode(&subscription.auth)
            .filter(|a| a.len() == 16)
            .ok_or("the subscription's secret is not 16 bytes")?;
        let request = WebPushBuilder::new(endpoint, public, auth_secret(&auth))
            .build(push.payload.clone())
            .map_err(|e| e.to_string())?;
        let (mut parts, body) = request.into_parts();
        let headers = &mut parts.headers;
        headers.insert(
            "authorization",
            self.key
                .authorization(&url, &self.subject, SIGNATURE_LIFETIME)
                .map_err(|e| e.to_string())?,
        );
        headers.insert("ttl", HeaderValue::from(push.ttl.as_secs()));
        headers.insert("urgency", HeaderValue::from_static(push.urgency.as_str()));
        if let Ok(topic) = HeaderValue::from_str(&push.topic) {
            headers.insert("topic", topic);
        }
        reqwest13::Request::try_from(axum::http::Request::from_parts(parts, body))
            .map_err(|e| e.to_string())
    }
}

#[async_trait]
impl Pusher for WebPusher {
    fn public_key(&self) -> Option<String> {
        Some(self.key.public_key().to_owned())
    }

    async fn check(&self, subscription: &NewPushSubscription) -> Result<()> {
        let point = decode(&subscription.p256dh).and_then(|k| PublicKey::from_sec1_bytes(&k).ok());
        if point.is_none() {
            return Err(ValidationError::new(
                "keys.p256dh",
                "INVALID_PUSH_SUBSCRIPTION",
                "keys.p256dh is not a point of the P-256 curve",
            )
            .into());
        }
        match self.client.check(&subscription.endpoint).await {
            Ok(_) => Ok(()),
            Err(UrlRefusal::Malformed(why)) => Err(ChatError::from(ValidationError::new(
                "endpoint",
                "INVALID_PUSH_SUBSCRIPTION",
                format!("endpoint: {why}"),
            ))),
            Err(UrlRefusal::NotAllowed(why)) => Err(ChatError::from(ValidationError::new(
                "endpoint",
                "URL_NOT_ALLOWED",
                format!("endpoint: {why}"),
            ))),
        }
    }

    async fn send(&self, subscription: &PushSubscription, push: &PushRequest) -> PushOutcome {
        let request = match self.build(subscription, push) {
            Ok(request) => request,
            Err(reason) => return PushOutcome::Refused { reason },
        };
        match self.client.http().execute(request).await {
            Ok(response) => outcome_of(response.status(), response.headers().get(RETRY_AFTER)),
            Err(e) if refused_address(&e) => PushOutcome::Refused {
                reason: crate::error::error_chain(&e),
            },
            Err(e) => PushOutcome::Retry {
                after: None,
                reason: crate::error::error_chain(&e),
            },
        }
    }
}

/// What a push service's answer means (RFC 8030, section 5, and the push
/// services' own documentation).
fn outcome_of(status: StatusCode, retry_after: Option<&HeaderValue>) -> PushOutcome {
    match status.as_u16() {
        200..=299 => PushOutcome::Delivered,
        404 | 410 => PushOutcome::Gone,
        429 | 500..=599 => PushOutcome::Retry {
            after: retry_after
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs),
            reason: format!("push service answered {status}"),
        },
        _ => PushOutcome::Refused {
            reason: format!("push service answered {status}"),
        },
    }
}

/// The 16-byte secret as the encryption wants it.
fn auth_secret(bytes: &[u8]) -> Auth {
    let mut auth = Auth::default();
    auth.copy_from_slice(bytes);
    auth
}

/// Base64url with or without padding.
fn decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_service_answers_map_to_outcomes() {
        assert_eq!(
            outcome_of(StatusCode::CREATED, None),
            PushOutcome::Delivered
        );
        assert_eq!(outcome_of(StatusCode::GONE, None), PushOutcome::Gone);
        assert_eq!(outcome_of(StatusCode::NOT_FOUND, None), PushOutcome::Gone);
        let wait = HeaderValue::from_static("7");
        assert!(matches!(
            outcome_of(StatusCode::TOO_MANY_REQUESTS, Some(&wait)),
            PushOutcome::Retry { after: Some(d), .. } if d == Duration::from_secs(7)
        ));
        assert!(matches!(
            outcome_of(StatusCode::SERVICE_UNAVAILABLE, None),
            PushOutcome::Retry { after: None, .. }
        ));
        for refused in [
            StatusCode::BAD_REQUEST,
            StatusCode::UNAUTHORIZED,
            StatusCode::FORBIDDEN,
            StatusCode::PAYLOAD_TOO_LARGE,
        ] {
            assert!(matches!(
                outcome_of(refused, None),
                PushOutcome::Refused { .. }
            ));
        }
    }
}
