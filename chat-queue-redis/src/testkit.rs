//! Test support: a unique key prefix per test on the shared Redis, and
//! throwaway `redis-server` processes for fault tests.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chat_core::realtime::{DueWork, EventBus, OfflineQueue, Presence};
use chat_core::testkit::backend_unavailable;
use chat_core::testkit::realtime::TestRealtime;

use crate::{RedisBackend, RedisConfig};

/// How long to wait for Redis before deciding it is not there.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The Redis named by `REDIS_URL`, if it answers; `None` after printing
/// why (or a panic when backends are required, `CHAT_REQUIRE_BACKENDS=1`).
pub async fn redis_url() -> Option<String> {
    let Ok(url) = std::env::var("REDIS_URL") else {
        return unavailable("REDIS_URL is not set");
    };
    match ping(&url).await {
        Ok(()) => Some(url),
        Err(why) => unavailable(&why),
    }
}

/// Skips (says why, records the skip, returns `None`) or, when backends
/// are required, panics. The throwaway servers need `redis-server`, the
/// shared one `REDIS_URL`; the advice names both.
fn unavailable<T>(why: &str) -> Option<T> {
    backend_unavailable(
        "Redis",
        why,
        "set REDIS_URL to a server that answers, or install redis-server \
         (Debian: apt-get install redis-server)",
    )
}

async fn ping(url: &str) -> Result<(), String> {
    let client = redis::Client::open(url).map_err(|e| format!("invalid REDIS_URL: {e}"))?;
    let attempt = async {
        let mut conn = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING").query_async::<()>(&mut conn).await
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, attempt).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(format!("cannot reach {url}: {e}")),
        Err(_) => Err(format!("{url} did not answer within {CONNECT_TIMEOUT:?}")),
    }
}

/// A fresh key prefix (`chat-test-<uuid>`) on the shared Redis, so tests
/// run in parallel without seeing each other's keys.
#[derive(Debug, Clone)]
pub struct RedisTestPrefix {
    /// The Redis URL.
    pub url: String,
    /// The prefix.
    pub prefix: String,
}

impl RedisTestPrefix {
    /// A new prefix on `REDIS_URL`, or `None` (see [`redis_url`]).
    pub async fn create() -> Option<Self> {
        Some(Self {
            url: redis_url().await?,
            prefix: format!("chat-test-{}", uuid::Uuid::new_v4().simple()),
        })
    }

    /// A configuration for one instance under this prefix.
    pub fn config(&self, instance_id: &str) -> RedisConfig {
        RedisConfig::new(&self.url)
            .with_prefix(&self.prefix)
            .with_instance_id(instance_id)
    }

    /// Connects one instance's backends.
    ///
    /// # Panics
    /// When Redis refuses the connection.
    pub async fn backend(&self, instance_id: &str) -> RedisBackend {
        RedisBackend::connect(self.config(instance_id))
            .await
            .unwrap_or_else(|e| panic!("cannot connect to Redis at {}: {e}", self.url))
    }

    /// Deletes every key under the prefix.
    pub async fn teardown(&self) {
        if let Err(e) = delete_prefix(&self.url, &self.prefix).await {
            eprintln!("warning: cannot delete test keys {}:*: {e}", self.prefix);
        }
    }
}

async fn delete_prefix(url: &str, prefix: &str) -> redis::RedisResult<()> {
    let client = redis::Client::open(url)?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let mut cursor: u64 = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}:*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut conn)
            .await?;
        if !keys.is_empty() {
            redis::cmd("DEL")
                .arg(&keys)
                .query_async::<()>(&mut conn)
                .await?;
        }
        if next == 0 {
            return Ok(());
        }
        cursor = next;
    }
}

/// Two instances' Redis backends under one fresh prefix: the harness of
/// the real-time conformance suite.
pub struct RedisRealtime {
    prefix: RedisTestPrefix,
    a: RedisBackend,
    b: RedisBackend,
    /// The cluster the backends run on, when it is their own.
    cluster: Option<Arc<ThrowawayCluster>>,
}

impl RedisRealtime {
    /// Connects instances `a` and `b` under a new prefix, or `None`.
    pub async fn create() -> Option<Self> {
        let prefix = RedisTestPrefix::create().await?;
        let a = prefix.backend("a").await;
        let b = prefix.backend("b").await;
        Some(Self {
            prefix,
            a,
            b,
            cluster: None,
        })
    }
}

impl RedisRealtime {
    /// Instances `a` and `b` on a fresh three-node cluster of their own.
    pub async fn create_on_cluster() -> Option<Self> {
        let cluster = Arc::new(ThrowawayCluster::start().await?);
        let prefix = RedisTestPrefix {
            url: cluster.urls(),
            prefix: "chat-test".to_owned(),
        };
        let connect = |id: &str| {
            let config = prefix.config(id).for_cluster();
            async move {
                RedisBackend::connect(config)
                    .await
                    .unwrap_or_else(|e| panic!("cannot connect to the test cluster: {e}"))
            }
        };
        let a = connect("a").await;
        let b = connect("b").await;
        Some(Self {
            prefix,
            a,
            b,
            cluster: Some(cluster),
        })
    }
}

#[async_trait]
impl TestRealtime for RedisRealtime {
    fn queue(&self) -> Arc<dyn OfflineQueue> {
        self.a.queue()
    }

    fn presence(&self) -> Arc<dyn Presence> {
        self.a.presence()
    }

    fn due_work(&self) -> Arc<dyn DueWork> {
        self.a.due_work()
    }

    fn other_instance_due_work(&self) -> Option<Arc<dyn DueWork>> {
        Some(self.b.due_work())
    }

    fn bus(&self) -> Arc<dyn EventBus> {
        self.a.bus()
    }

    fn other_instance_bus(&self) -> Option<Arc<dyn EventBus>> {
        Some(self.b.bus())
    }

    fn rate_limiter(&self) -> Arc<dyn chat_core::rate_limit::RateLimiter> {
        self.a.rate_limiter()
    }

    fn other_instance_rate_limiter(&self) -> Option<Arc<dyn chat_core::rate_limit::RateLimiter>> {
        Some(self.b.rate_limiter())
    }

    async fn teardown(&self) {
        // A cluster of the test's own dies with it.
        if self.cluster.is_none() {
            self.prefix.teardown().await;
        }
    }
}

/// A private Redis Cluster of three masters on free ports (each with its
/// cluster bus port, +10000), joined with `redis-cli --cluster create`.
/// Killed on drop.
#[derive(Debug)]
pub struct ThrowawayCluster {
    nodes: Vec<ThrowawayRedis>,
    _dir: std::path::PathBuf,
}

impl ThrowawayCluster {
    /// Starts one, or `None` when `redis-server` or `redis-cli` is missing
    /// (a panic when backends are required).
    pub async fn start() -> Option<Self> {
        let dir =
            std::env::temp_dir().join(format!("chat-cluster-{}", uuid::Uuid::new_v4().simple()));
        if let Err(e) = std::fs::create_dir_all(&dir) {
            return unavailable(&format!("cannot create {}: {e}", dir.display()));
        }
        let mut nodes = Vec::new();
        for _ in 0..3 {
            let Some(port) = cluster_port() else {
                return unavailable("no free port pair for a cluster node");
            };
            let mut node = ThrowawayRedis {
                port,
                child: None,
                extra: Vec::new(),
            };
            node.extra = vec![
                "--cluster-enabled".into(),
                "yes".into(),
                "--cluster-config-file".into(),
                dir.join(format!("nodes-{port}.conf")).display().to_string(),
                "--dir".into(),
                dir.display().to_string(),
            ];
            if let Err(why) = node.spawn().await {
                return unavailable(&why);
            }
            nodes.push(node);
        }
        let addresses: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let created = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&addresses)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        match created {
            Ok(s) if s.success() => {}
            Ok(s) => return unavailable(&format!("redis-cli --cluster create failed: {s}")),
            Err(e) => return unavailable(&format!("cannot run redis-cli: {e}")),
        }
        let cluster = Self { nodes, _dir: dir };
        for _ in 0..200 {
            if cluster.is_ok().await {
                return Some(cluster);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        unavailable("the cluster never reached cluster_state:ok")
    }

    async fn is_ok(&self) -> bool {
        for node in &self.nodes {
            let Ok(client) = redis::Client::open(node.url()) else {
                return false;
            };
            let Ok(mut conn) = client.get_multiplexed_async_connection().await else {
                return false;
            };
            let info: String = match redis::cmd("CLUSTER")
                .arg("INFO")
                .query_async(&mut conn)
                .await
            {
                Ok(info) => info,
                Err(_) => return false,
            };
            if !info.contains("cluster_state:ok") {
                return false;
            }
        }
        true
    }

    /// Kills every node and starts them again on the same ports; they
    /// rejoin from their cluster config files (with no data).
    ///
    /// # Panics
    /// When the cluster does not come back.
    pub async fn restart(&mut self) {
        for node in &mut self.nodes {
            node.stop();
        }
        for node in &mut self.nodes {
            if let Err(why) = node.spawn().await {
                panic!("{why}");
            }
        }
        for _ in 0..400 {
            if self.is_ok().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the cluster never came back");
    }

    /// The nodes' URLs, comma-separated (what `RedisConfig::url` takes).
    pub fn urls(&self) -> String {
        self.nodes
            .iter()
            .map(ThrowawayRedis::url)
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl Drop for ThrowawayCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            node.stop();
        }
        let _ = std::fs::remove_dir_all(&self._dir);
    }
}

/// A free port whose cluster bus port (+10000) is free too.
fn cluster_port() -> Option<u16> {
    for _ in 0..50 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").ok()?;
        let port = listener.local_addr().ok()?.port();
        if port > 55_000 {
            continue;
        }
        if std::net::TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return Some(port);
        }
    }
    None
}

/// A private `redis-server` on a free port, for tests that stop, restart
/// or flush Redis without touching the shared one. Killed on drop.
#[derive(Debug)]
pub struct ThrowawayRedis {
    port: u16,
    child: Option<Child>,
    /// More `redis-server` arguments (cluster mode).
    extra: Vec<String>,
}

impl ThrowawayRedis {
    /// Starts one, or `None` when `redis-server` is not installed (a panic
    /// when backends are required).
    pub async fn start() -> Option<Self> {
        let port = match std::net::TcpListener::bind("127.0.0.1:0") {
            Ok(l) => l.local_addr().map(|a| a.port()).unwrap_or(0),
            Err(e) => return unavailable(&format!("no free port: {e}")),
        };
        let mut redis = Self {
            port,
            child: None,
            extra: Vec::new(),
        };
        match redis.spawn().await {
            Ok(()) => Some(redis),
            Err(why) => unavailable(&why),
        }
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn spawn(&mut self) -> Result<(), String> {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start redis-server: {e}"))?;
        self.child = Some(child);
        let url = self.url();
        for _ in 0..100 {
            if ping(&url).await.is_ok() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(format!("redis-server on port {} did not start", self.port))
    }

    /// Kills the server (like a crash: connections drop at once).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port, empty.
    ///
    /// # Panics
    /// When it does not come back.
    pub async fn restart(&mut self) {
        self.stop();
        if let Err(why) = self.spawn().await {
            panic!("{why}");
        }
    }
}

impl Drop for ThrowawayRedis {
    fn drop(&mut self) {
        self.stop();
    }
}
