//! A `put` dropped before it ends (the request it served was cancelled)
//! leaves nothing behind: here, no staging file on local disk.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use chat_blob_store::ObjectBlobStore;
use chat_core::store::{BlobKey, BlobStore};
use tokio::io::{AsyncRead, ReadBuf};

/// Yields `left` bytes, then waits for ever.
struct Stalling {
    left: usize,
}

impl AsyncRead for Stalling {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.left == 0 {
            return Poll::Pending;
        }
        let n = buf.remaining().min(self.left).min(64 * 1024);
        buf.put_slice(&vec![1_u8; n]);
        self.left -= n;
        Poll::Ready(Ok(()))
    }
}

fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.push(path);
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_upload_leaves_no_staging_file() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = ObjectBlobStore::local(dir.path()).expect("a local store");
    // Past the 5 MiB buffered in memory, so parts go to a staging file.
    let mut body = Stalling {
        left: 8 * 1024 * 1024,
    };
    let key = BlobKey::new("att/cancelled").expect("key");
    let put = store.put(&key, &mut body, 25 * 1024 * 1024);
    assert!(
        tokio::time::timeout(Duration::from_millis(500), put)
            .await
            .is_err(),
        "the body stalls, so the put is still running"
    );
    // The abort runs as its own task.
    let mut left = files_under(dir.path());
    for _ in 0..50 {
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        left = files_under(dir.path());
    }
    assert!(left.is_empty(), "left behind: {left:?}");
}
