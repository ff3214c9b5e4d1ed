//! The answer to a download: the bytes, streamed, with headers that keep
//! a browser from running them in our origin.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chat_core::AttachmentPart;
use chat_core::model::Attachment;
use chat_core::store::Blob;
use tokio_util::io::ReaderStream;

use super::inspect::{INLINE_IMAGE_TYPES, PREVIEW_TYPE};

/// Types never served as themselves: a browser would run them (HTML,
/// SVG, XML with scripts) if it opened them in our origin.
const ACTIVE_TYPES: [&str; 6] = [
    "text/html",
    "application/xhtml+xml",
    "image/svg+xml",
    "text/xml",
    "application/xml",
    "text/javascript",
];

/// The media type a download is served as, and whether it may show
/// inline: only a measured image of a type browsers show as an image.
/// Anything active is served as `application/octet-stream`.
fn served_as(attachment: &Attachment, part: AttachmentPart) -> (&str, bool) {
    if part == AttachmentPart::Preview {
        return (PREVIEW_TYPE, true);
    }
    let upload = &attachment.upload;
    let essence = upload.content_type.split(';').next().unwrap_or("").trim();
    if ACTIVE_TYPES.contains(&essence) {
        return ("application/octet-stream", false);
    }
    let inline = upload.image.is_some() && INLINE_IMAGE_TYPES.contains(&essence);
    (upload.content_type.as_str(), inline)
}

/// `Content-Disposition` (RFC 6266) for `filename`: an ASCII fallback,
/// and the exact name as UTF-8 in `filename*`.
fn disposition(inline: bool, filename: &str) -> String {
    let kind = if inline { "inline" } else { "attachment" };
    let fallback: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::new();
    for b in filename.bytes() {
        // RFC 5987 attr-char: these go as they are, the rest encoded.
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(char::from(b));
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("{kind}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

/// The answer for `part` of `attachment`, whose bytes are `blob`;
/// `304 Not Modified` when the request's `If-None-Match` names it (an
/// attachment's bytes never change).
pub fn response(
    attachment: &Attachment,
    part: AttachmentPart,
    blob: Blob,
    request: &HeaderMap,
) -> Response {
    let suffix = if part == AttachmentPart::Preview {
        ".preview"
    } else {
        ""
    };
    let etag = format!("\"{}{suffix}\"", attachment.upload.id);
    let mut headers = HeaderMap::new();
    let mut set = |name, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(name, v);
        }
    };
    set(header::ETAG, &etag);
    // Private: only those who may read it get it, so no shared cache.
    set(header::CACHE_CONTROL, "private, max-age=86400, immutable");
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; sandbox",
    );
    let not_modified = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if not_modified {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    let (content_type, inline) = served_as(attachment, part);
    set(header::CONTENT_TYPE, content_type);
    set(
        header::CONTENT_DISPOSITION,
        &disposition(inline, attachment.upload.filename.as_str()),
    );
    set(header::CONTENT_LENGTH, &blob.size.to_string());
    let body = Body::from_stream(ReaderStream::new(blob.reader));
    (StatusCode::OK, headers, body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_name_is_kept_exactly_and_never_breaks_the_header() {
        assert_eq!(
            disposition(false, "report.pdf"),
            "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf"
        );
        assert_eq!(
            disposition(true, "ça \"va\".png"),
            "inline; filename=\"_a _va_.png\"; filename*=UTF-8''%C3%A7a%20%22va%22.png"
        );
    }
}
