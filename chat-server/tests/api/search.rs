//! Message search and pages around a message over REST.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use chat_core::ConversationConfig;

use crate::helpers::{TestApp, Tokens, assert_error, spawn_app, spawn_app_with_conversations};

async fn search(app: &TestApp, who: &Tokens, query: &str) -> (StatusCode, Value) {
    app.get_as(&who.access, &format!("/api/v1/search/messages?{query}"))
        .await
}

fn contents(body: &Value) -> Vec<String> {
    body["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["message"]["content"].as_str().unwrap_or("").to_owned())
        .collect()
}

#[tokio::test]
async fn search_finds_only_what_the_caller_can_read_with_highlights() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let carol = app.signup("carol").await;
    app.send_direct(&alice, &bob, "Lunch at noon?").await;
    let team = app.create_group(&bob, "team", &[&carol]).await;
    app.send_group(&carol, &team, "team lunch on friday").await;

    let (status, found) = search(&app, &alice, "q=LUNCH").await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(
        contents(&found),
        ["Lunch at noon?"],
        "not the group alice is not in"
    );
    let result = &found["results"][0];
    assert_eq!(result["snippet"]["text"], "Lunch at noon?");
    assert_eq!(result["snippet"]["highlights"], serde_json::json!([[0, 5]]));
    assert!(
        result["message"]["recipient_id"].is_string(),
        "a full message view"
    );
    assert_eq!(found["has_more"], false);
    assert_eq!(found["ranked"], true);

    let (_, both) = search(&app, &bob, "q=lunch&limit=1").await;
    assert_eq!(both["results"].as_array().map(Vec::len), Some(1));
    assert_eq!(both["has_more"], true);
    let (_, in_team) = search(&app, &bob, &format!("q=lunch&conversation_id={team}")).await;
    assert_eq!(contents(&in_team), ["team lunch on friday"]);
    let (_, none) = search(&app, &bob, "q=lunch%20pizza").await;
    assert_eq!(contents(&none), Vec::<String>::new());

    assert_error(
        &search(&app, &bob, "q=%20!%3F").await,
        StatusCode::BAD_REQUEST,
        "INVALID_QUERY",
    );
    assert_error(
        &search(&app, &bob, "").await,
        StatusCode::BAD_REQUEST,
        "INVALID_QUERY",
    );
    assert_error(
        &search(&app, &bob, "q=a&limit=51").await,
        StatusCode::BAD_REQUEST,
        "INVALID_PAGINATION",
    );
    assert_error(
        &search(&app, &bob, "q=a&offset=1001").await,
        StatusCode::BAD_REQUEST,
        "INVALID_PAGINATION",
    );
    let outsider = search(&app, &alice, &format!("q=lunch&conversation_id={team}")).await;
    assert_error(&outsider, StatusCode::NOT_FOUND, "CONVERSATION_NOT_FOUND");
    let (status, _) = app
        .call(Method::GET, "/api/v1/search/messages?q=lunch", "nope", None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// Words in more messages than `CHAT_SEARCH_COMMON_WORD_MESSAGES` (here
/// 2): alone, latest first in one conversation and refused across all;
/// beside a rarer word, still required.
#[tokio::test]
async fn very_common_words_are_searched_latest_first_or_refused() {
    let app = spawn_app_with_conversations(ConversationConfig {
        search_common_word_messages: 2,
        ..ConversationConfig::default()
    })
    .await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let team = app.create_group(&alice, "team", &[&bob]).await;
    app.send_group(&alice, &team, "the lunch the lunch the lunch")
        .await;
    app.send_group(&bob, &team, "the plan for friday").await;
    app.send_group(&alice, &team, "the end").await;
    app.send_direct(&bob, &alice, "the lunch is late").await;

    assert_error(
        &search(&app, &bob, "q=the").await,
        StatusCode::BAD_REQUEST,
        "SEARCH_TOO_BROAD",
    );
    let (status, latest) = search(&app, &bob, &format!("q=the&conversation_id={team}")).await;
    assert_eq!(status, StatusCode::OK, "{latest}");
    assert_eq!(latest["ranked"], false);
    assert_eq!(
        contents(&latest),
        [
            "the end",
            "the plan for friday",
            "the lunch the lunch the lunch"
        ],
        "latest first, not the best match first"
    );
    let (_, mixed) = search(&app, &bob, "q=the%20friday").await;
    assert_eq!(mixed["ranked"], true);
    assert_eq!(contents(&mixed), ["the plan for friday"]);
    let (_, lunch) = search(&app, &bob, "q=lunch%20the").await;
    assert_eq!(lunch["ranked"], true, "lunch is in 2 messages: it ranks");
    assert_eq!(
        contents(&lunch),
        ["the lunch the lunch the lunch", "the lunch is late"]
    );
}

#[tokio::test]
async fn a_page_around_a_message_jumps_to_it() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let mut ids = Vec::new();
    for i in 1..=9 {
        let sent = app.send_direct(&alice, &bob, &format!("m{i}")).await;
        ids.push(sent["message_id"].as_str().expect("id").to_owned());
    }
    let conversation = app.send_direct(&alice, &bob, "m10").await["conversation_id"]
        .as_str()
        .expect("conversation")
        .to_owned();
    let path = |q: &str| format!("/api/v1/conversations/{conversation}/messages?{q}");
    let (status, page) = app
        .get_as(&bob.access, &path(&format!("around={}&limit=4", ids[4])))
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let got: Vec<&str> = page["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["content"].as_str())
        .collect();
    assert_eq!(
        got,
        ["m7", "m6", "m5", "m4"],
        "newest first, the target and one older"
    );
    assert_eq!(
        (page["has_more"].as_bool(), page["has_newer"].as_bool()),
        (Some(true), Some(true))
    );
    let (_, latest) = app.get_as(&bob.access, &path("limit=2")).await;
    assert_eq!(latest["has_newer"], false);
    let mixed = app
        .get_as(&bob.access, &path(&format!("around={}&offset=1", ids[0])))
        .await;
    assert_error(&mixed, StatusCode::BAD_REQUEST, "INVALID_PAGINATION");
    let unknown = app
        .get_as(
            &bob.access,
            &path(&format!("around={}", chat_core::MessageId::new())),
        )
        .await;
    assert_error(&unknown, StatusCode::BAD_REQUEST, "INVALID_PAGINATION");
}
