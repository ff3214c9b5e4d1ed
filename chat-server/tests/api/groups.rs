//! The group endpoints: creation, members and roles, messages.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, Tokens, assert_error, spawn_app, spawn_app_with_conversations};
use chat_core::ConversationConfig;

async fn members(app: &TestApp, who: &Tokens, group: &str) -> Vec<(String, String)> {
    let (status, g) = app
        .get_as(&who.access, &format!("/api/v1/groups/{group}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{g}");
    g["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| {
            (
                m["username"].as_str().expect("username").to_owned(),
                m["role"].as_str().expect("role").to_owned(),
            )
        })
        .collect()
}

async fn remove(app: &TestApp, who: &Tokens, group: &str, target: &Tokens) -> (StatusCode, Value) {
    app.call(
        Method::DELETE,
        &format!("/api/v1/groups/{group}/members/{}", target.user_id),
        &who.access,
        None,
    )
    .await
}

async fn add(app: &TestApp, who: &Tokens, group: &str, users: &[&Tokens]) -> (StatusCode, Value) {
    let ids: Vec<&str> = users.iter().map(|u| u.user_id.as_str()).collect();
    app.post_as(
        &who.access,
        &format!("/api/v1/groups/{group}/members"),
        json!({"user_ids": ids}),
    )
    .await
}

async fn set_role(
    app: &TestApp,
    who: &Tokens,
    group: &str,
    target: &Tokens,
    role: &str,
) -> (StatusCode, Value) {
    app.call(
        Method::PATCH,
        &format!("/api/v1/groups/{group}/members/{}", target.user_id),
        &who.access,
        Some(json!({"role": role})),
    )
    .await
}

#[tokio::test]
async fn a_group_is_created_with_its_creator_as_owner() {
    let app = spawn_app().await;
    let owner = app.signup("owner").await;
    let ann = app.signup("ann").await;
    let ben = app.signup("ben").await;
    let (status, g) = app
        .post_as(
            &owner.access,
            "/api/v1/groups",
            json!({"name": "  Book club ", "member_ids": [ann.user_id, ben.user_id, ann.user_id, owner.user_id]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{g}");
    assert_eq!(g["name"], "Book club");
    assert_eq!(g["creator_id"], owner.user_id);
    assert!(g["created_at"].is_string());
    let list = g["members"].as_array().expect("members");
    assert_eq!(list.len(), 3, "duplicates and the creator are not repeated");
    let owner_entry = list
        .iter()
        .find(|m| m["user_id"] == owner.user_id)
        .expect("owner listed");
    assert_eq!(owner_entry["role"], "owner");
    assert_eq!(owner_entry["username"], "owner");
    assert!(owner_entry["joined_at"].is_string());
    assert!(list.iter().filter(|m| m["role"] == "member").count() == 2);

    let group = g["group_id"].as_str().expect("group_id");
    let (status, shown) = app
        .get_as(&ann.access, &format!("/api/v1/groups/{group}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown["group_id"], group);
    assert_eq!(shown["members"].as_array().map(Vec::len), Some(3));
}

#[tokio::test]
async fn bad_group_requests_are_refused() {
    let app = spawn_app().await;
    let owner = app.signup("owner").await;
    for name in ["", "   ", &"n".repeat(101)] {
        let got = app
            .post_as(&owner.access, "/api/v1/groups", json!({"name": name}))
            .await;
        assert_error(&got, StatusCode::UNPROCESSABLE_ENTITY, "INVALID_GROUP_NAME");
        assert_eq!(got.1["error"]["field"], "name");
    }
    assert_error(
        &app.post_as(
            &owner.access,
            "/api/v1/groups",
            json!({"name": "x", "member_ids": [uuid::Uuid::now_v7()]}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "USER_NOT_FOUND",
    );
    assert_error(
        &app.post_as(
            &owner.access,
            "/api/v1/groups",
            json!({"name": "x", "member_ids": ["nope"]}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "INVALID_BODY",
    );
    let (_, mine) = app.get_as(&owner.access, "/api/v1/groups/my").await;
    assert_eq!(mine["groups"], json!([]), "no half-made group");
    let solo = app.create_group(&owner, "Just me", &[]).await;
    assert_eq!(
        members(&app, &owner, &solo).await,
        [("owner".to_owned(), "owner".to_owned())]
    );
}

#[tokio::test]
async fn group_messages_carry_the_group_id_and_page_like_direct_ones() {
    let app = spawn_app().await;
    let owner = app.signup("owner").await;
    let ann = app.signup("ann").await;
    let group = app.create_group(&owner, "Team", &[&ann]).await;
    for i in 1..=3 {
        let sent = app
            .send_group(if i == 2 { &ann } else { &owner }, &group, &format!("g{i}"))
            .await;
        assert_eq!(sent["seq"], i);
        assert_eq!(sent["conversation_id"], group);
    }
    let (status, page) = app
        .get_as(
            &ann.access,
            &format!("/api/v1/groups/{group}/messages?limit=2"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["has_more"], true);
    let first = &page["messages"][0];
    assert_eq!(first["seq"], 3);
    assert_eq!(first["group_id"], group);
    assert_eq!(first["content"], "g3");
    assert!(first.get("recipient_id").is_none());
    let (_, rest) = app
        .get_as(
            &ann.access,
            &format!("/api/v1/groups/{group}/messages?limit=2&offset=2"),
        )
        .await;
    assert_eq!(rest["messages"][0]["seq"], 1);
    assert_eq!(rest["has_more"], false);

    let (status, again) = app
        .post_as(
            &ann.access,
            &format!("/api/v1/groups/{group}/messages"),
            json!({"content": "bot says hi", "message_type": "bot.notice", "client_msg_id": "b-1"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{again}");
    let (status, replay) = app
        .post_as(
            &ann.access,
            &format!("/api/v1/groups/{group}/messages"),
            json!({"content": "bot says hi", "client_msg_id": "b-1"}),
        )
        .await;
    assert_eq!(
        (status, &replay["message_id"]),
        (StatusCode::OK, &again["message_id"])
    );
}

#[tokio::test]
async fn my_groups_show_role_unread_count_and_last_message() {
    let app = spawn_app().await;
    let owner = app.signup("owner").await;
    let ann = app.signup("ann").await;
    let quiet = app.create_group(&owner, "Quiet", &[&ann]).await;
    let busy = app.create_group(&owner, "Busy", &[&ann]).await;
    app.send_group(&owner, &busy, "one").await;
    app.send_group(&owner, &busy, "two").await;
    app.send_group(&ann, &busy, "mine").await;
    app.send_direct(&owner, &ann, "not a group").await;

    let (status, mine) = app.get_as(&ann.access, "/api/v1/groups/my").await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    let groups = mine["groups"].as_array().expect("groups");
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[0]["group_id"], busy, "most recent activity first");
    assert_eq!(groups[0]["name"], "Busy");
    assert_eq!(groups[0]["role"], "member");
    assert_eq!(
        groups[0]["unread_count"], 2,
        "ann's own message is not unread"
    );
    assert_eq!(groups[0]["last_message"]["content"], "mine");
    assert_eq!(groups[0]["last_message"]["group_id"], busy);
    assert_eq!(groups[1]["group_id"], quiet);
    assert_eq!(groups[1]["unread_count"], 0);
    assert_eq!(groups[1]["last_message"], Value::Null);
    let (_, owners) = app.get_as(&owner.access, "/api/v1/groups/my").await;
    assert_eq!(owners["groups"][0]["role"], "owner");
    assert_eq!(owners["groups"][0]["unread_count"], 1);
}

#[tokio::test]
async fn roles_decide_who_adds_and_removes_members() {
    let app = spawn_app().await;
    let owner = app.signup("owner").await;
    let admin = app.signup("admin").await;
    let ann = app.signup("ann").await;
    let ben = app.signup("ben").await;
    let cat = app.signup("cat").await;
    let group = app.create_group(&owner, "Club", &[&admin, &ann]).await;

    assert_error(
        &add(&app, &ann, &group, &[&ben]).await,
        StatusCode::FORBIDDEN,
        "PERMISSION_DENIED",
    );
    assert_error(
        &set_role(&app, &ann, &group, &admin, "admin").await,
        StatusCode::FORBIDDEN,
        "PERMISSION_DENIED",
    );
    let (status, body) = set_role(&app, &owner, &group, &admin, "admin").await;
    assert_eq!((status, body), (StatusCode::OK, json!({"success": true})));
    assert_error(
        &set_role(&app, &owner, &group, &ann, "owner").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "INVALID_ROLE",
    );
    assert_error(
        &set_role(&app, &owner, &group, &ann, "king").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "INVALID_BODY",
    );
    assert_error(
        &set_role(&app, &owner, &group, &ben, "admin").await,
        StatusCode::NOT_FOUND,
        "MEMBER_NOT_FOUND",
    );

    let (status, body) = add(&app, &admin, &group, &[&ben, &ann]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"success": true, "added": [ben.user_id]}));
    assert_error(
        &add(&app, &admin, &group, &[]).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "INVALID_BODY",
    );
    let unknown = app
        .post_as(
            &admin.access,
            &format!("/api/v1/groups/{group}/members"),
            json!({"user_ids": [uuid::Uuid::now_v7()]}),
        )
        .await;
    assert_error(&unknown, StatusCode::NOT_FOUND, "USER_NOT_FOUND");

    assert_error(
        &remove(&app, &ann, &group, &ben).await,
        StatusCode::FORBIDDEN,
        "PERMISSION_DENIED",
    );
    assert_error(
        &remove(&app, &admin, &group, &owner).await,
        StatusCode::FORBIDDEN,
        "PERMISSION_DENIED",
    );
    assert_error(
        &remove(&app, &admin, &group, &cat).await,
        StatusCode::NOT_FOUND,
        "MEMBER_NOT_FOUND",
    );
    let (status, body) = remove(&app, &admin, &group, &ben).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"success": true})));
    let (status, _) = remove(&app, &ann, &group, &ann).await;
    assert_eq!(status, StatusCode::OK, "anyone may leave");
    let names: Vec<String> = members(&app, &owner, &group)
        .await
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names.len(), 2);
    assert!(names.contains(&"owner".to_owned()) && names.contains(&"admin".to_owned()));
    let (status, _) = remove(&app, &owner, &group, &admin).await;
    assert_eq!(status, StatusCode::OK, "the owner removes admins");
}

#[tokio::test]
async fn when_the_owner_leaves_the_longest_standing_admin_takes_over() {
    let app = spawn_app().await;
    let owner = app.signup("owner").await;
    let veteran = app.signup("veteran").await;
    let early = app.signup("early").await;
    let late = app.signup("late").await;
    let group = app.create_group(&owner, "Club", &[&veteran]).await;
    add(&app, &owner, &group, &[&early]).await;
    app.advance(std::time::Duration::from_secs(5));
    add(&app, &owner, &group, &[&late]).await;
    set_role(&app, &owner, &group, &late, "admin").await;
    set_role(&app, &owner, &group, &early, "admin").await;

    let (status, body) = remove(&app, &owner, &group, &owner).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["new_owner"], early.user_id);
    let roles = members(&app, &early, &group).await;
    assert!(
        roles.contains(&("early".to_owned(), "owner".to_owned())),
        "{roles:?}"
    );
    assert!(roles.contains(&("late".to_owned(), "admin".to_owned())));

    set_role(&app, &early, &group, &late, "member").await;
    let (_, body) = remove(&app, &early, &group, &early).await;
    assert_eq!(
        body["new_owner"], veteran.user_id,
        "no admin left: oldest member"
    );
}

#[tokio::test]
async fn leaving_hides_the_group_and_rejoining_starts_from_now() {
    let app = spawn_app().await;
    let owner = app.signup("owner").await;
    let ann = app.signup("ann").await;
    let group = app.create_group(&owner, "Team", &[&ann]).await;
    app.send_group(&ann, &group, "bye").await;
    remove(&app, &ann, &group, &ann).await;
    app.send_group(&owner, &group, "she left").await;

    assert_error(
        &app.get_as(&ann.access, &format!("/api/v1/groups/{group}/messages"))
            .await,
        StatusCode::NOT_FOUND,
        "CONVERSATION_NOT_FOUND",
    );
    let (_, mine) = app.get_as(&ann.access, "/api/v1/groups/my").await;
    assert_eq!(mine["groups"], json!([]));

    add(&app, &owner, &group, &[&ann]).await;
    let (_, mine) = app.get_as(&ann.access, "/api/v1/groups/my").await;
    assert_eq!(
        mine["groups"][0]["unread_count"], 0,
        "older messages are not unread"
    );
    let (_, page) = app
        .get_as(&ann.access, &format!("/api/v1/groups/{group}/messages"))
        .await;
    assert_eq!(
        page["messages"].as_array().map(Vec::len),
        Some(2),
        "history stays readable"
    );
    app.send_group(&owner, &group, "welcome back").await;
    let (_, mine) = app.get_as(&ann.access, "/api/v1/groups/my").await;
    assert_eq!(mine["groups"][0]["unread_count"], 1);
}

#[tokio::test]
async fn a_group_holds_at_most_the_configured_number_of_members() {
    let app = spawn_app_with_conversations(ConversationConfig {
        max_group_members: 3,
        ..ConversationConfig::default()
    })
    .await;
    let owner = app.signup("owner").await;
    let a = app.signup("usera").await;
    let b = app.signup("userb").await;
    let c = app.signup("userc").await;
    let got = app
        .post_as(
            &owner.access,
            "/api/v1/groups",
            json!({"name": "Big", "member_ids": [a.user_id, b.user_id, c.user_id]}),
        )
        .await;
    assert_error(&got, StatusCode::CONFLICT, "GROUP_FULL");
    let group = app.create_group(&owner, "Small", &[&a]).await;
    assert_error(
        &add(&app, &owner, &group, &[&b, &c]).await,
        StatusCode::CONFLICT,
        "GROUP_FULL",
    );
    assert_eq!(
        members(&app, &owner, &group).await.len(),
        2,
        "nobody was added"
    );
    let (status, _) = add(&app, &owner, &group, &[&b]).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn the_group_shows_each_members_delivery_and_read_cursors() {
    let app = spawn_app().await;
    let owner = app.signup("owner").await;
    let ann = app.signup("ann").await;
    let ben = app.signup("ben").await;
    let group = app.create_group(&owner, "Team", &[&ann, &ben]).await;
    for i in 1..=2 {
        app.send_group(&owner, &group, &format!("g{i}")).await;
    }
    let (status, _) = app
        .post_as(
            &ann.access,
            &format!("/api/v1/conversations/{group}/read"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, g) = app
        .get_as(&owner.access, &format!("/api/v1/groups/{group}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{g}");
    let cursors = |name: &str| {
        let m = g["members"]
            .as_array()
            .expect("members")
            .iter()
            .find(|m| m["username"] == name)
            .expect("member")
            .clone();
        (m["delivered_seq"].clone(), m["read_seq"].clone())
    };
    // Reading implies delivery; ben has done neither.
    assert_eq!(cursors("ann"), (json!(2), json!(2)));
    assert_eq!(cursors("ben"), (json!(0), json!(0)));
}
