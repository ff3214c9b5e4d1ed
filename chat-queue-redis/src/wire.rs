//! How events and notices travel over Redis Pub/Sub.
//!
//! A user-channel message is one header line of JSON, a newline, and for a
//! frame the frame's JSON exactly as the connection will write it: the
//! frame is serialized once by the publisher and never re-encoded. JSON
//! text never holds a raw newline, so the first one ends the header.

use bytes::Bytes;
use chat_core::realtime::{Event, EventKind, Frame, FrameClass, Notice};
use chat_core::{ConnectionId, ConversationId, SessionId};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
struct Header<'a> {
    /// The publishing instance, which delivered locally already.
    from: &'a str,
    #[serde(flatten)]
    kind: HeaderKind,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum HeaderKind {
    Frame {
        ephemeral: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        conversation: Option<ConversationId>,
        #[serde(skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        origin: Option<ConnectionId>,
    },
    Revoked {
        session: SessionId,
    },
    Resync,
}

/// Encodes an event published by instance `from`.
pub(crate) fn encode_event(from: &str, event: &Event) -> Vec<u8> {
    let (kind, body): (HeaderKind, &[u8]) = match event.kind() {
        EventKind::Frame(f) => (
            HeaderKind::Frame {
                ephemeral: f.class == FrameClass::Ephemeral,
                conversation: f.message.map(|m| m.0),
                seq: f.message.map(|m| m.1),
                origin: f.origin,
            },
            &f.json,
        ),
        EventKind::SessionRevoked(s) => (HeaderKind::Revoked { session: *s }, b""),
        EventKind::Resync => (HeaderKind::Resync, b""),
    };
    let header = Header { from, kind };
    let mut out = serde_json::to_vec(&header).unwrap_or_default();
    out.push(b'\n');
    out.extend_from_slice(body);
    out
}

/// Decodes a user-channel message: its publisher and the event, or `None`
/// for a message this version cannot read (logged by the caller).
pub(crate) fn decode_event(payload: &[u8]) -> Option<(String, Event)> {
    let split = payload.iter().position(|b| *b == b'\n')?;
    let header: Header<'_> = serde_json::from_slice(&payload[..split]).ok()?;
    let body = &payload[split + 1..];
    let event = match header.kind {
        HeaderKind::Frame {
            ephemeral,
            conversation,
            seq,
            origin,
        } => Event::frame(Frame {
            json: Bytes::copy_from_slice(body),
            class: if ephemeral {
                FrameClass::Ephemeral
            } else {
                FrameClass::Durable
            },
            message: conversation.zip(seq),
            origin,
        }),
        HeaderKind::Revoked { session } => Event::session_revoked(session),
        HeaderKind::Resync => Event::resync(),
    };
    Some((header.from.to_owned(), event))
}

#[derive(Debug, Serialize, Deserialize)]
struct NoticeEnvelope {
    from: String,
    #[serde(flatten)]
    notice: Notice,
}

/// Encodes a notice announced by instance `from`.
pub(crate) fn encode_notice(from: &str, notice: &Notice) -> Vec<u8> {
    serde_json::to_vec(&NoticeEnvelope {
        from: from.to_owned(),
        notice: notice.clone(),
    })
    .unwrap_or_default()
}

/// Decodes a notice and its announcing instance.
pub(crate) fn decode_notice(payload: &[u8]) -> Option<(String, Notice)> {
    let envelope: NoticeEnvelope = serde_json::from_slice(payload).ok()?;
    Some((envelope.from, envelope.notice))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chat_core::Timestamp;

    #[test]
    fn a_frame_keeps_its_bytes_class_seq_and_origin() {
        let conversation = ConversationId::new();
        let origin = ConnectionId::new();
        let json = r#"{"type":"message.new","content":"a\nb"}"#;
        let event = Event::frame(Frame {
            json: Bytes::from_static(json.as_bytes()),
            class: FrameClass::Ephemeral,
            message: Some((conversation, 7)),
            origin: Some(origin),
        });
        let (from, back) = decode_event(&encode_event("a1", &event)).expect("decodes");
        assert_eq!(from, "a1");
        let EventKind::Frame(f) = back.kind() else {
            panic!("not a frame")
        };
        assert_eq!(&f.json[..], json.as_bytes());
        assert_eq!(f.class, FrameClass::Ephemeral);
        assert_eq!(f.message, Some((conversation, 7)));
        assert_eq!(f.origin, Some(origin));
    }

    #[test]
    fn revocations_and_notices_round_trip_and_garbage_is_refused() {
        let session = SessionId::new();
        let (_, back) =
            decode_event(&encode_event("b", &Event::session_revoked(session))).expect("decodes");
        assert!(matches!(back.kind(), EventKind::SessionRevoked(s) if *s == session));
        let notice = Notice::SessionRevoked {
            session_id: session,
            until: Timestamp::from_millis(5),
        };
        assert_eq!(
            decode_notice(&encode_notice("c", &notice)),
            Some(("c".to_owned(), notice))
        );
        let blocks = Notice::BlocksChanged {
            user_id: chat_core::UserId::new(),
        };
        assert_eq!(
            decode_notice(&encode_notice("d", &blocks)),
            Some(("d".to_owned(), blocks))
        );
        assert!(decode_event(b"not json\n{}").is_none());
        assert!(decode_event(b"no newline").is_none());
        assert!(decode_notice(b"[]").is_none());
    }
}
