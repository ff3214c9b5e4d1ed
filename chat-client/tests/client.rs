//! The client against a real server, started in-process on port 0 with
//! in-memory backends.

use std::time::Duration;

use chat_client::{
    ChatClient, ClientError, Result, ServerFrame, Session, WsConnection, WsReceiver, frames,
};
use chat_core::ChatEngine;
use chat_core::model::MessageTarget;
use chat_core::protocol::close;
use tokio::net::TcpListener;

/// How long a test waits for a frame it expects.
const WAIT: Duration = Duration::from_secs(5);

/// A running server; it stops when this is dropped.
struct TestServer {
    client: ChatClient,
    _server: chat_server::testing::TestServer,
}

async fn spawn_server() -> TestServer {
    let engine = ChatEngine::builder()
        .auth_config(chat_server::testing::fast_auth_config())
        .jwt_secret(b"test-secret-test-secret-test-secret!".to_vec())
        .build()
        .expect("engine");
    let server = chat_server::testing::TestServer::start(chat_server::AppState::new(engine))
        .await
        .expect("a test server");
    TestServer {
        client: ChatClient::new(&format!("{}/", server.base)).expect("client"),
        _server: server,
    }
}

impl TestServer {
    async fn signup(&self, username: &str) -> Session {
        self.client
            .signup(
                username,
                &format!("{username}@example.com"),
                &password(username),
            )
            .await
            .expect("signup")
    }
}

fn password(username: &str) -> String {
    format!("pw-{username}-1!")
}

/// The first frame `pick` accepts, skipping others (presence, ...).
async fn next_where<T>(ws: &mut WsConnection, mut pick: impl FnMut(ServerFrame) -> Option<T>) -> T {
    loop {
        let frame = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a frame within 5 s")
            .expect("a frame")
            .expect("the connection is open");
        if let Some(v) = pick(frame) {
            return v;
        }
    }
}

#[tokio::test]
async fn signup_login_search_send_and_history_over_rest() -> Result<()> {
    let server = spawn_server().await;
    let client = &server.client;
    let alice = server.signup("alice").await;
    let bob = server.signup("bob").await;
    assert!(!alice.access_token.is_empty() && alice.expires_in > 0);
    let again = client
        .login("alice@example.com", &password("alice"))
        .await?;
    assert_eq!(again.user_id, alice.user_id);

    let as_alice = client.user(&alice);
    assert_eq!(as_alice.me().await?["username"], "alice");
    assert_eq!(as_alice.profile(bob.user_id).await?["username"], "bob");
    let hits = as_alice.search("bo").await?;
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].user_id, bob.user_id);
    assert_eq!(hits[0].username, "bob");

    let sent = as_alice
        .send_direct(bob.user_id, "hi bob", Some("m-1"))
        .await?;
    assert_eq!(sent.seq, 1);
    assert_eq!(sent.client_msg_id.as_deref(), Some("m-1"));
    assert!(!sent.replayed);
    let retry = as_alice
        .send_direct(bob.user_id, "hi bob", Some("m-1"))
        .await?;
    assert!(retry.replayed, "a repeated client_msg_id answers 200");
    assert_eq!(retry.message_id, sent.message_id);
    as_alice.send_direct(bob.user_id, "there?", None).await?;

    let as_bob = client.user(&bob);
    let page = as_bob.history(sent.conversation_id, Some(1), None).await?;
    assert!(page.has_more);
    assert_eq!(page.messages.len(), 1);
    assert_eq!(page.messages[0].message.content, "there?");
    assert_eq!(page.messages[0].message.seq, 2);
    assert!(matches!(
        page.messages[0].target,
        MessageTarget::Direct { recipient_id, .. } if recipient_id == bob.user_id
    ));
    let older = as_bob
        .history(
            sent.conversation_id,
            None,
            Some(page.messages[0].message.id),
        )
        .await?;
    assert!(!older.has_more);
    assert_eq!(older.messages.len(), 1);
    assert_eq!(older.messages[0].message.id, sent.message_id);

    assert_eq!(as_bob.unread().await?["total"], 2);
    as_bob.mark_read(sent.conversation_id).await?;
    assert_eq!(as_bob.unread().await?["total"], 0);
    Ok(())
}

#[tokio::test]
async fn groups_are_created_and_sent_to() -> Result<()> {
    let server = spawn_server().await;
    let alice = server.signup("alice").await;
    let bob = server.signup("bob").await;
    let carol = server.signup("carol").await;
    let as_alice = server.client.user(&alice);

    let group = as_alice
        .create_group("Lunch", &[bob.user_id, carol.user_id])
        .await?;
    let dave = server.signup("dave").await;
    let added = as_alice
        .add_members(group, &[dave.user_id, bob.user_id])
        .await?;
    assert_eq!(added, vec![dave.user_id], "bob was a member already");
    let sent = as_alice.send_group(group, "noon?", None).await?;
    assert_eq!(sent.conversation_id, group);
    assert_eq!(sent.seq, 1);
    let dave_sees = server.client.user(&dave).history(group, None, None).await?;
    assert_eq!(dave_sees.messages.len(), 1);

    let as_carol = server.client.user(&carol);
    let page = as_carol.history(group, None, None).await?;
    assert_eq!(page.messages.len(), 1);
    assert_eq!(page.messages[0].message.content, "noon?");
    assert!(matches!(
        page.messages[0].target,
        MessageTarget::Group { group_id } if group_id == group
    ));
    let list = as_carol.conversations().await?;
    assert_eq!(
        list["conversations"][0]["conversation_id"],
        group.to_string()
    );
    assert_eq!(list["conversations"][0]["unread_count"], 1);
    Ok(())
}

#[tokio::test]
async fn api_errors_carry_the_servers_status_and_code() {
    let server = spawn_server().await;
    let alice = server.signup("alice").await;

    let taken = server
        .client
        .signup("alice", "other@example.com", &password("alice"))
        .await
        .expect_err("the username is taken");
    assert!(
        matches!(&taken, ClientError::Api { status: 409, code, message }
            if code == "USERNAME_TAKEN" && !message.is_empty()),
        "{taken:?}"
    );
    assert_eq!(taken.code(), "USERNAME_TAKEN");

    let to_self = server
        .client
        .user(&alice)
        .send_direct(alice.user_id, "me", None)
        .await
        .expect_err("not to oneself");
    assert_eq!(to_self.code(), "INVALID_RECIPIENT");
    assert_eq!(to_self.status(), Some(422));

    let wrong = server
        .client
        .login("alice", "wrong-password-1!")
        .await
        .expect_err("wrong password");
    assert_eq!(wrong.code(), "INVALID_CREDENTIALS");
}

#[tokio::test]
async fn refresh_rotates_and_logout_revokes() -> Result<()> {
    let server = spawn_server().await;
    let alice = server.signup("alice").await;
    let fresh = server.client.refresh(&alice.refresh_token).await?;
    assert_eq!(fresh.user_id, alice.user_id);
    assert_ne!(fresh.refresh_token, alice.refresh_token);

    server.client.logout(&fresh.refresh_token).await?;
    let revoked = server
        .client
        .user(&fresh)
        .me()
        .await
        .expect_err("logged out");
    assert_eq!(revoked.code(), "SESSION_REVOKED");
    assert_eq!(revoked.status(), Some(401));
    Ok(())
}

#[tokio::test]
async fn two_users_chat_live_and_an_ack_reaches_the_sender() -> Result<()> {
    let server = spawn_server().await;
    let alice = server.signup("alice").await;
    let bob = server.signup("bob").await;
    let mut a = server.client.connect(&alice.access_token).await?;
    let mut b = server.client.connect(&bob.access_token).await?;

    a.send(&frames::send_direct(
        bob.user_id,
        "Hello World",
        Some("c-1"),
    ))
    .await?;
    let sent = next_where(&mut a, |f| match f {
        ServerFrame::MessageSent(s) => Some(s),
        _ => None,
    })
    .await;
    assert_eq!(sent.client_msg_id.as_deref(), Some("c-1"));
    assert_eq!(sent.seq, 1);

    let new = next_where(&mut b, |f| match f {
        ServerFrame::MessageNew(m) => Some(m),
        _ => None,
    })
    .await;
    assert_eq!(new.message.id, sent.message_id);
    assert_eq!(new.message.sender_id, alice.user_id);
    assert_eq!(new.message.content, "Hello World");

    b.send(&frames::ack_through(
        new.message.conversation_id,
        new.message.seq,
    ))
    .await?;
    let delivered = next_where(&mut a, |f| match f {
        ServerFrame::Delivered(d) => Some(d),
        _ => None,
    })
    .await;
    assert_eq!(delivered.user_id, bob.user_id);
    assert_eq!(delivered.message_id, sent.message_id);
    assert_eq!(delivered.seq, 1);

    a.send(&frames::ping()).await?;
    next_where(&mut a, |f| matches!(f, ServerFrame::Pong).then_some(())).await;
    a.close().await?;
    b.close().await?;
    Ok(())
}

#[tokio::test]
async fn an_invalid_token_is_refused_with_a_401_code() {
    let server = spawn_server().await;
    let e = server
        .client
        .connect("not-a-token")
        .await
        .expect_err("refused");
    assert_eq!(e.status(), Some(401), "{e:?}");
    assert!(
        ["INVALID_TOKEN", "UNAUTHENTICATED"].contains(&e.code()),
        "{e:?}"
    );
}

#[tokio::test]
async fn split_halves_work_from_separate_tasks_and_a_revoked_session_closes_4001() -> Result<()> {
    let server = spawn_server().await;
    let alice = server.signup("alice").await;
    let (mut tx, mut rx) = server.client.connect(&alice.access_token).await?.split();

    let sender = tokio::spawn(async move {
        tx.send(&frames::ping()).await?;
        tx.send_raw(r#"{"type":"launch.missiles"}"#).await?;
        Ok::<_, ClientError>(tx)
    });
    let raw = next_raw(&mut rx).await;
    assert!(raw.contains(r#""type":"pong""#), "{raw}");
    let frame = next_frame(&mut rx).await;
    assert!(
        matches!(&frame, ServerFrame::Error(e) if e.code == "UNKNOWN_TYPE"),
        "{frame:?}"
    );
    let _tx = sender.await.expect("the sender task")?;

    server.client.logout(&alice.refresh_token).await?;
    let closed = loop {
        match tokio::time::timeout(WAIT, rx.next()).await {
            Ok(Ok(Some(_))) => {}
            Ok(other) => break other,
            Err(_) => panic!("no close within 5 s"),
        }
    };
    assert!(
        matches!(&closed, Err(ClientError::Closed { code: Some(c), .. }) if *c == close::AUTH_EXPIRED),
        "{closed:?}"
    );
    assert!(
        rx.next().await?.is_none(),
        "the stream ends after the close"
    );
    Ok(())
}

async fn next_raw(rx: &mut WsReceiver) -> String {
    tokio::time::timeout(WAIT, rx.next_raw())
        .await
        .expect("a frame within 5 s")
        .expect("a frame")
        .expect("the connection is open")
}

async fn next_frame(rx: &mut WsReceiver) -> ServerFrame {
    tokio::time::timeout(WAIT, rx.next())
        .await
        .expect("a frame within 5 s")
        .expect("a frame")
        .expect("the connection is open")
}

#[tokio::test]
async fn a_normal_close_ends_the_peer_stream_cleanly() -> Result<()> {
    let server = spawn_server().await;
    let alice = server.signup("alice").await;
    let (tx, mut rx) = server.client.connect(&alice.access_token).await?.split();
    tx.close().await?;
    let end = loop {
        match tokio::time::timeout(WAIT, rx.next()).await {
            Ok(Ok(Some(_))) => {}
            Ok(other) => break other,
            Err(_) => panic!("no end within 5 s"),
        }
    };
    assert!(matches!(end, Ok(None)), "{end:?}");
    Ok(())
}

#[test]
fn a_bad_base_url_is_refused() {
    let e = ChatClient::new("localhost:8080").expect_err("no scheme");
    assert_eq!(e.code(), "INVALID_URL");
}

/// Where `client`'s WebSocket attempt to `listener` comes from (the
/// attempt itself is dropped: the listener is no server).
async fn peer_of(client: ChatClient, listener: &TcpListener) -> std::net::SocketAddr {
    let attempt = tokio::spawn(async move { client.connect("token").await.map(|_| ()) });
    let (_, peer) = tokio::time::timeout(WAIT, listener.accept())
        .await
        .expect("a connection")
        .expect("accept");
    attempt.abort();
    peer
}

#[tokio::test]
async fn a_local_address_is_the_source_of_every_connection() -> Result<()> {
    let local: std::net::IpAddr = "127.0.0.2".parse().expect("ip");
    // A bare listener shows where connections come from.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let client = ChatClient::with_local_address(&format!("http://{addr}/"), local)?;
    let peer = peer_of(client, &listener).await;
    assert_eq!(peer.ip(), local);

    // With a port range, the source port comes from it.
    let client = ChatClient::with_local_ports(&format!("http://{addr}/"), local, 21_000..=21_009)?;
    let peer = peer_of(client, &listener).await;
    assert_eq!(peer.ip(), local);
    assert!((21_000..=21_009).contains(&peer.port()), "{peer}");

    // And against a real server, REST and the WebSocket both work from it.
    let server = spawn_server().await;
    let base = server.client.base_url().to_owned();
    let from_local = ChatClient::with_local_address(&base, local)?;
    let dana = from_local
        .signup("dana", "dana@example.com", &password("dana"))
        .await?;
    let mut ws = from_local.connect(&dana.access_token).await?;
    ws.send(&frames::ping()).await?;
    next_where(&mut ws, |f| matches!(f, ServerFrame::Pong).then_some(())).await;
    Ok(())
}

#[tokio::test]
async fn blocks_mute_posting_reports_and_the_admin_api() -> Result<()> {
    let engine = ChatEngine::builder()
        .auth_config(chat_server::testing::fast_auth_config())
        .admin_config(chat_core::AdminConfig {
            usernames: vec![chat_core::Username::parse("root").expect("username")],
        })
        .build()
        .expect("engine");
    let running = chat_server::testing::TestServer::start(chat_server::AppState::new(engine))
        .await
        .expect("a test server");
    let server = TestServer {
        client: ChatClient::new(&format!("{}/", running.base)).expect("client"),
        _server: running,
    };
    let root = server.signup("root").await;
    let alice = server.signup("alice").await;
    let bob = server.signup("bob").await;
    let (as_root, as_alice, as_bob) = (
        server.client.user(&root),
        server.client.user(&alice),
        server.client.user(&bob),
    );

    as_alice.block(bob.user_id).await?;
    assert_eq!(as_alice.blocks().await?["blocks"][0]["username"], "bob");
    let refused = as_bob
        .send_direct(alice.user_id, "hi", None)
        .await
        .expect_err("blocked");
    assert_eq!(
        (refused.status(), refused.code()),
        (Some(403), "RECIPIENT_UNAVAILABLE")
    );
    as_alice.unblock(bob.user_id).await?;
    as_bob.send_direct(alice.user_id, "hi", None).await?;

    let group = as_alice.create_group("news", &[bob.user_id]).await?;
    assert_eq!(as_bob.mute(group, true).await?["muted"], true);
    assert_eq!(
        as_alice.set_posting(group, "admins").await?["posting"],
        "admins"
    );
    let restricted = as_bob
        .send_group(group, "may I?", None)
        .await
        .expect_err("restricted");
    assert_eq!(restricted.code(), "POSTING_RESTRICTED");
    let sent = as_alice.send_group(group, "rude", None).await?;

    let report = as_bob.report(group, sent.message_id, "spam").await?;
    assert_eq!(report.content, "rude");
    let denied = as_bob.admin_reports(None).await.expect_err("not an admin");
    assert_eq!(denied.code(), "PERMISSION_DENIED");
    let open = as_root.admin_reports(Some("open")).await?;
    assert_eq!(open[0].id, report.id);
    let resolved = as_root.admin_resolve_report(report.id).await?;
    assert_eq!(resolved.resolved_by, Some(root.user_id));
    let deleted = as_root.admin_delete_message(group, sent.message_id).await?;
    assert!(deleted.message.message.deleted_at.is_some());
    let users = as_root.admin_users(Some("b"), true).await?;
    assert_eq!(users["users"][0]["username"], "bob");
    assert_eq!(
        as_root.admin_set_active(bob.user_id, false).await?["is_active"],
        false
    );
    as_root.admin_set_active(bob.user_id, true).await?;
    as_root.admin_revoke_sessions(alice.user_id).await?;
    let revoked = as_alice.me().await.expect_err("signed out");
    assert_eq!(revoked.code(), "SESSION_REVOKED");
    Ok(())
}

#[tokio::test]
async fn files_are_uploaded_sent_received_live_and_downloaded() -> Result<()> {
    let server = spawn_server().await;
    let alice = server.signup("alice").await;
    let bob = server.signup("bob").await;
    let dave = server.signup("dave").await;
    let as_alice = server.client.user(&alice);
    let group = as_alice.create_group("Files", &[bob.user_id]).await?;
    let mut bob_ws = server.client.connect(&bob.access_token).await?;

    // 300 KB from disk, streamed.
    let bytes: Vec<u8> = (0..300_000_u32).map(|i| (i % 251) as u8).collect();
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("data.bin");
    tokio::fs::write(&path, &bytes).await?;
    let file = as_alice.upload_file("data.bin", &path).await?;
    assert_eq!(file.size, 300_000);
    assert_eq!(file.content_type, "application/octet-stream");
    let note = as_alice
        .upload("note.txt", b"see attached".to_vec())
        .await?;

    let ids = [file.attachment_id, note.attachment_id];
    as_alice.send_group_files(group, "two files", &ids).await?;
    let live = next_where(&mut bob_ws, |f| match f {
        ServerFrame::GroupMessageNew(m) => Some(m),
        _ => None,
    })
    .await;
    assert_eq!(live.message.attachments, vec![file.clone(), note.clone()]);

    let as_bob = server.client.user(&bob);
    let mut got = Vec::new();
    let size = as_bob.download_to(file.attachment_id, &mut got).await?;
    assert_eq!((size, got == bytes), (300_000, true));
    assert_eq!(as_bob.download(note.attachment_id).await?, b"see attached");
    let refused = server
        .client
        .user(&dave)
        .download(file.attachment_id)
        .await
        .expect_err("dave is not in the group");
    assert_eq!(refused.code(), "ATTACHMENT_NOT_FOUND");
    assert_eq!(refused.status(), Some(404));
    let no_preview = as_bob.preview(note.attachment_id).await.expect_err("text");
    assert_eq!(no_preview.code(), "ATTACHMENT_NOT_FOUND");
    Ok(())
}
