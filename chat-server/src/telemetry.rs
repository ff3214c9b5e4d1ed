//! Log set-up.

use tracing::Subscriber;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::config::{Config, LogFormat};

/// Crates that log message payloads at `trace`; capped at `debug`.
const PAYLOAD_LOGGERS: [&str; 2] = ["tungstenite", "tokio_tungstenite"];

/// Installs the global `tracing` subscriber described by `config`
/// (`RUST_LOG`, when set, overrides `--log`).
pub fn init(config: &Config) {
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| config.log.clone());
    let result = match config.log_format {
        LogFormat::Text => text_subscriber(&filter).try_init(),
        LogFormat::Json => json_subscriber(&filter).try_init(),
    };
    if let Err(e) = result {
        eprintln!("logging was already initialised: {e}");
    }
}

/// The filter a log line must pass: the level asked for (`info` when it
/// cannot be parsed).
fn env_filter(filter: &str) -> EnvFilter {
    EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"))
}

/// A second filter, on top of the one asked for: whatever the level, never
/// the WebSocket library's frame dumps. At `trace` it logs every message
/// received, tokens (the in-band `auth` frame) and people's private
/// messages included. It only caps: at `info`, the library logs nothing
/// below `info` either.
///
/// Its default is the level asked for, not `trace`: the subscriber's
/// most verbose level is the least verbose of its filters', and the
/// `log` crate's maximum is set from it. At `trace` every `log::trace!`
/// of the WebSocket library and the database driver (several per frame
/// and per statement) went through the subscriber's filters before being
/// dropped, a few percent of the server's CPU under load.
fn payload_cap(asked: &EnvFilter) -> Targets {
    let most = asked.max_level_hint().unwrap_or(LevelFilter::TRACE);
    PAYLOAD_LOGGERS
        .iter()
        .fold(Targets::new().with_default(most), |t, target| {
            t.with_target(*target, most.min(LevelFilter::DEBUG))
        })
}

/// Colours only on a terminal: escape codes in a log file or a pipe get
/// in the way of anyone reading or searching it.
fn ansi() -> bool {
    std::io::IsTerminal::is_terminal(&std::io::stdout())
}

fn text_subscriber(filter: &str) -> impl Subscriber + Send + Sync {
    let filter = env_filter(filter);
    let cap = payload_cap(&filter);
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi())
        .finish()
        .with(cap)
}

fn json_subscriber(filter: &str) -> impl Subscriber + Send + Sync {
    let filter = env_filter(filter);
    let cap = payload_cap(&filter);
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi())
        .json()
        .flatten_event(true)
        .finish()
        .with(cap)
}

#[cfg(test)]
mod tests {
    use tracing::Level;

    use super::*;

    /// Whether `target` logs at `level` under `filter`.
    fn logs(filter: &str, target: &str, level: Level) -> bool {
        let subscriber = text_subscriber(filter);
        tracing::subscriber::with_default(subscriber, || match (target, level) {
            ("tungstenite", Level::TRACE) => tracing::enabled!(target: "tungstenite", Level::TRACE),
            ("tungstenite", Level::DEBUG) => tracing::enabled!(target: "tungstenite", Level::DEBUG),
            ("tungstenite", _) => tracing::enabled!(target: "tungstenite", Level::INFO),
            (_, Level::DEBUG) => tracing::enabled!(target: "chat_server", Level::DEBUG),
            _ => tracing::enabled!(target: "chat_server", Level::INFO),
        })
    }

    #[test]
    fn at_info_the_websocket_library_logs_no_debug_lines() {
        assert!(!logs("info", "tungstenite", Level::DEBUG));
        assert!(logs("info", "tungstenite", Level::INFO));
        assert!(logs("info", "chat_server", Level::INFO));
        assert!(!logs("info", "chat_server", Level::DEBUG));
    }

    #[test]
    fn the_most_verbose_level_is_the_one_asked_for() {
        // The `log` crate's maximum comes from it (`try_init`).
        for (filter, most) in [
            ("info", LevelFilter::INFO),
            ("warn", LevelFilter::WARN),
            ("chat_server=debug,info", LevelFilter::DEBUG),
        ] {
            assert_eq!(
                text_subscriber(filter).max_level_hint(),
                Some(most),
                "{filter}"
            );
            assert_eq!(
                json_subscriber(filter).max_level_hint(),
                Some(most),
                "{filter}"
            );
        }
    }

    #[test]
    fn at_trace_the_websocket_library_is_capped_at_debug() {
        assert!(!logs("trace", "tungstenite", Level::TRACE));
        assert!(logs("trace", "tungstenite", Level::DEBUG));
        assert!(logs("trace", "chat_server", Level::DEBUG));
    }
}
