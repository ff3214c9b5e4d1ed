//! `GET /api/v1/openapi.json`: a valid OpenAPI 3.1 document that lists
//! every route the server serves, and real answers of every operation
//! that match it, checked with a JSON Schema 2020-12 validator.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, password_of, spawn_app, spawn_app_custom, tokens};
use crate::password_reset::token_from;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// The served document, and the operations a test has exercised.
struct Contract<'a> {
    app: &'a TestApp,
    doc: Value,
    /// `components.schemas`, made strict (see [`strict`]).
    schemas: Value,
    exercised: Mutex<BTreeSet<(String, String)>>,
}

impl<'a> Contract<'a> {
    async fn fetch(app: &'a TestApp) -> Self {
        let r = app
            .http
            .get(app.url("/api/v1/openapi.json"))
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["content-type"], "application/json");
        let doc: Value = r.json().await.expect("json");
        let schemas = strict(&doc["components"]["schemas"]);
        Self {
            app,
            doc,
            schemas,
            exercised: Mutex::new(BTreeSet::new()),
        }
    }

    /// Every `(method, path template)` the document lists.
    fn operations(&self) -> BTreeSet<(String, String)> {
        let paths = self.doc["paths"].as_object().expect("paths");
        paths
            .iter()
            .flat_map(|(path, item)| {
                METHODS
                    .iter()
                    .filter(|m| item.get(**m).is_some())
                    .map(|m| (m.to_string(), path.clone()))
            })
            .collect()
    }

    /// Calls `method template` (with `{name}`s replaced from `args`, then
    /// `query` appended) and checks the answer against the document: the
    /// status is documented (exactly or as a range), and so are the
    /// content type and the body's schema.
    async fn call(
        &self,
        method: Method,
        template: &str,
        args: &[(&str, &str)],
        query: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut path = template.to_owned();
        for (name, value) in args {
            path = path.replace(&format!("{{{name}}}"), value);
        }
        assert!(!path.contains('{'), "unfilled parameter in {path}");
        let app = self.app;
        let mut req = app.http.request(method.clone(), app.url(&(path + query)));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        self.answer(&method, template, req).await
    }

    /// As [`call`](Self::call), with `bytes` as the body, as they are.
    async fn call_bytes(
        &self,
        template: &str,
        query: &str,
        token: &str,
        bytes: Vec<u8>,
    ) -> (StatusCode, Value) {
        let app = self.app;
        let req = (app.http.post(app.url(&format!("{template}{query}"))))
            .bearer_auth(token)
            .body(bytes);
        self.answer(&Method::POST, template, req).await
    }

    /// Sends `req` and checks its answer against the document (see
    /// [`call`](Self::call)). A documented media type `*/*` takes any.
    async fn answer(
        &self,
        method: &Method,
        template: &str,
        req: reqwest::RequestBuilder,
    ) -> (StatusCode, Value) {
        let r = req.send().await.expect("send");
        let status = r.status();
        let content_type = r
            .headers()
            .get("content-type")
            .map(|v| v.to_str().expect("ascii").to_owned());
        let text = r.text().await.expect("body");
        let m = method.as_str().to_lowercase();
        let op = &self.doc["paths"][template][&m];
        assert!(op.is_object(), "{m} {template} is not documented");
        let responses = &op["responses"];
        let range = format!("{}XX", status.as_u16() / 100);
        let documented = [status.as_str(), range.as_str(), "default"]
            .into_iter()
            .find_map(|k| responses.get(k))
            .unwrap_or_else(|| panic!("{m} {template} answered {status}, which is not documented"));
        let value = match documented.get("content").and_then(Value::as_object) {
            None => {
                assert!(
                    text.is_empty(),
                    "{m} {template} {status}: undocumented body {text}"
                );
                Value::Null
            }
            Some(content) => {
                let (media, spec) = content.iter().next().expect("one media type");
                let got = content_type.unwrap_or_default();
                if media != "*/*" {
                    assert_eq!(&got, media, "{m} {template} {status}: content type");
                }
                if media.starts_with("application/json") {
                    let value: Value = serde_json::from_str(&text).expect("a JSON body");
                    self.validate(&spec["schema"], &value, &format!("{m} {template} {status}"));
                    value
                } else {
                    Value::String(text)
                }
            }
        };
        self.exercised
            .lock()
            .expect("lock")
            .insert((m, template.to_owned()));
        (status, value)
    }

    fn validate(&self, schema: &Value, instance: &Value, what: &str) {
        let mut root = schema.clone();
        let obj = root.as_object_mut().expect("a schema object");
        obj.insert(
            "$schema".into(),
            json!("https://json-schema.org/draft/2020-12/schema"),
        );
        obj.insert("components".into(), json!({"schemas": self.schemas}));
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .build(&root)
            .unwrap_or_else(|e| panic!("{what}: the document's schema does not compile: {e}"));
        let errors: Vec<String> = validator
            .iter_errors(instance)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{what}: the answer does not match the document:\n{}\n{instance:#}",
            errors.join("\n")
        );
    }
}

/// `schemas` with `unevaluatedProperties: false` on every object schema
/// that is not itself part of an `allOf` (there it would refuse its
/// siblings' properties), so an undocumented field in an answer fails.
fn strict(schemas: &Value) -> Value {
    fn all_of_members(v: &Value, out: &mut BTreeSet<String>) {
        match v {
            Value::Object(o) => {
                if let Some(Value::Array(parts)) = o.get("allOf") {
                    for p in parts {
                        if let Some(r) = p["$ref"].as_str() {
                            out.insert(r.rsplit('/').next().unwrap_or_default().to_owned());
                        }
                    }
                }
                o.values().for_each(|x| all_of_members(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| all_of_members(x, out)),
            _ => {}
        }
    }
    let mut members = BTreeSet::new();
    all_of_members(schemas, &mut members);
    let mut out = schemas.clone();
    for (name, schema) in out.as_object_mut().expect("schemas").iter_mut() {
        let o = schema.as_object_mut().expect("schema object");
        if !members.contains(name) && (o.contains_key("properties") || o.contains_key("allOf")) {
            o.insert("unevaluatedProperties".into(), json!(false));
        }
    }
    out
}

/// Every `$ref` in `v`.
fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            if let Some(Value::String(r)) = o.get("$ref") {
                out.push(r.clone());
            }
            o.values().for_each(|x| refs(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

#[tokio::test]
async fn the_document_is_valid_openapi_3_1() {
    let app = spawn_app().await;
    let c = Contract::fetch(&app).await;
    let text = serde_json::to_string(&c.doc).expect("json");
    let spec = oas3::from_json(&text).expect("an OpenAPI 3.1 document");
    let version = spec.validate_version().expect("a supported version");
    assert_eq!((version.major, version.minor), (3, 1));

    let mut ids = BTreeMap::new();
    for (path, method, op) in spec.operations() {
        let id = op.operation_id.clone().expect("every operation has an id");
        assert!(
            ids.insert(id.clone(), format!("{method} {path}")).is_none(),
            "operationId {id} is used twice"
        );
        assert!(op.summary.is_some(), "{method} {path} has no summary");
        assert!(
            !op.responses.as_ref().is_none_or(|r| r.is_empty()),
            "{method} {path}"
        );
    }
    assert_eq!(ids.len(), c.operations().len());

    let mut all = Vec::new();
    refs(&c.doc, &mut all);
    assert!(!all.is_empty());
    for r in &all {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("unexpected reference {r}"));
        assert!(
            c.doc["components"]["schemas"].get(name).is_some(),
            "{r} resolves to nothing"
        );
    }
    // Every schema compiles as JSON Schema 2020-12.
    for name in c.doc["components"]["schemas"]
        .as_object()
        .expect("schemas")
        .keys()
    {
        let root = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$ref": format!("#/components/schemas/{name}"),
            "components": {"schemas": c.schemas},
        });
        jsonschema::draft202012::new(&root).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

/// The methods of a path that the router answers, probed with fresh ids.
#[tokio::test]
async fn every_documented_route_is_served_and_no_undocumented_method_is() {
    let app = spawn_app().await;
    let c = Contract::fetch(&app).await;
    let documented = c.operations();
    let paths: BTreeSet<&String> = documented.iter().map(|(_, p)| p).collect();
    let id = uuid::Uuid::now_v7().to_string();
    for template in paths {
        let path: String = template
            .split('/')
            .map(|seg| match seg {
                "{username}" => "nobody",
                s if s.starts_with('{') => id.as_str(),
                s => s,
            })
            .collect::<Vec<_>>()
            .join("/");
        for m in METHODS {
            let method = Method::from_bytes(m.to_uppercase().as_bytes()).expect("method");
            let r = app
                .http
                .request(method, app.url(&path))
                .send()
                .await
                .expect("send");
            let status = r.status();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            let code = body["error"]["code"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if documented.contains(&(m.to_owned(), template.clone())) {
                assert!(
                    code != "NOT_FOUND" && code != "METHOD_NOT_ALLOWED",
                    "{m} {path}: documented but answered {status} {body}"
                );
            } else {
                assert_eq!(
                    (status, code.as_str()),
                    (StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED"),
                    "{m} {path} is served but not documented"
                );
            }
        }
    }
}

/// The routes exist only through `utoipa_axum::routes!`, which registers a
/// handler at the path its documentation gives: no plain axum route may
/// slip in beside them (the demo's static files aside, and `nest.rs`, which
/// mounts the whole chat in the host application's router).
#[test]
fn no_route_is_registered_without_its_documentation() {
    fn scan(dir: &std::path::Path, found: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                scan(&path, found);
            } else if path
                .file_name()
                .is_some_and(|n| n != "web.rs" && n != "nest.rs")
            {
                let text = std::fs::read_to_string(&path).expect("read");
                for needle in [
                    ".route(",
                    ".route_service(",
                    ".nest_service(",
                    "Router::new()",
                ] {
                    // `OpenApiRouter::new()` contains `Router::new()`:
                    // only the plain ones count.
                    let plain = text.matches(needle).count()
                        - text.matches(&format!("OpenApi{needle}")).count();
                    if plain > 0 {
                        found.push(format!("{}: {needle}", path.display()));
                    }
                }
            }
        }
    }
    let mut found = Vec::new();
    scan(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut found,
    );
    assert!(found.is_empty(), "undocumented routes: {found:#?}");
}

#[tokio::test]
async fn every_operation_answers_as_documented() {
    // `root` holds the admin role, for the admin API.
    let app = spawn_app_custom(chat_server::HttpSettings::default(), |b| {
        b.admin_config(chat_core::AdminConfig {
            usernames: vec![chat_core::Username::parse("root").expect("username")],
        })
    })
    .await;
    let c = Contract::fetch(&app).await;
    use Method as M;
    let none: &[(&str, &str)] = &[];

    // Meta.
    c.call(M::GET, "/api/v1/openapi.json", none, "", None, None)
        .await;
    c.call(M::GET, "/healthz", none, "", None, None).await;
    c.call(M::GET, "/readyz", none, "", None, None).await;
    let (_, text) = c.call(M::GET, "/metrics", none, "", None, None).await;
    assert!(
        text.as_str()
            .is_some_and(|t| t.contains("chat_connections"))
    );
    let (status, _) = c.call(M::GET, "/ws", none, "", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Accounts.
    let signup = |name: &str| {
        let body = json!({"username": name, "email": format!("{name}@example.com"),
               "password": password_of(name), "display_name": name.to_uppercase()});
        c.call(M::POST, "/api/v1/auth/signup", none, "", None, Some(body))
    };
    let (status, body) = signup("alice").await;
    assert_eq!(status, StatusCode::CREATED);
    let alice = tokens(&body);
    let bob = tokens(&signup("bob").await.1);
    assert_eq!(signup("bob").await.0, StatusCode::CONFLICT);
    let carol = tokens(&signup("carol").await.1);
    let login = json!({"username": "alice", "password": password_of("alice")});
    let (status, _) = c
        .call(M::POST, "/api/v1/auth/login", none, "", None, Some(login))
        .await;
    assert_eq!(status, StatusCode::OK);
    let wrong = json!({"username": "alice", "password": "not it at all 1!"});
    let (status, _) = c
        .call(M::POST, "/api/v1/auth/login", none, "", None, Some(wrong))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let a = Some(alice.access.as_str());
    c.call(M::GET, "/api/v1/auth/session/check", none, "", a, None)
        .await;
    let (status, _) = c
        .call(M::GET, "/api/v1/auth/session/check", none, "", None, None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    c.call(M::GET, "/api/v1/auth/me", none, "", a, None).await;

    // Users.
    c.call(M::GET, "/api/v1/users/search", none, "?q=bo", a, None)
        .await;
    let (status, _) = c
        .call(M::GET, "/api/v1/users/search", none, "?q=", a, None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let bob_id = [("user_id", bob.user_id.as_str())];
    c.call(M::GET, "/api/v1/users/{user_id}", &bob_id, "", a, None)
        .await;
    let ghost = uuid::Uuid::now_v7().to_string();
    let (status, _) = c
        .call(
            M::GET,
            "/api/v1/users/{user_id}",
            &[("user_id", &ghost)],
            "",
            a,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    c.call(
        M::PUT,
        "/api/v1/users/me",
        none,
        "",
        a,
        Some(json!({"display_name": null})),
    )
    .await;

    // Direct messages.
    let send =
        json!({"recipient_id": bob.user_id, "content": "hi <b>bob</b>", "client_msg_id": "c-1"});
    let (status, sent) = c
        .call(
            M::POST,
            "/api/v1/messages/send",
            none,
            "",
            a,
            Some(send.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = c
        .call(M::POST, "/api/v1/messages/send", none, "", a, Some(send))
        .await;
    assert_eq!(status, StatusCode::OK);
    c.call(
        M::GET,
        "/api/v1/messages/conversation/{user_id}",
        &bob_id,
        "?limit=10",
        a,
        None,
    )
    .await;
    let b = Some(bob.access.as_str());
    let (_, unread) = c
        .call(M::GET, "/api/v1/messages/unread", none, "", b, None)
        .await;
    assert_eq!(unread["total"], 1);

    // Conversations.
    let (_, list) = c
        .call(M::GET, "/api/v1/conversations", none, "", a, None)
        .await;
    assert_eq!(list["conversations"].as_array().map(Vec::len), Some(1));
    c.call(
        M::GET,
        "/api/v1/conversations",
        none,
        "?kind=group",
        a,
        None,
    )
    .await;
    let carol_name = [("username", "carol")];
    let (status, _) = c
        .call(
            M::POST,
            "/api/v1/conversations/direct/{username}",
            &carol_name,
            "",
            a,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, opened) = c
        .call(
            M::POST,
            "/api/v1/conversations/direct/{username}",
            &carol_name,
            "",
            a,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let conv = sent["conversation_id"]
        .as_str()
        .expect("conversation_id")
        .to_owned();
    let cid = [("conversation_id", conv.as_str())];
    c.call(
        M::GET,
        "/api/v1/conversations/{conversation_id}",
        &cid,
        "",
        a,
        None,
    )
    .await;
    let stranger = [(
        "conversation_id",
        opened["conversation_id"].as_str().expect("id"),
    )];
    let (status, _) = c
        .call(
            M::GET,
            "/api/v1/conversations/{conversation_id}",
            &stranger,
            "",
            b,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let msgs = "/api/v1/conversations/{conversation_id}/messages";
    let (status, hello) = c
        .call(
            M::POST,
            msgs,
            &cid,
            "",
            b,
            Some(json!({"content": "hello"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, page) = c.call(M::GET, msgs, &cid, "?limit=1", a, None).await;
    assert_eq!(page["has_more"], true);
    let read = "/api/v1/conversations/{conversation_id}/read";
    c.call(M::POST, read, &cid, "", b, None).await;
    let first = json!({"message_id": sent["message_id"]});
    c.call(M::POST, read, &cid, "", a, Some(first)).await;
    let receipts = [
        ("conversation_id", conv.as_str()),
        ("message_id", sent["message_id"].as_str().expect("id")),
    ];
    let (_, got) = c
        .call(
            M::GET,
            "/api/v1/conversations/{conversation_id}/messages/{message_id}/receipts",
            &receipts,
            "",
            a,
            None,
        )
        .await;
    assert!(got["receipts"][0]["read_at"].is_string());

    // Changing messages: b's own "hello".
    let message = "/api/v1/conversations/{conversation_id}/messages/{message_id}";
    let hello_ids = [
        ("conversation_id", conv.as_str()),
        ("message_id", hello["message_id"].as_str().expect("id")),
    ];
    let edit = Some(json!({"content": "hello!"}));
    let (status, _) = c
        .call(M::PATCH, message, &hello_ids, "", a, edit.clone())
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "not a's message");
    let (status, edited) = c.call(M::PATCH, message, &hello_ids, "", b, edit).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(edited["change"]["change"], "edited");
    let search = "/api/v1/search/messages";
    let (status, found) = c.call(M::GET, search, &[], "?q=hello", a, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!found["results"].as_array().expect("results").is_empty());
    let (status, _) = c.call(M::GET, search, &[], "?q=%3F", a, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Attachments.
    let mut png = std::io::Cursor::new(Vec::new());
    image::RgbImage::from_pixel(40, 30, image::Rgb([1, 2, 3]))
        .write_to(&mut png, image::ImageFormat::Png)
        .expect("encode");
    let uploads = "/api/v1/attachments";
    let (status, file) = c
        .call_bytes(
            uploads,
            "?filename=dot.png",
            &alice.access,
            png.into_inner(),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = c
        .call_bytes(uploads, "?filename=a%2Fb", &alice.access, b"x".to_vec())
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let file_id = [("attachment_id", file["attachment_id"].as_str().expect("id"))];
    let original = "/api/v1/attachments/{attachment_id}";
    let (status, _) = c.call(M::GET, original, &file_id, "", a, None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = c.call(M::GET, original, &file_id, "", b, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not sent to bob");
    let preview = "/api/v1/attachments/{attachment_id}/preview";
    let (status, _) = c.call(M::GET, preview, &file_id, "", a, None).await;
    assert_eq!(status, StatusCode::OK);
    // Push subscriptions (this server keeps its pushes in memory: no key).
    let (status, config) = c
        .call(M::GET, "/api/v1/push/config", none, "", None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(config["vapid_public_key"].is_null());
    let subs = "/api/v1/push/subscriptions";
    let device = json!({
        "endpoint": "https://push.example/device",
        "keys": {"p256dh": format!("BA{}", "A".repeat(85)), "auth": "AAAAAAAAAAAAAAAAAAAAAA"},
    });
    let (status, sub) = c.call(M::POST, subs, none, "", a, Some(device)).await;
    assert_eq!(status, StatusCode::CREATED);
    let bad = json!({"endpoint": "ftp://x", "keys": {"p256dh": "", "auth": ""}});
    let (status, _) = c.call(M::POST, subs, none, "", a, Some(bad)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    c.call(M::GET, subs, none, "", a, None).await;
    let sub_id = [("subscription_id", sub["id"].as_str().expect("id"))];
    let one = "/api/v1/push/subscriptions/{subscription_id}";
    let level = Some(json!({"level": "mentions"}));
    let (status, _) = c.call(M::PATCH, one, &sub_id, "", a, level).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = c.call(M::DELETE, one, &sub_id, "", b, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not bob's");
    let (status, _) = c.call(M::DELETE, one, &sub_id, "", a, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let reaction =
        "/api/v1/conversations/{conversation_id}/messages/{message_id}/reactions/{emoji}";
    let thumbs = [hello_ids[0], hello_ids[1], ("emoji", "%F0%9F%91%8D")];
    let (status, _) = c.call(M::PUT, reaction, &thumbs, "", a, None).await;
    assert_eq!(status, StatusCode::OK);
    let unknown = [hello_ids[0], hello_ids[1], ("emoji", "nope")];
    let (status, _) = c.call(M::PUT, reaction, &unknown, "", a, None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = c.call(M::DELETE, reaction, &thumbs, "", a, None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, deleted) = c.call(M::DELETE, message, &hello_ids, "", b, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(deleted["message"]["deleted_at"].is_string());
    let (status, _) = c.call(M::DELETE, message, &hello_ids, "", b, None).await;
    assert_eq!(status, StatusCode::CONFLICT);

    // Groups.
    let (status, group) = c
        .call(
            M::POST,
            "/api/v1/groups",
            none,
            "",
            a,
            Some(json!({"name": "team", "member_ids": [bob.user_id]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let gid = group["group_id"].as_str().expect("group_id").to_owned();
    let g = [("group_id", gid.as_str())];
    c.call(M::GET, "/api/v1/groups/my", none, "", a, None).await;
    c.call(M::GET, "/api/v1/groups/{group_id}", &g, "", b, None)
        .await;
    let (_, added) = c
        .call(
            M::POST,
            "/api/v1/groups/{group_id}/members",
            &g,
            "",
            a,
            Some(json!({"user_ids": [carol.user_id]})),
        )
        .await;
    assert_eq!(added["added"], json!([carol.user_id]));
    let gm = "/api/v1/groups/{group_id}/messages";
    let (status, to_all) = c
        .call(M::POST, gm, &g, "", b, Some(json!({"content": "to all"})))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    c.call(M::GET, gm, &g, "", Some(&carol.access), None).await;
    let member = "/api/v1/groups/{group_id}/members/{user_id}";
    let carol_in = [
        ("group_id", gid.as_str()),
        ("user_id", carol.user_id.as_str()),
    ];
    let (status, _) = c
        .call(
            M::PATCH,
            member,
            &carol_in,
            "",
            b,
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    c.call(
        M::PATCH,
        member,
        &carol_in,
        "",
        a,
        Some(json!({"role": "admin"})),
    )
    .await;
    let alice_in = [
        ("group_id", gid.as_str()),
        ("user_id", alice.user_id.as_str()),
    ];
    let (_, left) = c.call(M::DELETE, member, &alice_in, "", a, None).await;
    assert_eq!(left["new_owner"], json!(carol.user_id));

    // Blocks, mute, posting policy and reports (Carol owns the group now).
    let block = "/api/v1/users/me/blocks/{user_id}";
    let (status, _) = c.call(M::PUT, block, &bob_id, "", a, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, blocks) = c
        .call(M::GET, "/api/v1/users/me/blocks", none, "", a, None)
        .await;
    assert_eq!(blocks["blocks"][0]["user_id"], json!(bob.user_id));
    let to_bob = json!({"recipient_id": bob.user_id, "content": "blocked?"});
    let (status, _) = c
        .call(M::POST, "/api/v1/messages/send", none, "", a, Some(to_bob))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = c.call(M::DELETE, block, &bob_id, "", a, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let mute = "/api/v1/conversations/{conversation_id}/mute";
    let in_group = [("conversation_id", gid.as_str())];
    let (_, muted) = c.call(M::PUT, mute, &in_group, "", b, None).await;
    assert_eq!(muted["muted"], true);
    c.call(M::DELETE, mute, &in_group, "", b, None).await;
    let settings = "/api/v1/groups/{group_id}";
    let admins_only = Some(json!({"posting": "admins"}));
    let (status, _) = c
        .call(M::PATCH, settings, &g, "", b, admins_only.clone())
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let cr = Some(carol.access.as_str());
    let (_, updated) = c.call(M::PATCH, settings, &g, "", cr, admins_only).await;
    assert_eq!(updated["posting"], "admins");
    let reports = "/api/v1/conversations/{conversation_id}/messages/{message_id}/reports";
    let to_all_ids = [
        ("conversation_id", gid.as_str()),
        ("message_id", to_all["message_id"].as_str().expect("id")),
    ];
    let reason = Some(json!({"reason": "spam"}));
    let (status, _) = c
        .call(M::POST, reports, &to_all_ids, "", cr, reason.clone())
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = c.call(M::POST, reports, &to_all_ids, "", cr, reason).await;
    assert_eq!(status, StatusCode::OK, "reported before");

    // The admin API.
    let root = tokens(&signup("root").await.1);
    let r = Some(root.access.as_str());
    let (status, _) = c
        .call(M::GET, "/api/v1/admin/users", none, "", a, None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, users) = c
        .call(
            M::GET,
            "/api/v1/admin/users",
            none,
            "?q=b&include_inactive=true",
            r,
            None,
        )
        .await;
    assert_eq!(users["users"][0]["username"], "bob");
    let user = "/api/v1/admin/users/{user_id}";
    let (_, bob_now) = c
        .call(
            M::PATCH,
            user,
            &bob_id,
            "",
            r,
            Some(json!({"is_active": true})),
        )
        .await;
    assert_eq!(bob_now["is_active"], true);
    let (_, listed) = c
        .call(
            M::GET,
            "/api/v1/admin/reports",
            none,
            "?status=open",
            r,
            None,
        )
        .await;
    let report_id = listed["reports"][0]["report_id"].as_str().expect("id");
    let (_, resolved) = c
        .call(
            M::POST,
            "/api/v1/admin/reports/{report_id}/resolve",
            &[("report_id", report_id)],
            "",
            r,
            None,
        )
        .await;
    assert_eq!(resolved["status"], "resolved");
    // Bots.
    let (status, bot) = c
        .call(
            M::POST,
            "/api/v1/admin/bots",
            none,
            "",
            r,
            Some(json!({"username": "buildbot"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let bot_id = [("user_id", bot["user_id"].as_str().expect("id"))];
    let tokens = "/api/v1/admin/bots/{user_id}/tokens";
    let (status, _) = c
        .call(M::POST, tokens, &bot_id, "", r, Some(json!({"name": "ci"})))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    // Webhooks (this server keeps its deliveries in memory).
    let hooks = "/api/v1/admin/webhooks";
    let new_hook = json!({"url": "https://hooks.example/in", "events": ["message.created"]});
    let (status, hook) = c.call(M::POST, hooks, none, "", r, Some(new_hook)).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = c
        .call(
            M::POST,
            hooks,
            none,
            "",
            r,
            Some(json!({"url": "x", "events": []})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    c.call(M::GET, hooks, none, "", r, None).await;
    let hook_id = [("webhook_id", hook["webhook_id"].as_str().expect("id"))];
    let letters = "/api/v1/admin/webhooks/{webhook_id}/dead-letters";
    let (status, _) = c
        .call(M::GET, letters, &hook_id, "?limit=10", r, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let unknown_letter = uuid::Uuid::now_v7().to_string();
    let letter_ids = [hook_id[0], ("dead_letter_id", unknown_letter.as_str())];
    let replay = "/api/v1/admin/webhooks/{webhook_id}/dead-letters/{dead_letter_id}/replay";
    let (status, _) = c.call(M::POST, replay, &letter_ids, "", r, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let one_hook = "/api/v1/admin/webhooks/{webhook_id}";
    let (status, _) = c.call(M::DELETE, one_hook, &hook_id, "", r, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = c
        .call(
            M::DELETE,
            "/api/v1/admin/conversations/{conversation_id}/messages/{message_id}",
            &to_all_ids,
            "",
            r,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let carol_id = [("user_id", carol.user_id.as_str())];
    let (status, _) = c
        .call(
            M::DELETE,
            "/api/v1/admin/users/{user_id}/sessions",
            &carol_id,
            "",
            r,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // Sessions and passwords, last: they end sessions.
    let refresh = json!({"refresh_token": alice.refresh});
    let (status, _) = c
        .call(
            M::POST,
            "/api/v1/auth/session/refresh",
            none,
            "",
            None,
            Some(refresh.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // Past the grace window for racing refreshes.
    app.advance(std::time::Duration::from_secs(6));
    let (status, _) = c
        .call(
            M::POST,
            "/api/v1/auth/session/refresh",
            none,
            "",
            None,
            Some(refresh),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a spent refresh token");
    let (_, pair) = c
        .call(
            M::POST,
            "/api/v1/auth/login",
            none,
            "",
            None,
            Some(json!({"username": "bob@example.com", "password": password_of("bob")})),
        )
        .await;
    c.call(
        M::POST,
        "/api/v1/auth/logout",
        none,
        "",
        None,
        Some(json!({"refresh_token": pair["refresh_token"]})),
    )
    .await;
    let forgot = json!({"email": "carol@example.com"});
    let (status, _) = c
        .call(
            M::POST,
            "/api/v1/auth/forgot-password",
            none,
            "",
            None,
            Some(forgot),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let token = token_from(&app.mailer.wait_for(1).await[0].body);
    let reset = json!({"token": token, "new_password": "a new one 2!"});
    let (status, _) = c
        .call(
            M::POST,
            "/api/v1/auth/reset-password",
            none,
            "",
            None,
            Some(reset.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = c
        .call(
            M::POST,
            "/api/v1/auth/reset-password",
            none,
            "",
            None,
            Some(reset),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a reset token works once");

    let exercised = c.exercised.lock().expect("lock").clone();
    let missing: Vec<_> = c.operations().difference(&exercised).cloned().collect();
    assert!(missing.is_empty(), "operations never called: {missing:?}");
}
