//! Log set-up.

use tracing_subscriber::EnvFilter;

use crate::config::{Config, LogFormat};

/// Crates that log message payloads at `trace`; capped at `debug`.
const PAYLOAD_LOGGERS: [&str; 2] = ["tungstenite", "tokio_tungstenite"];

/// Installs the global `tracing` subscriber described by `config`
/// (`RUST_LOG`, when set, overrides `--log`).
pub fn init(config: &Config) {
    let mut filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.log))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    // Whatever the level asked for, never the WebSocket library's frame
    // dumps: at `trace` it logs every message received, tokens (the
    // in-band `auth` frame) and people's private messages included.
    for target in PAYLOAD_LOGGERS {
        if let Ok(directive) = format!("{target}=debug").parse() {
            filter = filter.add_directive(directive);
        }
    }
    // Colours only on a terminal: escape codes in a log file or a pipe get
    // in the way of anyone reading or searching it.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi);
    let result = match config.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    if let Err(e) = result {
        eprintln!("logging was already initialised: {e}");
    }
}
