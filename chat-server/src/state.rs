//! Shared state handed to every handler.

use std::sync::Arc;
use std::time::Duration;

use chat_core::ChatEngine;
use chat_queue_redis::RedisBackend;
use ipnet::IpNet;

/// What handlers share: the engine, the HTTP settings and the shutdown
/// signal. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The chat engine.
    pub engine: ChatEngine,
    /// Settings of the HTTP layer.
    pub http: Arc<HttpSettings>,
    /// Set to `true` when the server shuts down; WebSocket sessions watch
    /// it and close with 1001.
    pub shutdown: Arc<tokio::sync::watch::Sender<bool>>,
    /// Which instance this is, and its Redis link when it has one.
    pub instance: Arc<Instance>,
}

/// This server instance among several.
#[derive(Debug, Clone)]
pub struct Instance {
    /// Its id, in logs and `/readyz` (`CHAT_INSTANCE_ID`, or random).
    pub id: String,
    /// The Redis backends the engine uses, if any (for `/readyz`).
    pub redis: Option<RedisBackend>,
}

impl Instance {
    /// A single instance without Redis, with a random id.
    pub fn standalone() -> Self {
        Self {
            id: uuid::Uuid::new_v4().simple().to_string()[..12].to_owned(),
            redis: None,
        }
    }
}

/// Largest accepted request body by default, bytes (`CHAT_MAX_BODY_BYTES`).
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;

/// Default largest request head: the request line plus every header.
pub const DEFAULT_MAX_HEAD_BYTES: usize = 16 * 1024;

/// Default longest request URI (path and query).
pub const DEFAULT_MAX_URI_BYTES: usize = 8 * 1024;

/// Default time to send a request head (`CHAT_HEADER_TIMEOUT_MS`).
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Default time to send a request body (`CHAT_BODY_TIMEOUT_MS`).
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// Settings of the HTTP layer that the engine does not know about.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// Largest accepted request body, bytes.
    pub max_body_bytes: usize,
    /// Largest accepted request head (URI and headers), bytes.
    pub max_head_bytes: usize,
    /// Longest accepted URI, bytes.
    pub max_uri_bytes: usize,
    /// Time a client has to send a request head (from its first byte);
    /// also how long an idle keep-alive connection stays open.
    pub header_timeout: Duration,
    /// Time a client has to send a request body, once its handler starts
    /// reading it; slower gets `408 REQUEST_TIMEOUT`.
    pub body_timeout: Duration,
    /// Web origins allowed to call the API from a browser (CORS); empty:
    /// same-origin only.
    pub cors_origins: Vec<String>,
    /// WebSocket settings.
    pub ws: WsSettings,
}

/// Settings of the WebSocket gateway.
#[derive(Debug, Clone)]
pub struct WsSettings {
    /// How often the server pings each connection (seed 002: 30 seconds);
    /// a connection silent for two intervals is closed.
    pub ping_interval: Duration,
    /// Sends refused by the rate limit, in a row, that are answered with
    /// `RATE_LIMITED`; the next one closes the connection with 1008.
    pub flood_limit: u32,
}

impl Default for WsSettings {
    fn default() -> Self {
        Self {
            ping_interval: Duration::from_secs(30),
            flood_limit: 100,
        }
    }
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            trusted_proxies: Vec::new(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_head_bytes: DEFAULT_MAX_HEAD_BYTES,
            max_uri_bytes: DEFAULT_MAX_URI_BYTES,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            cors_origins: Vec::new(),
            ws: WsSettings::default(),
        }
    }
}

impl AppState {
    /// State over `engine` with default HTTP settings.
    pub fn new(engine: ChatEngine) -> Self {
        Self::with_settings(engine, HttpSettings::default())
    }

    /// State over `engine` with the given HTTP settings.
    pub fn with_settings(engine: ChatEngine, http: HttpSettings) -> Self {
        Self {
            engine,
            http: Arc::new(http),
            shutdown: Arc::new(tokio::sync::watch::channel(false).0),
            instance: Arc::new(Instance::standalone()),
        }
    }

    /// The same state naming its instance (and Redis link).
    pub fn with_instance(mut self, instance: Instance) -> Self {
        self.instance = Arc::new(instance);
        self
    }
}
