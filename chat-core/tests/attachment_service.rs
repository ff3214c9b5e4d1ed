//! [`AttachmentService`]: storing uploads all or nothing, who may open
//! them, and the sweep of abandoned uploads and deleted messages' files.

use std::sync::Arc;
use std::time::Duration;

use chat_core::domain::FileName;
use chat_core::memory::{MemoryBlobStore, MemoryStore};
use chat_core::model::{ImageInfo, MessageAttachment};
use chat_core::store::{AttachmentStore, BlobKey, BlobStore, ConversationStore};
use chat_core::testkit::fixtures::{create_user, t0};
use chat_core::{
    AttachmentPart, ChatEngine, ChatError, ConversationRef, ManualClock, OutgoingMessage,
    SweepReport, Upload, UserId,
};
use tokio::io::AsyncReadExt as _;

struct World {
    engine: ChatEngine,
    store: Arc<MemoryStore>,
    blobs: Arc<MemoryBlobStore>,
    clock: Arc<ManualClock>,
    alice: UserId,
    bob: UserId,
    carol: UserId,
}

async fn world() -> World {
    let store = Arc::new(MemoryStore::new());
    let blobs = Arc::new(MemoryBlobStore::new());
    let clock = Arc::new(ManualClock::new(t0()));
    let engine = ChatEngine::builder()
        .store(store.clone())
        .blobs(blobs.clone())
        .clock(clock.clone())
        .build()
        .expect("engine");
    let alice = create_user(store.as_ref(), "alice").await.id;
    let bob = create_user(store.as_ref(), "bob").await.id;
    let carol = create_user(store.as_ref(), "carol").await.id;
    World {
        engine,
        store,
        blobs,
        clock,
        alice,
        bob,
        carol,
    }
}

fn text_upload(bytes: &[u8]) -> Upload {
    Upload {
        filename: FileName::parse("notes.txt").expect("name"),
        content_type: "text/plain".to_owned(),
        size: bytes.len() as u64,
        image: None,
        preview: None,
    }
}

impl World {
    async fn upload(&self, user: UserId, bytes: &[u8]) -> MessageAttachment {
        self.engine
            .attachments()
            .store(user, text_upload(bytes), &mut &bytes[..])
            .await
            .expect("store")
    }

    async fn read(&self, user: UserId, file: &MessageAttachment, part: AttachmentPart) -> Vec<u8> {
        let (_, mut blob) = self
            .engine
            .attachments()
            .open(user, file.attachment_id, part)
            .await
            .expect("open");
        let mut bytes = Vec::new();
        blob.reader.read_to_end(&mut bytes).await.expect("read");
        bytes
    }

    async fn refused(&self, user: UserId, file: &MessageAttachment, part: AttachmentPart) {
        let e = self
            .engine
            .attachments()
            .open(user, file.attachment_id, part)
            .await
            .expect_err("refused");
        assert!(matches!(e, ChatError::AttachmentNotFound), "{e:?}");
    }

    /// Alice sends `file` to Bob.
    async fn send(&self, file: &MessageAttachment) -> chat_core::MessageId {
        let m = OutgoingMessage::parse_with_attachments("", None, None, vec![file.attachment_id])
            .expect("valid");
        self.engine
            .conversations()
            .send(self.alice, ConversationRef::Direct(self.bob), m)
            .await
            .expect("send")
            .message
            .id
    }

    async fn blob_keys(&self) -> Vec<String> {
        let prefix = BlobKey::new("attachments").expect("key");
        let mut keys: Vec<String> = (self.blobs.list(&prefix).await.expect("list"))
            .into_iter()
            .map(|b| b.key.as_str().to_owned())
            .collect();
        keys.sort();
        keys
    }
}

#[tokio::test]
async fn the_uploader_reads_an_unsent_file_and_members_read_it_once_sent() {
    let w = world().await;
    let file = w.upload(w.alice, b"hello file").await;
    assert_eq!(file.size, 10);
    assert_eq!(
        w.read(w.alice, &file, AttachmentPart::Original).await,
        b"hello file"
    );
    w.refused(w.bob, &file, AttachmentPart::Original).await;
    w.send(&file).await;
    assert_eq!(
        w.read(w.bob, &file, AttachmentPart::Original).await,
        b"hello file"
    );
    w.refused(w.carol, &file, AttachmentPart::Original).await;
    w.refused(w.bob, &file, AttachmentPart::Preview).await;
}

#[tokio::test]
async fn an_image_keeps_its_size_and_its_preview() {
    let w = world().await;
    let upload = Upload {
        filename: FileName::parse("dot.png").expect("name"),
        content_type: "image/png".to_owned(),
        size: 4,
        image: Some(ImageInfo {
            width: 640,
            height: 480,
            has_preview: false,
        }),
        preview: Some(b"tiny".to_vec()),
    };
    let file = (w.engine.attachments())
        .store(w.alice, upload, &mut &b"big!"[..])
        .await
        .expect("store");
    assert_eq!(
        (file.width, file.height, file.preview),
        (Some(640), Some(480), true)
    );
    assert_eq!(
        w.read(w.alice, &file, AttachmentPart::Preview).await,
        b"tiny"
    );
}

#[tokio::test]
async fn a_failed_upload_leaves_nothing_visible() {
    let w = world().await;
    let service = w.engine.attachments();
    // The body ends before its announced size.
    let short = Upload {
        size: 100,
        ..text_upload(b"")
    };
    let e = (service.store(w.alice, short, &mut &b"only this"[..]))
        .await
        .expect_err("short body");
    assert!(matches!(e, ChatError::Internal(_)), "{e:?}");
    // Longer than allowed.
    let huge = Upload {
        size: service.config().max_bytes + 1,
        ..text_upload(b"")
    };
    let e = (service.store(w.alice, huge, &mut &b""[..]))
        .await
        .expect_err("too large");
    assert!(matches!(e, ChatError::AttachmentTooLarge { .. }), "{e:?}");
    let unsent = (w
        .store
        .unsent_attachments(t0().plus(Duration::from_secs(1)), 10))
    .await
    .expect("list");
    assert!(unsent.is_empty(), "no record stays");
    let report = service.sweep().await.expect("sweep");
    assert_eq!(
        report.blobs_removed, 1,
        "the short body's record queued its key"
    );
    assert!(w.blob_keys().await.is_empty());
}

#[tokio::test]
async fn the_sweep_removes_abandoned_uploads_and_deleted_messages_files() {
    let w = world().await;
    let service = w.engine.attachments();
    let abandoned = w.upload(w.alice, b"never sent").await;
    let sent = w.upload(w.alice, b"sent").await;
    let kept = w.upload(w.alice, b"kept").await;
    let message = w.send(&sent).await;
    w.send(&kept).await;
    assert_eq!(
        service.sweep().await.expect("sweep"),
        SweepReport::default()
    );

    w.engine
        .conversations()
        .delete_message(w.alice, sent_conversation(&w).await, message)
        .await
        .expect("delete");
    w.refused(w.bob, &sent, AttachmentPart::Original).await;
    w.refused(w.alice, &sent, AttachmentPart::Original).await;
    w.clock
        .advance(service.config().unsent_grace + Duration::from_secs(1));
    let report = service.sweep().await.expect("sweep");
    assert_eq!(report.abandoned, 1);
    assert_eq!(report.blobs_removed, 2);
    assert_eq!(
        w.blob_keys().await,
        [format!("attachments/{}", kept.attachment_id)]
    );
    w.refused(w.alice, &abandoned, AttachmentPart::Original)
        .await;
    assert_eq!(
        service.sweep().await.expect("again"),
        SweepReport::default()
    );
}

async fn sent_conversation(w: &World) -> chat_core::ConversationId {
    (w.store.direct_between(w.alice, w.bob).await)
        .expect("read")
        .expect("exists")
}
