//! The words of a notification: who sent what, shortened.

use crate::model::{Message, UserSummary};

/// The longest preview of a message, in characters.
pub(super) const PREVIEW_CHARS: usize = 120;

/// How a notification names a user: their display name, else their
/// username.
pub(super) fn name_of(user: Option<&UserSummary>) -> String {
    user.map_or_else(
        || "Someone".to_owned(),
        |u| u.display_name.clone().unwrap_or_else(|| u.username.clone()),
    )
}

/// A message's text on one line, at most [`PREVIEW_CHARS`] characters
/// (an ellipsis marks a cut), or what it holds when it has no text.
pub(super) fn preview(message: &Message) -> String {
    let mut words = message.content.split_whitespace();
    let mut out = String::new();
    let mut cut = false;
    if let Some(first) = words.next() {
        out.push_str(first);
        for word in words {
            out.push(' ');
            out.push_str(word);
        }
    }
    if out.chars().count() > PREVIEW_CHARS {
        out = out.chars().take(PREVIEW_CHARS - 1).collect();
        cut = true;
    }
    if cut {
        out.push('…');
    }
    if out.is_empty() {
        out = match message.attachments.as_slice() {
            [] => String::new(),
            [one] => format!("📎 {}", one.filename),
            [first, rest @ ..] => format!("📎 {} and {} more", first.filename, rest.len()),
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{AttachmentId, ConversationId, MessageId, UserId};
    use crate::model::MessageAttachment;
    use crate::time::Timestamp;

    fn message(content: &str, files: &[&str]) -> Message {
        Message {
            id: MessageId::new(),
            conversation_id: ConversationId::new(),
            seq: 1,
            sender_id: UserId::new(),
            content: content.to_owned(),
            message_type: "text".to_owned(),
            client_msg_id: None,
            created_at: Timestamp::from_millis(0),
            reply_to: None,
            mentions: Vec::new(),
            attachments: files
                .iter()
                .map(|name| MessageAttachment {
                    attachment_id: AttachmentId::new(),
                    filename: (*name).to_owned(),
                    content_type: "image/png".to_owned(),
                    size: 1,
                    width: None,
                    height: None,
                    preview: false,
                })
                .collect(),
            edited_at: None,
            deleted_at: None,
        }
    }

    #[test]
    fn previews_are_one_line_and_cut_at_a_character() {
        assert_eq!(
            preview(&message("  hello\n\n  there\t", &[])),
            "hello there"
        );
        let long = "é".repeat(200);
        let cut = preview(&message(&long, &[]));
        assert_eq!(cut.chars().count(), PREVIEW_CHARS);
        assert!(cut.ends_with('…'));
        assert_eq!(preview(&message(&"a".repeat(120), &[])), "a".repeat(120));
    }

    #[test]
    fn a_message_of_files_is_previewed_by_its_files() {
        assert_eq!(preview(&message("", &["cat.png"])), "📎 cat.png");
        assert_eq!(
            preview(&message(" ", &["a.png", "b.png", "c.png"])),
            "📎 a.png and 2 more"
        );
        assert_eq!(preview(&message("look", &["a.png"])), "look");
    }

    #[test]
    fn users_are_named_by_display_name_then_username() {
        let mut u = UserSummary {
            id: UserId::new(),
            username: "alice".into(),
            display_name: Some("Alice A.".into()),
            is_bot: false,
        };
        assert_eq!(name_of(Some(&u)), "Alice A.");
        u.display_name = None;
        assert_eq!(name_of(Some(&u)), "alice");
        assert_eq!(name_of(None), "Someone");
    }
}
