//! The real-time conformance suite against Redis: two instances' backends
//! under a fresh key prefix per test.

use chat_queue_redis::testkit::RedisRealtime;

chat_core::realtime_conformance_tests!(RedisRealtime::create());
