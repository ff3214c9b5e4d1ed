//! [`ChatClient`]: the entry point. Accounts and sessions over REST, and
//! the way to an authenticated [`UserClient`] and a [`WsConnection`].

use std::fmt;
use std::net::IpAddr;

use chat_types::UserId;
use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use crate::error::Result;
use crate::local::LocalBind;
use crate::rest::{self, Rest};
use crate::users::UserClient;
use crate::ws::WsConnection;

/// A client of one chat server. Cheap to clone: clones share one pool of
/// HTTP connections.
#[derive(Debug, Clone)]
pub struct ChatClient {
    rest: Rest,
    /// The source address of every connection, when one is set.
    local: Option<LocalBind>,
}

/// The tokens of a logged-in session, from signup, login or refresh.
///
/// `Debug` shows the user and the lifetime, never the tokens.
#[derive(Clone, Deserialize)]
pub struct Session {
    /// The user.
    pub user_id: UserId,
    /// The access token (a JWT): `Authorization: Bearer` over REST,
    /// `?token=` on the WebSocket.
    pub access_token: String,
    /// The refresh token: works once, for [`ChatClient::refresh`] or
    /// [`ChatClient::logout`].
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("user_id", &self.user_id)
            .field("access_token", &"<redacted>")
            .field("refresh_token", &"<redacted>")
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

impl ChatClient {
    /// A client of the server at `base_url`, such as
    /// `http://127.0.0.1:8080`. A path prefix (`http://host/chat`) is kept
    /// for servers that nest the API. Only plain `http://` is supported.
    ///
    /// # Errors
    /// [`ClientError::InvalidUrl`](crate::ClientError::InvalidUrl) for a URL
    /// that is not `http://host[:port][/prefix]`;
    /// [`ClientError::Http`](crate::ClientError::Http) when the HTTP client
    /// cannot be set up.
    pub fn new(base_url: &str) -> Result<Self> {
        Self::with_http_client(base_url, Rest::default_http(None)?)
    }

    /// Like [`new`](Self::new), with every connection (HTTP and WebSocket)
    /// made from `local`, e.g. one of the 127.0.0.x loopback addresses: a
    /// load tool holding tens of thousands of sockets to one server spreads
    /// them over several source addresses to stay clear of the ephemeral
    /// port range.
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn with_local_address(base_url: &str, local: IpAddr) -> Result<Self> {
        let mut client = Self::with_http_client(base_url, Rest::default_http(Some(local))?)?;
        client.local = Some(LocalBind::new(local, None));
        Ok(client)
    }

    /// Like [`with_local_address`](Self::with_local_address), with the
    /// WebSockets' source ports taken in turn from `ports` (skipping ports
    /// in use). A socket bound to a port the system picks holds that port
    /// of the ephemeral range for itself, whatever its destination, so
    /// tens of thousands of them starve the other programs of the machine;
    /// a range below the ephemeral one (`/proc/sys/net/ipv4/ip_local_port_range`)
    /// does not.
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn with_local_ports(
        base_url: &str,
        local: IpAddr,
        ports: std::ops::RangeInclusive<u16>,
    ) -> Result<Self> {
        let mut client = Self::with_http_client(base_url, Rest::default_http(Some(local))?)?;
        client.local = Some(LocalBind::new(local, Some(ports)));
        Ok(client)
    }

    /// Like [`new`](Self::new), with a `reqwest::Client` configured by the
    /// caller (timeouts, pool size, proxies).
    ///
    /// # Errors
    /// [`ClientError::InvalidUrl`](crate::ClientError::InvalidUrl) as for
    /// [`new`](Self::new).
    pub fn with_http_client(base_url: &str, http: reqwest::Client) -> Result<Self> {
        Ok(Self {
            rest: Rest::new(base_url, http)?,
            local: None,
        })
    }

    /// The base URL, without a trailing `/`.
    pub fn base_url(&self) -> &str {
        self.rest.base()
    }

    /// Creates an account (`POST /api/v1/auth/signup`) and logs it in.
    ///
    /// # Errors
    /// `INVALID_USERNAME`, `INVALID_EMAIL`, `WEAK_PASSWORD` (422),
    /// `USERNAME_TAKEN`, `EMAIL_TAKEN` (409), and transport errors.
    pub async fn signup(&self, username: &str, email: &str, password: &str) -> Result<Session> {
        let body = json!({"username": username, "email": email, "password": password});
        self.post_json("/api/v1/auth/signup", &body).await
    }

    /// Logs in (`POST /api/v1/auth/login`); `login` is the username or the
    /// email address.
    ///
    /// # Errors
    /// `INVALID_CREDENTIALS` (401), `RATE_LIMITED` (429), and transport
    /// errors.
    pub async fn login(&self, login: &str, password: &str) -> Result<Session> {
        let body = json!({"username": login, "password": password});
        self.post_json("/api/v1/auth/login", &body).await
    }

    /// Rotates the tokens (`POST /api/v1/auth/session/refresh`): the
    /// refresh token given is spent, and the answer carries a new one.
    ///
    /// # Errors
    /// `INVALID_REFRESH_TOKEN`, `REFRESH_TOKEN_EXPIRED`,
    /// `REFRESH_TOKEN_REUSED`, `SESSION_REVOKED` (401), and transport errors.
    pub async fn refresh(&self, refresh_token: &str) -> Result<Session> {
        let body = json!({"refresh_token": refresh_token});
        self.post_json("/api/v1/auth/session/refresh", &body).await
    }

    /// Ends the session of `refresh_token` (`POST /api/v1/auth/logout`):
    /// its access tokens stop working at once and its WebSockets close
    /// with 4001.
    ///
    /// # Errors
    /// `INVALID_REFRESH_TOKEN` (401), and transport errors.
    pub async fn logout(&self, refresh_token: &str) -> Result<()> {
        let body = json!({"refresh_token": refresh_token});
        let request = self
            .rest
            .request(Method::POST, "/api/v1/auth/logout")
            .json(&body);
        rest::send(request).await.map(drop)
    }

    /// The authenticated REST calls of `session`'s user. The client keeps
    /// a copy of the access token: after a [`refresh`](Self::refresh), call
    /// this again with the new session.
    pub fn user(&self, session: &Session) -> UserClient {
        UserClient::new(
            self.rest.clone(),
            session.user_id,
            session.access_token.clone(),
        )
    }

    /// Opens a WebSocket to `/ws?token=...`. The token is checked before
    /// the upgrade, so a bad one fails here.
    ///
    /// # Errors
    /// [`ClientError::Api`](crate::ClientError::Api) with status 401 and
    /// the server's code (`INVALID_TOKEN`, `TOKEN_EXPIRED`,
    /// `SESSION_REVOKED`; `UNAUTHENTICATED` when the answer had no body)
    /// for a refused token;
    /// [`ClientError::WebSocket`](crate::ClientError::WebSocket) when the
    /// server cannot be reached.
    pub async fn connect(&self, access_token: &str) -> Result<WsConnection> {
        WsConnection::connect(&self.rest.ws_url(access_token)?, self.local.as_ref()).await
    }

    async fn post_json(&self, path: &str, body: &serde_json::Value) -> Result<Session> {
        rest::json(self.rest.request(Method::POST, path).json(body)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_tokens() {
        let session = Session {
            user_id: UserId::new(),
            access_token: "eyJ.secret.access".to_owned(),
            refresh_token: "secret-refresh".to_owned(),
            expires_in: 900,
        };
        let shown = format!("{session:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("900"), "{shown}");
        assert!(shown.contains(&session.user_id.to_string()), "{shown}");
    }
}
