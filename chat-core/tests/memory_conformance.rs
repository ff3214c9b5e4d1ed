//! The conformance suites against the in-memory store and blob store.

use std::sync::Arc;

use chat_core::memory::MemoryStore;
use chat_core::testkit::Plain;

chat_core::store_conformance_tests!(async { Some(Plain(Arc::new(MemoryStore::new()))) });

/// The blob cases against the in-memory blob store.
mod blobs {
    use std::sync::Arc;

    use chat_core::memory::MemoryBlobStore;
    use chat_core::testkit::blobs::PlainBlobs;

    chat_core::blob_conformance_tests!(async {
        Some(PlainBlobs(Arc::new(MemoryBlobStore::new())))
    });
}
