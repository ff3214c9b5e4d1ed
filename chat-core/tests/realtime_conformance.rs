//! The real-time conformance suite against the in-memory backends
//! (`MemoryOfflineQueue`, `MemoryPresence`, `MemoryEventBus`).

use chat_core::testkit::realtime::PlainRealtime;

chat_core::realtime_conformance_tests!(async { Some(PlainRealtime::memory()) });
