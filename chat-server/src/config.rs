//! Server configuration: command-line flags, each with a `CHAT_*`
//! environment variable. `docs/configuration.md` lists them all.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use chat_core::auth::{Argon2Params, AuthConfig};
use chat_core::message_hook::OnHookFailure;
use chat_core::{
    AdminConfig, AttachmentConfig, ConversationConfig, HookConfig, PushConfig, RateLimit, Username,
    WebhookConfig,
};
use clap::{Parser, ValueEnum};
use ipnet::IpNet;

use crate::state::{
    DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_HEAD_BYTES, DEFAULT_MAX_URI_BYTES, WsSettings,
};
use crate::uploads::UploadSettings;

/// The window of the password reset limits.
const HOUR: Duration = Duration::from_secs(3600);

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// What a moderation hook failure does (`CHAT_MESSAGE_HOOK_ON_FAILURE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HookFailureMode {
    /// The message goes through unchecked.
    Open,
    /// The message is refused (`503 MODERATION_UNAVAILABLE`).
    Closed,
}

/// Everything the server binary can be told.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "chat-server",
    version,
    about = "Chat engine server: REST API, WebSocket and demo"
)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "CHAT_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Directory for the SQLite database and the generated JWT secret;
    /// created if missing.
    #[arg(long, env = "CHAT_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,

    /// Database URL: `sqlite://path/to/file.db` or `postgres://...`.
    /// Default: `sqlite://<data-dir>/chat.db`.
    #[arg(long, env = "CHAT_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// PostgreSQL pool: connections kept open.
    #[arg(long, env = "CHAT_DB_MIN_CONNECTIONS", default_value_t = 10)]
    pub db_min_connections: u32,

    /// PostgreSQL pool: most connections opened for reads and single
    /// writes; the message writers have one each besides.
    #[arg(long, env = "CHAT_DB_MAX_CONNECTIONS", default_value_t = 20)]
    pub db_max_connections: u32,

    /// PostgreSQL pool: how long a request waits for a connection (and
    /// retries reaching the server) before it fails with
    /// `STORE_UNAVAILABLE`, milliseconds.
    #[arg(long, env = "CHAT_DB_ACQUIRE_TIMEOUT_MS", default_value_t = 5_000)]
    pub db_acquire_timeout_ms: u64,

    /// PostgreSQL: message batches written at once, each on its own
    /// connection (more help many conversations at once, hurt a few busy
    /// ones; see docs/benchmarks.md).
    #[arg(long, env = "CHAT_DB_WRITERS", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=64))]
    pub db_writers: u32,

    /// HS256 secret for access tokens (at least 32 bytes). Without it a
    /// secret is generated once and kept in `<data-dir>/jwt_secret`.
    #[arg(long, env = "CHAT_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// Access token lifetime, seconds.
    #[arg(long, env = "CHAT_ACCESS_TOKEN_TTL_SECS", default_value_t = 900)]
    pub access_token_ttl_secs: u64,

    /// Refresh token lifetime, seconds.
    #[arg(long, env = "CHAT_REFRESH_TOKEN_TTL_SECS", default_value_t = 7 * 24 * 3600)]
    pub refresh_token_ttl_secs: u64,

    /// Password reset link lifetime, seconds.
    #[arg(long, env = "CHAT_RESET_TOKEN_TTL_SECS", default_value_t = 3600)]
    pub reset_token_ttl_secs: u64,

    /// Seconds after a refresh during which the old refresh token may be
    /// presented again without revoking the session.
    #[arg(long, env = "CHAT_REFRESH_REUSE_GRACE_SECS", default_value_t = 5)]
    pub refresh_reuse_grace_secs: u64,

    /// argon2id memory cost, KiB.
    #[arg(long, env = "CHAT_ARGON2_MEMORY_KIB", default_value_t = 19_456)]
    pub argon2_memory_kib: u32,

    /// argon2id iterations.
    #[arg(long, env = "CHAT_ARGON2_ITERATIONS", default_value_t = 2)]
    pub argon2_iterations: u32,

    /// argon2id parallelism.
    #[arg(long, env = "CHAT_ARGON2_PARALLELISM", default_value_t = 1)]
    pub argon2_parallelism: u32,

    /// Password hashes computed at once (default: half the cores, at least 1).
    #[arg(long, env = "CHAT_MAX_CONCURRENT_HASHES")]
    pub max_concurrent_hashes: Option<usize>,

    /// Failed logins allowed per client address per window.
    #[arg(long, env = "CHAT_LOGIN_MAX_FAILURES", default_value_t = 5)]
    pub login_max_failures: u32,

    /// Failed-login window, seconds.
    #[arg(long, env = "CHAT_LOGIN_WINDOW_SECS", default_value_t = 900)]
    pub login_window_secs: u64,

    /// Password reset requests allowed per client address per hour.
    #[arg(long, env = "CHAT_RESET_MAX_PER_CLIENT", default_value_t = 10)]
    pub reset_max_per_client: u32,

    /// Signups allowed per client address per hour (each costs an argon2
    /// hash). Raise it for load tests that create many users.
    #[arg(long, env = "CHAT_SIGNUP_MAX_PER_CLIENT", default_value_t = 20)]
    pub signup_max_per_client: u32,

    /// Password reset emails sent to one address per hour; further
    /// requests are answered as usual and send nothing.
    #[arg(long, env = "CHAT_RESET_MAX_PER_EMAIL", default_value_t = 3)]
    pub reset_max_per_email: u32,

    /// Email or password changes one user may attempt per hour (each
    /// needs the current password); past it 429 RATE_LIMITED.
    #[arg(long, env = "CHAT_ACCOUNT_CHANGES_PER_HOUR", default_value_t = 10)]
    pub account_changes_per_hour: u32,

    /// Most members a group may have.
    #[arg(long, env = "CHAT_MAX_GROUP_MEMBERS", default_value_t = 1_000)]
    pub max_group_members: u32,

    /// Groups with more members get no live receipts from others.
    #[arg(long, env = "CHAT_GROUP_RECEIPTS_MAX_MEMBERS", default_value_t = 100)]
    pub group_receipts_max_members: u32,

    /// Seconds after sending during which a message may be edited (0, the
    /// default: no limit); later edits are 403 EDIT_WINDOW_CLOSED.
    #[arg(long, env = "CHAT_EDIT_WINDOW_SECS", default_value_t = 0)]
    pub edit_window_secs: u64,

    /// Words held by more messages than this are too common to rank: a
    /// search of only such words finds latest first within one
    /// conversation and is refused across all (`SEARCH_TOO_BROAD`).
    #[arg(
        long,
        env = "CHAT_SEARCH_COMMON_WORD_MESSAGES",
        default_value_t = 20_000
    )]
    pub search_common_word_messages: u64,

    /// Searches one user may run per minute; past it `RATE_LIMITED`.
    #[arg(long, env = "CHAT_SEARCHES_PER_MINUTE", default_value_t = 30)]
    pub searches_per_minute: u32,

    /// Usernames (comma-separated, case-insensitive) whose accounts hold
    /// the admin role: the `/api/v1/admin` API. Empty (the default):
    /// nobody. Register these accounts before listing them, or someone
    /// else may take the name.
    #[arg(long, env = "CHAT_ADMIN_USERNAMES", value_delimiter = ',', value_parser = parse_admin_username)]
    pub admin_usernames: Vec<Username>,

    /// Messages one user may send per minute (REST and, later, WebSocket).
    #[arg(long, env = "CHAT_MESSAGES_PER_MINUTE", default_value_t = 100)]
    pub messages_per_minute: u32,

    /// Seconds between the server's WebSocket pings (30 by default); a
    /// connection silent for two intervals is closed.
    #[arg(long, env = "CHAT_WS_PING_INTERVAL_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub ws_ping_interval_secs: u64,

    /// Milliseconds one write to a WebSocket may wait for the client to
    /// read; a client that reads nothing for longer is closed with 1013.
    #[arg(long, env = "CHAT_WS_WRITE_TIMEOUT_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(100..))]
    pub ws_write_timeout_ms: u64,

    /// Most WebSockets one user may hold on this instance; one more is
    /// refused at the upgrade with 429 TOO_MANY_CONNECTIONS.
    #[arg(long, env = "CHAT_WS_MAX_SOCKETS_PER_USER", default_value_t = crate::state::DEFAULT_WS_MAX_SOCKETS_PER_USER, value_parser = clap::value_parser!(u32).range(1..))]
    pub ws_max_sockets_per_user: u32,

    /// Proxies whose `X-Forwarded-For` is believed (comma-separated IPs or
    /// CIDRs). Empty: the peer address is the client address.
    #[arg(long, env = "CHAT_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<IpNet>,

    /// Web origins (`https://app.example.com`, comma-separated) whose
    /// pages may call the API from the browser (CORS). Empty, the
    /// default: same-origin only, no CORS headers at all.
    #[arg(long, env = "CHAT_CORS_ORIGINS", value_delimiter = ',', value_parser = parse_origin)]
    pub cors_origins: Vec<String>,

    /// SMTP server for password reset emails, e.g.
    /// `smtps://user:pass@smtp.example.com` or
    /// `smtp://host:587?tls=required`. Without it emails go to the log.
    #[arg(long, env = "CHAT_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,

    /// Sender of emails.
    #[arg(
        long,
        env = "CHAT_SMTP_FROM",
        default_value = "Chat <no-reply@localhost>"
    )]
    pub smtp_from: String,

    /// Public base URL of the web app, used in emailed links.
    /// Default: `http://<listen>`.
    #[arg(long, env = "CHAT_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Largest accepted request body, bytes.
    #[arg(long, env = "CHAT_MAX_BODY_BYTES", default_value_t = DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,

    /// Largest accepted request head (URI and headers), bytes.
    #[arg(long, env = "CHAT_MAX_HEAD_BYTES", default_value_t = DEFAULT_MAX_HEAD_BYTES)]
    pub max_head_bytes: usize,

    /// Longest accepted request URI (path and query), bytes.
    #[arg(long, env = "CHAT_MAX_URI_BYTES", default_value_t = DEFAULT_MAX_URI_BYTES)]
    pub max_uri_bytes: usize,

    /// Time a client has to send a request head (request line and
    /// headers), from its first byte, milliseconds; the connection is
    /// closed after it. Idle keep-alive connections close after it too.
    #[arg(long, env = "CHAT_HEADER_TIMEOUT_MS", default_value_t = 10_000)]
    pub header_timeout_ms: u64,

    /// Time a client has to send a request body, milliseconds; slower gets
    /// `408 REQUEST_TIMEOUT`.
    #[arg(long, env = "CHAT_BODY_TIMEOUT_MS", default_value_t = 10_000)]
    pub body_timeout_ms: u64,

    /// Where the bytes of attachments go: `file:///ABSOLUTE/DIR`, or
    /// `s3://BUCKET?region=...&endpoint=...&access_key_id=...&secret_access_key=...`
    /// (any S3-compatible store; docs/configuration.md). Default:
    /// `CHAT_DATA_DIR/blobs` on local disk.
    #[arg(long, env = "CHAT_BLOB_URL", hide_env_values = true)]
    pub blob_url: Option<String>,

    /// Largest upload, bytes (default 25 MiB).
    #[arg(long, env = "CHAT_MAX_UPLOAD_BYTES", default_value_t = 25 * 1024 * 1024)]
    pub max_upload_bytes: u64,

    /// How long an upload may send nothing before it is cut off,
    /// milliseconds (uploads are exempt from `CHAT_BODY_TIMEOUT_MS`).
    #[arg(long, env = "CHAT_UPLOAD_IDLE_TIMEOUT_MS", default_value_t = 30_000, value_parser = clap::value_parser!(u64).range(100..))]
    pub upload_idle_timeout_ms: u64,

    /// Uploads one user may start per hour.
    #[arg(long, env = "CHAT_UPLOADS_PER_HOUR", default_value_t = 200)]
    pub uploads_per_hour: u32,

    /// How long an upload may wait to be sent in a message before it is
    /// removed, seconds.
    #[arg(long, env = "CHAT_UNSENT_UPLOAD_GRACE_SECS", default_value_t = 3600)]
    pub unsent_upload_grace_secs: u64,

    /// The VAPID private key push notifications are signed with (32 bytes,
    /// base64url). Every instance needs the same one. Without it a key is
    /// generated once and kept in `<data-dir>/vapid_private_key`.
    #[arg(long, env = "CHAT_VAPID_PRIVATE_KEY", hide_env_values = true)]
    pub vapid_private_key: Option<String>,

    /// Who push services may contact about this server's pushes:
    /// `mailto:` or `https:` URL.
    #[arg(long, env = "CHAT_VAPID_SUBJECT", default_value = "mailto:admin@localhost", value_parser = parse_vapid_subject)]
    pub vapid_subject: String,

    /// How long after a user's first unnotified message the push notifier
    /// waits, so a burst becomes one notification per conversation,
    /// milliseconds.
    #[arg(long, env = "CHAT_PUSH_SETTLE_MS", default_value_t = 1_500)]
    pub push_settle_ms: u64,

    /// How long one request to a push service may take, milliseconds; a
    /// push service that hangs is retried later.
    #[arg(long, env = "CHAT_PUSH_TIMEOUT_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(100..=60_000))]
    pub push_timeout_ms: u64,

    /// How long after a conversation's first undelivered entry the webhook
    /// dispatcher waits, so a busy conversation's entries go out a batch
    /// at a time (one cursor write per batch), milliseconds.
    #[arg(long, env = "CHAT_WEBHOOK_SETTLE_MS", default_value_t = 250)]
    pub webhook_settle_ms: u64,

    /// How long one webhook delivery may take, milliseconds; a receiver
    /// that hangs is retried later.
    #[arg(long, env = "CHAT_WEBHOOK_TIMEOUT_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(100..=60_000))]
    pub webhook_timeout_ms: u64,

    /// The moderation hook: every new message and edit is posted to this
    /// `http` or `https` URL before it is stored, and the answer allows,
    /// rewrites or refuses it (docs/api.md, "Moderation hook"). It may be
    /// a private address: it is the operator's. Unset, the default: no
    /// hook.
    #[arg(long, env = "CHAT_MESSAGE_HOOK_URL", value_parser = parse_hook_url)]
    pub message_hook_url: Option<reqwest13::Url>,

    /// The secret the moderation hook's requests are signed with
    /// (`Chat-Signature`, as webhook deliveries); unset, they are not
    /// signed.
    #[arg(long, env = "CHAT_MESSAGE_HOOK_SECRET", hide_env_values = true)]
    pub message_hook_secret: Option<String>,

    /// How long the moderation hook may take to answer, milliseconds; the
    /// message waits that long at most.
    #[arg(long, env = "CHAT_MESSAGE_HOOK_TIMEOUT_MS", default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(10..=30_000))]
    pub message_hook_timeout_ms: u64,

    /// What happens when the moderation hook fails (no answer in time, an
    /// error status, an answer it cannot read): `open` sends the message
    /// unchanged, `closed` refuses it with `MODERATION_UNAVAILABLE`.
    #[arg(
        long,
        env = "CHAT_MESSAGE_HOOK_ON_FAILURE",
        value_enum,
        default_value = "open"
    )]
    pub message_hook_on_failure: HookFailureMode,

    /// Private addresses (comma-separated IPs or CIDRs) that outgoing
    /// requests to URLs users and operators give (push endpoints,
    /// webhooks) may reach, over `http` too. Empty, the default: public addresses only, over `https`.
    #[arg(long, env = "CHAT_OUTBOUND_ALLOW", value_delimiter = ',')]
    pub outbound_allow: Vec<IpNet>,

    /// Redis URL (`redis://host:6379`). With it, the offline queue,
    /// presence, cross-instance fan-out and rate limits live in Redis, so
    /// several instances behave as one service; without it they are in
    /// process (one instance).
    #[arg(long, env = "CHAT_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,

    /// `CHAT_REDIS_URL` names nodes of a Redis Cluster (comma-separated):
    /// keys are routed by slot and user channels use sharded Pub/Sub.
    #[arg(long, env = "CHAT_REDIS_CLUSTER", default_value_t = false)]
    pub redis_cluster: bool,

    /// Prefix of every Redis key and channel, so several deployments can
    /// share one Redis.
    #[arg(long, env = "CHAT_REDIS_PREFIX", default_value = "chat")]
    pub redis_prefix: String,

    /// This instance's id in logs, `/readyz` and Redis. Default: random at
    /// each start. A stable id lets a restarted instance clear the
    /// connections it left in Redis at once.
    #[arg(long, env = "CHAT_INSTANCE_ID")]
    pub instance_id: Option<String>,

    /// Log format.
    #[arg(long, env = "CHAT_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,

    /// Log filter (`tracing` syntax), e.g. `info,chat_server=debug`.
    #[arg(long, env = "CHAT_LOG", default_value = "info")]
    pub log: String,
}

impl Config {
    /// The database URL in force.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("chat.db").display()))
    }

    /// Authentication settings derived from the flags.
    pub fn auth_config(&self) -> AuthConfig {
        let defaults = AuthConfig::default();
        AuthConfig {
            access_ttl: Duration::from_secs(self.access_token_ttl_secs),
            refresh_ttl: Duration::from_secs(self.refresh_token_ttl_secs),
            reset_ttl: Duration::from_secs(self.reset_token_ttl_secs),
            refresh_reuse_grace: Duration::from_secs(self.refresh_reuse_grace_secs),
            login_limit: RateLimit::new(
                self.login_max_failures,
                Duration::from_secs(self.login_window_secs),
            ),
            reset_client_limit: RateLimit::new(self.reset_max_per_client, HOUR),
            signup_client_limit: RateLimit::new(self.signup_max_per_client, HOUR),
            reset_email_limit: RateLimit::new(self.reset_max_per_email, HOUR),
            account_change_limit: RateLimit::new(self.account_changes_per_hour, HOUR),
            argon2: Argon2Params {
                memory_kib: self.argon2_memory_kib,
                iterations: self.argon2_iterations,
                parallelism: self.argon2_parallelism,
            },
            max_concurrent_hashes: self
                .max_concurrent_hashes
                .unwrap_or(defaults.max_concurrent_hashes),
            public_url: self
                .public_url
                .clone()
                .unwrap_or_else(|| format!("http://{}", self.listen)),
        }
    }

    /// Conversation settings derived from the flags.
    pub fn conversation_config(&self) -> ConversationConfig {
        ConversationConfig {
            max_group_members: self.max_group_members,
            message_limit: RateLimit::new(self.messages_per_minute, Duration::from_secs(60)),
            receipts_max_group_members: self.group_receipts_max_members,
            edit_window: (self.edit_window_secs > 0)
                .then(|| Duration::from_secs(self.edit_window_secs)),
            search_common_word_messages: self.search_common_word_messages,
            search_limit: RateLimit::new(self.searches_per_minute, Duration::from_secs(60)),
        }
    }

    /// Attachment settings derived from the flags.
    pub fn attachment_config(&self) -> AttachmentConfig {
        AttachmentConfig {
            max_bytes: self.max_upload_bytes,
            unsent_grace: Duration::from_secs(self.unsent_upload_grace_secs),
            upload_limit: RateLimit::new(self.uploads_per_hour, HOUR),
            ..AttachmentConfig::default()
        }
    }

    /// The blob store URL in force.
    ///
    /// # Errors
    /// A data directory whose absolute path cannot be found.
    pub fn blob_url(&self) -> std::io::Result<String> {
        match &self.blob_url {
            Some(url) => Ok(url.clone()),
            None => {
                let dir = std::path::absolute(self.data_dir.join("blobs"))?;
                Ok(format!("file://{}", dir.display()))
            }
        }
    }

    /// Upload settings of the HTTP layer derived from the flags.
    pub fn upload_settings(&self) -> UploadSettings {
        UploadSettings {
            spool_dir: self.data_dir.join("uploads"),
            idle_timeout: Duration::from_millis(self.upload_idle_timeout_ms),
        }
    }

    /// Push notification settings derived from the flags.
    pub fn push_config(&self) -> PushConfig {
        PushConfig {
            settle: Duration::from_millis(self.push_settle_ms),
            ..PushConfig::default()
        }
    }

    /// Webhook delivery settings derived from the flags.
    pub fn webhook_config(&self) -> WebhookConfig {
        WebhookConfig {
            settle: Duration::from_millis(self.webhook_settle_ms),
            ..WebhookConfig::default()
        }
    }

    /// The moderation hook's timeout and failure policy, from the flags.
    pub fn hook_config(&self) -> HookConfig {
        HookConfig {
            timeout: Duration::from_millis(self.message_hook_timeout_ms),
            on_failure: match self.message_hook_on_failure {
                HookFailureMode::Open => OnHookFailure::Open,
                HookFailureMode::Closed => OnHookFailure::Closed,
            },
        }
    }

    /// Who the operators are, from `CHAT_ADMIN_USERNAMES`.
    pub fn admin_config(&self) -> AdminConfig {
        AdminConfig {
            usernames: self.admin_usernames.clone(),
        }
    }

    /// WebSocket settings derived from the flags.
    pub fn ws_settings(&self) -> WsSettings {
        WsSettings {
            ping_interval: Duration::from_secs(self.ws_ping_interval_secs),
            write_timeout: Duration::from_millis(self.ws_write_timeout_ms),
            max_sockets_per_user: self.ws_max_sockets_per_user,
            ..WsSettings::default()
        }
    }

    /// A configuration with every default, as if no flag were given.
    pub fn defaults() -> Self {
        Self::parse_from(["chat-server"])
    }
}

/// A username in `CHAT_ADMIN_USERNAMES` (surrounding spaces allowed).
fn parse_admin_username(s: &str) -> Result<Username, String> {
    Username::parse(s.trim()).map_err(|e| format!("`{s}`: {e}"))
}

/// A VAPID subject: a `mailto:` or `https:` URL (RFC 8292).
fn parse_vapid_subject(s: &str) -> Result<String, String> {
    let ok = (s.starts_with("mailto:") && s.len() > "mailto:".len())
        || (s.starts_with("https://") && s.len() > "https://".len());
    if ok && !s.chars().any(char::is_whitespace) {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "`{s}`: the VAPID subject is a mailto: or https: URL"
        ))
    }
}

/// The moderation hook's URL: `http` or `https`, with a host, without
/// credentials.
fn parse_hook_url(s: &str) -> Result<reqwest13::Url, String> {
    let url = reqwest13::Url::parse(s).map_err(|e| format!("`{s}`: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!("`{s}`: the message hook is an http or https URL"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "`{s}`: put no credentials in the URL; CHAT_MESSAGE_HOOK_SECRET signs the requests"
        ));
    }
    Ok(url)
}

/// An origin as browsers send it: `http` or `https`, a host, an optional
/// port, and nothing else (no path, no trailing slash).
fn parse_origin(s: &str) -> Result<String, String> {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .ok_or_else(|| format!("`{s}`: an origin starts with http:// or https://"))?;
    let valid = !rest.is_empty()
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    if valid {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "`{s}`: an origin is scheme://host[:port], without a path"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_documented_values() {
        let c = Config::try_parse_from(["chat-server"]).expect("parse");
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.database_url(), "sqlite://data/chat.db");
        let auth = c.auth_config();
        assert_eq!(auth.access_ttl, Duration::from_secs(900));
        assert_eq!(auth.refresh_ttl, Duration::from_secs(604_800));
        assert_eq!(auth.login_limit.max, 5);
        assert_eq!(auth.argon2, Argon2Params::default());
        assert_eq!(auth.public_url, "http://127.0.0.1:8080");
        let conversations = c.conversation_config();
        assert_eq!(conversations.max_group_members, 1_000);
        assert_eq!(conversations.message_limit.max, 100);
    }

    #[test]
    fn cors_origins_must_be_bare_origins() {
        let c = Config::parse_from([
            "chat-server",
            "--cors-origins",
            "https://app.example.com,http://localhost:5173",
        ]);
        assert_eq!(
            c.cors_origins,
            ["https://app.example.com", "http://localhost:5173"]
        );
        assert!(Config::defaults().cors_origins.is_empty());
        for bad in [
            "app.example.com",
            "https://app.example.com/",
            "ftp://x",
            "https://",
        ] {
            assert!(
                Config::try_parse_from(["chat-server", "--cors-origins", bad]).is_err(),
                "{bad} accepted"
            );
        }
    }

    #[test]
    fn trusted_proxies_parse_ips_and_cidrs() {
        let c = Config::try_parse_from([
            "chat-server",
            "--trusted-proxies",
            "10.0.0.0/8,192.168.1.1/32",
        ])
        .expect("parse");
        assert_eq!(c.trusted_proxies.len(), 2);
    }
}
