//! argon2id password hashing, run off the async runtime.

use std::sync::Arc;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version};
use tokio::sync::Semaphore;

use super::Argon2Params;
use crate::error::{ChatError, Result};

/// Hashes and verifies passwords with argon2id.
///
/// Each hash takes tens of milliseconds of one core by design, so it runs in
/// `spawn_blocking`, and a semaphore caps how many run at once: a burst of
/// logins queues here instead of starving every other request of CPU.
#[derive(Clone)]
pub struct PasswordHasher {
    argon: Arc<Argon2<'static>>,
    permits: Arc<Semaphore>,
    /// A hash of a random password with the current parameters. Logins for
    /// unknown users verify against it so they take as long as real ones.
    dummy_hash: Arc<str>,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("available_permits", &self.permits.available_permits())
            .finish_non_exhaustive()
    }
}

impl PasswordHasher {
    /// Builds a hasher; computes the dummy hash once, synchronously.
    ///
    /// # Errors
    /// `INVALID_CONFIG` when the parameters are outside argon2's ranges.
    pub fn new(params: Argon2Params, max_concurrent: usize) -> Result<Self> {
        let p = Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            None,
        )
        .map_err(|e| ChatError::InvalidConfig(format!("argon2 parameters: {e}")))?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, p);
        let dummy_password = super::secrets::generate()?;
        let dummy_hash = hash_with(&argon, &dummy_password)?;
        Ok(Self {
            argon: Arc::new(argon),
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
            dummy_hash: dummy_hash.into(),
        })
    }

    /// Hashes a password into a PHC string (`$argon2id$v=19$m=...`).
    ///
    /// # Errors
    /// `INTERNAL` if hashing fails or the blocking task panics.
    pub async fn hash(&self, password: &str) -> Result<String> {
        let argon = Arc::clone(&self.argon);
        let password = password.to_owned();
        self.run(move || hash_with(&argon, &password)).await
    }

    /// Checks a password against a stored hash, or against the dummy hash
    /// when there is no user, so both cases cost the same.
    ///
    /// # Errors
    /// `INTERNAL` if the blocking task fails.
    pub async fn verify(&self, password: &str, hash: Option<&str>) -> Result<bool> {
        let argon = Arc::clone(&self.argon);
        let password = password.to_owned();
        let known = hash.is_some();
        let hash = hash.map_or_else(|| self.dummy_hash.to_string(), str::to_owned);
        let ok = self
            .run(move || {
                // A stored hash we cannot parse verifies as false.
                Ok(PasswordHash::new(&hash)
                    .is_ok_and(|h| argon.verify_password(password.as_bytes(), &h).is_ok()))
            })
            .await?;
        Ok(ok && known)
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let _permit = self.permits.acquire().await.map_err(ChatError::internal)?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(ChatError::internal)?
    }
}

fn hash_with(argon: &Argon2<'_>, password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    argon
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ChatError::internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> PasswordHasher {
        PasswordHasher::new(
            Argon2Params {
                memory_kib: 64,
                iterations: 1,
                parallelism: 1,
            },
            2,
        )
        .expect("valid params")
    }

    #[tokio::test]
    async fn a_hash_verifies_with_the_right_password_only() {
        let hasher = cheap();
        let hash = hasher.hash("hunter2!x").await.expect("hash");
        assert!(hash.starts_with("$argon2id$"));
        assert!(
            hasher
                .verify("hunter2!x", Some(&hash))
                .await
                .expect("verify")
        );
        assert!(
            !hasher
                .verify("hunter3!x", Some(&hash))
                .await
                .expect("verify")
        );
    }

    #[tokio::test]
    async fn verifying_without_a_user_is_always_false() {
        let hasher = cheap();
        assert!(!hasher.verify("anything", None).await.expect("verify"));
    }

    #[tokio::test]
    async fn a_garbage_stored_hash_does_not_verify() {
        let hasher = cheap();
        assert!(
            !hasher
                .verify("x", Some("not a hash"))
                .await
                .expect("verify")
        );
    }

    #[test]
    fn out_of_range_parameters_are_a_configuration_error() {
        let err = PasswordHasher::new(
            Argon2Params {
                memory_kib: 1,
                iterations: 0,
                parallelism: 1,
            },
            1,
        )
        .expect_err("invalid");
        assert_eq!(err.code(), "INVALID_CONFIG");
    }
}
