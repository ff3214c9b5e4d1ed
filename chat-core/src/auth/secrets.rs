//! Opaque bearer secrets (refresh and reset tokens).
//!
//! A secret is 32 random bytes (256 bits) in URL-safe base64. Only its
//! SHA-256 is stored: the secret has full entropy, so a fast hash is enough
//! and lookups stay an index probe.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::error::{ChatError, Result};

/// A fresh random secret.
///
/// # Errors
/// `INTERNAL` if the operating system's random source fails.
pub fn generate() -> Result<String> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes::<32>()?))
}

/// `N` bytes from the operating system's random source.
///
/// # Errors
/// `INTERNAL` if the random source fails.
pub fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(ChatError::internal)?;
    Ok(bytes)
}

/// The stored form of a secret: lowercase hex SHA-256.
pub fn hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_carry_256_bits_and_differ() {
        let a = generate().expect("random");
        let b = generate().expect("random");
        assert_ne!(a, b);
        assert_eq!(URL_SAFE_NO_PAD.decode(&a).expect("base64").len(), 32);
    }

    #[test]
    fn the_hash_is_stable_hex_sha256() {
        assert_eq!(
            hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
