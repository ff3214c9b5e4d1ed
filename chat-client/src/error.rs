//! [`ClientError`]: every way a call can fail, each with a stable code.

use serde::Deserialize;
use tokio_tungstenite::tungstenite;

/// A `Result` whose error is [`ClientError`] unless told otherwise.
pub type Result<T, E = ClientError> = std::result::Result<T, E>;

/// Why a call failed.
///
/// [`code`](Self::code) gives a stable machine code: the server's own code
/// for [`Api`](Self::Api) (`USERNAME_TAKEN`, `INVALID_TOKEN`, ...), and a
/// fixed one for each other variant.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The HTTP request could not be made or its answer could not be read
    /// (connection refused, reset, timeout). Code `HTTP`.
    #[error("HTTP request failed: {0}")]
    Http(#[from] reqwest::Error),
    /// The server answered with an error status, REST or during the
    /// WebSocket upgrade. The code is the server's.
    #[error("{code} ({status}): {message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// The server's stable machine code, or `UNAUTHENTICATED` (401) and
        /// `HTTP_ERROR` (any other status) when the body had none.
        code: String,
        /// What went wrong, for people.
        message: String,
    },
    /// The WebSocket failed after the upgrade, or could not be opened for
    /// a reason other than an HTTP answer (connection refused). Code
    /// `WEBSOCKET`.
    #[error("WebSocket failed: {0}")]
    WebSocket(tungstenite::Error),
    /// An answer or frame was not what the protocol says. Code `DECODE`.
    #[error("cannot decode the server's answer: {0}")]
    Decode(String),
    /// The server closed the WebSocket with a code other than 1000 (see
    /// `chat_types::protocol::close`). Code `CLOSED`.
    #[error("the server closed the connection ({code:?}): {reason}")]
    Closed {
        /// The close code, when the close frame had one.
        code: Option<u16>,
        /// The reason the server gave.
        reason: String,
    },
    /// The base URL cannot be used. Code `INVALID_URL`.
    #[error("invalid URL: {0}")]
    InvalidUrl(String),
    /// A local file to upload, or the writer of a download, failed. Code
    /// `IO`.
    #[error("I/O failed: {0}")]
    Io(#[from] std::io::Error),
}

impl ClientError {
    /// The stable machine code: the server's for [`Api`](Self::Api),
    /// otherwise `HTTP`, `WEBSOCKET`, `DECODE`, `CLOSED`, `INVALID_URL` or
    /// `IO`.
    pub fn code(&self) -> &str {
        match self {
            Self::Http(_) => "HTTP",
            Self::Api { code, .. } => code,
            Self::WebSocket(_) => "WEBSOCKET",
            Self::Decode(_) => "DECODE",
            Self::Closed { .. } => "CLOSED",
            Self::InvalidUrl(_) => "INVALID_URL",
            Self::Io(_) => "IO",
        }
    }

    /// The HTTP status of an [`Api`](Self::Api) error.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } => Some(*status),
            Self::Http(e) => e.status().map(|s| s.as_u16()),
            _ => None,
        }
    }

    /// The error for an HTTP answer with an error `status` and `body`. The
    /// body is read as `{"error": {"code", "message"}}` when it is one.
    pub(crate) fn from_response(status: u16, body: &[u8]) -> Self {
        #[derive(Deserialize)]
        struct Envelope {
            error: Inner,
        }
        #[derive(Deserialize)]
        struct Inner {
            code: String,
            #[serde(default)]
            message: String,
        }
        match serde_json::from_slice::<Envelope>(body) {
            Ok(Envelope { error }) => Self::Api {
                status,
                code: error.code,
                message: error.message,
            },
            Err(_) => {
                let code = if status == 401 {
                    "UNAUTHENTICATED"
                } else {
                    "HTTP_ERROR"
                };
                let text = String::from_utf8_lossy(body);
                let message = if text.trim().is_empty() {
                    format!("the server answered HTTP {status}")
                } else {
                    truncate(text.trim(), 200)
                };
                Self::Api {
                    status,
                    code: code.to_owned(),
                    message,
                }
            }
        }
    }

    /// A [`Decode`](Self::Decode) error for `what` that failed on `text`.
    pub(crate) fn decode(what: &str, error: &serde_json::Error, text: &[u8]) -> Self {
        let text = String::from_utf8_lossy(text);
        Self::Decode(format!("{what}: {error}: {}", truncate(&text, 200)))
    }
}

/// A refused WebSocket upgrade (an HTTP answer) becomes [`ClientError::Api`]
/// with the server's code; every other tungstenite error is
/// [`ClientError::WebSocket`].
impl From<tungstenite::Error> for ClientError {
    fn from(e: tungstenite::Error) -> Self {
        match e {
            tungstenite::Error::Http(response) => {
                let status = response.status().as_u16();
                let body = response.body().as_deref().unwrap_or_default();
                Self::from_response(status, body)
            }
            other => Self::WebSocket(other),
        }
    }
}

/// At most `max` characters of `text`, with `...` when cut.
fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_body_gives_its_code() {
        let e = ClientError::from_response(
            409,
            br#"{"error":{"code":"USERNAME_TAKEN","message":"taken","field":"username"}}"#,
        );
        assert_eq!(e.code(), "USERNAME_TAKEN");
        assert_eq!(e.status(), Some(409));
    }

    #[test]
    fn a_body_without_a_code_falls_back_on_the_status() {
        assert_eq!(
            ClientError::from_response(401, b"").code(),
            "UNAUTHENTICATED"
        );
        let e = ClientError::from_response(502, b"<html>bad gateway</html>");
        assert_eq!(e.code(), "HTTP_ERROR");
        assert!(e.to_string().contains("bad gateway"));
    }

    #[test]
    fn fixed_codes() {
        assert_eq!(ClientError::Decode("x".into()).code(), "DECODE");
        assert_eq!(ClientError::InvalidUrl("x".into()).code(), "INVALID_URL");
        let closed = ClientError::Closed {
            code: Some(4001),
            reason: "access token expired".into(),
        };
        assert_eq!(closed.code(), "CLOSED");
        let ws = ClientError::from(tungstenite::Error::ConnectionClosed);
        assert_eq!(ws.code(), "WEBSOCKET");
    }

    #[test]
    fn truncation_respects_characters() {
        assert_eq!(truncate("héllo", 2), "hé...");
        assert_eq!(truncate("hé", 2), "hé");
    }
}
