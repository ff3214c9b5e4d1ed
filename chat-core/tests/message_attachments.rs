//! Sending uploads in messages through the engine: what a message may
//! send, what it carries, and how retries and bad input are answered.

use std::sync::Arc;

use chat_core::ids::AttachmentId;
use chat_core::memory::MemoryStore;
use chat_core::model::{MessageAttachment, NewAttachment};
use chat_core::store::AttachmentStore;
use chat_core::testkit::attachments::upload;
use chat_core::testkit::fixtures::{at, create_user};
use chat_core::{ChatEngine, ChatError, ConversationRef, OutgoingMessage, PageRequest, UserId};

struct World {
    engine: ChatEngine,
    store: Arc<MemoryStore>,
    alice: UserId,
    bob: UserId,
}

async fn world() -> World {
    let store = Arc::new(MemoryStore::new());
    let engine = ChatEngine::builder()
        .store(store.clone())
        .build()
        .expect("engine");
    let alice = create_user(store.as_ref(), "alice").await.id;
    let bob = create_user(store.as_ref(), "bob").await.id;
    World {
        engine,
        store,
        alice,
        bob,
    }
}

impl World {
    async fn uploaded(&self, user: UserId, name: &str) -> NewAttachment {
        let new = upload(user, name, at(1));
        self.store
            .create_attachment(new.clone())
            .await
            .expect("create");
        new
    }

    async fn send(
        &self,
        content: &str,
        client_msg_id: Option<&str>,
        files: &[&NewAttachment],
    ) -> chat_core::Result<chat_core::conversations::SentMessage> {
        let ids = files.iter().map(|f| f.id).collect();
        let message = OutgoingMessage::parse_with_attachments(content, None, client_msg_id, ids)?;
        self.engine
            .conversations()
            .send(self.alice, ConversationRef::Direct(self.bob), message)
            .await
    }
}

#[tokio::test]
async fn a_message_of_files_alone_carries_them_in_order_into_history() {
    let w = world().await;
    let photo = w.uploaded(w.alice, "photo.jpg").await;
    let doc = w.uploaded(w.alice, "doc.pdf").await;
    let sent = w.send("  ", None, &[&doc, &photo]).await.expect("send");
    let expected = vec![
        MessageAttachment::from(&doc),
        MessageAttachment::from(&photo),
    ];
    assert_eq!(sent.message.content, "", "a blank caption is stored empty");
    assert_eq!(sent.message.attachments, expected);
    let page = w
        .engine
        .conversations()
        .history(
            w.bob,
            ConversationRef::Direct(w.alice),
            PageRequest::default(),
        )
        .await
        .expect("history");
    assert_eq!(page.messages[0].message.attachments, expected);
}

#[tokio::test]
async fn another_users_or_an_unknown_or_a_sent_upload_is_not_found() {
    let w = world().await;
    let bobs = w.uploaded(w.bob, "bobs.txt").await;
    let never = upload(w.alice, "never.txt", at(1));
    for file in [&bobs, &never] {
        let e = w.send("hi", None, &[file]).await.expect_err("refused");
        assert!(matches!(e, ChatError::AttachmentNotFound), "{e:?}");
    }
    let mine = w.uploaded(w.alice, "mine.txt").await;
    w.send("first", None, &[&mine]).await.expect("send");
    let e = w.send("again", None, &[&mine]).await.expect_err("sent");
    assert!(matches!(e, ChatError::AttachmentNotFound), "{e:?}");
}

#[tokio::test]
async fn a_retry_of_a_message_with_files_gets_the_original() {
    let w = world().await;
    let file = w.uploaded(w.alice, "a.txt").await;
    let first = w.send("x", Some("k-1"), &[&file]).await.expect("send");
    let retry = w.send("x", Some("k-1"), &[&file]).await.expect("retry");
    assert!(retry.replayed);
    assert_eq!(retry.message, first.message);
}

#[test]
fn bad_attachment_lists_are_refused_before_anything_is_read() {
    let id = AttachmentId::new();
    let code = |content: &str, ids: Vec<AttachmentId>| {
        OutgoingMessage::parse_with_attachments(content, None, None, ids)
            .map(|_| ())
            .map_err(|e| e.code)
    };
    assert_eq!(code("", vec![]), Err("EMPTY_CONTENT"));
    assert_eq!(code("", vec![id]), Ok(()));
    assert_eq!(code("hi", vec![id, id]), Err("DUPLICATE_ATTACHMENT"));
    let eleven = (0..11).map(|_| AttachmentId::new()).collect();
    assert_eq!(code("hi", eleven), Err("TOO_MANY_ATTACHMENTS"));
    let ten = (0..10).map(|_| AttachmentId::new()).collect();
    assert_eq!(code("hi", ten), Ok(()));
}

#[tokio::test]
async fn the_caption_of_files_may_be_edited_away_but_text_alone_may_not() {
    let w = world().await;
    let file = w.uploaded(w.alice, "a.txt").await;
    let with_file = w.send("caption", None, &[&file]).await.expect("send");
    let plain = w.send("just text", None, &[]).await.expect("send");
    let empty = chat_core::MessageContent::parse_caption("  ").expect("blank caption");
    let conversations = w.engine.conversations();
    let conversation = with_file.message.conversation_id;
    let edited = conversations
        .edit_message(w.alice, conversation, with_file.message.id, empty.clone())
        .await
        .expect("a caption may go");
    assert_eq!(edited.message.message.content, "");
    assert_eq!(edited.message.message.attachments.len(), 1);
    let e = conversations
        .edit_message(w.alice, conversation, plain.message.id, empty)
        .await
        .expect_err("text may not go");
    assert_eq!(e.code(), "EMPTY_CONTENT");
}
