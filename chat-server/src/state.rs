//! Shared state handed to every handler.

use std::sync::Arc;
use std::time::Duration;

use chat_core::ChatEngine;
use chat_queue_redis::RedisBackend;
use ipnet::IpNet;

use crate::limits::{FrameRate, SocketSeats};
use crate::uploads::UploadSettings;

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
    /// The WebSocket sockets each user holds here, capped at
    /// [`WsSettings::max_sockets_per_user`].
    pub sockets: SocketSeats,
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
    /// Upload settings.
    pub uploads: UploadSettings,
}

/// Settings of the WebSocket gateway.
#[derive(Debug, Clone)]
pub struct WsSettings {
    /// How often the server pings each connection (30 seconds by
    /// default); a connection silent for two intervals is closed.
    pub ping_interval: Duration,
    /// Sends refused by the rate limit, in a row, that are answered with
    /// `RATE_LIMITED`; the next one closes the connection with 1008.
    pub flood_limit: u32,
    /// How long one write to a socket may wait for the client to read
    /// (`CHAT_WS_WRITE_TIMEOUT_MS`). A client that stops reading fills
    /// the kernel's buffers, then the server's write waits; past this it
    /// is closed with 1013, so it cannot hold memory indefinitely.
    pub write_timeout: Duration,
    /// Most sockets one user may hold on this instance
    /// (`CHAT_WS_MAX_SOCKETS_PER_USER`); one more is refused at the
    /// upgrade with `429 TOO_MANY_CONNECTIONS`.
    pub max_sockets_per_user: u32,
    /// How many `sync` frames a connection may send; past it they are
    /// answered with `RATE_LIMITED`.
    pub sync_rate: FrameRate,
    /// How many `typing` frames a connection may send; past it they are
    /// answered with `RATE_LIMITED`.
    pub typing_rate: FrameRate,
}

/// Default [`WsSettings::write_timeout`].
pub const DEFAULT_WS_WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Default [`WsSettings::max_sockets_per_user`]: a user with a phone, a
/// laptop and a dozen tabs stays well under it.
pub const DEFAULT_WS_MAX_SOCKETS_PER_USER: u32 = 20;

impl Default for WsSettings {
    fn default() -> Self {
        Self {
            ping_interval: Duration::from_secs(30),
            flood_limit: 100,
            write_timeout: DEFAULT_WS_WRITE_TIMEOUT,
            max_sockets_per_user: DEFAULT_WS_MAX_SOCKETS_PER_USER,
            // A client checks its gaps in a few conversations after a
            // reconnect; a steady stream of syncs is a scraper.
            sync_rate: FrameRate::new(30, 10.0),
            // Clients send one on each start and stop of typing.
            typing_rate: FrameRate::new(10, 2.0),
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
            uploads: UploadSettings::default(),
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
            sockets: SocketSeats::new(http.ws.max_sockets_per_user),
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
