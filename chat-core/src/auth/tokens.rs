//! Access tokens: HS256 JWTs with a pinned algorithm.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{ChatError, Result};
use crate::ids::{SessionId, UserId};
use crate::time::Timestamp;

/// Shortest accepted signing secret, in bytes.
pub const MIN_SECRET_LEN: usize = 32;

/// Allowed clock difference for `iat`/`nbf` in the future, in seconds.
const LEEWAY_SECS: i64 = 30;

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// The user.
    pub sub: UserId,
    /// The session the token belongs to.
    pub sid: SessionId,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Expires at (Unix seconds).
    pub exp: i64,
    /// Unique token id.
    pub jti: Uuid,
    /// Not before (Unix seconds); we never set it but honour it if present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
}

/// Signs and verifies access tokens.
///
/// Only HS256 is accepted: the header's `alg` must match exactly, so
/// `none`, RS256-with-the-secret-as-public-key and other algorithm
/// confusions fail. Expiry is checked against the service clock rather
/// than the library's, so tests can move time.
#[derive(Clone)]
pub struct TokenSigner {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSigner")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl TokenSigner {
    /// A signer for `secret` issuing tokens valid for `ttl`.
    ///
    /// # Errors
    /// `INVALID_CONFIG` when the secret is shorter than 32 bytes.
    pub fn new(secret: &[u8], ttl: Duration) -> Result<Self> {
        if secret.len() < MIN_SECRET_LEN {
            return Err(ChatError::InvalidConfig(format!(
                "the JWT secret must be at least {MIN_SECRET_LEN} bytes"
            )));
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims = ["exp", "iat", "sub"]
            .into_iter()
            .map(str::to_owned)
            .collect();
        Ok(Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            ttl,
        })
    }

    /// Issues a token for `user` in `session`; returns it with its expiry.
    ///
    /// # Errors
    /// `INTERNAL` if signing fails.
    pub fn issue(
        &self,
        user: UserId,
        session: SessionId,
        now: Timestamp,
    ) -> Result<(String, Timestamp)> {
        let expires_at = Timestamp::from_unix_seconds(now.as_unix_seconds()).plus(self.ttl);
        let claims = AccessClaims {
            sub: user,
            sid: session,
            iat: now.as_unix_seconds(),
            exp: expires_at.as_unix_seconds(),
            jti: Uuid::new_v4(),
            nbf: None,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(ChatError::internal)?;
        Ok((token, expires_at))
    }

    /// Verifies signature, algorithm and times.
    ///
    /// # Errors
    /// `TOKEN_EXPIRED` past `exp`; `INVALID_TOKEN` for anything else wrong.
    pub fn verify(&self, token: &str, now: Timestamp) -> Result<AccessClaims> {
        let data = jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &self.validation)
            .map_err(|_| ChatError::InvalidToken)?;
        let claims = data.claims;
        let now_secs = now.as_unix_seconds();
        if claims.exp <= now_secs {
            return Err(ChatError::TokenExpired);
        }
        if claims.iat > now_secs + LEEWAY_SECS
            || claims.nbf.is_some_and(|n| n > now_secs + LEEWAY_SECS)
        {
            return Err(ChatError::InvalidToken);
        }
        Ok(claims)
    }

    /// Access token lifetime.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn signer() -> TokenSigner {
        TokenSigner::new(SECRET, Duration::from_secs(900)).expect("signer")
    }

    fn now() -> Timestamp {
        Timestamp::from_unix_seconds(1_800_000_000)
    }

    #[test]
    fn an_issued_token_verifies_with_its_claims() {
        let s = signer();
        let (user, session) = (UserId::new(), SessionId::new());
        let (token, exp) = s.issue(user, session, now()).expect("issue");
        let claims = s.verify(&token, now()).expect("valid");
        assert_eq!((claims.sub, claims.sid), (user, session));
        assert_eq!(claims.exp, exp.as_unix_seconds());
        assert_eq!(claims.exp - claims.iat, 900);
    }

    #[test]
    fn a_token_is_expired_at_its_exp() {
        let s = signer();
        let (token, exp) = s
            .issue(UserId::new(), SessionId::new(), now())
            .expect("issue");
        let err = s.verify(&token, exp).expect_err("expired");
        assert_eq!(err.code(), "TOKEN_EXPIRED");
    }

    #[test]
    fn a_token_signed_with_another_secret_is_invalid() {
        let other = TokenSigner::new(&[7u8; 32], Duration::from_secs(900)).expect("signer");
        let (token, _) = other
            .issue(UserId::new(), SessionId::new(), now())
            .expect("issue");
        assert_eq!(
            signer().verify(&token, now()).expect_err("bad").code(),
            "INVALID_TOKEN"
        );
    }

    #[test]
    fn an_unsigned_alg_none_token_is_invalid() {
        let (token, _) = signer()
            .issue(UserId::new(), SessionId::new(), now())
            .expect("issue");
        let payload = token.split('.').nth(1).expect("payload");
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let forged = format!("{header}.{payload}.");
        assert_eq!(
            signer().verify(&forged, now()).expect_err("none").code(),
            "INVALID_TOKEN"
        );
    }

    #[test]
    fn a_token_with_another_algorithm_is_invalid() {
        let claims = AccessClaims {
            sub: UserId::new(),
            sid: SessionId::new(),
            iat: now().as_unix_seconds(),
            exp: now().as_unix_seconds() + 60,
            jti: Uuid::new_v4(),
            nbf: None,
        };
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &claims,
            &EncodingKey::from_secret(SECRET),
        )
        .expect("encode");
        assert_eq!(
            signer().verify(&token, now()).expect_err("hs512").code(),
            "INVALID_TOKEN"
        );
    }

    #[test]
    fn a_tampered_payload_is_invalid() {
        let (token, _) = signer()
            .issue(UserId::new(), SessionId::new(), now())
            .expect("issue");
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let other = signer()
            .issue(UserId::new(), SessionId::new(), now())
            .expect("issue")
            .0;
        parts[1] = other.split('.').nth(1).expect("payload").to_owned();
        assert!(signer().verify(&parts.join("."), now()).is_err());
    }

    #[test]
    fn a_token_not_yet_valid_is_invalid() {
        let later = now().plus(Duration::from_secs(3600));
        let (token, _) = signer()
            .issue(UserId::new(), SessionId::new(), later)
            .expect("issue");
        assert_eq!(
            signer().verify(&token, now()).expect_err("future").code(),
            "INVALID_TOKEN"
        );
    }

    #[test]
    fn garbage_is_invalid() {
        for bad in ["", "abc", "a.b.c", "....."] {
            assert_eq!(
                signer().verify(bad, now()).expect_err(bad).code(),
                "INVALID_TOKEN"
            );
        }
    }

    #[test]
    fn short_secrets_are_refused() {
        assert!(TokenSigner::new(b"short", Duration::from_secs(1)).is_err());
    }
}
