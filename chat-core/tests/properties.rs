//! Property tests of the validators and the WebSocket frame decoder: for
//! any input, they accept exactly what the documented rules allow, keep
//! what they accept verbatim, and never panic.

use chat_core::domain::field_with_forbidden_control;
use chat_core::ids::{AttachmentId, ConversationId, MessageId, UserId};
use chat_core::protocol::{ClientFrame, decode_client_frame};
use chat_core::{MessageContent, Password, Username};
use proptest::prelude::*;
use uuid::Uuid;

/// Error codes the decoder may answer with (docs/protocol.md).
const DECODE_CODES: [&str; 4] = [
    "INVALID_JSON",
    "UNKNOWN_TYPE",
    "INVALID_MESSAGE",
    "INVALID_TEXT",
];

fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        // Mostly plausible text, with the edge characters the rules name.
        "[a-zA-Z0-9_.\\- !?#@\n\t\r\u{0}\u{7f}éß漢🙂]{0,140}",
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn usernames_are_3_to_50_ascii_letters_digits_or_marks(raw in any_text()) {
        let allowed = (3..=50).contains(&raw.chars().count())
            && raw.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        match Username::parse(&raw) {
            Ok(name) => {
                prop_assert!(allowed, "accepted {raw:?}");
                prop_assert_eq!(name.as_str(), raw.as_str());
                prop_assert_eq!(name.key(), raw.to_ascii_lowercase());
            }
            Err(e) => {
                prop_assert!(!allowed, "refused {raw:?}");
                prop_assert_eq!(e.code, "INVALID_USERNAME");
            }
        }
    }

    #[test]
    fn passwords_need_length_a_digit_and_a_special_character(raw in any_text()) {
        let n = raw.chars().count();
        let allowed = (8..=128).contains(&n)
            && raw.chars().any(|c| c.is_ascii_digit())
            && raw.chars().any(|c| !c.is_alphanumeric() && !c.is_whitespace() && !c.is_control())
            && !raw.chars().any(char::is_control);
        match Password::parse(&raw) {
            Ok(p) => {
                prop_assert!(allowed, "accepted {raw:?}");
                prop_assert_eq!(p.expose(), raw.as_str());
            }
            Err(e) => {
                prop_assert!(!allowed, "refused {raw:?}");
                prop_assert_eq!(e.code, "WEAK_PASSWORD");
            }
        }
    }

    #[test]
    fn content_is_kept_verbatim_when_it_follows_the_rules(raw in any_text()) {
        let allowed = !raw.trim().is_empty()
            && raw.chars().count() <= 10_000
            && !raw.chars().any(|c| c.is_control() && c != '\n' && c != '\t');
        match MessageContent::parse(&raw) {
            Ok(content) => {
                prop_assert!(allowed, "accepted {raw:?}");
                prop_assert_eq!(content.as_str(), raw.as_str());
            }
            Err(e) => {
                prop_assert!(!allowed, "refused {raw:?}");
                prop_assert!(["EMPTY_CONTENT", "CONTENT_TOO_LONG", "INVALID_CONTENT"].contains(&e.code));
            }
        }
    }

    #[test]
    fn the_decoder_answers_any_text_with_a_frame_or_a_documented_error(raw in any_text()) {
        if let Err(e) = decode_client_frame(&raw) {
            prop_assert!(DECODE_CODES.contains(&e.code), "{}", e.code);
        }
    }

    #[test]
    fn the_decoder_survives_any_json_shape(value in json_value()) {
        let text = value.to_string();
        if let Err(e) = decode_client_frame(&text) {
            prop_assert!(DECODE_CODES.contains(&e.code), "{}", e.code);
        }
    }

    #[test]
    fn every_frame_a_client_can_send_decodes_to_itself_unless_its_text_has_controls(
        frame in client_frame(),
    ) {
        let text = serde_json::to_string(&frame).expect("serialize");
        let value: serde_json::Value = serde_json::from_str(&text).expect("json");
        match field_with_forbidden_control(&value) {
            None => prop_assert_eq!(decode_client_frame(&text).expect("decode"), frame),
            Some(_) => prop_assert_eq!(
                decode_client_frame(&text).expect_err("refused").code,
                "INVALID_TEXT"
            ),
        }
    }
}

/// Arbitrary JSON, nested a few levels, with the frame's own keys likely.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let key = prop_oneof![
        Just("type".to_owned()),
        Just("content".to_owned()),
        Just("recipient_id".to_owned()),
        Just("client_msg_id".to_owned()),
        "[a-z_]{1,12}",
    ];
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        prop_oneof![
            Just("message.send".to_owned()),
            Just("typing".to_owned()),
            Just(Uuid::nil().to_string()),
            any_text(),
        ]
        .prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            prop::collection::btree_map(key.clone(), inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

fn uuid() -> impl Strategy<Value = Uuid> + Clone {
    any::<u128>().prop_map(Uuid::from_u128)
}

fn client_frame() -> impl Strategy<Value = ClientFrame> {
    let user = uuid().prop_map(UserId::from_uuid);
    let conv = uuid().prop_map(ConversationId::from_uuid);
    let msg = uuid().prop_map(MessageId::from_uuid);
    let files = prop::collection::vec(uuid().prop_map(AttachmentId::from_uuid), 0..3);
    let text = any::<String>();
    let opt_text = proptest::option::of(any::<String>());
    prop_oneof![
        (
            user.clone(),
            any::<String>(),
            opt_text.clone(),
            opt_text.clone(),
            proptest::option::of(msg.clone()),
            files.clone()
        )
            .prop_map(
                |(recipient_id, content, message_type, client_msg_id, reply_to, attachments)| {
                    ClientFrame::Send {
                        recipient_id,
                        content,
                        message_type,
                        client_msg_id,
                        reply_to,
                        attachments,
                    }
                }
            ),
        (
            conv.clone(),
            any::<String>(),
            opt_text.clone(),
            opt_text.clone(),
            proptest::option::of(msg.clone()),
            files.clone()
        )
            .prop_map(
                |(group_id, content, message_type, client_msg_id, reply_to, attachments)| {
                    ClientFrame::GroupSend {
                        group_id,
                        content,
                        message_type,
                        client_msg_id,
                        reply_to,
                        attachments,
                    }
                }
            ),
        (msg.clone(), any::<String>(), opt_text.clone()).prop_map(
            |(message_id, content, request_id)| ClientFrame::Edit {
                message_id,
                content,
                request_id,
            }
        ),
        (msg.clone(), opt_text.clone()).prop_map(|(message_id, request_id)| {
            ClientFrame::Delete {
                message_id,
                request_id,
            }
        }),
        (msg.clone(), any::<String>(), opt_text.clone()).prop_map(
            |(message_id, emoji, request_id)| ClientFrame::ReactionAdd {
                message_id,
                emoji,
                request_id,
            }
        ),
        (msg.clone(), text, opt_text.clone()).prop_map(|(message_id, emoji, request_id)| {
            ClientFrame::ReactionRemove {
                message_id,
                emoji,
                request_id,
            }
        }),
        (
            proptest::option::of(msg.clone()),
            proptest::option::of(conv.clone())
        )
            .prop_map(|(message_id, conversation_id)| ClientFrame::Read {
                message_id,
                conversation_id
            }),
        (
            proptest::option::of(prop::collection::vec(msg, 0..5)),
            proptest::option::of(conv.clone()),
            proptest::option::of(any::<u64>())
        )
            .prop_map(|(message_ids, conversation_id, seq)| ClientFrame::Ack {
                message_ids,
                conversation_id,
                seq
            }),
        (
            proptest::option::of(user),
            proptest::option::of(conv.clone()),
            proptest::option::of(conv.clone()),
            any::<bool>()
        )
            .prop_map(|(recipient_id, group_id, conversation_id, is_typing)| {
                ClientFrame::Typing {
                    recipient_id,
                    group_id,
                    conversation_id,
                    is_typing,
                }
            }),
        (conv, any::<u64>(), proptest::option::of(any::<u32>())).prop_map(
            |(conversation_id, after_seq, limit)| ClientFrame::Sync {
                conversation_id,
                after_seq,
                limit
            }
        ),
        text.prop_map(|token| ClientFrame::Auth { token }),
        Just(ClientFrame::Ping),
    ]
}
