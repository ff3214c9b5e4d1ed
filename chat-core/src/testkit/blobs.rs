//! Conformance cases for [`BlobStore`] backends: each backend's tests
//! invoke [`blob_conformance_tests!`](crate::blob_conformance_tests) with
//! an expression that sets up a fresh, empty store.
//!
//! ```text
//! chat_core::blob_conformance_tests!(async {
//!     Some(chat_core::testkit::blobs::PlainBlobs(std::sync::Arc::new(
//!         chat_core::memory::MemoryBlobStore::new(),
//!     )))
//! });
//! ```

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt as _, ReadBuf};

use crate::error::ChatError;
use crate::store::{BlobKey, BlobStore};

/// A fresh blob store for one case, and what it needs kept alive (a
/// temporary directory, a throwaway server) until the case ends.
pub trait TestBlobStore: Send + Sync {
    /// The store under test.
    fn blobs(&self) -> Arc<dyn BlobStore>;
}

/// A blob store that needs nothing kept alive.
pub struct PlainBlobs(pub Arc<dyn BlobStore>);

impl TestBlobStore for PlainBlobs {
    fn blobs(&self) -> Arc<dyn BlobStore> {
        self.0.clone()
    }
}

/// Generates one test per blob conformance case for the store built by
/// `$setup` (an `impl Future<Output = Option<impl TestBlobStore>>`).
#[macro_export]
macro_rules! blob_conformance_tests {
    ($setup:expr) => {
        $crate::__blob_conformance_cases!($setup;
            blobs_round_trip_and_list_by_prefix,
            blobs_larger_than_a_part_stream_through,
            blobs_past_the_limit_leave_nothing,
            blobs_stop_reading_soon_past_the_limit,
            blobs_whose_body_fails_leave_nothing,
            blobs_delete_is_idempotent,
        );
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __blob_conformance_cases {
    ($setup:expr; $($case:ident),+ $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let Some(harness) = $setup.await else { return };
                $crate::testkit::blobs::$case(
                    $crate::testkit::blobs::TestBlobStore::blobs(&harness),
                )
                .await;
            }
        )+
    };
}

/// `key`, which must be valid.
///
/// # Panics
/// When it is not.
pub fn key(key: &str) -> BlobKey {
    BlobKey::new(key).expect("a valid blob key")
}

/// `len` bytes that differ from position to position (so a misplaced
/// chunk shows).
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i % 251) as u8 ^ (i / 251) as u8)
        .collect()
}

/// The bytes of the blob under `key`, read to the end; `None` when there
/// is none.
///
/// # Panics
/// When the store fails.
pub async fn read(store: &dyn BlobStore, key: &BlobKey) -> Option<Vec<u8>> {
    let mut blob = store.get(key).await.expect("get")?;
    let mut bytes = Vec::new();
    blob.reader.read_to_end(&mut bytes).await.expect("read");
    assert_eq!(
        blob.size,
        bytes.len() as u64,
        "the size said matches the bytes"
    );
    Some(bytes)
}

/// A body that yields `bytes` a few at a time, then fails.
struct FailingBody {
    bytes: Vec<u8>,
    at: usize,
}

impl AsyncRead for FailingBody {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.at >= self.bytes.len() {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "the client went away",
            )));
        }
        let n = buf
            .remaining()
            .min(self.bytes.len() - self.at)
            .min(64 * 1024);
        let at = self.at;
        buf.put_slice(&self.bytes[at..at + n]);
        self.at += n;
        Poll::Ready(Ok(()))
    }
}

/// What is put is read back byte for byte, with its size; a key with
/// nothing under it is `None`; a second put replaces the first; `list`
/// finds blobs strictly below a prefix of whole leading segments.
pub async fn blobs_round_trip_and_list_by_prefix(store: Arc<dyn BlobStore>) {
    let hello = key("att/one/hello.txt");
    let size = store
        .put(&hello, &mut &b"hello, blob"[..], 1_000)
        .await
        .expect("put");
    assert_eq!(size, 11);
    assert_eq!(
        read(&*store, &hello).await.as_deref(),
        Some(&b"hello, blob"[..])
    );
    assert!(read(&*store, &key("att/one/absent")).await.is_none());
    let empty = key("att/one/empty");
    assert_eq!(
        store.put(&empty, &mut &b""[..], 1_000).await.expect("put"),
        0
    );
    assert_eq!(read(&*store, &empty).await.as_deref(), Some(&b""[..]));
    store
        .put(&hello, &mut &b"replaced"[..], 1_000)
        .await
        .expect("put again");
    assert_eq!(
        read(&*store, &hello).await.as_deref(),
        Some(&b"replaced"[..])
    );
    store
        .put(&key("att/onex/other"), &mut &b"x"[..], 1_000)
        .await
        .expect("put");
    store
        .put(&key("att/one/deeper/thumb"), &mut &b"t"[..], 1_000)
        .await
        .expect("put");

    let mut listed: Vec<(String, u64)> = store
        .list(&key("att/one"))
        .await
        .expect("list")
        .into_iter()
        .map(|e| (e.key.to_string(), e.size))
        .collect();
    listed.sort();
    assert_eq!(
        listed,
        [
            ("att/one/deeper/thumb".to_owned(), 1),
            ("att/one/empty".to_owned(), 0),
            ("att/one/hello.txt".to_owned(), 8),
        ],
        "whole segments: not att/onex"
    );
    assert!(store.list(&key("nothing")).await.expect("list").is_empty());
    assert!(
        store.list(&hello).await.expect("list").is_empty(),
        "a blob is below no prefix equal to its own key"
    );
}

/// A blob of several megabytes (past S3's 5 MiB part size) goes in and
/// comes out whole and in order.
pub async fn blobs_larger_than_a_part_stream_through(store: Arc<dyn BlobStore>) {
    let big = pattern(12 * 1024 * 1024 + 12_345);
    let k = key("att/big");
    let size = store
        .put(&k, &mut &big[..], 25 * 1024 * 1024)
        .await
        .expect("put");
    assert_eq!(size, big.len() as u64);
    let back = read(&*store, &k).await.expect("found");
    assert!(back == big, "the same bytes in the same order");
}

/// Past the limit: `ATTACHMENT_TOO_LARGE`, nothing stored under the key,
/// and a blob already there untouched. Exactly the limit is fine.
pub async fn blobs_past_the_limit_leave_nothing(store: Arc<dyn BlobStore>) {
    let k = key("att/limited");
    let body = pattern(6 * 1024 * 1024);
    let err = store
        .put(&k, &mut &body[..], 6 * 1024 * 1024 - 1)
        .await
        .expect_err("past the limit");
    assert!(
        matches!(err, ChatError::AttachmentTooLarge { max } if max == 6 * 1024 * 1024 - 1),
        "{err:?}"
    );
    assert!(read(&*store, &k).await.is_none(), "nothing left");
    assert!(store.list(&key("att")).await.expect("list").is_empty());

    let kept = key("att/kept");
    store
        .put(&kept, &mut &b"first"[..], 5)
        .await
        .expect("exactly the limit");
    store
        .put(&kept, &mut &b"second"[..], 5)
        .await
        .expect_err("past the limit");
    assert_eq!(read(&*store, &kept).await.as_deref(), Some(&b"first"[..]));
}

/// An endless body, 8 KiB a read, counting what was read of it.
struct EndlessBody {
    read: Arc<std::sync::atomic::AtomicU64>,
}

/// The most [`EndlessBody`] gives in one read.
const ENDLESS_READ: usize = 8 * 1024;

impl AsyncRead for EndlessBody {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let n = buf.remaining().min(ENDLESS_READ);
        buf.put_slice(&[7_u8; ENDLESS_READ][..n]);
        self.read
            .fetch_add(n as u64, std::sync::atomic::Ordering::SeqCst);
        Poll::Ready(Ok(()))
    }
}

/// A body that never ends (a client streaming without end): refused once
/// past the limit, having read at most one read more than it.
pub async fn blobs_stop_reading_soon_past_the_limit(store: Arc<dyn BlobStore>) {
    let read = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut body = EndlessBody { read: read.clone() };
    let max = 100_000;
    let err = store
        .put(&key("att/endless"), &mut body, max)
        .await
        .expect_err("past the limit");
    assert!(
        matches!(err, ChatError::AttachmentTooLarge { .. }),
        "{err:?}"
    );
    let read = read.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        read <= max + ENDLESS_READ as u64,
        "read {read} bytes for a limit of {max}"
    );
}

/// A body that fails midway (a client gone): an error, and nothing
/// stored.
pub async fn blobs_whose_body_fails_leave_nothing(store: Arc<dyn BlobStore>) {
    let k = key("att/cut");
    let mut body = FailingBody {
        bytes: pattern(7 * 1024 * 1024),
        at: 0,
    };
    let err = store
        .put(&k, &mut body, 25 * 1024 * 1024)
        .await
        .expect_err("the body failed");
    assert!(matches!(err, ChatError::Internal(_)), "{err:?}");
    assert!(read(&*store, &k).await.is_none(), "nothing left");
    assert!(store.list(&key("att")).await.expect("list").is_empty());
}

/// Deleting removes the blob; deleting again, or what never was, succeeds.
pub async fn blobs_delete_is_idempotent(store: Arc<dyn BlobStore>) {
    let k = key("att/gone");
    store.put(&k, &mut &b"bye"[..], 100).await.expect("put");
    store.delete(&k).await.expect("delete");
    assert!(read(&*store, &k).await.is_none());
    store.delete(&k).await.expect("delete again");
    store
        .delete(&key("att/never"))
        .await
        .expect("delete what never was");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_path_segments_that_cannot_climb() {
        for ok in ["a", "att/0190-ab_c.thumb", "a/b/c", "x.y"] {
            assert!(BlobKey::new(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "/a", "a/", "a//b", "..", "a/../b", ".", "a b", "ä", "a\\b",
        ] {
            assert!(BlobKey::new(bad).is_err(), "{bad:?}");
        }
        assert!(BlobKey::new("a".repeat(201)).is_err());
    }
}
