//! The signature every webhook delivery carries: HMAC-SHA256 of
//! `"{timestamp}.{body}"` under the webhook's secret, sent as
//! `Chat-Signature: t={timestamp},v1={hex}` (docs/api.md, "Webhooks").

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The `Chat-Signature` header's value for `body` sent at `timestamp`
/// (seconds since the Unix epoch).
pub fn sign(secret: &str, timestamp: u64, body: &[u8]) -> String {
    format!("t={timestamp},v1={}", hex(&mac(secret, timestamp, body)))
}

/// Whether `header` is a valid signature of `body` under `secret`, made
/// at most `tolerance_secs` from `now` (a receiver's check; the server
/// uses it in tests, and an embedder's receiver may).
pub fn verify(secret: &str, header: &str, body: &[u8], now: u64, tolerance_secs: u64) -> bool {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<u64>().ok(),
            Some(("v1", v)) => signatures.push(v),
            _ => {}
        }
    }
    let Some(timestamp) = timestamp else {
        return false;
    };
    if timestamp.abs_diff(now) > tolerance_secs {
        return false;
    }
    signatures.iter().any(|s| {
        let mut check = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
            .expect("HMAC takes a key of any length");
        check.update(format!("{timestamp}.").as_bytes());
        check.update(body);
        unhex(s).is_some_and(|bytes| check.verify_slice(&bytes).is_ok())
    })
}

fn mac(secret: &str, timestamp: u64, body: &[u8]) -> Vec<u8> {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_matches_a_known_hmac() {
        // `printf '1700000000.{}' | openssl dgst -sha256 -hmac secret`
        assert_eq!(
            sign("secret", 1_700_000_000, b"{}"),
            "t=1700000000,v1=b8569b78799ff9e3cbff0fc2d63a33a2b57f3282abd07c37ae5e8e7d79a5f163"
        );
    }

    #[test]
    fn verification_needs_the_secret_the_body_and_a_fresh_time() {
        let header = sign("s3cret", 1_000, b"payload");
        assert!(verify("s3cret", &header, b"payload", 1_100, 300));
        assert!(!verify("other", &header, b"payload", 1_100, 300));
        assert!(!verify("s3cret", &header, b"payload!", 1_100, 300));
        assert!(
            !verify("s3cret", &header, b"payload", 2_000, 300),
            "too old"
        );
        assert!(!verify("s3cret", "v1=00", b"payload", 1_000, 300));
        assert!(!verify("s3cret", "t=1000,v1=zz", b"payload", 1_000, 300));
    }
}
