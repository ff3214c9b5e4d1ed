//! Builds the engine and its backends from a [`Config`].

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chat_blob_store::ObjectBlobStore;
use chat_core::store::BlobStore;
use chat_core::{ChatEngine, LogMailer, Mailer, Store};
use chat_queue_redis::{RedisBackend, RedisConfig};
use chat_store_postgres::{PgPoolConfig, PgStore};
use chat_store_sqlite::SqliteStore;

use crate::background::{BackgroundRuntime, OnBackground};
use crate::config::Config;
use crate::error::error_chain;
use crate::message_hook::HttpMessageHook;
use crate::outbound::{AddressPolicy, OutboundClient};
use crate::push::{VapidKey, WebPusher};
use crate::server_error::ServerError;
use crate::smtp::SmtpMailer;
use crate::state::{AppState, HttpSettings, Instance};
use crate::webhook_sender::HttpWebhookSender;

/// File in the data directory that keeps the generated JWT secret.
pub const SECRET_FILE: &str = "jwt_secret";

/// File in the data directory that keeps the generated VAPID key.
pub const VAPID_KEY_FILE: &str = "vapid_private_key";

/// Opens the store, loads or creates the JWT secret, picks the mailer and
/// builds the state the router serves.
///
/// # Errors
/// See [`ServerError`].
pub async fn build_state(config: &Config) -> Result<AppState, ServerError> {
    std::fs::create_dir_all(&config.data_dir)?;
    let store = open_store(config).await?;
    let secret = match &config.jwt_secret {
        Some(s) => s.as_bytes().to_vec(),
        None => load_or_create_secret(&config.data_dir)?,
    };
    let mailer: Arc<dyn Mailer> = match &config.smtp_url {
        Some(url) => Arc::new(SmtpMailer::new(url, &config.smtp_from)?),
        None => {
            tracing::warn!(
                "no CHAT_SMTP_URL: password reset emails are written to the log (development only)"
            );
            Arc::new(LogMailer)
        }
    };
    let mut instance = Instance::standalone();
    if let Some(id) = &config.instance_id {
        instance.id.clone_from(id);
    }
    let blobs = open_blobs(config)?;
    let uploads = config.upload_settings();
    clear_spool(&uploads.spool_dir)?;
    // Pushes and webhook posts: outgoing HTTP nobody waits on, on a
    // lower-priority thread so the message path gets the CPU first.
    let outbound = BackgroundRuntime::start("chat-outbound")?;
    let pusher = OnBackground::new(web_pusher(config)?, outbound.clone());
    let mut builder = ChatEngine::builder()
        .store(store)
        .pusher(Arc::new(pusher))
        .webhook_sender(Arc::new(OnBackground::new(
            webhook_sender(config)?,
            outbound,
        )))
        .webhook_config(config.webhook_config())
        .push_config(config.push_config())
        .blobs(blobs)
        .attachment_config(config.attachment_config())
        .mailer(mailer)
        .auth_config(config.auth_config())
        .conversation_config(config.conversation_config())
        .admin_config(config.admin_config())
        .hook_config(config.hook_config())
        .jwt_secret(secret);
    if let Some(hook) = message_hook(config)? {
        builder = builder.message_hook(Arc::new(hook));
    }
    if let Some(url) = &config.redis_url {
        let mut redis_config = RedisConfig::new(url)
            .with_prefix(&config.redis_prefix)
            .with_instance_id(&instance.id);
        if config.redis_cluster {
            redis_config = redis_config.for_cluster();
        }
        let redis = RedisBackend::connect(redis_config)
            .await
            .map_err(|e| ServerError::Redis(error_chain(&e)))?;
        builder = builder
            .bus(redis.bus())
            .queue(redis.queue())
            .presence(redis.presence())
            .due_work(redis.due_work())
            .rate_limiter(redis.rate_limiter());
        instance.redis = Some(redis);
    }
    tracing::info!(instance_id = %instance.id, redis = instance.redis.is_some(), "instance starting");
    let engine = builder.build()?;
    let restored = engine.auth().restore_revocations().await?;
    if restored > 0 {
        tracing::info!(sessions = restored, "restored recently revoked sessions");
    }
    Ok(AppState::with_settings(
        engine,
        HttpSettings {
            trusted_proxies: config.trusted_proxies.clone(),
            max_body_bytes: config.max_body_bytes,
            max_head_bytes: config.max_head_bytes,
            max_uri_bytes: config.max_uri_bytes,
            header_timeout: Duration::from_millis(config.header_timeout_ms),
            body_timeout: Duration::from_millis(config.body_timeout_ms),
            cors_origins: config.cors_origins.clone(),
            ws: config.ws_settings(),
            uploads,
        },
    )
    .with_instance(instance))
}

/// The Web Push sender: the VAPID key from `CHAT_VAPID_PRIVATE_KEY` (or
/// the data directory), and an HTTP client that reaches public addresses
/// and those of `CHAT_OUTBOUND_ALLOW` only.
///
/// # Errors
/// [`ServerError::Config`] for a bad key; I/O errors on the key file.
pub fn web_pusher(config: &Config) -> Result<WebPusher, ServerError> {
    let key = match &config.vapid_private_key {
        Some(private) => VapidKey::from_private(private)?,
        None => load_or_create_vapid_key(&config.data_dir)?,
    };
    let client = OutboundClient::new(
        AddressPolicy::new(config.outbound_allow.clone()),
        Duration::from_millis(config.push_timeout_ms),
    )
    .map_err(|e| ServerError::Config(format!("cannot set up outgoing HTTPS: {e}")))?;
    Ok(WebPusher::new(key, config.vapid_subject.clone(), client))
}

/// The webhook sender: an HTTP client that reaches public addresses and
/// those of `CHAT_OUTBOUND_ALLOW` only.
///
/// # Errors
/// [`ServerError::Config`] when HTTPS cannot be set up.
pub fn webhook_sender(config: &Config) -> Result<HttpWebhookSender, ServerError> {
    let client = OutboundClient::new(
        AddressPolicy::new(config.outbound_allow.clone()),
        Duration::from_millis(config.webhook_timeout_ms),
    )
    .map_err(|e| ServerError::Config(format!("cannot set up outgoing HTTPS: {e}")))?;
    Ok(HttpWebhookSender::new(client))
}

/// The moderation hook of `CHAT_MESSAGE_HOOK_URL`, if one is set.
///
/// # Errors
/// [`ServerError::Config`] when HTTPS cannot be set up.
pub fn message_hook(config: &Config) -> Result<Option<HttpMessageHook>, ServerError> {
    let Some(url) = &config.message_hook_url else {
        return Ok(None);
    };
    // The host only: a query string may hold a token.
    tracing::info!(host = url.host_str().unwrap_or_default(), on_failure = ?config.message_hook_on_failure, "messages pass the moderation hook");
    HttpMessageHook::new(
        url.clone(),
        config.message_hook_secret.clone(),
        Duration::from_millis(config.message_hook_timeout_ms),
    )
    .map(Some)
    .map_err(|e| ServerError::Config(format!("cannot set up outgoing HTTPS: {e}")))
}

/// Opens the store named by the database URL.
///
/// # Errors
/// [`ServerError::Store`] when it cannot be opened or migrated;
/// [`ServerError::Config`] for an unknown scheme.
pub async fn open_store(config: &Config) -> Result<Arc<dyn Store>, ServerError> {
    let url = config.database_url();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let pool = PgPoolConfig {
            min_connections: config.db_min_connections,
            max_connections: config.db_max_connections,
            acquire_timeout: Duration::from_millis(config.db_acquire_timeout_ms),
        };
        let store = PgStore::connect(&url, pool)
            .await
            .map_err(|e| ServerError::Store {
                code: e.code(),
                message: error_chain(&e),
            })?
            .with_writers(config.db_writers as usize);
        tracing::info!(backend = "postgres", "store ready");
        Ok(Arc::new(store))
    } else if url.starts_with("sqlite:") {
        let store = SqliteStore::connect(&url)
            .await
            .map_err(|e| ServerError::Store {
                code: e.code(),
                message: error_chain(&e),
            })?;
        tracing::info!(backend = "sqlite", %url, "store ready");
        Ok(Arc::new(store))
    } else {
        Err(ServerError::Config(
            "CHAT_DATABASE_URL must start with sqlite: or postgres://".to_owned(),
        ))
    }
}

/// Opens the blob store named by `CHAT_BLOB_URL` (default: the data
/// directory's `blobs`).
///
/// # Errors
/// [`ServerError::Blobs`] for an unusable URL or directory.
pub fn open_blobs(config: &Config) -> Result<Arc<dyn BlobStore>, ServerError> {
    let url = config.blob_url()?;
    let blobs = ObjectBlobStore::from_url(&url).map_err(|e| ServerError::Blobs {
        code: e.code(),
        message: error_chain(&e),
    })?;
    tracing::info!(blobs = blobs.describe(), "blob store ready");
    Ok(Arc::new(blobs))
}

/// Creates the directory uploads are spooled in, removing what a stopped
/// instance left there (uploads it was receiving, which failed).
///
/// # Errors
/// I/O errors.
pub fn clear_spool(dir: &Path) -> Result<(), ServerError> {
    std::fs::create_dir_all(dir)?;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_name().to_string_lossy().starts_with("upload-") {
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

/// Reads `<data_dir>/jwt_secret`, creating it with a random secret the
/// first time, so restarts keep sessions valid.
///
/// # Errors
/// I/O errors; [`ServerError::Config`] for a secret file under 32 bytes.
pub fn load_or_create_secret(data_dir: &Path) -> Result<Vec<u8>, ServerError> {
    let path = data_dir.join(SECRET_FILE);
    match std::fs::read_to_string(&path) {
        Ok(s) => {
            let secret = s.trim().as_bytes().to_vec();
            if secret.len() < chat_core::auth::tokens::MIN_SECRET_LEN {
                return Err(ServerError::Config(format!(
                    "{} holds fewer than 32 bytes",
                    path.display()
                )));
            }
            Ok(secret)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let secret = chat_core::auth::secrets::generate()?;
            write_private(&path, secret.as_bytes())?;
            tracing::warn!(
                path = %path.display(),
                "generated a JWT secret and saved it in the data directory; \
                 set CHAT_JWT_SECRET in production"
            );
            Ok(secret.into_bytes())
        }
        Err(e) => Err(e.into()),
    }
}

/// Reads `<data_dir>/vapid_private_key`, creating it with a new key the
/// first time, so restarts keep devices' push subscriptions working.
///
/// # Errors
/// I/O errors; [`ServerError::Config`] for a file that holds no key.
pub fn load_or_create_vapid_key(data_dir: &Path) -> Result<VapidKey, ServerError> {
    let path = data_dir.join(VAPID_KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(s) => VapidKey::from_private(&s).map_err(|_| {
            ServerError::Config(format!("{} holds no VAPID private key", path.display()))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = VapidKey::generate();
            write_private(&path, key.private_key().as_bytes())?;
            tracing::warn!(
                path = %path.display(),
                "generated a VAPID key for push notifications and saved it in the data \
                 directory; give every instance the same CHAT_VAPID_PRIVATE_KEY"
            );
            Ok(key)
        }
        Err(e) => Err(e.into()),
    }
}

/// Creates `path` readable by its owner only; fails if it exists.
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generated_secret_is_kept_and_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = load_or_create_secret(dir.path()).expect("create");
        let second = load_or_create_secret(dir.path()).expect("reload");
        assert_eq!(first, second);
        assert!(first.len() >= 32);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.path().join(SECRET_FILE))
                .expect("metadata")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn the_generated_vapid_key_is_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = load_or_create_vapid_key(dir.path()).expect("create");
        let second = load_or_create_vapid_key(dir.path()).expect("reload");
        assert_eq!(first.public_key(), second.public_key());
        std::fs::write(dir.path().join(VAPID_KEY_FILE), "not a key").expect("write");
        assert!(matches!(
            load_or_create_vapid_key(dir.path()),
            Err(ServerError::Config(_))
        ));
    }

    #[test]
    fn a_short_secret_file_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join(SECRET_FILE), "short").expect("write");
        assert!(matches!(
            load_or_create_secret(dir.path()),
            Err(ServerError::Config(_))
        ));
    }
}
