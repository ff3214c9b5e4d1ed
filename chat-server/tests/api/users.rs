//! Profiles, search and profile updates.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{assert_error, password_of, spawn_app, tokens};

#[tokio::test]
async fn a_profile_shows_the_email_only_to_its_owner() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let (status, theirs) = app
        .get(
            &format!("/api/v1/users/{}", alice.user_id),
            Some(&bob.access),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(theirs["username"], "alice");
    assert!(theirs.get("email").is_none(), "{theirs}");
    assert!(theirs["created_at"].is_string());
    assert!(theirs.get("last_seen").is_some());

    let (_, own) = app
        .get(
            &format!("/api/v1/users/{}", alice.user_id),
            Some(&alice.access),
        )
        .await;
    assert_eq!(own["email"], "alice@example.com");
}

#[tokio::test]
async fn unknown_and_malformed_user_ids_are_told_apart() {
    let app = spawn_app().await;
    let t = app.signup("carol").await;
    assert_error(
        &app.get(
            &format!("/api/v1/users/{}", uuid::Uuid::now_v7()),
            Some(&t.access),
        )
        .await,
        StatusCode::NOT_FOUND,
        "USER_NOT_FOUND",
    );
    assert_error(
        &app.get("/api/v1/users/not-a-uuid", Some(&t.access)).await,
        StatusCode::BAD_REQUEST,
        "INVALID_ID",
    );
    assert_error(
        &app.get(&format!("/api/v1/users/{}", t.user_id), None).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHENTICATED",
    );
}

#[tokio::test]
async fn search_matches_username_and_display_name_prefixes() {
    let app = spawn_app().await;
    let me = app.signup("searcher").await;
    for (u, d) in [
        ("harry", "Harold"),
        ("hermione", "Granger"),
        ("ron", "Harpo Ron"),
    ] {
        let (status, _) = app
            .post(
                "/api/v1/auth/signup",
                json!({"username": u, "email": format!("{u}@example.com"),
                       "password": "s3cret!pass", "display_name": d}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let (status, body) = app
        .get("/api/v1/users/search?q=HAR", Some(&me.access))
        .await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = body["users"]
        .as_array()
        .expect("users")
        .iter()
        .map(|u| u["username"].as_str().expect("username"))
        .collect();
    assert_eq!(names, ["harry", "ron"]);
    let first = &body["users"][0];
    assert!(first["user_id"].is_string());
    assert_eq!(first["display_name"], "Harold");
    assert!(first.get("email").is_none());

    // The same status as a query parameter that does not parse
    // (docs/api.md: INVALID_QUERY is always 400).
    let blank = app.get("/api/v1/users/search?q=", Some(&me.access)).await;
    assert_error(&blank, StatusCode::BAD_REQUEST, "INVALID_QUERY");
    assert_eq!(blank.1["error"]["field"], "q", "{}", blank.1);
    assert_error(
        &app.get("/api/v1/users/search?q=h&q=x", Some(&me.access))
            .await,
        StatusCode::BAD_REQUEST,
        "INVALID_QUERY",
    );
    assert_error(
        &app.get("/api/v1/users/search?q=h", None).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHENTICATED",
    );
}

#[tokio::test]
async fn search_returns_at_most_twenty_users() {
    let app = spawn_app().await;
    let me = app.signup("zed").await;
    for i in 0..25 {
        app.signup(&format!("user{i:02}")).await;
    }
    let (_, body) = app
        .get("/api/v1/users/search?q=user", Some(&me.access))
        .await;
    assert_eq!(body["users"].as_array().expect("users").len(), 20);
}

#[tokio::test]
async fn the_display_name_and_email_can_be_changed_and_cleared() {
    let app = spawn_app().await;
    let t = app.signup("dave").await;
    let (status, body) = app
        .put(
            "/api/v1/users/me",
            &t.access,
            json!({"display_name": "Dave D", "email": "dave@new.example", "current_password": password_of("dave")}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["display_name"], "Dave D");
    assert_eq!(body["email"], "dave@new.example");
    assert_eq!(
        app.login("dave@new.example", &password_of("dave")).await.0,
        StatusCode::OK
    );

    let (_, body) = app
        .put("/api/v1/users/me", &t.access, json!({"display_name": null}))
        .await;
    assert!(body["display_name"].is_null());
    assert_eq!(body["email"], "dave@new.example");

    app.signup("erin").await;
    let taken = app
        .put(
            "/api/v1/users/me",
            &t.access,
            json!({"email": "ERIN@example.com", "current_password": password_of("dave")}),
        )
        .await;
    assert_error(&taken, StatusCode::CONFLICT, "EMAIL_TAKEN");
    assert_eq!(taken.1["error"]["field"], "email", "{}", taken.1);
    assert_error(
        &app.put(
            "/api/v1/users/me",
            &t.access,
            json!({"display_name": "x".repeat(101)}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "INVALID_DISPLAY_NAME",
    );
}

#[tokio::test]
async fn a_password_change_needs_the_current_password_and_ends_other_sessions() {
    let app = spawn_app().await;
    let t = app.signup("frank").await;
    let (_, other) = app.login("frank", &password_of("frank")).await;
    let other = tokens(&other);

    assert_error(
        &app.put(
            "/api/v1/users/me",
            &t.access,
            json!({"new_password": "another1!pw"}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "CURRENT_PASSWORD_REQUIRED",
    );
    assert_error(
        &app.put(
            "/api/v1/users/me",
            &t.access,
            json!({"current_password": "wrong1!pw", "new_password": "another1!pw"}),
        )
        .await,
        StatusCode::FORBIDDEN,
        "INVALID_CURRENT_PASSWORD",
    );
    assert_error(
        &app.put(
            "/api/v1/users/me",
            &t.access,
            json!({"current_password": password_of("frank"), "new_password": "weak"}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "WEAK_PASSWORD",
    );
    let (status, _) = app
        .put(
            "/api/v1/users/me",
            &t.access,
            json!({"current_password": password_of("frank"), "new_password": "another1!pw"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    assert_eq!(
        app.get("/api/v1/auth/me", Some(&t.access)).await.0,
        StatusCode::OK
    );
    assert_error(
        &app.get("/api/v1/auth/me", Some(&other.access)).await,
        StatusCode::UNAUTHORIZED,
        "SESSION_REVOKED",
    );
    assert_eq!(app.login("frank", "another1!pw").await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_refused_profile_update_changes_nothing_at_all() {
    let app = spawn_app().await;
    let t = app.signup("gwen").await;
    let (_, other) = app.login("gwen", &password_of("gwen")).await;
    let other = tokens(&other);
    app.signup("hugo").await;

    // The email is taken: the password change in the same request must not happen.
    assert_error(
        &app.put(
            "/api/v1/users/me",
            &t.access,
            json!({"email": "hugo@example.com", "current_password": password_of("gwen"), "new_password": "another1!pw"}),
        )
        .await,
        StatusCode::CONFLICT,
        "EMAIL_TAKEN",
    );
    assert_eq!(
        app.login("gwen", &password_of("gwen")).await.0,
        StatusCode::OK
    );
    assert_eq!(
        app.get("/api/v1/auth/me", Some(&other.access)).await.0,
        StatusCode::OK
    );

    // The current password is wrong: the display name must not change either.
    assert_error(
        &app.put(
            "/api/v1/users/me",
            &t.access,
            json!({"display_name": "Changed", "current_password": "wrong1!pw", "new_password": "another1!pw"}),
        )
        .await,
        StatusCode::FORBIDDEN,
        "INVALID_CURRENT_PASSWORD",
    );
    let (_, me) = app.get("/api/v1/auth/me", Some(&t.access)).await;
    assert!(me["display_name"].is_null(), "{me}");
}

#[tokio::test]
async fn an_email_change_needs_the_current_password_and_is_told_to_the_old_address() {
    let app = spawn_app().await;
    let t = app.signup("ivan").await;

    // An access token alone cannot redirect reset emails elsewhere.
    assert_error(
        &app.put(
            "/api/v1/users/me",
            &t.access,
            json!({"email": "thief@example.com"}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "CURRENT_PASSWORD_REQUIRED",
    );
    assert_error(
        &app.put(
            "/api/v1/users/me",
            &t.access,
            json!({"email": "thief@example.com", "current_password": "wrong1!pw"}),
        )
        .await,
        StatusCode::FORBIDDEN,
        "INVALID_CURRENT_PASSWORD",
    );
    let (_, me) = app.get("/api/v1/auth/me", Some(&t.access)).await;
    assert_eq!(me["email"], "ivan@example.com");
    // The same address in another case is no change, and needs nothing.
    let (status, _) = app
        .put(
            "/api/v1/users/me",
            &t.access,
            json!({"email": "IVAN@example.com", "display_name": "Ivan"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let (status, body) = app
        .put(
            "/api/v1/users/me",
            &t.access,
            json!({"email": "ivan@new.example", "current_password": password_of("ivan")}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["email"], "ivan@new.example");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    let notice = loop {
        let outbox = app.mailer.outbox();
        if let Some(mail) = outbox
            .into_iter()
            .find(|m| m.to.eq_ignore_ascii_case("ivan@example.com"))
        {
            break mail;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no email to the old address"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert!(notice.body.contains("ivan@new.example"), "{}", notice.body);
}

#[tokio::test]
async fn email_and_password_changes_are_limited_per_user() {
    let app = spawn_app().await;
    let t = app.signup("judy").await;
    app.signup("karl").await;
    // Probing which emails are taken: 409 or 200 each time, until the limit.
    for _ in 0..10 {
        let (status, body) = app
            .put(
                "/api/v1/users/me",
                &t.access,
                json!({"email": "karl@example.com", "current_password": password_of("judy")}),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
    }
    assert_error(
        &app.put(
            "/api/v1/users/me",
            &t.access,
            json!({"email": "karl@example.com", "current_password": password_of("judy")}),
        )
        .await,
        StatusCode::TOO_MANY_REQUESTS,
        "RATE_LIMITED",
    );
    // Guessing the password through the same endpoint is limited alike.
    assert_error(
        &app.put(
            "/api/v1/users/me",
            &t.access,
            json!({"current_password": "guess1!pw", "new_password": "another1!pw"}),
        )
        .await,
        StatusCode::TOO_MANY_REQUESTS,
        "RATE_LIMITED",
    );
    // Other changes are not.
    let (status, _) = app
        .put(
            "/api/v1/users/me",
            &t.access,
            json!({"display_name": "Judy"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_json_array_is_not_a_body() {
    let app = spawn_app().await;
    let t = app.signup("lena").await;
    app.put(
        "/api/v1/users/me",
        &t.access,
        json!({"display_name": "Lena"}),
    )
    .await;

    // `[null]` would set the first field, the display name, to null.
    assert_error(
        &app.put("/api/v1/users/me", &t.access, json!([null])).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "INVALID_BODY",
    );
    let (_, me) = app.get("/api/v1/auth/me", Some(&t.access)).await;
    assert_eq!(me["display_name"], "Lena");
}
