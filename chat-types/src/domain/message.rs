//! The client-supplied parts of a message: its content, its type and the
//! sender's idempotency key.

use std::fmt;

use super::is_forbidden_control;
use crate::error::ValidationError;

/// Message text: not blank (empty only beside attachments, see
/// [`MessageContent::parse_caption`]), at most 10,000 characters, no
/// control characters other than newline and tab.
///
/// Content is stored verbatim (it is not trimmed or escaped), so every
/// renderer must treat it as text, never as markup.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct MessageContent(String);

impl MessageContent {
    /// Maximum length in characters.
    pub const MAX_LEN: usize = 10_000;

    /// Validates message content.
    ///
    /// # Errors
    /// `EMPTY_CONTENT` when blank, `CONTENT_TOO_LONG` past 10,000
    /// characters, `INVALID_CONTENT` for NUL or other control characters.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        if raw.trim().is_empty() {
            return Err(ValidationError::new(
                "content",
                "EMPTY_CONTENT",
                "message content must not be empty",
            ));
        }
        if raw.chars().count() > Self::MAX_LEN {
            return Err(ValidationError::new(
                "content",
                "CONTENT_TOO_LONG",
                "message content must be at most 10000 characters long",
            ));
        }
        if raw.chars().any(is_forbidden_control) {
            return Err(ValidationError::new(
                "content",
                "INVALID_CONTENT",
                "message content must not contain control characters other than newline and tab",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// Validates the text sent with attachments, which may be blank:
    /// blank text is stored as the empty string.
    ///
    /// # Errors
    /// As [`parse`](Self::parse), except that blank text is no error.
    pub fn parse_caption(raw: &str) -> Result<Self, ValidationError> {
        if raw.trim().is_empty() {
            return Ok(Self(String::new()));
        }
        Self::parse(raw)
    }

    /// Whether there is no text (a message of attachments only).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The content.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The content, by value.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Debug for MessageContent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Message text is private; logs get its size only.
        write!(f, "MessageContent({} bytes)", self.0.len())
    }
}

/// A message type such as `text`: 1 to 20 ASCII letters, digits, `_`, `-`
/// or `.`. The engine does not interpret it; clients do.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct MessageType(String);

impl MessageType {
    /// Maximum length in characters.
    pub const MAX_LEN: usize = 20;

    /// The default type, `text`.
    pub fn text() -> Self {
        Self("text".to_owned())
    }

    /// Validates a message type.
    ///
    /// # Errors
    /// `INVALID_MESSAGE_TYPE` when empty, longer than 20 characters or
    /// containing other characters.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let ok = !raw.is_empty()
            && raw.len() <= Self::MAX_LEN
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        if !ok {
            return Err(ValidationError::new(
                "message_type",
                "INVALID_MESSAGE_TYPE",
                "message_type must be 1 to 20 ASCII letters, digits, '_', '-' or '.'",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The type.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for MessageType {
    fn default() -> Self {
        Self::text()
    }
}

impl fmt::Debug for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// The sender's idempotency key for a message: 1 to 64 printable ASCII
/// characters (a UUID fits). Sending again with the same key in the same
/// conversation returns the original message.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ClientMsgId(String);

impl ClientMsgId {
    /// Maximum length in characters.
    pub const MAX_LEN: usize = 64;

    /// Validates a client message id.
    ///
    /// # Errors
    /// `INVALID_CLIENT_MSG_ID` when empty, longer than 64 characters or not
    /// printable ASCII.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let ok = !raw.is_empty()
            && raw.len() <= Self::MAX_LEN
            && raw.bytes().all(|b| b.is_ascii_graphic());
        if !ok {
            return Err(ValidationError::new(
                "client_msg_id",
                "INVALID_CLIENT_MSG_ID",
                "client_msg_id must be 1 to 64 printable ASCII characters without spaces",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientMsgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_is_kept_verbatim() {
        let raw = "  <b>hi</b>'; DROP TABLE messages; --\n\tbye  ";
        assert_eq!(MessageContent::parse(raw).expect("valid").as_str(), raw);
    }

    #[test]
    fn blank_content_is_refused() {
        for raw in ["", "   ", "\n\t "] {
            assert_eq!(
                MessageContent::parse(raw).expect_err("blank").code,
                "EMPTY_CONTENT"
            );
        }
    }

    #[test]
    fn a_caption_may_be_blank_but_is_otherwise_content() {
        for raw in ["", "   ", "\n\t "] {
            let caption = MessageContent::parse_caption(raw).expect("blank caption");
            assert!(caption.is_empty());
        }
        assert_eq!(
            MessageContent::parse_caption(" look ")
                .expect("valid")
                .as_str(),
            " look "
        );
        assert_eq!(
            MessageContent::parse_caption("a\0b").expect_err("NUL").code,
            "INVALID_CONTENT"
        );
    }

    #[test]
    fn content_length_counts_characters_not_bytes() {
        let max = "é".repeat(MessageContent::MAX_LEN);
        assert!(MessageContent::parse(&max).is_ok());
        let over = "a".repeat(MessageContent::MAX_LEN + 1);
        assert_eq!(
            MessageContent::parse(&over).expect_err("long").code,
            "CONTENT_TOO_LONG"
        );
    }

    #[test]
    fn control_characters_other_than_newline_and_tab_are_refused() {
        for raw in ["a\0b", "a\u{7}b", "a\rb", "a\u{1b}[31mb", "a\u{85}b"] {
            assert_eq!(
                MessageContent::parse(raw).expect_err(raw).code,
                "INVALID_CONTENT"
            );
        }
    }

    #[test]
    fn message_types_are_short_tokens() {
        assert!(MessageType::parse("text").is_ok());
        assert!(MessageType::parse("image.v2").is_ok());
        assert!(MessageType::parse(&"a".repeat(20)).is_ok());
        for raw in ["", "a b", "<script>", &"a".repeat(21), "té"] {
            assert_eq!(
                MessageType::parse(raw).expect_err(raw).code,
                "INVALID_MESSAGE_TYPE"
            );
        }
        assert_eq!(MessageType::default().as_str(), "text");
    }

    #[test]
    fn client_msg_ids_are_printable_ascii() {
        assert!(ClientMsgId::parse("0b8e5a56-4c2f-4d0a-9d53-6a0f7f6b7b1e").is_ok());
        for raw in ["", "a b", "é", &"x".repeat(65)] {
            assert_eq!(
                ClientMsgId::parse(raw).expect_err(raw).code,
                "INVALID_CLIENT_MSG_ID"
            );
        }
    }

    #[test]
    fn debug_output_hides_message_text() {
        let c = MessageContent::parse("secret plans").expect("valid");
        assert_eq!(format!("{c:?}"), "MessageContent(12 bytes)");
    }
}
