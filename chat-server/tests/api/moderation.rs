//! Blocks, muting, posting policies, reports and the admin API over REST
//! and real WebSockets, on one instance and across two.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use chat_core::{AdminConfig, Username};
use chat_server::HttpSettings;

use crate::cluster::{Cluster, ClusterSettings, direct};
use crate::helpers::{TestApp, Tokens, assert_error, spawn_app_custom};

/// A server where the account named `root` holds the admin role.
async fn app() -> TestApp {
    spawn_app_custom(HttpSettings::default(), |b| {
        b.admin_config(AdminConfig {
            usernames: vec![Username::parse("root").expect("username")],
        })
    })
    .await
}

async fn call(app: &TestApp, who: &Tokens, method: Method, path: &str) -> (StatusCode, Value) {
    app.call(method, path, &who.access, None).await
}

fn blocks(user: &Tokens) -> String {
    format!("/api/v1/users/me/blocks/{}", user.user_id)
}

#[tokio::test]
async fn a_block_refuses_direct_messages_over_rest_and_websocket() {
    let app = app().await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    app.send_direct(&bob, &alice, "hi").await;
    let group = app.create_group(&alice, "team", &[&bob]).await;

    let (status, body) = call(&app, &alice, Method::PUT, &blocks(&bob)).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, list) = app.get_as(&alice.access, "/api/v1/users/me/blocks").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["blocks"][0]["user_id"], bob.user_id);
    assert_eq!(list["blocks"][0]["username"], "bob");

    let to_alice = json!({"recipient_id": alice.user_id, "content": "hello?"});
    let refused = app
        .post_as(&bob.access, "/api/v1/messages/send", to_alice)
        .await;
    assert_error(&refused, StatusCode::FORBIDDEN, "RECIPIENT_UNAVAILABLE");
    assert!(
        !refused.1.to_string().contains("block"),
        "the blocked user is not told about the block: {}",
        refused.1
    );
    let to_bob = json!({"recipient_id": bob.user_id, "content": "hey"});
    assert_error(
        &app.post_as(&alice.access, "/api/v1/messages/send", to_bob)
            .await,
        StatusCode::FORBIDDEN,
        "USER_BLOCKED",
    );
    assert_error(
        &app.post_as(&bob.access, "/api/v1/conversations/direct/alice", json!({}))
            .await,
        StatusCode::FORBIDDEN,
        "RECIPIENT_UNAVAILABLE",
    );

    // Over the socket, the same refusal as an error frame.
    let mut bob_ws = app.ws(&bob.access).await;
    bob_ws.send(direct(&alice, "via ws", "b-1")).await;
    let error = bob_ws.next_of("error").await;
    assert_eq!(error["code"], "RECIPIENT_UNAVAILABLE", "{error}");

    // The group they share still works.
    app.send_group(&bob, &group, "in the group").await;

    // Alice's view of Bob: blocked, no presence.
    let (_, profile) = app
        .get_as(&alice.access, &format!("/api/v1/users/{}", bob.user_id))
        .await;
    assert_eq!(
        (profile["blocked"].as_bool(), profile["online"].as_bool()),
        (Some(true), Some(false))
    );
    assert!(profile["last_seen"].is_null(), "{profile}");
    let (_, seen_by_bob) = app
        .get_as(&bob.access, &format!("/api/v1/users/{}", alice.user_id))
        .await;
    assert_eq!(seen_by_bob["blocked"], false);

    let (status, _) = call(&app, &alice, Method::DELETE, &blocks(&bob)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    bob_ws.send(direct(&alice, "friends again", "b-2")).await;
    assert_eq!(bob_ws.next_of("message.sent").await["client_msg_id"], "b-2");

    assert_error(
        &call(&app, &alice, Method::PUT, &blocks(&alice)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "CANNOT_BLOCK_SELF",
    );
    assert_error(
        &call(
            &app,
            &alice,
            Method::PUT,
            "/api/v1/users/me/blocks/0190e0a8-0000-7000-8000-000000000000",
        )
        .await,
        StatusCode::NOT_FOUND,
        "USER_NOT_FOUND",
    );
    bob_ws.close().await;
}

#[tokio::test]
async fn a_blocker_does_not_see_the_blocked_users_typing() {
    let app = app().await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let carol = app.signup("carol").await;
    let group = app.create_group(&alice, "team", &[&bob, &carol]).await;
    let (status, _) = call(&app, &alice, Method::PUT, &blocks(&bob)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let mut alice_ws = app.ws(&alice.access).await;
    let mut bob_ws = app.ws(&bob.access).await;
    let mut carol_ws = app.ws(&carol.access).await;
    bob_ws
        .send(json!({"type": "typing", "group_id": group, "is_typing": true}))
        .await;
    assert_eq!(carol_ws.next_of("typing").await["user_id"], bob.user_id);
    carol_ws
        .send(json!({"type": "typing", "group_id": group, "is_typing": true}))
        .await;
    // Alice's first typing frame is Carol's: Bob's, sent earlier, never came.
    assert_eq!(alice_ws.next_of("typing").await["user_id"], carol.user_id);
    for ws in [alice_ws, bob_ws, carol_ws] {
        ws.close().await;
    }
}

#[tokio::test]
async fn mute_and_posting_policy_over_rest_and_websocket() {
    let app = app().await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let group = app.create_group(&alice, "news", &[&bob]).await;
    let mute = format!("/api/v1/conversations/{group}/mute");

    let (status, summary) = call(&app, &bob, Method::PUT, &mute).await;
    assert_eq!(status, StatusCode::OK, "{summary}");
    assert_eq!(summary["muted"], true);
    app.send_group(&alice, &group, "counted anyway").await;
    let (_, list) = app.get_as(&bob.access, "/api/v1/conversations").await;
    let entry = &list["conversations"][0];
    assert_eq!(
        (entry["muted"].as_bool(), entry["unread_count"].as_u64()),
        (Some(true), Some(1))
    );
    let (_, mine) = app.get_as(&bob.access, "/api/v1/groups/my").await;
    assert_eq!(mine["groups"][0]["muted"], true);
    let (_, summary) = call(&app, &bob, Method::DELETE, &mute).await;
    assert_eq!(summary["muted"], false);
    let stranger = app.signup("stranger").await;
    assert_error(
        &call(&app, &stranger, Method::PUT, &mute).await,
        StatusCode::NOT_FOUND,
        "CONVERSATION_NOT_FOUND",
    );

    let settings = format!("/api/v1/groups/{group}");
    assert_error(
        &app.call(
            Method::PATCH,
            &settings,
            &bob.access,
            Some(json!({"posting": "admins"})),
        )
        .await,
        StatusCode::FORBIDDEN,
        "PERMISSION_DENIED",
    );
    assert_error(
        &app.call(
            Method::PATCH,
            &settings,
            &alice.access,
            Some(json!({"posting": "nobody"})),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "INVALID_BODY",
    );
    let (status, info) = app
        .call(
            Method::PATCH,
            &settings,
            &alice.access,
            Some(json!({"posting": "admins"})),
        )
        .await;
    assert_eq!(
        (status, info["posting"].as_str()),
        (StatusCode::OK, Some("admins")),
        "{info}"
    );
    assert_error(
        &app.post_as(
            &bob.access,
            &format!("/api/v1/groups/{group}/messages"),
            json!({"content": "may I?"}),
        )
        .await,
        StatusCode::FORBIDDEN,
        "POSTING_RESTRICTED",
    );
    let mut bob_ws = app.ws(&bob.access).await;
    bob_ws
        .send(json!({"type": "message.group.send", "group_id": group, "content": "via ws", "client_msg_id": "p-1"}))
        .await;
    assert_eq!(bob_ws.next_of("error").await["code"], "POSTING_RESTRICTED");
    app.send_group(&alice, &group, "announcement").await;
    let (_, list) = app.get_as(&bob.access, "/api/v1/conversations").await;
    assert_eq!(list["conversations"][0]["posting"], "admins");
    bob_ws.close().await;
}

#[tokio::test]
async fn reports_and_the_admin_api() {
    let app = app().await;
    let root = app.signup("root").await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let group = app.create_group(&alice, "team", &[&bob]).await;
    let rude = app.send_group(&bob, &group, "rude words").await;
    let mid = rude["message_id"].as_str().expect("id").to_owned();
    let report_path = format!("/api/v1/conversations/{group}/messages/{mid}/reports");

    let (status, report) = app
        .post_as(&alice.access, &report_path, json!({"reason": "insults"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{report}");
    assert_eq!(
        (report["content"].as_str(), report["status"].as_str()),
        (Some("rude words"), Some("open"))
    );
    // Again, without a body: the first report.
    let (status, again) = call(&app, &alice, Method::POST, &report_path).await;
    assert_eq!(
        (status, &again["report_id"]),
        (StatusCode::OK, &report["report_id"]),
        "{again}"
    );
    assert_error(
        &app.post_as(&root.access, &report_path, json!({})).await,
        StatusCode::NOT_FOUND,
        "CONVERSATION_NOT_FOUND",
    );
    assert_error(
        &app.post_as(
            &alice.access,
            &report_path,
            json!({"reason": "x".repeat(1001)}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "INVALID_REASON",
    );

    // Only admins use the admin API; /auth/me says who is one.
    for path in ["/api/v1/admin/users", "/api/v1/admin/reports"] {
        assert_error(
            &app.get_as(&alice.access, path).await,
            StatusCode::FORBIDDEN,
            "PERMISSION_DENIED",
        );
    }
    let (_, me) = app.get_as(&root.access, "/api/v1/auth/me").await;
    assert_eq!(me["is_admin"], true, "{me}");
    let (_, me) = app.get_as(&alice.access, "/api/v1/auth/me").await;
    assert_eq!(me["is_admin"], false);

    let (status, reports) = app
        .get_as(&root.access, "/api/v1/admin/reports?status=open")
        .await;
    assert_eq!(status, StatusCode::OK, "{reports}");
    let id = reports["reports"][0]["report_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let (status, resolved) = app
        .post_as(
            &root.access,
            &format!("/api/v1/admin/reports/{id}/resolve"),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, resolved["status"].as_str()),
        (StatusCode::OK, Some("resolved")),
        "{resolved}"
    );
    assert_eq!(resolved["resolved_by"], root.user_id);
    let (_, open) = app
        .get_as(&root.access, "/api/v1/admin/reports?status=open")
        .await;
    assert_eq!(open["reports"], json!([]));
    assert_error(
        &app.get_as(&root.access, "/api/v1/admin/reports?status=maybe")
            .await,
        StatusCode::BAD_REQUEST,
        "INVALID_QUERY",
    );

    // The operator deletes the message; members see who did it live.
    let mut alice_ws = app.ws(&alice.access).await;
    let (status, deleted) = call(
        &app,
        &root,
        Method::DELETE,
        &format!("/api/v1/admin/conversations/{group}/messages/{mid}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{deleted}");
    let change = alice_ws.next_of("message.changed").await;
    assert_eq!(
        (change["change"].as_str(), &change["actor_id"]),
        (Some("deleted"), &json!(root.user_id))
    );
    let (_, kept) = app.get_as(&root.access, "/api/v1/admin/reports").await;
    assert_eq!(
        kept["reports"][0]["content"], "rude words",
        "the copy outlives the message"
    );

    // Users: list, search including inactive, deactivate, sign out.
    let (_, users) = app.get_as(&root.access, "/api/v1/admin/users").await;
    let names: Vec<&str> = users["users"]
        .as_array()
        .expect("users")
        .iter()
        .filter_map(|u| u["username"].as_str())
        .collect();
    assert_eq!(names, vec!["alice", "bob", "root"]);
    assert_eq!(users["users"][1]["email"], "bob@example.com");

    let mut bob_ws = app.ws(&bob.access).await;
    let bob_path = format!("/api/v1/admin/users/{}", bob.user_id);
    let (status, bob_now) = app
        .call(
            Method::PATCH,
            &bob_path,
            &root.access,
            Some(json!({"is_active": false})),
        )
        .await;
    assert_eq!(
        (status, bob_now["is_active"].as_bool()),
        (StatusCode::OK, Some(false)),
        "{bob_now}"
    );
    assert_eq!(
        bob_ws.close_code().await,
        4001,
        "deactivation closes the sockets"
    );
    assert_error(
        &app.get_as(&bob.access, "/api/v1/auth/me").await,
        StatusCode::UNAUTHORIZED,
        "SESSION_REVOKED",
    );
    let (_, active) = app.get_as(&root.access, "/api/v1/admin/users?q=b").await;
    assert_eq!(active["users"], json!([]));
    let (_, all) = app
        .get_as(
            &root.access,
            "/api/v1/admin/users?q=b&include_inactive=true",
        )
        .await;
    assert_eq!(all["users"][0]["username"], "bob");
    let (status, _) = app
        .call(
            Method::PATCH,
            &bob_path,
            &root.access,
            Some(json!({"is_active": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        app.login("bob", &crate::helpers::password_of("bob"))
            .await
            .0,
        StatusCode::OK
    );
    assert_error(
        &app.call(
            Method::PATCH,
            &format!("/api/v1/admin/users/{}", root.user_id),
            &root.access,
            Some(json!({"is_active": false})),
        )
        .await,
        StatusCode::FORBIDDEN,
        "PERMISSION_DENIED",
    );

    let (status, _) = call(
        &app,
        &root,
        Method::DELETE,
        &format!("/api/v1/admin/users/{}/sessions", alice.user_id),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(alice_ws.close_code().await, 4001);
    assert_error(
        &app.get_as(&alice.access, "/api/v1/auth/me").await,
        StatusCode::UNAUTHORIZED,
        "SESSION_REVOKED",
    );
    assert_error(
        &app.get_as(&root.access, "/api/v1/admin/users?limit=0")
            .await,
        StatusCode::BAD_REQUEST,
        "INVALID_PAGINATION",
    );
}

/// A block placed on one instance holds on the other at once: the
/// blocked user's cached "nobody blocks me" is dropped there.
#[tokio::test]
async fn a_block_on_one_instance_holds_on_another() {
    let Some(c) = Cluster::start(2, ClusterSettings::default()).await else {
        return;
    };
    let (a, b) = (&c.nodes[0], &c.nodes[1]);
    let alice = a.signup("alice").await;
    let bob = a.signup("bob").await;
    // B learns (and caches) that nobody blocks Bob.
    b.send_direct(&bob, &alice, "before").await;
    let (status, _) = a
        .call(Method::PUT, &blocks(&bob), &alice.access, None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_error(
        &b.post_as(
            &bob.access,
            "/api/v1/messages/send",
            json!({"recipient_id": alice.user_id, "content": "after"}),
        )
        .await,
        StatusCode::FORBIDDEN,
        "RECIPIENT_UNAVAILABLE",
    );
    let (status, _) = a
        .call(Method::DELETE, &blocks(&bob), &alice.access, None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    b.send_direct(&bob, &alice, "unblocked").await;
    c.teardown().await;
}
