//! [`Emoji`]: a reaction.

use std::fmt;

use crate::error::ValidationError;

/// One emoji from Unicode's list (through the `emojis` crate), given as
/// the emoji itself (`👍`, skin tones included) or as its GitHub short name
/// (`+1`, `:thumbsup:`). It is kept in its fully qualified Unicode form, so
/// `👍` and `:+1:` are the same reaction.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Emoji(&'static str);

impl Emoji {
    /// Longest input looked up, in bytes (the longest emoji sequences and
    /// short names are well under it).
    const MAX_INPUT: usize = 64;

    /// Validates a reaction.
    ///
    /// # Errors
    /// `INVALID_EMOJI` for anything that is not one emoji or the short
    /// name of one.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let found = (raw.len() <= Self::MAX_INPUT)
            .then(|| {
                let name = raw.strip_prefix(':').and_then(|r| r.strip_suffix(':'));
                emojis::get(raw).or_else(|| emojis::get_by_shortcode(name.unwrap_or(raw)))
            })
            .flatten();
        found.map(|e| Self(e.as_str())).ok_or_else(|| {
            ValidationError::new(
                "emoji",
                "INVALID_EMOJI",
                "a reaction is one Unicode emoji, or its short name such as :+1:",
            )
        })
    }

    /// The emoji, fully qualified.
    pub fn as_str(&self) -> &'static str {
        self.0
    }
}

impl fmt::Debug for Emoji {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Emoji({})", self.0)
    }
}

impl fmt::Display for Emoji {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emoji_and_short_names_are_the_same_reaction() {
        let thumbs = Emoji::parse("👍").expect("emoji");
        assert_eq!(Emoji::parse("+1"), Ok(thumbs.clone()));
        assert_eq!(Emoji::parse(":+1:"), Ok(thumbs.clone()));
        assert_eq!(Emoji::parse(":thumbsup:"), Ok(thumbs));
        assert!(Emoji::parse("👍🏽").is_ok(), "skin tones are emoji too");
        assert!(Emoji::parse("👩‍👩‍👧").is_ok(), "so are sequences");
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in [
            "",
            "zz",
            "👍👍",
            ":nope:",
            "thumbs up",
            "<script>",
            &"x".repeat(1000),
        ] {
            let e = Emoji::parse(bad).expect_err(bad);
            assert_eq!(e.code, "INVALID_EMOJI", "{bad}");
        }
    }
}
