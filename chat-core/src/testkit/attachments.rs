//! Conformance cases for [`AttachmentStore`](crate::store::AttachmentStore).

use std::sync::Arc;

use super::fixtures::{at, create_user};
use crate::domain::FileName;
use crate::ids::{AttachmentId, UserId};
use crate::model::{Attachment, ImageInfo, NewAttachment};
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
