//! Every scenario of the real `chat-bench` binary against a server started
//! in-process on port 0 (in-memory backends, cheap argon2, no rate limits),
//! with small loads: the tool must finish with exit status 0 (every
//! delivery check passed) and report what the load implies.

use std::process::Output;
use std::time::Duration;

use chat_core::auth::AuthConfig;
use chat_core::conversations::ConversationConfig;
use chat_core::{ChatEngine, RateLimit};
use chat_server::testing::TestServer;
use serde_json::Value;

async fn spawn_server() -> TestServer {
    let unlimited = RateLimit::new(100_000_000, Duration::from_secs(60));
    let engine = ChatEngine::builder()
        .auth_config(AuthConfig {
            signup_client_limit: unlimited,
            ..chat_server::testing::fast_auth_config()
        })
        .conversation_config(ConversationConfig {
            message_limit: unlimited,
            ..ConversationConfig::default()
        })
        .jwt_secret(b"bench-test-secret-bench-test-secret!".to_vec())
        .build()
        .expect("engine");
    TestServer::start(chat_server::AppState::new(engine))
        .await
        .expect("a test server")
}

/// Runs `chat-bench --json --url <server> <args>` and returns its report.
async fn bench(server: &TestServer, args: &[&str]) -> Value {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_chat-bench"));
    cmd.args(["--json", "--url", &server.base]).args(args);
    let out: Output = tokio::time::timeout(Duration::from_secs(120), cmd.output())
        .await
        .expect("chat-bench finished in time")
        .expect("chat-bench ran");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "chat-bench {args:?} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).expect("a JSON report")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_reaches_every_member_once_in_order() {
    let server = spawn_server().await;
    let r = bench(
        &server,
        &[
            "group",
            "--members",
            "12",
            "--senders",
            "3",
            "--rate",
            "60",
            "--duration",
            "1",
            "--warmup",
            "1",
        ],
    )
    .await;
    let sent = r["sent"].as_u64().expect("sent");
    assert!(sent > 0);
    assert_eq!(r["acked"], sent);
    // Every member's main socket has every message, its own included.
    assert_eq!(r["deliveries"], sent * 12);
    assert_eq!(r["verify"]["lost"], 0);
    assert_eq!(r["verify"]["duplicates"], 0);
    assert_eq!(r["verify"]["seq_reorders"], 0);
    assert_eq!(r["incomplete_messages"], 0);
    assert!(r["last_member_latency"]["count"].as_u64() > Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_users_get_everything_waiting_and_their_acks_come_back() {
    let server = spawn_server().await;
    let r = bench(
        &server,
        &[
            "offline",
            "--users",
            "30",
            "--messages",
            "150",
            "--senders",
            "2",
        ],
    )
    .await;
    assert_eq!(r["queued"], 30 * 150);
    assert_eq!(r["verify"]["received"], 30 * 150);
    assert_eq!(r["verify"]["lost"], 0);
    assert_eq!(r["verify"]["duplicates"], 0);
    assert_eq!(r["users_incomplete"], 0);
    assert_eq!(r["receipts_missing"], 0);
    // 150 messages need two catch-up batches of at most 100 each.
    assert!(r["batches"].as_u64() >= Some(60), "{}", r["batches"]);
    assert!(r["all_acked_secs"].is_number());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_and_mixed_check_every_delivery() {
    let server = spawn_server().await;
    let r = bench(
        &server,
        &[
            "direct",
            "--pairs",
            "3",
            "--rate",
            "60",
            "--duration",
            "1",
            "--warmup",
            "0",
        ],
    )
    .await;
    assert_eq!(r["verify"]["lost"], 0);
    assert_eq!(r["delivered"], r["sent"]);
    let r = bench(
        &server,
        &["mixed", "--users", "6", "--rate", "40", "--duration", "2"],
    )
    .await;
    assert_eq!(r["lost"], 0);
    assert_eq!(
        r["messages_received"].as_u64(),
        r["messages_acknowledged"].as_u64().map(|a| a * 2)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_max_steps_up_until_a_rate_falls_short() {
    let server = spawn_server().await;
    // A generous latency bound: the steps must all hold on any machine,
    // so the search runs its full course.
    let r = bench(
        &server,
        &[
            "direct",
            "--max",
            "--pairs",
            "2",
            "--rate",
            "20",
            "--step-factor",
            "2",
            "--max-steps",
            "2",
            "--max-p99-ms",
            "5000",
            "--duration",
            "1",
            "--warmup",
            "0",
        ],
    )
    .await;
    let steps = r["steps"].as_array().expect("steps");
    assert_eq!(steps.len(), 2);
    assert_eq!(steps[0]["target_rate"], 20.0);
    assert_eq!(steps[1]["target_rate"], 40.0);
    assert!(steps.iter().all(|s| s["sustained"] == true), "{r}");
    assert_eq!(r["sustained_rate"], 40.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_spread_over_worker_processes_and_source_addresses() {
    let server = spawn_server().await;
    let r = bench(
        &server,
        &[
            "--source-addr",
            "127.0.0.2",
            "--source-addr",
            "127.0.0.3",
            "connections",
            "--count",
            "30",
            "--rate",
            "300",
            "--hold",
            "1",
            "--users",
            "4",
            "--workers",
            "3",
        ],
    )
    .await;
    assert_eq!(r["workers"], 3);
    assert_eq!(r["count"], 30);
    assert_eq!(r["connected"], 30);
    assert_eq!(r["failed"], 0);
    assert_eq!(r["closed_early"], 0);
    assert_eq!(r["users"], 3, "one user per worker: 4 / 3 rounds down");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_go_up_and_come_back_whole() {
    let server = spawn_server().await;
    let r = bench(
        &server,
        &[
            "files",
            "--uploaders",
            "3",
            "--files",
            "2",
            "--size-kib",
            "700",
        ],
    )
    .await;
    for phase in ["upload", "download"] {
        assert_eq!(r[phase]["files"], 6, "{phase}");
        assert_eq!(r[phase]["bytes"], 6 * 700 * 1024, "{phase}");
    }
    assert_eq!(r["mismatches"], 0);
    assert_eq!(r["errors"], serde_json::json!({}));
}
