//! Shared state handed to every handler.

use std::sync::Arc;

use chat_core::ChatEngine;
use ipnet::IpNet;

/// What handlers share: the engine and the HTTP settings. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The chat engine.
    pub engine: ChatEngine,
    /// Settings of the HTTP layer.
    pub http: Arc<HttpSettings>,
}

/// Largest accepted request body by default, bytes (`CHAT_MAX_BODY_BYTES`).
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;

/// Settings of the HTTP layer that the engine does not know about.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// Largest accepted request body, bytes.
    pub max_body_bytes: usize,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            trusted_proxies: Vec::new(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
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
        }
    }
}
