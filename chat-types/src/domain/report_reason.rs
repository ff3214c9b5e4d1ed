use std::fmt;

use super::is_forbidden_control;
use crate::error::ValidationError;

/// Why a member reports a message: up to 1,000 characters after trimming
/// (empty is allowed: the report itself says enough), line breaks allowed,
/// no other control characters.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ReportReason(String);

impl ReportReason {
    /// Maximum length in characters.
    pub const MAX_LEN: usize = 1_000;

    /// Validates and trims a reason.
    ///
    /// # Errors
    /// `INVALID_REASON` when too long or containing control characters.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let s = raw.trim();
        let invalid = |m: &str| ValidationError::new("reason", "INVALID_REASON", m);
        if s.chars().count() > Self::MAX_LEN {
            return Err(invalid("a reason must be at most 1000 characters long"));
        }
        if s.chars().any(|c| is_forbidden_control(c) || c == '\t') {
            return Err(invalid("a reason must not contain control characters"));
        }
        Ok(Self(s.to_owned()))
    }

    /// The reason (possibly empty).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ReportReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_trimmed_and_may_be_empty() {
        assert_eq!(
            ReportReason::parse("  spam\n").expect("valid").as_str(),
            "spam"
        );
        assert_eq!(ReportReason::parse("   ").expect("valid").as_str(), "");
        assert!(ReportReason::parse("line one\nline two").is_ok());
    }

    #[test]
    fn long_or_controlled_reasons_are_refused() {
        let long = "x".repeat(ReportReason::MAX_LEN + 1);
        assert_eq!(
            ReportReason::parse(&long).expect_err("too long").code,
            "INVALID_REASON"
        );
        assert_eq!(
            ReportReason::parse("bell\u{7}").expect_err("control").field,
            "reason"
        );
    }
}
