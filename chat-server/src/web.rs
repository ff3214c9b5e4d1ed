//! The browser demo at `/`: static pages compiled into the binary.
//!
//! The files live in `chat-server/web/` and are embedded with
//! `include_bytes!`, so `cargo run -p chat-server` serves them with no other
//! step and a deployed binary can never serve pages from another version.
//!
//! Every page is served with a Content-Security-Policy that allows scripts,
//! styles and connections from the page's own origin only: no inline
//! script, no `eval`, no plugin, no framing. User content is rendered with
//! `textContent` by the scripts themselves; the policy is the second wall.
//!
//! The file names carry no version, so caches must revalidate: each answer
//! has `Cache-Control: no-cache` and a strong `ETag` (a hash of the file),
//! and a request whose `If-None-Match` matches gets `304 Not Modified`.
//!
//! The pages use relative URLs for the API and the WebSocket, so the demo
//! also works when an application nests the chat router under a path of its
//! own.

use std::sync::LazyLock;

use axum::Router;
use axum::body::Body;
use axum::extract::OriginalUri;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::state::AppState;

/// The policy every demo file is served with. Images may also be `blob:`
/// URLs: attachments are fetched with the token and shown through object
/// URLs, since an `<img src>` cannot send the `Authorization` header. The
/// one worker is the demo's own service worker (`sw.js`, notifications);
/// `worker-src` says so rather than leaving it to the `script-src` fallback.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; \
     worker-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// One embedded file.
struct Asset {
    /// The path it is served at.
    path: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

macro_rules! asset {
    ($file:literal, $type:expr) => {
        Asset {
            path: concat!("/", $file),
            content_type: $type,
            bytes: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/web/", $file)),
        }
    };
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// Every file of the demo. `index.html` is also served at `/`.
static ASSETS: &[Asset] = &[
    asset!("index.html", HTML),
    asset!("chat.html", HTML),
    asset!("style.css", CSS),
    asset!("app.js", JS),
    asset!("login.js", JS),
    asset!("api.js", JS),
    asset!("socket.js", JS),
    asset!("dom.js", JS),
    asset!("conversation.js", JS),
    asset!("message.js", JS),
    asset!("autocomplete.js", JS),
    asset!("groups.js", JS),
    asset!("settings.js", JS),
    asset!("timeline.js", JS),
    asset!("badge.js", JS),
    asset!("search.js", JS),
    asset!("blocks.js", JS),
    asset!("gate.js", JS),
    asset!("dialogs.js", JS),
    asset!("admin.js", JS),
    asset!("attachments.js", JS),
    asset!("notifications.js", JS),
    // The service worker sits beside the pages: a worker's scope is at most
    // its own directory, and this one must cover `chat.html`, also under a
    // nested prefix (`/chat/sw.js` for `/chat/chat.html`).
    asset!("sw.js", JS),
    asset!("favicon.svg", "image/svg+xml"),
];

/// Strong ETags of [`ASSETS`], in the same order, computed once.
static ETAGS: LazyLock<Vec<HeaderValue>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|asset| {
            let digest = Sha256::digest(asset.bytes);
            let tag = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16]);
            HeaderValue::try_from(format!("\"{tag}\"")).unwrap_or(HeaderValue::from_static("\"\""))
        })
        .collect()
});

/// The demo's routes: `/` (the login page) and every embedded file.
pub fn router() -> Router<AppState> {
    let mut router = Router::new().route("/", get(root));
    for (index, asset) in ASSETS.iter().enumerate() {
        router = router.route(
            asset.path,
            get(move |headers: HeaderMap| async move { serve(index, &headers) }),
        );
    }
    router
}

/// `/` is the login page. Nested under a prefix
/// ([`NestChat::nest_chat`](crate::NestChat::nest_chat)), the router sees
/// both `/chat` and `/chat/` as its `/`; the pages use relative URLs, which
/// only resolve under the prefix from `/chat/...`, so `/chat` is sent to
/// `/chat/index.html`.
async fn root(OriginalUri(uri): OriginalUri, headers: HeaderMap) -> Response {
    let path = uri.path();
    if path.ends_with('/') {
        return serve(0, &headers);
    }
    match HeaderValue::try_from(format!("{path}/index.html")) {
        Ok(location) => (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response(),
        Err(_) => serve(0, &headers),
    }
}

fn serve(index: usize, request: &HeaderMap) -> Response {
    let asset = &ASSETS[index];
    let etag = &ETAGS[index];
    let fresh = request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|candidate| {
            let candidate = candidate.trim();
            candidate == "*" || candidate.trim_start_matches("W/").as_bytes() == etag.as_bytes()
        });
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut response = Response::new(Body::from(asset.bytes));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(asset.content_type),
        );
        response
    };
    let headers = response.headers_mut();
    headers.insert(header::ETAG, etag.clone());
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // The reset link carries its token in the fragment, which browsers
    // never send; no referrer at all keeps page URLs out of other logs too.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_has_a_distinct_path_and_a_quoted_etag() {
        let mut paths: Vec<_> = ASSETS.iter().map(|a| a.path).collect();
        paths.sort_unstable();
        paths.dedup();
        assert_eq!(paths.len(), ASSETS.len());
        for (asset, etag) in ASSETS.iter().zip(ETAGS.iter()) {
            assert!(!asset.bytes.is_empty(), "{} is empty", asset.path);
            let etag = etag.to_str().unwrap_or_default();
            assert!(etag.len() > 2 && etag.starts_with('"') && etag.ends_with('"'));
        }
    }

    #[test]
    fn pages_load_no_inline_script_or_style() {
        for asset in ASSETS.iter().filter(|a| a.content_type == HTML) {
            let page = std::str::from_utf8(asset.bytes).unwrap_or_default();
            for forbidden in ["<script>", "onclick=", "onload=", "style=\"", "<style"] {
                assert!(
                    !page.contains(forbidden),
                    "{} contains {forbidden}, which the CSP refuses",
                    asset.path
                );
            }
        }
    }
}
