//! [`FileName`]: the name an attachment is shown and downloaded under.

use std::fmt;

use super::is_forbidden_control;
use crate::error::ValidationError;

/// An attachment's file name, as the uploader gave it: 1 to 255
/// characters (after trimming spaces), no control characters, and no `/`
/// or `\` (a name, not a path). Everything else is kept, since the name is
/// only ever shown as text and sent percent-encoded in
/// `Content-Disposition`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct FileName(String);

impl FileName {
    /// Maximum length in characters.
    pub const MAX_LEN: usize = 255;

    /// Validates and trims a name.
    ///
    /// # Errors
    /// `INVALID_FILENAME` (naming `filename`) when empty, too long, or
    /// holding a control character, `/` or `\`.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let s = raw.trim();
        let invalid = |m: &str| ValidationError::new("filename", "INVALID_FILENAME", m);
        if s.is_empty() {
            return Err(invalid("a file name must not be empty"));
        }
        if s.chars().count() > Self::MAX_LEN {
            return Err(invalid("a file name must be at most 255 characters long"));
        }
        if s.chars()
            .any(|c| is_forbidden_control(c) || matches!(c, '\t' | '\n' | '/' | '\\'))
        {
            return Err(invalid(
                "a file name must not contain control characters, '/' or '\\'",
            ));
        }
        Ok(Self(s.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for FileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for FileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_keep_what_is_not_a_path() {
        assert_eq!(
            FileName::parse("  report.pdf ").expect("valid").as_str(),
            "report.pdf"
        );
        for ok in [
            "photo 1.JPG",
            "résumé (final).docx",
            "..",
            "<b>.html",
            "🎉.png",
        ] {
            assert!(FileName::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn empty_long_pathlike_or_controlled_names_are_refused() {
        let long = "x".repeat(FileName::MAX_LEN + 1);
        for bad in [
            "",
            "   ",
            long.as_str(),
            "a/b",
            "..\\x",
            "bell\u{7}",
            "two\nlines",
            "a\ttab",
        ] {
            let err = FileName::parse(bad).expect_err(bad);
            assert_eq!(
                (err.field, err.code),
                ("filename", "INVALID_FILENAME"),
                "{bad:?}"
            );
        }
    }
}
