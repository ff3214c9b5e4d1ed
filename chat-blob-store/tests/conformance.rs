//! The blob conformance cases on the local filesystem and on S3 (a real
//! S3-protocol server, moto, started per case).

use std::sync::Arc;

use chat_blob_store::ObjectBlobStore;
use chat_blob_store::testkit::ThrowawayS3;
use chat_core::store::BlobStore;
use chat_core::testkit::blobs::TestBlobStore;

/// A store on a temporary directory, removed when the case ends.
struct LocalHarness {
    store: Arc<dyn BlobStore>,
    _dir: tempfile::TempDir,
}

impl TestBlobStore for LocalHarness {
    fn blobs(&self) -> Arc<dyn BlobStore> {
        self.store.clone()
    }
}

/// A store on a throwaway S3 server's bucket, killed when the case ends.
struct S3Harness {
    store: Arc<dyn BlobStore>,
    _server: ThrowawayS3,
}

impl TestBlobStore for S3Harness {
    fn blobs(&self) -> Arc<dyn BlobStore> {
        self.store.clone()
    }
}

mod local {
    use super::*;

    chat_core::blob_conformance_tests!(async {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = ObjectBlobStore::local(&dir.path().join("blobs")).expect("a local store");
        Some(LocalHarness {
            store: Arc::new(store),
            _dir: dir,
        })
    });
}

mod s3 {
    use super::*;

    chat_core::blob_conformance_tests!(async {
        let server = ThrowawayS3::start().await?;
        Some(S3Harness {
            store: Arc::new(server.store("attachments")),
            _server: server,
        })
    });
}
