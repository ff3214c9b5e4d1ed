//! [`VapidKey`]: the server's P-256 key pair for VAPID (RFC 8292), which
//! push services check every push against the key a device subscribed
//! with.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::sync::Arc;

use std::time::Duration;

use reqwest13::header::HeaderValue;
use web_push_native::jwt_simple::algorithms::{
    ECDSAP256KeyPairLike, ECDSAP256PublicKeyLike, ES256KeyPair,
};
use web_push_native::jwt_simple::claims::Claims;

use crate::server_error::ServerError;

/// The server's VAPID key pair. Every instance of one service must use the
/// same key: a device subscribed with its public key, and a push signed
/// with another is refused.
#[derive(Clone)]
pub struct VapidKey {
    pair: Arc<ES256KeyPair>,
    public: String,
}

impl std::fmt::Debug for VapidKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VapidKey")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

impl VapidKey {
    /// The key whose private half is `private` (32 bytes, base64url, as
    /// `CHAT_VAPID_PRIVATE_KEY` holds it).
    ///
    /// # Errors
    /// [`ServerError::Config`] for anything else.
    pub fn from_private(private: &str) -> Result<Self, ServerError> {
        let bad = || {
            ServerError::Config(
                "the VAPID private key must be 32 bytes of base64url (a P-256 scalar)".to_owned(),
            )
        };
        let bytes = URL_SAFE_NO_PAD
            .decode(private.trim().trim_end_matches('='))
            .map_err(|_| bad())?;
        if bytes.len() != 32 {
            return Err(bad());
        }
        let pair = ES256KeyPair::from_bytes(&bytes).map_err(|_| bad())?;
        Ok(Self::from_pair(pair))
    }

    /// A new random key.
    pub fn generate() -> Self {
        Self::from_pair(ES256KeyPair::generate())
    }

    fn from_pair(pair: ES256KeyPair) -> Self {
        let public = URL_SAFE_NO_PAD.encode(pair.public_key().public_key().to_bytes_uncompressed());
        Self {
            pair: Arc::new(pair),
            public,
        }
    }

    /// The public key (uncompressed point, base64url): the
    /// `applicationServerKey` browsers subscribe with.
    pub fn public_key(&self) -> &str {
        &self.public
    }

    /// The private key, base64url (what `CHAT_VAPID_PRIVATE_KEY` takes).
    pub fn private_key(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.pair.to_bytes())
    }

    /// The `Authorization` header of a push to `endpoint` (RFC 8292):
    /// `vapid t=<JWT>, k=<public key>`, the token signed for the
    /// endpoint's origin (scheme, host and port), valid for `lifetime`.
    ///
    /// # Errors
    /// The token cannot be signed.
    pub(super) fn authorization(
        &self,
        endpoint: &reqwest13::Url,
        subject: &str,
        lifetime: Duration,
    ) -> Result<HeaderValue, String> {
        let claims = Claims::create(lifetime.into())
            .with_audience(endpoint.origin().ascii_serialization())
            .with_subject(subject);
        let token = self.pair.sign(claims).map_err(|e| e.to_string())?;
        HeaderValue::from_str(&format!("vapid t={token}, k={}", self.public))
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_round_trips_through_its_private_half() {
        let key = VapidKey::generate();
        let again = VapidKey::from_private(&key.private_key()).expect("parse");
        assert_eq!(again.public_key(), key.public_key());
        let public = URL_SAFE_NO_PAD.decode(key.public_key()).expect("base64");
        assert_eq!((public.len(), public[0]), (65, 4), "uncompressed point");
    }

    #[test]
    fn bad_keys_are_refused() {
        for bad in ["", "short", &URL_SAFE_NO_PAD.encode([0u8; 32])] {
            assert!(VapidKey::from_private(bad).is_err(), "{bad:?} taken");
        }
    }
}
