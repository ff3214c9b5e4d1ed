//! The conformance suite against the in-memory store.

use std::sync::Arc;

use chat_core::memory::MemoryStore;
use chat_core::testkit::Plain;

chat_core::store_conformance_tests!(async { Some(Plain(Arc::new(MemoryStore::new()))) });
