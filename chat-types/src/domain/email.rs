use std::fmt;

use crate::error::ValidationError;

/// An email address, checked for a plausible shape (not deliverability).
///
/// Unique case-insensitively: [`Email::key`] is the lowercase form the stores
/// index.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// Maximum length (RFC 5321 path limit).
    pub const MAX_LEN: usize = 254;

    /// Validates an email address, trimming surrounding whitespace.
    ///
    /// # Errors
    /// `INVALID_EMAIL` when it is not `local@domain.tld`-shaped.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let s = raw.trim();
        let invalid =
            || ValidationError::new("email", "INVALID_EMAIL", "email address is not valid");
        if s.is_empty() || s.len() > Self::MAX_LEN {
            return Err(invalid());
        }
        let (local, domain) = s.rsplit_once('@').ok_or_else(invalid)?;
        if local.is_empty()
            || local.len() > 64
            || local.contains('@')
            || local.chars().any(|c| c.is_whitespace() || c.is_control())
            || local.starts_with('.')
            || local.ends_with('.')
            || local.contains("..")
        {
            return Err(invalid());
        }
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2
            || labels.iter().any(|l| {
                l.is_empty()
                    || l.len() > 63
                    || l.starts_with('-')
                    || l.ends_with('-')
                    || !l.chars().all(|c| c.is_alphanumeric() || c == '-')
            })
        {
            return Err(invalid());
        }
        Ok(Self(s.to_owned()))
    }

    /// The address as entered (trimmed).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-folded form used for uniqueness and lookups.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_addresses_are_accepted() {
        for ok in ["a@b.co", "first.last+tag@example.com", "x@sub.example.org"] {
            assert!(Email::parse(ok).is_ok(), "{ok:?} should be accepted");
        }
    }

    #[test]
    fn surrounding_whitespace_is_trimmed() {
        assert_eq!(Email::parse("  a@b.co ").expect("valid").as_str(), "a@b.co");
    }

    #[test]
    fn malformed_addresses_are_rejected() {
        for bad in [
            "",
            "plain",
            "@example.com",
            "a@",
            "a@b",
            "a b@c.com",
            "a@b..com",
            "a@-b.com",
            ".a@b.com",
            "a..b@c.com",
            "a@b.c\nom",
        ] {
            let err = Email::parse(bad).expect_err(bad);
            assert_eq!(err.code, "INVALID_EMAIL");
        }
    }

    #[test]
    fn overlong_addresses_are_rejected() {
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(Email::parse(&long).is_err());
    }

    #[test]
    fn the_key_is_lowercase() {
        assert_eq!(Email::parse("A@B.Co").expect("valid").key(), "a@b.co");
    }
}
