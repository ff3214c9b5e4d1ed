//! Signup, login, tokens, refresh rotation, logout and rate limits.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::json;

use chat_core::{AuthConfig, RateLimit};
use chat_server::HttpSettings;

use crate::helpers::{
    assert_error, password_of, spawn_app, spawn_app_custom, spawn_app_with, test_auth_config,
    tokens,
};

#[tokio::test]
async fn signup_returns_bearer_tokens_and_201() {
    let app = spawn_app().await;
    let (status, body) = app
        .post(
            "/api/v1/auth/signup",
            json!({"username": "alice", "email": "alice@example.com",
                   "password": "s3cret!pass", "display_name": "Alice"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert!(
        body["access_token"]
            .as_str()
            .is_some_and(|t| t.split('.').count() == 3)
    );
    assert!(
        body["refresh_token"]
            .as_str()
            .is_some_and(|t| t.len() >= 43)
    );
    let t = tokens(&body);
    let (status, me) = app.get("/api/v1/auth/me", Some(&t.access)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["user_id"], t.user_id.as_str());
    assert_eq!(me["username"], "alice");
    assert_eq!(me["email"], "alice@example.com");
    assert_eq!(me["display_name"], "Alice");
}

#[tokio::test]
async fn duplicate_usernames_and_emails_conflict_whatever_their_case() {
    let app = spawn_app().await;
    app.signup("bob").await;
    let dup_name = app
        .post(
            "/api/v1/auth/signup",
            json!({"username": "BOB", "email": "other@example.com", "password": "s3cret!pass"}),
        )
        .await;
    assert_error(&dup_name, StatusCode::CONFLICT, "USERNAME_TAKEN");
    // A conflict concerns one field and names it (docs/api.md).
    assert_eq!(dup_name.1["error"]["field"], "username", "{}", dup_name.1);
    let dup_email = app
        .post(
            "/api/v1/auth/signup",
            json!({"username": "bobby", "email": "Bob@Example.com", "password": "s3cret!pass"}),
        )
        .await;
    assert_error(&dup_email, StatusCode::CONFLICT, "EMAIL_TAKEN");
    assert_eq!(dup_email.1["error"]["field"], "email", "{}", dup_email.1);
}

#[tokio::test]
async fn signup_validation_errors_name_their_field() {
    let app = spawn_app().await;
    for (body, code, field) in [
        (
            json!({"username": "ok_name", "email": "a@b.co", "password": "short1!"}),
            "WEAK_PASSWORD",
            "password",
        ),
        (
            json!({"username": "ok_name", "email": "a@b.co", "password": "nodigits!!"}),
            "WEAK_PASSWORD",
            "password",
        ),
        (
            json!({"username": "ok_name", "email": "a@b.co", "password": "nospecial12"}),
            "WEAK_PASSWORD",
            "password",
        ),
        (
            json!({"username": "x", "email": "a@b.co", "password": "s3cret!pass"}),
            "INVALID_USERNAME",
            "username",
        ),
        (
            json!({"username": "has space", "email": "a@b.co", "password": "s3cret!pass"}),
            "INVALID_USERNAME",
            "username",
        ),
        (
            json!({"username": "ok_name", "email": "nope", "password": "s3cret!pass"}),
            "INVALID_EMAIL",
            "email",
        ),
    ] {
        let got = app.post("/api/v1/auth/signup", body).await;
        assert_error(&got, StatusCode::UNPROCESSABLE_ENTITY, code);
        assert_eq!(got.1["error"]["field"], field);
    }
}

#[tokio::test]
async fn malformed_bodies_get_the_api_error_shape() {
    let app = spawn_app().await;
    let url = app.url("/api/v1/auth/login");
    let bad_json = app
        .http
        .post(&url)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("send");
    assert_error(
        &crate::helpers::read(bad_json).await,
        StatusCode::BAD_REQUEST,
        "INVALID_JSON",
    );

    let missing_field = app
        .post("/api/v1/auth/login", json!({"username": "a"}))
        .await;
    assert_error(
        &missing_field,
        StatusCode::UNPROCESSABLE_ENTITY,
        "INVALID_BODY",
    );

    let wrong_type = app
        .http
        .post(&url)
        .body("username=a")
        .send()
        .await
        .expect("send");
    assert_error(
        &crate::helpers::read(wrong_type).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "UNSUPPORTED_MEDIA_TYPE",
    );
}

#[tokio::test]
async fn login_works_with_username_or_email_in_any_case() {
    let app = spawn_app().await;
    let t = app.signup("carol").await;
    for login in ["carol", "CAROL", "carol@example.com", "Carol@Example.COM"] {
        let (status, body) = app.login(login, &password_of("carol")).await;
        assert_eq!(status, StatusCode::OK, "{login}: {body}");
        assert_eq!(body["user_id"], t.user_id.as_str());
        assert_eq!(body["token_type"], "Bearer");
    }
}

#[tokio::test]
async fn wrong_passwords_and_unknown_users_get_the_same_answer() {
    let app = spawn_app().await;
    app.signup("dave").await;
    let wrong = app.login("dave", "wrong-pass1!").await;
    let unknown = app.login("nobody", "wrong-pass1!").await;
    assert_error(&wrong, StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS");
    assert_error(&unknown, StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS");
    assert_eq!(wrong.1, unknown.1);
}

#[tokio::test]
async fn five_failed_logins_from_one_address_are_then_refused_with_retry_after() {
    let app = spawn_app().await;
    app.signup("erin").await;
    for _ in 0..5 {
        let got = app.login("erin", "wrong-pass1!").await;
        assert_error(&got, StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS");
    }
    let r = app
        .http
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"username": "erin", "password": password_of("erin")}))
        .send()
        .await
        .expect("send");
    let retry_after: u64 = r.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!(retry_after > 0 && retry_after <= 900, "{retry_after}");
    let got = crate::helpers::read(r).await;
    assert_error(&got, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED");

    // X-Forwarded-For is ignored without a trusted proxy.
    let spoofed = app
        .http
        .post(app.url("/api/v1/auth/login"))
        .header("x-forwarded-for", "203.0.113.9")
        .json(&json!({"username": "erin", "password": password_of("erin")}))
        .send()
        .await
        .expect("send");
    assert_eq!(spoofed.status(), StatusCode::TOO_MANY_REQUESTS);

    // The window closes after 15 minutes.
    app.advance(Duration::from_secs(901));
    let (status, _) = app.login("erin", &password_of("erin")).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_limit() {
    let settings = chat_server::HttpSettings {
        trusted_proxies: vec!["127.0.0.1/32".parse().expect("cidr")],
        ..Default::default()
    };
    let app = spawn_app_with(
        std::sync::Arc::new(chat_core::memory::MemoryStore::new()),
        settings,
    )
    .await;
    app.signup("frank").await;
    let attempt = |ip: &'static str, password: String| {
        let req = app
            .http
            .post(app.url("/api/v1/auth/login"))
            .header("x-forwarded-for", format!("198.51.100.1, {ip}"))
            .json(&json!({"username": "frank", "password": password}));
        async move { req.send().await.expect("send").status() }
    };
    for _ in 0..5 {
        assert_eq!(
            attempt("203.0.113.1", "nope-nope1!".into()).await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        attempt("203.0.113.1", password_of("frank")).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        attempt("203.0.113.2", password_of("frank")).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn protected_routes_need_a_valid_bearer_token() {
    let app = spawn_app().await;
    let t = app.signup("gina").await;
    assert_error(
        &app.get("/api/v1/auth/me", None).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHENTICATED",
    );

    let r = app
        .http
        .get(app.url("/api/v1/auth/me"))
        .header("authorization", "Basic Z2luYTp4")
        .send()
        .await
        .expect("send");
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    assert_error(
        &crate::helpers::read(r).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHENTICATED",
    );

    let mut tampered = t.access.clone();
    let last = tampered.pop().expect("non-empty");
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    assert_error(
        &app.get("/api/v1/auth/me", Some(&tampered)).await,
        StatusCode::UNAUTHORIZED,
        "INVALID_TOKEN",
    );

    let payload = t.access.split('.').nth(1).expect("payload");
    let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let alg_none = format!("{none_header}.{payload}.");
    assert_error(
        &app.get("/api/v1/auth/me", Some(&alg_none)).await,
        StatusCode::UNAUTHORIZED,
        "INVALID_TOKEN",
    );

    assert_error(
        &app.get("/api/v1/auth/me", Some("garbage")).await,
        StatusCode::UNAUTHORIZED,
        "INVALID_TOKEN",
    );
}

#[tokio::test]
async fn access_tokens_expire_after_fifteen_minutes() {
    let app = spawn_app().await;
    let t = app.signup("hank").await;
    let (status, check) = app.get("/api/v1/auth/session/check", Some(&t.access)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(check["valid"], true);
    assert_eq!(check["user_id"], t.user_id.as_str());
    assert!(
        check["expires_at"]
            .as_str()
            .is_some_and(|s| s.ends_with('Z'))
    );

    app.advance(Duration::from_secs(15 * 60));
    assert_error(
        &app.get("/api/v1/auth/session/check", Some(&t.access)).await,
        StatusCode::UNAUTHORIZED,
        "TOKEN_EXPIRED",
    );
}

#[tokio::test]
async fn refresh_rotates_the_refresh_token() {
    let app = spawn_app().await;
    let t = app.signup("iris").await;
    let (status, body) = app
        .post(
            "/api/v1/auth/session/refresh",
            json!({"refresh_token": t.refresh}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let fresh = tokens(&body);
    assert_ne!(fresh.refresh, t.refresh);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(
        app.get("/api/v1/auth/me", Some(&fresh.access)).await.0,
        StatusCode::OK
    );
    // The new refresh token refreshes again.
    let (status, _) = app
        .post(
            "/api/v1/auth/session/refresh",
            json!({"refresh_token": fresh.refresh}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn reusing_a_rotated_refresh_token_revokes_the_session() {
    let app = spawn_app().await;
    let t = app.signup("jack").await;
    let (_, body) = app
        .post(
            "/api/v1/auth/session/refresh",
            json!({"refresh_token": t.refresh}),
        )
        .await;
    let fresh = tokens(&body);
    app.advance(Duration::from_secs(30));

    let reuse = app
        .post(
            "/api/v1/auth/session/refresh",
            json!({"refresh_token": t.refresh}),
        )
        .await;
    assert_error(&reuse, StatusCode::UNAUTHORIZED, "REFRESH_TOKEN_REUSED");
    // The thief's and the owner's tokens of that session all stop working.
    assert_error(
        &app.post(
            "/api/v1/auth/session/refresh",
            json!({"refresh_token": fresh.refresh}),
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "SESSION_REVOKED",
    );
    assert_error(
        &app.get("/api/v1/auth/me", Some(&fresh.access)).await,
        StatusCode::UNAUTHORIZED,
        "SESSION_REVOKED",
    );
    assert_error(
        &app.get("/api/v1/auth/me", Some(&t.access)).await,
        StatusCode::UNAUTHORIZED,
        "SESSION_REVOKED",
    );
}

#[tokio::test]
async fn two_refreshes_racing_within_the_grace_window_both_succeed() {
    let app = spawn_app().await;
    let t = app.signup("kate").await;
    let first = app
        .post(
            "/api/v1/auth/session/refresh",
            json!({"refresh_token": t.refresh}),
        )
        .await;
    let second = app
        .post(
            "/api/v1/auth/session/refresh",
            json!({"refresh_token": t.refresh}),
        )
        .await;
    assert_eq!(first.0, StatusCode::OK, "{}", first.1);
    assert_eq!(second.0, StatusCode::OK, "{}", second.1);
    let (a, b) = (tokens(&first.1), tokens(&second.1));
    assert_ne!(a.refresh, b.refresh);
    for access in [&a.access, &b.access] {
        assert_eq!(
            app.get("/api/v1/auth/me", Some(access)).await.0,
            StatusCode::OK
        );
    }
}

#[tokio::test]
async fn unknown_refresh_tokens_are_refused() {
    let app = spawn_app().await;
    assert_error(
        &app.post(
            "/api/v1/auth/session/refresh",
            json!({"refresh_token": "made-up"}),
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "INVALID_REFRESH_TOKEN",
    );
    assert_error(
        &app.post("/api/v1/auth/logout", json!({"refresh_token": ""}))
            .await,
        StatusCode::UNAUTHORIZED,
        "INVALID_REFRESH_TOKEN",
    );
}

#[tokio::test]
async fn refresh_tokens_expire_after_seven_days() {
    let app = spawn_app().await;
    let t = app.signup("leo").await;
    app.advance(Duration::from_secs(7 * 24 * 3600));
    assert_error(
        &app.post(
            "/api/v1/auth/session/refresh",
            json!({"refresh_token": t.refresh}),
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "REFRESH_TOKEN_EXPIRED",
    );
}

#[tokio::test]
async fn logout_stops_that_sessions_tokens_at_once_and_spares_others() {
    let app = spawn_app().await;
    let t = app.signup("mia").await;
    let (_, other) = app.login("mia", &password_of("mia")).await;
    let other = tokens(&other);

    let (status, body) = app
        .post("/api/v1/auth/logout", json!({"refresh_token": t.refresh}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"success": true}));

    assert_error(
        &app.get("/api/v1/auth/me", Some(&t.access)).await,
        StatusCode::UNAUTHORIZED,
        "SESSION_REVOKED",
    );
    assert_error(
        &app.post(
            "/api/v1/auth/session/refresh",
            json!({"refresh_token": t.refresh}),
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "SESSION_REVOKED",
    );
    assert_eq!(
        app.get("/api/v1/auth/me", Some(&other.access)).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn one_address_may_try_only_so_many_signups_an_hour() {
    let limited = AuthConfig {
        signup_client_limit: RateLimit::new(3, Duration::from_secs(3600)),
        ..test_auth_config()
    };
    let app = spawn_app_custom(HttpSettings::default(), |b| b.auth_config(limited)).await;
    let signup = |name: &str| {
        app.post(
            "/api/v1/auth/signup",
            json!({"username": name, "email": format!("{name}@example.com"), "password": password_of(name)}),
        )
    };
    assert_eq!(signup("first").await.0, StatusCode::CREATED);
    // A refused attempt counts too: the limit is on trying.
    assert_eq!(signup("first").await.0, StatusCode::CONFLICT);
    assert_eq!(signup("second").await.0, StatusCode::CREATED);
    let refused = signup("third").await;
    assert_error(&refused, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED");
    assert!(
        refused.1["error"]["retry_after"]
            .as_u64()
            .is_some_and(|s| s > 0)
    );
    // Logging in is limited apart.
    let (status, _) = app.login("first", &password_of("first")).await;
    assert_eq!(status, StatusCode::OK);
    // An hour later the address may sign up again.
    app.advance(Duration::from_secs(3601));
    assert_eq!(signup("third").await.0, StatusCode::CREATED);
}
