//! `ServerProcess`: the real `chat-server` binary on a free port, with its
//! own data directory, that a test can signal, kill and start again.

use std::process::{Child, Command, ExitStatus};
use std::time::Duration;

use serde_json::{Value, json};

use crate::cluster::SECRET;
use crate::helpers::{Tokens, password_of, tokens};

/// Cheap password hashing and no message limit, so the debug binary signs
/// up quickly and takes a stream of sends.
pub(crate) const FAST: &[(&str, &str)] = &[
    ("CHAT_ARGON2_MEMORY_KIB", "256"),
    ("CHAT_ARGON2_ITERATIONS", "1"),
    ("CHAT_MESSAGES_PER_MINUTE", "1000000"),
    ("CHAT_SIGNUP_MAX_PER_CLIENT", "1000000"),
];

/// A `chat-server` process (killed with SIGKILL on drop).
pub(crate) struct ServerProcess {
    child: Option<Child>,
    pub(crate) base: String,
    port: u16,
    env: Vec<(String, String)>,
    data: tempfile::TempDir,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

impl ServerProcess {
    /// Starts the binary with `env` on top of a listen address, a fresh
    /// data directory (the SQLite default unless `env` names a database),
    /// the test secret and quiet logs; returns once `/readyz` answers 200.
    pub(crate) async fn spawn(env: &[(&str, &str)]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let mut process = Self {
            child: None,
            base: format!("http://127.0.0.1:{port}"),
            port,
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            data: tempfile::tempdir().expect("tempdir"),
        };
        process.start().await;
        process
    }

    /// Starts the process again on the same port, data and settings. Its
    /// output goes to [`log`](Self::log), appended across restarts.
    pub(crate) async fn start(&mut self) {
        assert!(self.child.is_none(), "already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.data.path().join("server.log"))
            .expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_chat-server"))
            .env("CHAT_LISTEN", format!("127.0.0.1:{}", self.port))
            .env("CHAT_DATA_DIR", self.data.path())
            .env(
                "CHAT_JWT_SECRET",
                std::str::from_utf8(SECRET).expect("utf-8"),
            )
            .env("CHAT_LOG", "warn")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("start chat-server");
        self.child = Some(child);
        let http = reqwest::Client::new();
        for _ in 0..200 {
            if let Ok(r) = http.get(format!("{}/readyz", self.base)).send().await
                && r.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("chat-server did not become ready");
    }

    /// Everything the process has written to stdout and stderr.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.data.path().join("server.log")).unwrap_or_default()
    }

    /// Signs `name` up over HTTP.
    pub(crate) async fn signup(&self, name: &str) -> Tokens {
        let body: Value = reqwest::Client::new()
            .post(format!("{}/api/v1/auth/signup", self.base))
            .json(&json!({"username": name, "email": format!("{name}@example.com"), "password": password_of(name)}))
            .send()
            .await
            .expect("send")
            .json()
            .await
            .expect("json");
        tokens(&body)
    }

    /// `GET path` as `who`, as JSON.
    pub(crate) async fn get_json(&self, path: &str, who: &Tokens) -> Value {
        reqwest::Client::new()
            .get(format!("{}{path}", self.base))
            .bearer_auth(&who.access)
            .send()
            .await
            .expect("send")
            .json()
            .await
            .expect("json")
    }

    /// Sends `signal` (`TERM`, `INT`, …) to the process.
    pub(crate) fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("running").id();
        let status = Command::new("kill")
            .args(["-s", signal, &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -s {signal} failed");
    }

    /// Kills the process with SIGKILL and reaps it.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Waits up to `within` for the process to exit; its status, or `None`
    /// if it is still running.
    pub(crate) async fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = tokio::time::Instant::now() + within;
        while tokio::time::Instant::now() < deadline {
            if let Some(status) = self.child.as_mut()?.try_wait().expect("try_wait") {
                self.child = None;
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }
}
