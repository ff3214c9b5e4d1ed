//! Conformance cases for [`AttachmentStore`](crate::store::AttachmentStore).

use std::sync::Arc;

use super::fixtures::{at, create_direct, create_group, create_user, membership, new_message};
use crate::domain::FileName;
use crate::ids::{AttachmentId, ConversationId, UserId};
use crate::model::{
    Attachment, ChangeAction, ChangeOutcome, ImageInfo, InsertOutcome, MessageAttachment,
    NewAttachment, NewChange, NewMessage, SentIn,
};
use crate::store::Store;
use crate::time::Timestamp;

/// An upload of `user` named `name` at `when`.
pub fn upload(user: UserId, name: &str, when: Timestamp) -> NewAttachment {
    NewAttachment {
        id: AttachmentId::new(),
        uploader: user,
        filename: FileName::parse(name).expect("a valid file name"),
        content_type: "application/pdf".to_owned(),
        size: 123_456,
        image: None,
        created_at: when,
    }
}

/// What is recorded is read back as it was, not sent; an unknown id is
/// `None`; an image keeps its size and preview flag.
pub async fn attachments_round_trip(store: Arc<dyn Store>) {
    let a = create_user(&*store, "alice").await.id;
    let doc = upload(a, "report (final).pdf", at(1));
    store.create_attachment(doc.clone()).await.expect("create");
    let found = store.attachment(doc.id).await.expect("read");
    assert_eq!(
        found,
        Some(Attachment {
            upload: doc,
            sent_in: None
        })
    );
    let photo = NewAttachment {
        content_type: "image/jpeg".to_owned(),
        size: 4_000_000_000,
        image: Some(ImageInfo {
            width: 4_032,
            height: 3_024,
            has_preview: true,
        }),
        ..upload(a, "IMG_0001.JPG", at(2))
    };
    store
        .create_attachment(photo.clone())
        .await
        .expect("create");
    let found = store.attachment(photo.id).await.expect("read");
    assert_eq!(found.map(|f| f.upload), Some(photo));
    assert_eq!(
        store.attachment(AttachmentId::new()).await.expect("read"),
        None
    );
}

/// The sweep's list: unsent uploads older than the cutoff, oldest first,
/// up to the limit; deleting one removes it, once.
pub async fn attachments_unsent_are_listed_oldest_first_and_deleted_once(store: Arc<dyn Store>) {
    let a = create_user(&*store, "alice").await.id;
    let b = create_user(&*store, "bob").await.id;
    let third = upload(a, "c.txt", at(3));
    let first = upload(b, "a.txt", at(1));
    let second = upload(a, "b.txt", at(2));
    let recent = upload(a, "d.txt", at(9));
    for new in [&third, &first, &second, &recent] {
        store.create_attachment(new.clone()).await.expect("create");
    }
    let ids = |list: Vec<Attachment>| list.into_iter().map(|a| a.upload.id).collect::<Vec<_>>();
    let old = store.unsent_attachments(at(5), 10).await.expect("list");
    assert_eq!(ids(old), [first.id, second.id, third.id]);
    let two = store.unsent_attachments(at(5), 2).await.expect("list");
    assert_eq!(ids(two), [first.id, second.id]);
    assert!(
        store
            .unsent_attachments(at(1), 10)
            .await
            .expect("list")
            .is_empty(),
        "strictly before"
    );

    assert!(
        store
            .delete_unsent_attachment(first.id)
            .await
            .expect("delete")
    );
    assert!(
        !store
            .delete_unsent_attachment(first.id)
            .await
            .expect("again"),
        "once"
    );
    assert!(
        !store
            .delete_unsent_attachment(AttachmentId::new())
            .await
            .expect("unknown")
    );
    assert_eq!(store.attachment(first.id).await.expect("read"), None);
    let left = store.unsent_attachments(at(10), 10).await.expect("list");
    assert_eq!(ids(left), [second.id, third.id, recent.id]);
}

/// `new` as a message carries it.
fn carried(new: &NewAttachment) -> MessageAttachment {
    MessageAttachment::from(new)
}

/// Records uploads of `user`'s named `names`, at `at(1)`.
async fn uploads(store: &dyn Store, user: UserId, names: &[&str]) -> Vec<NewAttachment> {
    let mut made = Vec::new();
    for name in names {
        let new = upload(user, name, at(1));
        store.create_attachment(new.clone()).await.expect("create");
        made.push(new);
    }
    made
}

/// A message of `sender`'s to `conversation` sending `files`.
fn with_files(
    conversation: ConversationId,
    sender: UserId,
    files: &[&NewAttachment],
) -> NewMessage {
    NewMessage {
        attachments: files.iter().map(|f| carried(f)).collect(),
        ..new_message(conversation, sender, "files", at(2))
    }
}

/// A message sends its sender's uploads: it carries them in order
/// wherever it is read, and each records where it was sent.
pub async fn attachments_sent_in_a_message_are_linked_and_carried(store: Arc<dyn Store>) {
    let a = create_user(&*store, "alice").await.id;
    let b = create_user(&*store, "bob").await.id;
    let d = create_direct(&*store, a, b).await;
    let files = uploads(&*store, a, &["photo.jpg", "notes.pdf"]).await;
    let new = with_files(d, a, &[&files[1], &files[0]]);
    let id = new.id;
    let InsertOutcome::Created(sent) = store.insert_message(new).await.expect("insert") else {
        panic!("not created");
    };
    let expected = vec![carried(&files[1]), carried(&files[0])];
    assert_eq!(sent.attachments, expected);
    let read = store.message(d, id).await.expect("read").expect("exists");
    assert_eq!(read.attachments, expected);
    let history = store.messages_before(d, 10, 0, 10).await.expect("history");
    assert_eq!(history[0].attachments, expected);
    let by_id = store.messages_by_ids(&[id]).await.expect("by id");
    assert_eq!(by_id[0].attachments, expected);
    let overview = store
        .overview(d, b)
        .await
        .expect("overview")
        .expect("member");
    let last = overview.last_message.expect("a last message");
    assert_eq!(last.attachments, expected);
    for (position, file) in [(0, &files[1]), (1, &files[0])] {
        let stored = store
            .attachment(file.id)
            .await
            .expect("read")
            .expect("exists");
        assert_eq!(
            stored.sent_in,
            Some(SentIn {
                conversation_id: d,
                message_id: id,
                position,
            })
        );
    }
    let found = store
        .attachments(&[files[0].id, AttachmentId::new(), files[1].id])
        .await
        .expect("read");
    let mut ids: Vec<AttachmentId> = found.iter().map(|f| f.upload.id).collect();
    ids.sort_unstable();
    let mut uploaded = vec![files[0].id, files[1].id];
    uploaded.sort_unstable();
    assert_eq!(ids, uploaded, "the unknown id is skipped");
    assert!(
        store
            .unsent_attachments(at(10), 10)
            .await
            .expect("list")
            .is_empty(),
        "sent uploads are not swept"
    );
    assert!(store.blob_deletions(10).await.expect("list").is_empty());
}

/// A message may send only its sender's uploads, each not sent before
/// and named once; otherwise nothing is stored and no seq is taken, one
/// message at a time or in a batch.
pub async fn attachments_a_message_sends_only_the_senders_unsent_uploads(store: Arc<dyn Store>) {
    let a = create_user(&*store, "alice").await.id;
    let b = create_user(&*store, "bob").await.id;
    let d = create_direct(&*store, a, b).await;
    let mine = uploads(&*store, a, &["mine.txt", "other.txt"]).await;
    let bobs = uploads(&*store, b, &["bobs.txt"]).await;
    let unknown = upload(a, "never.txt", at(1));
    for files in [
        vec![&bobs[0]],
        vec![&unknown],
        vec![&mine[0], &mine[0]],
        vec![&mine[0], &bobs[0]],
    ] {
        assert_eq!(
            store
                .insert_message(with_files(d, a, &files))
                .await
                .expect("insert"),
            InsertOutcome::AttachmentNotFound
        );
    }
    assert_eq!(membership(&*store, d, a).await.conversation.last_seq, 0);
    let unsent = store.unsent_attachments(at(10), 10).await.expect("list");
    assert_eq!(unsent.len(), 3, "all still unsent");

    // Sent once; a second message may not send it again.
    let first = store
        .insert_message(with_files(d, a, &[&mine[0]]))
        .await
        .expect("insert");
    assert!(matches!(first, InsertOutcome::Created(_)));
    assert_eq!(
        store
            .insert_message(with_files(d, a, &[&mine[0]]))
            .await
            .expect("insert"),
        InsertOutcome::AttachmentNotFound
    );
    // In a batch, the first message to name an upload sends it; the
    // batch's other messages go on.
    let batch = vec![
        with_files(d, a, &[&mine[1]]),
        with_files(d, a, &[&mine[1]]),
        with_files(d, b, &[&bobs[0]]),
        with_files(d, a, &[&mine[0]]),
    ];
    let (outcomes, _) = store
        .write_batch(batch, Vec::new(), at(3))
        .await
        .expect("batch");
    let seqs: Vec<Option<u64>> = (outcomes.iter())
        .map(|o| match o {
            InsertOutcome::Created(m) => Some(m.seq),
            InsertOutcome::AttachmentNotFound => None,
            other => panic!("unexpected: {other:?}"),
        })
        .collect();
    assert_eq!(seqs, [Some(2), None, Some(3), None]);
    assert_eq!(membership(&*store, d, a).await.conversation.last_seq, 3);
    // The batch linked each upload it sent to the message sending it.
    let sent_by = |i: usize| match &outcomes[i] {
        InsertOutcome::Created(m) => m.id,
        other => panic!("not created: {other:?}"),
    };
    for (file, message) in [(&mine[1], sent_by(0)), (&bobs[0], sent_by(2))] {
        let stored = store
            .attachment(file.id)
            .await
            .expect("read")
            .expect("stored");
        let sent_in = stored.sent_in.expect("sent");
        assert_eq!((sent_in.message_id, sent_in.position), (message, 0));
        assert_eq!(sent_in.conversation_id, d);
    }
    assert!(
        (store.unsent_attachments(at(10), 10).await)
            .expect("list")
            .is_empty()
    );
}

/// Deleting a message removes its attachments (from the message and as
/// records) and queues their blobs for removal, as deleting an unsent
/// upload does; the queue is read in id order and forgotten by id.
pub async fn attachments_of_a_deleted_message_leave_their_blobs_to_the_sweep(
    store: Arc<dyn Store>,
) {
    let a = create_user(&*store, "alice").await.id;
    let b = create_user(&*store, "bob").await.id;
    let g = create_group(&*store, "team", a, &[b]).await;
    let files = uploads(&*store, a, &["a.png", "b.png", "c.png"]).await;
    let new = with_files(g, a, &[&files[0], &files[1]]);
    let id = new.id;
    store.insert_message(new).await.expect("insert");
    let outcome = store
        .apply_change(NewChange {
            conversation_id: g,
            message_id: id,
            actor_id: a,
            by_operator: false,
            action: ChangeAction::Delete,
            at: at(3),
        })
        .await
        .expect("delete");
    let ChangeOutcome::Applied { message, .. } = outcome else {
        panic!("not deleted: {outcome:?}");
    };
    assert!(message.attachments.is_empty());
    let read = store
        .message(g, id)
        .await
        .expect("read")
        .expect("tombstone");
    assert!(read.attachments.is_empty());
    for file in &files[..2] {
        assert_eq!(store.attachment(file.id).await.expect("read"), None);
    }
    assert!(
        store
            .delete_unsent_attachment(files[2].id)
            .await
            .expect("delete")
    );
    let mut all: Vec<AttachmentId> = files.iter().map(|f| f.id).collect();
    all.sort_unstable();
    assert_eq!(store.blob_deletions(10).await.expect("list"), all);
    assert_eq!(store.blob_deletions(2).await.expect("list"), all[..2]);
    store
        .forget_blob_deletions(&all[..2])
        .await
        .expect("forget");
    assert_eq!(store.blob_deletions(10).await.expect("list"), all[2..]);
    store.forget_blob_deletions(&[]).await.expect("nothing");
}

/// An id is recorded once, and an image has at least one pixel each way.
pub async fn attachments_refuse_a_reused_id_and_an_image_without_pixels(store: Arc<dyn Store>) {
    let a = create_user(&*store, "alice").await.id;
    let doc = upload(a, "a.txt", at(1));
    store.create_attachment(doc.clone()).await.expect("create");
    assert!(
        store
            .create_attachment(NewAttachment {
                filename: FileName::parse("b.txt").expect("valid"),
                ..doc.clone()
            })
            .await
            .is_err()
    );
    for (width, height) in [(0, 10), (10, 0)] {
        let flat = NewAttachment {
            content_type: "image/png".to_owned(),
            image: Some(ImageInfo {
                width,
                height,
                has_preview: false,
            }),
            ..upload(a, "flat.png", at(1))
        };
        assert!(store.create_attachment(flat.clone()).await.is_err());
        assert_eq!(store.attachment(flat.id).await.expect("read"), None);
    }
    assert_eq!(
        store
            .attachment(doc.id)
            .await
            .expect("read")
            .map(|d| d.upload),
        Some(doc)
    );
}

/// Messages racing to send one upload: exactly one sends it, the others
/// are refused without taking a seq.
pub async fn attachments_one_upload_is_sent_once_under_concurrency(store: Arc<dyn Store>) {
    let a = create_user(&*store, "alice").await.id;
    let b = create_user(&*store, "bob").await.id;
    let d = create_direct(&*store, a, b).await;
    let file = uploads(&*store, a, &["race.bin"]).await.remove(0);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (store, new) = (store.clone(), with_files(d, a, &[&file]));
            tokio::spawn(async move { store.insert_message(new).await.expect("insert") })
        })
        .collect();
    let mut created = 0;
    for t in tasks {
        match t.await.expect("task") {
            InsertOutcome::Created(_) => created += 1,
            InsertOutcome::AttachmentNotFound => {}
            other => panic!("unexpected: {other:?}"),
        }
    }
    assert_eq!(created, 1);
    assert_eq!(membership(&*store, d, a).await.conversation.last_seq, 1);
}
