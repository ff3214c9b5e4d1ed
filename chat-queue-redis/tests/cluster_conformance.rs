//! The real-time conformance suite against a Redis Cluster: each case
//! starts three `redis-server --cluster-enabled yes` nodes on free ports,
//! joins them, and runs two instances' backends on them (user keys by hash
//! tag, user channels on sharded Pub/Sub).

use chat_queue_redis::testkit::RedisRealtime;

chat_core::realtime_conformance_tests!(RedisRealtime::create_on_cluster());
