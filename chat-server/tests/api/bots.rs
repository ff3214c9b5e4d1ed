//! Bot accounts over real sockets: an operator creates one and gets its
//! long-lived token; the bot uses the REST API with it like any member;
//! the token cannot be refreshed away, is refused once its session is
//! revoked, and only accounts without a password get one.

use reqwest::{Method, StatusCode};
use serde_json::json;

use chat_core::{AdminConfig, Username};
use chat_server::HttpSettings;

use crate::helpers::{TestApp, Tokens, assert_error, spawn_app_custom};
use crate::ws_client::Ws;

async fn app() -> TestApp {
    spawn_app_custom(HttpSettings::default(), |b| {
        b.admin_config(AdminConfig {
            usernames: vec![Username::parse("root").expect("username")],
        })
    })
    .await
}

/// The bot as the helpers' `Tokens` (its token where an access token goes).
fn as_tokens(created: &serde_json::Value) -> Tokens {
    Tokens {
        user_id: created["user_id"].as_str().expect("id").to_owned(),
        access: created["token"].as_str().expect("token").to_owned(),
        refresh: String::new(),
    }
}

/// `POST /admin/bots` as `operator`, expecting `201`; the answer.
async fn create_bot(
    app: &TestApp,
    operator: &Tokens,
    body: serde_json::Value,
) -> serde_json::Value {
    let (status, created) = app
        .post_as(&operator.access, "/api/v1/admin/bots", body)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created
}

#[tokio::test]
async fn a_bot_sends_over_rest_with_its_token_until_it_is_revoked() {
    let app = app().await;
    let root = app.signup("root").await;
    let alice = app.signup("alice").await;
    let created = create_bot(
        &app,
        &root,
        json!({"username": "deploybot", "display_name": "Deploy Bot"}),
    )
    .await;
    assert!(
        created["token"]
            .as_str()
            .is_some_and(|t| t.starts_with("cbt_"))
    );
    let bot = as_tokens(&created);

    let (status, me) = app.get_as(&bot.access, "/api/v1/auth/me").await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["username"], "deploybot");

    // Live over the WebSocket too, with the same token.
    let mut ws = Ws::connect(&app.base, &bot.access).await;
    app.send_direct(&alice, &bot, "status?").await;
    let live = ws.next_of("message.new").await;
    assert_eq!(live["content"], "status?");

    // A direct message, and a group message once a member adds it.
    app.send_direct(&bot, &alice, "build 42 is green").await;
    let (_, page) = app
        .get_as(
            &alice.access,
            &format!("/api/v1/messages/conversation/{}", bot.user_id),
        )
        .await;
    assert_eq!(page["messages"][0]["sender_id"], bot.user_id.as_str());
    assert_eq!(page["messages"][0]["content"], "build 42 is green");
    let group = app.create_group(&alice, "ops", &[&bot]).await;
    app.send_group(&bot, &group, "deploying").await;
    let (_, history) = app
        .get_as(&alice.access, &format!("/api/v1/groups/{group}/messages"))
        .await;
    assert_eq!(history["messages"][0]["content"], "deploying");

    // Used as it is: never refreshed (which would rotate it away).
    let got = app
        .post(
            "/api/v1/auth/session/refresh",
            json!({"refresh_token": bot.access}),
        )
        .await;
    assert_error(&got, StatusCode::UNAUTHORIZED, "INVALID_REFRESH_TOKEN");
    let (status, _) = app.get_as(&bot.access, "/api/v1/auth/me").await;
    assert_eq!(status, StatusCode::OK, "still good");

    // A second token, then the first session revoked with the others.
    let path = format!("/api/v1/admin/bots/{}/tokens", bot.user_id);
    let (status, second) = app
        .post_as(&root.access, &path, json!({"name": "ci"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    let revoke = format!("/api/v1/admin/users/{}/sessions", bot.user_id);
    let (status, _) = app.call(Method::DELETE, &revoke, &root.access, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    for token in [&bot.access, second["token"].as_str().expect("token")] {
        let got = app.get_as(token, "/api/v1/auth/me").await;
        assert_error(&got, StatusCode::UNAUTHORIZED, "SESSION_REVOKED");
    }
    let (status, third) = app.post_as(&root.access, &path, json!({})).await;
    assert_eq!(status, StatusCode::CREATED);
    let third = third["token"].as_str().expect("token");
    let (status, _) = app.get_as(third, "/api/v1/auth/me").await;
    assert_eq!(status, StatusCode::OK, "a new token works");
    let forged = format!("{}x", &third[..third.len() - 1]);
    let got = app.get_as(&forged, "/api/v1/auth/me").await;
    assert_error(&got, StatusCode::UNAUTHORIZED, "INVALID_TOKEN");
}

#[tokio::test]
async fn only_operators_make_bots_and_people_get_no_bot_tokens() {
    let app = app().await;
    let root = app.signup("root").await;
    let alice = app.signup("alice").await;
    let got = app
        .post_as(
            &alice.access,
            "/api/v1/admin/bots",
            json!({"username": "sneaky"}),
        )
        .await;
    assert_error(&got, StatusCode::FORBIDDEN, "PERMISSION_DENIED");
    let path = format!("/api/v1/admin/bots/{}/tokens", alice.user_id);
    let got = app.post_as(&root.access, &path, json!({})).await;
    assert_error(&got, StatusCode::NOT_FOUND, "USER_NOT_FOUND");
    let got = app
        .post_as(
            &root.access,
            "/api/v1/admin/bots",
            json!({"username": "alice"}),
        )
        .await;
    assert_error(&got, StatusCode::CONFLICT, "USERNAME_TAKEN");
    let got = app
        .post_as(&root.access, "/api/v1/admin/bots", json!({"username": "x"}))
        .await;
    assert_eq!(got.0, StatusCode::UNPROCESSABLE_ENTITY, "{}", got.1);
}

#[tokio::test]
async fn a_bot_is_marked_wherever_people_see_it() {
    let app = app().await;
    let root = app.signup("root").await;
    let alice = app.signup("alice").await;
    let created = create_bot(&app, &root, json!({"username": "deploybot"})).await;
    assert_eq!(created["is_bot"], true, "{created}");
    let bot = as_tokens(&created);
    app.send_direct(&bot, &alice, "hello").await;
    let group = app.create_group(&alice, "ops", &[&bot]).await;

    let (_, profile) = app
        .get_as(&alice.access, &format!("/api/v1/users/{}", bot.user_id))
        .await;
    assert_eq!(profile["is_bot"], true, "{profile}");
    let (_, own) = app.get_as(&alice.access, "/api/v1/auth/me").await;
    assert_eq!(own["is_bot"], false, "{own}");
    let (_, bots_own) = app.get_as(&bot.access, "/api/v1/auth/me").await;
    assert_eq!(bots_own["is_bot"], true, "{bots_own}");

    let (_, found) = app
        .get_as(&alice.access, "/api/v1/users/search?q=deploy")
        .await;
    assert_eq!(found["users"][0]["is_bot"], true, "{found}");

    let (_, list) = app
        .get_as(&alice.access, "/api/v1/conversations?kind=direct")
        .await;
    assert_eq!(list["conversations"][0]["peer"]["is_bot"], true, "{list}");

    let (_, shown) = app
        .get_as(&alice.access, &format!("/api/v1/groups/{group}"))
        .await;
    let members = shown["members"].as_array().expect("members");
    for m in members {
        assert_eq!(m["is_bot"], m["user_id"] == bot.user_id.as_str(), "{m}");
    }

    let (_, users) = app
        .get_as(&root.access, "/api/v1/admin/users?q=deploybot")
        .await;
    assert_eq!(users["users"][0]["is_bot"], true, "{users}");

    let (status, _) = app
        .call(
            Method::PUT,
            &format!("/api/v1/users/me/blocks/{}", bot.user_id),
            &alice.access,
            None,
        )
        .await;
    assert!(status.is_success(), "{status}");
    let (_, blocks) = app.get_as(&alice.access, "/api/v1/users/me/blocks").await;
    assert_eq!(blocks["blocks"][0]["is_bot"], true, "{blocks}");
}
