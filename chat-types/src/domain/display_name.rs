use std::fmt;

use super::is_forbidden_control;
use crate::error::ValidationError;

/// A display name: 1 to 100 characters after trimming, any script, no
/// control characters.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct DisplayName(String);

impl DisplayName {
    /// Maximum length in characters.
    pub const MAX_LEN: usize = 100;

    /// Validates and trims a display name.
    ///
    /// # Errors
    /// `INVALID_DISPLAY_NAME` when empty, too long or containing control characters.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let s = raw.trim();
        let invalid = |m: &str| ValidationError::new("display_name", "INVALID_DISPLAY_NAME", m);
        if s.is_empty() {
            return Err(invalid("display name must not be empty"));
        }
        if s.chars().count() > Self::MAX_LEN {
            return Err(invalid("display name must be at most 100 characters long"));
        }
        if s.chars()
            .any(|c| is_forbidden_control(c) || c == '\n' || c == '\t')
        {
            return Err(invalid("display name must not contain control characters"));
        }
        Ok(Self(s.to_owned()))
    }

    /// The display name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The lowercase form used for prefix search.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

impl fmt::Debug for DisplayName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for DisplayName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_any_script_are_accepted_and_trimmed() {
        assert_eq!(
            DisplayName::parse("  Zoë 李  ").expect("valid").as_str(),
            "Zoë 李"
        );
    }

    #[test]
    fn blank_names_are_rejected() {
        assert!(DisplayName::parse("   ").is_err());
    }

    #[test]
    fn names_over_100_characters_are_rejected() {
        assert!(DisplayName::parse(&"é".repeat(100)).is_ok());
        assert!(DisplayName::parse(&"é".repeat(101)).is_err());
    }

    #[test]
    fn control_characters_are_rejected() {
        assert!(DisplayName::parse("a\u{0}b").is_err());
        assert!(DisplayName::parse("a\nb").is_err());
    }
}
