//! HTTP plumbing shared by [`ChatClient`](crate::ChatClient) and
//! [`UserClient`](crate::UserClient): the base URL, one connection pool,
//! and turning answers into values or [`ClientError`]s.

use std::net::IpAddr;
use std::sync::Arc;

use reqwest::{Method, RequestBuilder, Url};
use serde::de::DeserializeOwned;

use crate::error::{ClientError, Result};

/// The server's address and the HTTP client every call goes through.
/// Cloning shares the connection pool.
#[derive(Debug, Clone)]
pub(crate) struct Rest {
    http: reqwest::Client,
    /// `http://host:port` plus any path prefix, without a trailing `/`.
    base: Arc<str>,
    /// `ws://host:port/.../ws`.
    ws: Arc<str>,
}

/// A successful answer: its status and body.
pub(crate) struct Answer {
    /// HTTP status (2xx).
    pub(crate) status: u16,
    /// The body, possibly empty.
    pub(crate) body: Vec<u8>,
}

impl Rest {
    /// Checks `base_url` (an `http://` URL, optionally with a path prefix)
    /// and keeps `http` for every request.
    pub(crate) fn new(base_url: &str, http: reqwest::Client) -> Result<Self> {
        let trimmed = base_url.trim().trim_end_matches('/');
        let url = Url::parse(trimmed)
            .map_err(|e| ClientError::InvalidUrl(format!("`{base_url}`: {e}")))?;
        match url.scheme() {
            "http" => {}
            "https" => {
                return Err(ClientError::InvalidUrl(format!(
                    "`{base_url}`: https is not supported; chat-client is built without TLS"
                )));
            }
            other => {
                return Err(ClientError::InvalidUrl(format!(
                    "`{base_url}`: expected an http:// URL, not {other}://"
                )));
            }
        }
        if url.host().is_none() || url.query().is_some() || url.fragment().is_some() {
            return Err(ClientError::InvalidUrl(format!(
                "`{base_url}`: expected http://host[:port][/prefix] without query or fragment"
            )));
        }
        let mut ws = url.clone();
        ws.set_scheme("ws")
            .map_err(|()| ClientError::InvalidUrl(format!("`{base_url}`: no WebSocket URL")))?;
        let ws = format!("{}/ws", ws.as_str().trim_end_matches('/'));
        Ok(Self {
            http,
            base: Arc::from(url.as_str().trim_end_matches('/')),
            ws: Arc::from(ws),
        })
    }

    /// The default HTTP client: connections are pooled and reused.
    pub(crate) fn default_http(local: Option<IpAddr>) -> Result<reqwest::Client> {
        Ok(reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            // The server closes connections idle for its header timeout
            // (10 s by default); dropping them first avoids sending a
            // request on a connection the server is closing.
            .pool_idle_timeout(std::time::Duration::from_secs(5))
            .tcp_nodelay(true)
            .local_address(local)
            .build()?)
    }

    /// The base URL, without a trailing `/`.
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    /// The WebSocket URL for `token`.
    pub(crate) fn ws_url(&self, token: &str) -> Result<String> {
        let mut url = Url::parse(&self.ws)
            .map_err(|e| ClientError::InvalidUrl(format!("`{}`: {e}", self.ws)))?;
        url.query_pairs_mut().append_pair("token", token);
        Ok(url.into())
    }

    /// A request to `path` (which starts with `/api/v1/`).
    pub(crate) fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base))
    }

    /// A request to `path` followed by one more segment, percent-encoded
    /// (an emoji, a username).
    pub(crate) fn request_with_segment(
        &self,
        method: Method,
        path: &str,
        segment: &str,
    ) -> Result<RequestBuilder> {
        let raw = format!("{}{path}", self.base);
        let mut url =
            Url::parse(&raw).map_err(|e| ClientError::InvalidUrl(format!("`{raw}`: {e}")))?;
        url.path_segments_mut()
            .map_err(|()| ClientError::InvalidUrl(format!("`{raw}`: cannot take a path")))?
            .pop_if_empty()
            .push(segment);
        Ok(self.http.request(method, url))
    }
}

/// Sends `request`; a 2xx answer is returned with its body, any other
/// status becomes [`ClientError::Api`].
pub(crate) async fn send(request: RequestBuilder) -> Result<Answer> {
    let response = request.send().await?;
    let status = response.status().as_u16();
    let body = response.bytes().await?.to_vec();
    if (200..300).contains(&status) {
        Ok(Answer { status, body })
    } else {
        Err(ClientError::from_response(status, &body))
    }
}

/// Sends `request` and decodes a 2xx answer's JSON body as `T`.
pub(crate) async fn json<T: DeserializeOwned>(request: RequestBuilder) -> Result<T> {
    send(request).await?.decode()
}

impl Answer {
    /// The body as `T`.
    pub(crate) fn decode<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.body)
            .map_err(|e| ClientError::decode("unexpected response body", &e, &self.body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rest(url: &str) -> Result<Rest> {
        Rest::new(url, reqwest::Client::new())
    }

    #[test]
    fn a_base_url_gives_rest_and_websocket_urls() -> Result<()> {
        let r = rest("http://127.0.0.1:8080/")?;
        assert_eq!(r.base(), "http://127.0.0.1:8080");
        assert_eq!(r.ws_url("a.b-c")?, "ws://127.0.0.1:8080/ws?token=a.b-c");
        let r = rest("http://example.test/chat")?;
        assert_eq!(r.base(), "http://example.test/chat");
        assert_eq!(r.ws_url("t")?, "ws://example.test/chat/ws?token=t");
        Ok(())
    }

    #[test]
    fn the_token_is_escaped() -> Result<()> {
        let r = rest("http://h")?;
        assert_eq!(r.ws_url("a b&c")?, "ws://h/ws?token=a+b%26c");
        Ok(())
    }

    #[test]
    fn unusable_urls_are_refused() {
        for url in [
            "",
            "127.0.0.1:8080",
            "https://h",
            "ftp://h",
            "http://h/?x=1",
        ] {
            let e = rest(url).err();
            assert_eq!(
                e.as_ref().map(ClientError::code),
                Some("INVALID_URL"),
                "{url}"
            );
        }
    }
}
