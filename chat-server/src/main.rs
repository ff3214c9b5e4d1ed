//! The `chat-server` binary: parse the configuration, build the state,
//! serve until SIGINT or SIGTERM.

use std::process::ExitCode;

use chat_server::{Config, ServerError, bootstrap, serve, shutdown_signal, telemetry};
use clap::Parser;
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    telemetry::init(&config);
    match run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(code = e.code(), "cannot run the server: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: Config) -> Result<(), ServerError> {
    let state = bootstrap::build_state(&config).await?;
    let listener = TcpListener::bind(config.listen).await?;
    tracing::info!(addr = %listener.local_addr()?, "chat server listening");
    let engine = state.engine.clone();
    serve(listener, state, shutdown_signal()).await?;
    // Connections are closed: write what is still queued, then stop.
    engine.shutdown().await;
    tracing::info!("stopped");
    Ok(())
}
