//! Attachments over HTTP: upload, send, download, and every way an upload
//! can go wrong (docs/api.md, "Attachments").

use std::io::Cursor;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chat_core::memory::{MemoryBlobStore, MemoryStore};
use chat_core::store::{Blob, BlobEntry, BlobKey, BlobStore};
use chat_core::{AttachmentConfig, ChatError, RateLimit, Timestamp};
use chat_server::HttpSettings;
use chat_server::uploads::UploadSettings;
use image::{ImageFormat, Rgb, RgbImage};
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{TestApp, Tokens, assert_error, read, spawn_app, spawn_app_custom};

/// A blob store that can be switched off, as a backend that went down.
#[derive(Default)]
struct Switchable {
    inner: MemoryBlobStore,
    down: AtomicBool,
}

impl Switchable {
    fn check(&self) -> chat_core::Result<()> {
        if self.down.load(Ordering::SeqCst) {
            return Err(ChatError::StoreUnavailable("the blob store is down".into()));
        }
        Ok(())
    }
}

#[async_trait]
impl BlobStore for Switchable {
    async fn put(
        &self,
        key: &BlobKey,
        body: &mut (dyn AsyncRead + Send + Unpin),
        max_bytes: u64,
    ) -> chat_core::Result<u64> {
        self.check()?;
        self.inner.put(key, body, max_bytes).await
    }

    async fn get(&self, key: &BlobKey) -> chat_core::Result<Option<Blob>> {
        self.check()?;
        self.inner.get(key).await
    }

    async fn delete(&self, key: &BlobKey) -> chat_core::Result<()> {
        self.check()?;
        self.inner.delete(key).await
    }

    async fn list(&self, prefix: &BlobKey) -> chat_core::Result<Vec<BlobEntry>> {
        self.check()?;
        self.inner.list(prefix).await
    }
}

/// Largest upload in the tests that set one.
const SMALL_MAX: u64 = 4 * 1024;

/// Uploads per user an hour in the tests that set it.
const UPLOADS_PER_HOUR: u32 = 12;

/// A server whose uploads may be at most [`SMALL_MAX`] bytes and idle for
/// 300 ms, over `blobs`.
async fn app_over(blobs: Arc<Switchable>) -> TestApp {
    let http = HttpSettings {
        uploads: UploadSettings {
            idle_timeout: Duration::from_millis(300),
            ..UploadSettings::default()
        },
        ..HttpSettings::default()
    };
    let config = AttachmentConfig {
        max_bytes: SMALL_MAX,
        upload_limit: RateLimit::new(UPLOADS_PER_HOUR, Duration::from_secs(3600)),
        ..AttachmentConfig::default()
    };
    spawn_app_custom(http, |b| {
        b.store(Arc::new(MemoryStore::new()))
            .blobs(blobs)
            .attachment_config(config)
    })
    .await
}

async fn upload(
    app: &TestApp,
    who: &Tokens,
    filename: &str,
    bytes: Vec<u8>,
) -> (StatusCode, Value) {
    let r = app
        .http
        .post(app.url("/api/v1/attachments"))
        .query(&[("filename", filename)])
        .bearer_auth(&who.access)
        // Whatever the client claims, the server sniffs.
        .header(header::CONTENT_TYPE, "image/png")
        .body(bytes)
        .send()
        .await
        .expect("upload");
    read(r).await
}

async fn uploaded(app: &TestApp, who: &Tokens, filename: &str, bytes: Vec<u8>) -> Value {
    let (status, body) = upload(app, who, filename, bytes).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

/// `GET path` as `who`: status, headers and bytes.
async fn download(app: &TestApp, who: &Tokens, path: &str) -> (StatusCode, HeaderMap, Vec<u8>) {
    let r = app
        .http
        .get(app.url(path))
        .bearer_auth(&who.access)
        .send()
        .await
        .expect("download");
    let (status, headers) = (r.status(), r.headers().clone());
    let bytes = r.bytes().await.expect("body").to_vec();
    (status, headers, bytes)
}

fn file_path(file: &Value) -> String {
    format!(
        "/api/v1/attachments/{}",
        file["attachment_id"].as_str().expect("an id")
    )
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let image = RgbImage::from_pixel(width, height, Rgb([20, 120, 220]));
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, ImageFormat::Png).expect("encode");
    out.into_inner()
}

async fn send_files(
    app: &TestApp,
    from: &Tokens,
    to: &Tokens,
    files: &[&Value],
) -> (StatusCode, Value) {
    let ids: Vec<&Value> = files.iter().map(|f| &f["attachment_id"]).collect();
    app.post_as(
        &from.access,
        "/api/v1/messages/send",
        json!({"recipient_id": to.user_id, "attachments": ids}),
    )
    .await
}

fn header(headers: &HeaderMap, name: header::HeaderName) -> &str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_file_is_sent_in_a_message_and_downloaded_by_its_members_only() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let carol = app.signup("carol").await;
    let text = "minutes of the meeting\n".repeat(100).into_bytes();
    let file = uploaded(&app, &alice, "minutes.txt", text.clone()).await;
    assert_eq!(file["filename"], "minutes.txt");
    assert_eq!(file["content_type"], "text/plain; charset=utf-8");
    assert_eq!(file["size"], text.len());
    assert_eq!(file["preview"], false);
    assert!(file.get("width").is_none());

    // Before it is sent only its uploader may read it.
    let path = file_path(&file);
    assert_eq!(download(&app, &alice, &path).await.2, text);
    assert_eq!(download(&app, &bob, &path).await.0, StatusCode::NOT_FOUND);

    let (status, sent) = send_files(&app, &alice, &bob, &[&file]).await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    let (_, history) = app
        .get_as(
            &bob.access,
            &format!("/api/v1/messages/conversation/{}", alice.user_id),
        )
        .await;
    assert_eq!(history["messages"][0]["attachments"], json!([file]));
    assert_eq!(history["messages"][0]["content"], "");
    // A device that connects now catches up with the files too.
    let mut bob_ws = app.ws(&bob.access).await;
    let batch = bob_ws.next_of("messages.offline").await;
    assert_eq!(batch["messages"][0]["attachments"], json!([file]));

    let (status, headers, bytes) = download(&app, &bob, &path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bytes, text);
    assert_eq!(
        header(&headers, header::CONTENT_TYPE),
        "text/plain; charset=utf-8"
    );
    assert_eq!(
        header(&headers, header::CONTENT_DISPOSITION),
        "attachment; filename=\"minutes.txt\"; filename*=UTF-8''minutes.txt"
    );
    assert_eq!(header(&headers, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
    assert!(header(&headers, header::CONTENT_SECURITY_POLICY).contains("sandbox"));
    assert_eq!(
        header(&headers, header::CONTENT_LENGTH),
        text.len().to_string()
    );

    let (status, _, body) = download(&app, &carol, &path).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let body: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(body["error"]["code"], "ATTACHMENT_NOT_FOUND");
    // Sent once; not again.
    let (status, again) = send_files(&app, &alice, &bob, &[&file]).await;
    assert_error(
        &(status, again),
        StatusCode::NOT_FOUND,
        "ATTACHMENT_NOT_FOUND",
    );
}

#[tokio::test]
async fn an_image_is_measured_and_previewed_and_cached_by_etag() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let image = png(1000, 500);
    let file = uploaded(&app, &alice, "sky.png", image.clone()).await;
    assert_eq!(file["content_type"], "image/png");
    assert_eq!(
        (file["width"].clone(), file["height"].clone()),
        (json!(1000), json!(500))
    );
    assert_eq!(file["preview"], true);
    send_files(&app, &alice, &bob, &[&file]).await;

    let path = file_path(&file);
    let (status, headers, bytes) = download(&app, &bob, &path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bytes, image);
    assert_eq!(header(&headers, header::CONTENT_TYPE), "image/png");
    assert!(header(&headers, header::CONTENT_DISPOSITION).starts_with("inline;"));

    let (status, headers, preview) = download(&app, &bob, &format!("{path}/preview")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&headers, header::CONTENT_TYPE), "image/jpeg");
    let small = image::load_from_memory(&preview).expect("a JPEG");
    assert_eq!((small.width(), small.height()), (320, 160));

    let etag = header(&headers, header::ETAG).to_owned();
    let r = app
        .http
        .get(app.url(&format!("{path}/preview")))
        .bearer_auth(&bob.access)
        .header(header::IF_NONE_MATCH, etag)
        .send()
        .await
        .expect("conditional get");
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
}

#[tokio::test]
async fn an_html_file_is_never_served_as_a_page() {
    let app = spawn_app().await;
    let alice = app.signup("alice").await;
    let page = b"<!DOCTYPE html><html><script>alert(document.cookie)</script></html>".to_vec();
    let file = uploaded(&app, &alice, "invoice.png", page).await;
    let (status, headers, _) = download(&app, &alice, &file_path(&file)).await;
    assert_eq!(status, StatusCode::OK);
    let served = header(&headers, header::CONTENT_TYPE);
    assert!(!served.contains("html"), "{served}");
    assert!(header(&headers, header::CONTENT_DISPOSITION).starts_with("attachment;"));
    assert_eq!(header(&headers, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
    // Not an image, whatever its name and the client's Content-Type say.
    assert!(file.get("width").is_none());
    let (status, _, _) = download(&app, &alice, &format!("{}/preview", file_path(&file))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_uploads_are_refused_with_clear_errors() {
    let blobs = Arc::new(Switchable::default());
    let app = app_over(blobs.clone()).await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;

    let over = vec![b'x'; SMALL_MAX as usize + 1];
    assert_error(
        &upload(&app, &alice, "big.bin", over.clone()).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "ATTACHMENT_TOO_LARGE",
    );
    // Without a Content-Length the server counts as it reads.
    let answer = chunked_upload(&app, &alice, &over).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("ATTACHMENT_TOO_LARGE"), "{answer}");
    assert_error(
        &upload(&app, &alice, "a/b.txt", b"x".to_vec()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "INVALID_FILENAME",
    );
    let r = app
        .http
        .post(app.url("/api/v1/attachments"))
        .bearer_auth(&alice.access)
        .body("x")
        .send()
        .await
        .expect("upload");
    assert_error(&read(r).await, StatusCode::BAD_REQUEST, "INVALID_QUERY");
    let r = app
        .http
        .post(app.url("/api/v1/attachments?filename=a.txt"))
        .body("x")
        .send()
        .await
        .expect("upload");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // Another user's upload, an unknown id, a malformed id.
    let bobs = uploaded(&app, &bob, "bobs.txt", b"bob's".to_vec()).await;
    let (status, body) = send_files(&app, &alice, &bob, &[&bobs]).await;
    assert_error(
        &(status, body),
        StatusCode::NOT_FOUND,
        "ATTACHMENT_NOT_FOUND",
    );
    let unknown = json!({"attachment_id": uuid::Uuid::now_v7()});
    let (status, body) = send_files(&app, &alice, &bob, &[&unknown]).await;
    assert_error(
        &(status, body),
        StatusCode::NOT_FOUND,
        "ATTACHMENT_NOT_FOUND",
    );
    let (status, _, _) = download(&app, &alice, "/api/v1/attachments/nope").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // A deleted message's file is gone for everyone.
    let mine = uploaded(&app, &alice, "mine.txt", b"mine".to_vec()).await;
    let (_, sent) = send_files(&app, &alice, &bob, &[&mine]).await;
    let path = format!(
        "/api/v1/conversations/{}/messages/{}",
        sent["conversation_id"].as_str().expect("conversation"),
        sent["message_id"].as_str().expect("message")
    );
    let (status, _) = app
        .call(reqwest::Method::DELETE, &path, &alice.access, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    for who in [&alice, &bob] {
        let (status, _, _) = download(&app, who, &file_path(&mine)).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    // The blob store down: a clear error, and no record left behind.
    blobs.down.store(true, Ordering::SeqCst);
    assert_error(
        &upload(&app, &alice, "later.txt", b"later".to_vec()).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "STORE_UNAVAILABLE",
    );
    blobs.down.store(false, Ordering::SeqCst);
    assert_eq!(
        unsent_names(&app).await,
        ["bobs.txt"],
        "only bob's unsent upload is recorded"
    );
}

/// The names of the uploads recorded and not sent, any age.
async fn unsent_names(app: &TestApp) -> Vec<String> {
    let unsent = app
        .engine
        .store()
        .unsent_attachments(Timestamp::now().plus(Duration::from_secs(3600 * 24)), 100)
        .await
        .expect("list");
    (unsent.iter())
        .map(|a| a.upload.filename.as_str().to_owned())
        .collect()
}

/// Uploads `bytes` in 1,000-byte chunks with no `Content-Length`, and
/// returns the server's answer.
async fn chunked_upload(app: &TestApp, who: &Tokens, bytes: &[u8]) -> String {
    let mut tcp = TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .expect("connect");
    let head = format!(
        "POST /api/v1/attachments?filename=big.bin HTTP/1.1\r\nHost: chat.test\r\n\
         Authorization: Bearer {}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        who.access
    );
    tcp.write_all(head.as_bytes()).await.expect("head");
    for chunk in bytes.chunks(1000) {
        let framed = [format!("{:x}\r\n", chunk.len()).as_bytes(), chunk, b"\r\n"].concat();
        // The server may answer and close before the last chunk.
        if tcp.write_all(&framed).await.is_err() {
            break;
        }
    }
    let _ = tcp.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

/// Opens a raw upload announcing `length` bytes and sends `sent` of them.
async fn partial_upload(app: &TestApp, who: &Tokens, length: usize, sent: &[u8]) -> TcpStream {
    let mut tcp = TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .expect("connect");
    let head = format!(
        "POST /api/v1/attachments?filename=cut.bin HTTP/1.1\r\nHost: chat.test\r\n\
         Authorization: Bearer {}\r\nContent-Length: {length}\r\n\r\n",
        who.access
    );
    tcp.write_all(head.as_bytes()).await.expect("head");
    tcp.write_all(sent).await.expect("part of the body");
    tcp
}

async fn nothing_recorded(app: &TestApp, blobs: &Switchable) {
    let unsent = unsent_names(app).await;
    assert!(unsent.is_empty(), "{unsent:?}");
    let prefix = BlobKey::new("attachments").expect("key");
    assert!(blobs.list(&prefix).await.expect("list").is_empty());
}

#[tokio::test]
async fn a_cut_off_or_stalled_upload_leaves_nothing() {
    let blobs = Arc::new(Switchable::default());
    let app = app_over(blobs.clone()).await;
    let alice = app.signup("alice").await;

    // The client goes away halfway.
    let tcp = partial_upload(&app, &alice, 2000, &[b'a'; 1000]).await;
    drop(tcp);
    // The stalled one: nothing more arrives, and the server answers 408.
    let mut tcp = partial_upload(&app, &alice, 2000, &[b'b'; 1000]).await;
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut answer))
        .await
        .expect("the server ends a stalled upload")
        .expect("read");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("REQUEST_TIMEOUT"), "{answer}");
    nothing_recorded(&app, &blobs).await;
    // The server still takes uploads.
    uploaded(&app, &alice, "fine.txt", b"fine".to_vec()).await;
}

#[tokio::test]
async fn a_user_past_the_upload_limit_is_refused_before_sending_a_byte() {
    let app = app_over(Arc::new(Switchable::default())).await;
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    for i in 0..UPLOADS_PER_HOUR {
        uploaded(&app, &alice, &format!("{i}.txt"), b"x".to_vec()).await;
    }
    let got = upload(&app, &alice, "one-more.txt", b"x".to_vec()).await;
    assert_error(&got, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED");
    // Per user.
    uploaded(&app, &bob, "mine.txt", b"x".to_vec()).await;
}
