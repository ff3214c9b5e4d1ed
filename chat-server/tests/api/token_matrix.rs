//! The token matrix beyond `auth.rs`: tokens that are not yet valid or
//! signed another way, and the tokens of a deactivated account, refused
//! alike over REST and at the WebSocket upgrade.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chat_core::UserId;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{assert_error, password_of, spawn_app};

/// The secret `spawn_app` signs with.
const SECRET: &[u8] = b"test-secret-test-secret-test-secret!";

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64")).expect("json")
}

fn sign(alg: Algorithm, secret: &[u8], claims: &Value) -> String {
    jsonwebtoken::encode(&Header::new(alg), claims, &EncodingKey::from_secret(secret))
        .expect("sign")
}

#[tokio::test]
async fn tokens_not_yet_valid_or_signed_another_way_are_refused() {
    let app = spawn_app().await;
    let t = app.signup("nina").await;
    let real = claims_of(&t.access);
    let now = real["iat"].as_i64().expect("iat");
    let hour = 3600;
    let mut future_iat = real.clone();
    future_iat["iat"] = json!(now + hour);
    future_iat["exp"] = json!(now + 2 * hour);
    let mut future_nbf = real.clone();
    future_nbf["nbf"] = json!(now + hour);
    let forged = [
        (
            "issued in the future",
            sign(Algorithm::HS256, SECRET, &future_iat),
        ),
        (
            "not valid before an hour",
            sign(Algorithm::HS256, SECRET, &future_nbf),
        ),
        (
            "HS384 with the right secret",
            sign(Algorithm::HS384, SECRET, &real),
        ),
        (
            "HS512 with the right secret",
            sign(Algorithm::HS512, SECRET, &real),
        ),
        (
            "another secret",
            sign(Algorithm::HS256, b"another-secret-another-secret-!!", &real),
        ),
    ];
    // The same claims re-signed properly are accepted: the refusals below
    // are about what differs, not about the forging.
    let control = sign(Algorithm::HS256, SECRET, &real);
    let (status, _) = app.get("/api/v1/auth/me", Some(&control)).await;
    assert_eq!(status, StatusCode::OK);
    for (what, token) in &forged {
        let got = app.get("/api/v1/auth/me", Some(token)).await;
        assert_eq!(got.0, StatusCode::UNAUTHORIZED, "{what}: {}", got.1);
        assert_eq!(got.1["error"]["code"], "INVALID_TOKEN", "{what}");
        assert_eq!(
            app.ws_refusal(token).await,
            401,
            "{what} over the WebSocket"
        );
    }
}

#[tokio::test]
async fn a_deactivated_account_is_shut_out_everywhere_until_reactivated() {
    let app = spawn_app().await;
    let (olga, peter, mut olga_ws, _peter_ws) = app.connected_pair().await;
    let id: UserId = olga.user_id.parse().expect("a user id");

    app.engine
        .auth()
        .deactivate_user(id)
        .await
        .expect("deactivate");

    assert_eq!(olga_ws.close_code().await, 4001, "her socket closes");
    assert_error(
        &app.get("/api/v1/auth/me", Some(&olga.access)).await,
        StatusCode::UNAUTHORIZED,
        "SESSION_REVOKED",
    );
    assert_eq!(app.ws_refusal(&olga.access).await, 401);
    assert_error(
        &app.post(
            "/api/v1/auth/session/refresh",
            json!({"refresh_token": olga.refresh}),
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "SESSION_REVOKED",
    );
    // Her password no longer works, answered as any wrong login is.
    assert_error(
        &app.login("alice", &password_of("alice")).await,
        StatusCode::UNAUTHORIZED,
        "INVALID_CREDENTIALS",
    );
    // Others no longer find her, and cannot write to her.
    let (_, found) = app
        .get("/api/v1/users/search?q=ali", Some(&peter.access))
        .await;
    assert_eq!(found["users"], json!([]));
    assert_error(
        &app.post_as(
            &peter.access,
            "/api/v1/messages/send",
            json!({"recipient_id": olga.user_id, "content": "hello?"}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "INVALID_RECIPIENT",
    );

    app.engine
        .auth()
        .reactivate_user(id)
        .await
        .expect("reactivate");
    let (status, body) = app.login("alice", &password_of("alice")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
