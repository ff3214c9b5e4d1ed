use std::fmt;

use crate::error::ValidationError;

/// A username: 3 to 50 ASCII letters, digits, `_`, `.` or `-`.
///
/// Unique case-insensitively: [`Username::key`] is the lowercase form the
/// stores index. The original spelling is kept for display.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

impl Username {
    /// Minimum length in characters.
    pub const MIN_LEN: usize = 3;
    /// Maximum length in characters.
    pub const MAX_LEN: usize = 50;

    /// Validates a username.
    ///
    /// # Errors
    /// `INVALID_USERNAME` when the length or a character is not allowed.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let len = raw.chars().count();
        if !(Self::MIN_LEN..=Self::MAX_LEN).contains(&len) {
            return Err(ValidationError::new(
                "username",
                "INVALID_USERNAME",
                format!(
                    "username must be {} to {} characters long",
                    Self::MIN_LEN,
                    Self::MAX_LEN
                ),
            ));
        }
        if let Some(bad) = raw
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
        {
            return Err(ValidationError::new(
                "username",
                "INVALID_USERNAME",
                format!(
                    "username may contain only letters, digits, '_', '.' and '-' (found {bad:?})"
                ),
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The username as entered.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-folded form used for uniqueness and lookups.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

impl fmt::Debug for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_username_is_accepted() {
        assert_eq!(
            Username::parse("alice_01.b-c").expect("valid").as_str(),
            "alice_01.b-c"
        );
    }

    #[test]
    fn usernames_shorter_than_three_characters_are_rejected() {
        let err = Username::parse("ab").expect_err("too short");
        assert_eq!(err.code, "INVALID_USERNAME");
        assert_eq!(err.field, "username");
    }

    #[test]
    fn usernames_longer_than_fifty_characters_are_rejected() {
        assert!(Username::parse(&"a".repeat(50)).is_ok());
        assert!(Username::parse(&"a".repeat(51)).is_err());
    }

    #[test]
    fn spaces_symbols_and_non_ascii_letters_are_rejected() {
        for bad in ["al ice", "alice!", "ali@ce", "ålice", "alice\n", "<script>"] {
            assert!(Username::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn the_key_is_lowercase() {
        assert_eq!(Username::parse("AliCe").expect("valid").key(), "alice");
    }
}
