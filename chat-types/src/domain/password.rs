use std::fmt;

use crate::error::ValidationError;

/// A new password that meets the rules: 8 to 128
/// characters with at least one digit and one special character.
///
/// `Debug` never prints the password.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// Minimum length in characters.
    pub const MIN_LEN: usize = 8;
    /// Maximum length in characters.
    pub const MAX_LEN: usize = 128;

    /// Checks a new password against the rules.
    ///
    /// # Errors
    /// `WEAK_PASSWORD` naming the first rule it breaks.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let weak = |m: &str| ValidationError::new("password", "WEAK_PASSWORD", m);
        let len = raw.chars().count();
        if len < Self::MIN_LEN {
            return Err(weak("password must be at least 8 characters long"));
        }
        if len > Self::MAX_LEN {
            return Err(weak("password must be at most 128 characters long"));
        }
        if !raw.chars().any(|c| c.is_ascii_digit()) {
            return Err(weak("password must contain at least one digit"));
        }
        if !raw
            .chars()
            .any(|c| !c.is_alphanumeric() && !c.is_whitespace() && !c.is_control())
        {
            return Err(weak(
                "password must contain at least one special character (such as ! ? # @ -)",
            ));
        }
        if raw.chars().any(char::is_control) {
            return Err(weak("password must not contain control characters"));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The password itself, for hashing.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Renames the field reported in validation errors (`new_password`).
    pub fn parse_field(raw: &str, field: &'static str) -> Result<Self, ValidationError> {
        Self::parse(raw).map_err(|mut e| {
            e.field = field;
            e
        })
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_with_a_digit_and_a_symbol_is_accepted() {
        assert!(Password::parse("hunter2!x").is_ok());
    }

    #[test]
    fn short_passwords_are_weak() {
        let err = Password::parse("a1!").expect_err("short");
        assert_eq!(err.code, "WEAK_PASSWORD");
        assert!(err.message.contains("8 characters"));
    }

    #[test]
    fn passwords_without_a_digit_are_weak() {
        assert!(Password::parse("password!!").is_err());
    }

    #[test]
    fn passwords_without_a_special_character_are_weak() {
        assert!(Password::parse("password12").is_err());
    }

    #[test]
    fn passwords_over_128_characters_are_rejected() {
        let ok = format!("1!{}", "a".repeat(126));
        assert!(Password::parse(&ok).is_ok());
        let long = format!("1!{}", "a".repeat(127));
        assert!(Password::parse(&long).is_err());
    }

    #[test]
    fn debug_output_hides_the_password() {
        let p = Password::parse("hunter2!x").expect("valid");
        assert!(!format!("{p:?}").contains("hunter"));
    }

    #[test]
    fn the_reported_field_can_be_renamed() {
        let err = Password::parse_field("x", "new_password").expect_err("weak");
        assert_eq!(err.field, "new_password");
    }
}
