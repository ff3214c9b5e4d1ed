//! Decoding client frames, with an error that says what was wrong.

use super::client::ClientFrame;
use crate::domain::{field_with_forbidden_control, json_has_forbidden_control};

/// Why a client frame could not be decoded. The connection stays open and
/// the client gets an `error` frame with this code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// `INVALID_JSON` (not a JSON object), `UNKNOWN_TYPE`,
    /// `INVALID_MESSAGE` (a field is missing or has the wrong type), or
    /// `INVALID_TEXT` (a string holds NUL or another control character
    /// than newline and tab).
    pub code: &'static str,
    /// What was wrong.
    pub message: String,
    /// The frame's `client_msg_id`, when it had a readable one, so a sender
    /// can tell which send failed.
    pub client_msg_id: Option<String>,
}

/// Decodes a text frame from a client.
///
/// # Errors
/// A [`DecodeError`] that names the problem.
pub fn decode_client_frame(text: &str) -> Result<ClientFrame, DecodeError> {
    // The common case costs one pass over the bytes and one parse; a
    // failure is parsed again, loosely, only to say what was wrong.
    if json_has_forbidden_control(text.as_bytes())
        && let Some(refusal) = control_refusal(text)
    {
        return Err(refusal);
    }
    serde_json::from_str::<ClientFrame>(text).map_err(|e| explain(text, &e))
}

/// The error for a frame with a control character in one of its strings;
/// `None` when it turns out to be no JSON object (the usual errors say so).
fn control_refusal(text: &str) -> Option<DecodeError> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    let field = field_with_forbidden_control(&value)?;
    Some(DecodeError {
        code: "INVALID_TEXT",
        message: format!(
            "`{field}` must not contain NUL or other control characters (newline and tab are allowed)"
        ),
        client_msg_id: value
            .get("client_msg_id")
            .and_then(|v| v.as_str())
            .filter(|id| !crate::domain::has_forbidden_control(id))
            .map(str::to_owned),
    })
}

fn explain(text: &str, error: &serde_json::Error) -> DecodeError {
    let value: serde_json::Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            return DecodeError {
                code: "INVALID_JSON",
                message: format!("the frame is not valid JSON: {e}"),
                client_msg_id: None,
            };
        }
    };
    let Some(object) = value.as_object() else {
        return DecodeError {
            code: "INVALID_JSON",
            message: "a frame must be a JSON object".to_owned(),
            client_msg_id: None,
        };
    };
    let client_msg_id = object
        .get("client_msg_id")
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    let (code, message) = match object.get("type").and_then(|t| t.as_str()) {
        None => (
            "INVALID_MESSAGE",
            "a frame needs a string field `type`".to_owned(),
        ),
        Some(t) if !ClientFrame::TYPES.contains(&t) => (
            "UNKNOWN_TYPE",
            format!(
                "unknown frame type `{}`; expected one of: {}",
                t.chars().take(64).collect::<String>(),
                ClientFrame::TYPES.join(", ")
            ),
        ),
        Some(t) => ("INVALID_MESSAGE", format!("invalid `{t}` frame: {error}")),
    };
    DecodeError {
        code,
        message,
        client_msg_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::UserId;

    #[test]
    fn a_send_frame_of_the_original_design_decodes() {
        let user = UserId::new();
        let text = format!(
            r#"{{"type":"message.send","recipient_id":"{user}","content":"Hello World","message_type":"text"}}"#
        );
        let frame = decode_client_frame(&text).expect("decodes");
        assert_eq!(
            frame,
            ClientFrame::Send {
                recipient_id: user,
                content: "Hello World".to_owned(),
                message_type: Some("text".to_owned()),
                client_msg_id: None,
                reply_to: None,
                attachments: Vec::new(),
            }
        );
    }

    #[test]
    fn malformed_json_is_invalid_json() {
        let e = decode_client_frame("{not json").expect_err("fails");
        assert_eq!(e.code, "INVALID_JSON");
        let e = decode_client_frame("[1,2]").expect_err("fails");
        assert_eq!(e.code, "INVALID_JSON");
    }

    #[test]
    fn an_unknown_type_is_named_in_the_error() {
        let e = decode_client_frame(r#"{"type":"launch.missiles"}"#).expect_err("fails");
        assert_eq!(e.code, "UNKNOWN_TYPE");
        assert!(e.message.contains("launch.missiles"));
    }

    #[test]
    fn a_bad_field_keeps_the_client_msg_id() {
        let e = decode_client_frame(
            r#"{"type":"message.send","recipient_id":"not-a-uuid","content":"x","client_msg_id":"c1"}"#,
        )
        .expect_err("fails");
        assert_eq!(e.code, "INVALID_MESSAGE");
        assert_eq!(e.client_msg_id.as_deref(), Some("c1"));
        let e = decode_client_frame(r#"{"content":"x"}"#).expect_err("fails");
        assert_eq!(e.code, "INVALID_MESSAGE");
    }

    #[test]
    fn ping_needs_nothing_but_its_type() {
        assert_eq!(
            decode_client_frame(r#"{"type":"ping"}"#),
            Ok(ClientFrame::Ping)
        );
    }

    #[test]
    fn a_control_character_in_any_string_is_invalid_text() {
        let frame = r#"{"type":"message.send","recipient_id":"x","content":"a\u0000b","client_msg_id":"c-1"}"#;
        let error = decode_client_frame(frame).expect_err("refused");
        assert_eq!(error.code, "INVALID_TEXT");
        assert!(error.message.contains("`content`"), "{}", error.message);
        assert_eq!(error.client_msg_id.as_deref(), Some("c-1"));
        let frame = r#"{"type":"typing","conversation_id":"\r","is_typing":true}"#;
        assert_eq!(
            decode_client_frame(frame).expect_err("refused").code,
            "INVALID_TEXT"
        );
    }
}
