use std::fmt;

use super::is_forbidden_control;
use crate::error::ValidationError;

/// A group's name: 1 to 100 characters after trimming, any script, no
/// control characters.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct GroupName(String);

impl GroupName {
    /// Maximum length in characters.
    pub const MAX_LEN: usize = 100;

    /// Validates and trims a group name.
    ///
    /// # Errors
    /// `INVALID_GROUP_NAME` when empty, too long or containing control characters.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let s = raw.trim();
        let invalid = |m: &str| ValidationError::new("name", "INVALID_GROUP_NAME", m);
        if s.is_empty() {
            return Err(invalid("group name must not be empty"));
        }
        if s.chars().count() > Self::MAX_LEN {
            return Err(invalid("group name must be at most 100 characters long"));
        }
        if s.chars()
            .any(|c| is_forbidden_control(c) || c == '\n' || c == '\t')
        {
            return Err(invalid("group name must not contain control characters"));
        }
        Ok(Self(s.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for GroupName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed() {
        assert_eq!(
            GroupName::parse("  Friday lunch ").expect("valid").as_str(),
            "Friday lunch"
        );
    }

    #[test]
    fn bad_names_are_refused() {
        for raw in ["", "   ", "a\nb", &"n".repeat(101)] {
            assert_eq!(
                GroupName::parse(raw).expect_err(raw).code,
                "INVALID_GROUP_NAME"
            );
        }
        assert!(GroupName::parse(&"ñ".repeat(100)).is_ok());
    }
}
