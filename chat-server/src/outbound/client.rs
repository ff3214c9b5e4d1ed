//! [`OutboundClient`]: an HTTP client that reaches only the addresses an
//! [`AddressPolicy`] permits.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest13::dns::{Addrs, Name, Resolve, Resolving};
use reqwest13::{Client, Url};

use super::AddressPolicy;

/// How long resolving a name may take when a URL is registered.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection was refused because its host resolved only to addresses
/// the policy does not permit (found in a request error's sources).
#[derive(Debug, thiserror::Error)]
#[error("{host} resolves to no address outgoing requests may reach")]
pub struct AddressNotAllowed {
    host: String,
}

/// Why a URL is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlRefusal {
    /// Not a URL this client takes (scheme, credentials, no host).
    #[error("{0}")]
    Malformed(&'static str),
    /// Its host is (or resolves to) an address that may not be reached.
    #[error("{0}")]
    NotAllowed(String),
}

/// An HTTP client for URLs users give: public addresses only (and the
/// operator's allow-list), `https` only (plain `http` only to allowed
/// addresses), no redirects, no proxy, bounded waits.
#[derive(Debug, Clone)]
pub struct OutboundClient {
    client: Client,
    policy: Arc<AddressPolicy>,
}

impl OutboundClient {
    /// A client under `policy` that gives up on a request after
    /// `timeout` (connecting after at most 5 seconds of it).
    ///
    /// # Errors
    /// The TLS backend cannot be set up.
    pub fn new(policy: AddressPolicy, timeout: Duration) -> Result<Self, reqwest13::Error> {
        // reqwest's rustls has no provider of its own here (as in
        // chat-blob-store); installing it twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let policy = Arc::new(policy);
        let client = Client::builder()
            .dns_resolver(GuardedResolver {
                policy: policy.clone(),
            })
            .redirect(reqwest13::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .timeout(timeout)
            .pool_idle_timeout(Duration::from_secs(60))
            .build()?;
        Ok(Self { client, policy })
    }

    /// The client, for requests to URLs that passed
    /// [`check_literal`](Self::check_literal).
    pub fn http(&self) -> &Client {
        &self.client
    }

    /// Checks a URL when it is registered: `https` (or `http` to an
    /// allowed address), no credentials, and a host whose every address
    /// may be reached now.
    ///
    /// # Errors
    /// [`UrlRefusal`] says why.
    pub async fn check(&self, url: &str) -> Result<Url, UrlRefusal> {
        let url = Url::parse(url).map_err(|_| UrlRefusal::Malformed("not a valid URL"))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(UrlRefusal::Malformed("the URL may not carry credentials"));
        }
        let host = url
            .host_str()
            .ok_or(UrlRefusal::Malformed("the URL has no host"))?
            .to_owned();
        let port = url
            .port_or_known_default()
            .ok_or(UrlRefusal::Malformed("the URL must be https"))?;
        let addresses = self.addresses_of(&url, &host, port).await?;
        let every_allowed_by_name = addresses
            .iter()
            .all(|ip| self.policy.is_allowed_explicitly(*ip));
        match url.scheme() {
            "https" => {}
            "http" if every_allowed_by_name => {}
            _ => return Err(UrlRefusal::Malformed("the URL must be https")),
        }
        if let Some(ip) = addresses.iter().find(|ip| !self.policy.permits(**ip)) {
            return Err(UrlRefusal::NotAllowed(format!(
                "{host} is (or resolves to) {ip}, a private or reserved address"
            )));
        }
        Ok(url)
    }

    /// Checks a URL's host again before a request when it is an address
    /// written out (the resolver, which checks names at every connection,
    /// is not asked for those).
    ///
    /// # Errors
    /// [`UrlRefusal::NotAllowed`].
    pub fn check_literal(&self, url: &Url) -> Result<(), UrlRefusal> {
        let literal = match url.host() {
            Some(url::Host::Ipv4(v4)) => Some(IpAddr::V4(v4)),
            Some(url::Host::Ipv6(v6)) => Some(IpAddr::V6(v6)),
            _ => None,
        };
        match literal {
            Some(ip) if !self.policy.permits(ip) => Err(UrlRefusal::NotAllowed(format!(
                "{ip} is a private or reserved address"
            ))),
            _ => Ok(()),
        }
    }

    async fn addresses_of(
        &self,
        url: &Url,
        host: &str,
        port: u16,
    ) -> Result<Vec<IpAddr>, UrlRefusal> {
        match url.host() {
            Some(url::Host::Ipv4(v4)) => return Ok(vec![IpAddr::V4(v4)]),
            Some(url::Host::Ipv6(v6)) => return Ok(vec![IpAddr::V6(v6)]),
            _ => {}
        }
        let lookup = tokio::net::lookup_host((host, port));
        let found = tokio::time::timeout(RESOLVE_TIMEOUT, lookup)
            .await
            .map_err(|_| UrlRefusal::NotAllowed(format!("{host} did not resolve in time")))?
            .map_err(|_| UrlRefusal::NotAllowed(format!("{host} does not resolve")))?;
        let addresses: Vec<IpAddr> = found.map(|a| a.ip()).collect();
        if addresses.is_empty() {
            return Err(UrlRefusal::NotAllowed(format!("{host} does not resolve")));
        }
        Ok(addresses)
    }
}

/// Whether a request failed because its host resolved to no permitted
/// address (the resolver's [`AddressNotAllowed`] among its causes).
pub fn refused_address(e: &reqwest13::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if s.is::<AddressNotAllowed>() {
            return true;
        }
        source = s.source();
    }
    false
}

/// Resolves names with the system resolver and keeps only the addresses
/// the policy permits; a name left with none fails to connect with
/// [`AddressNotAllowed`].
struct GuardedResolver {
    policy: Arc<AddressPolicy>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let permitted: Vec<SocketAddr> = found.filter(|a| policy.permits(a.ip())).collect();
            if permitted.is_empty() {
                return Err(Box::new(AddressNotAllowed { host }) as _);
            }
            Ok(Box::new(permitted.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(allow: &[&str]) -> OutboundClient {
        let allow = allow.iter().map(|n| n.parse().expect("net")).collect();
        OutboundClient::new(AddressPolicy::new(allow), Duration::from_secs(5)).expect("client")
    }

    #[tokio::test]
    async fn private_hosts_are_refused_and_public_ones_taken() {
        let c = client(&[]);
        for url in [
            "https://127.0.0.1/push",
            "https://[::1]:8443/push",
            "https://169.254.169.254/latest/meta-data",
            "https://10.0.0.7/x",
            "https://[fd00::1]/x",
            "https://localhost/x",
            "https://[::ffff:127.0.0.1]/x",
        ] {
            assert!(
                matches!(c.check(url).await, Err(UrlRefusal::NotAllowed(_))),
                "{url} taken"
            );
        }
        assert!(c.check("https://8.8.8.8/push").await.is_ok());
        for url in [
            "ftp://8.8.8.8/x",
            "http://8.8.8.8/x",
            "https://user:pw@8.8.8.8/x",
            "not a url",
        ] {
            assert!(
                matches!(c.check(url).await, Err(UrlRefusal::Malformed(_))),
                "{url} taken"
            );
        }
    }

    #[tokio::test]
    async fn allowed_addresses_may_be_reached_over_http() {
        let c = client(&["127.0.0.1/32"]);
        assert!(c.check("http://127.0.0.1:9999/push").await.is_ok());
        assert!(c.check("https://127.0.0.1:9999/push").await.is_ok());
        assert!(c.check("http://127.0.0.2/push").await.is_err());
        let url = Url::parse("http://10.1.1.1/x").expect("url");
        assert!(c.check_literal(&url).is_err());
        let url = Url::parse("http://127.0.0.1/x").expect("url");
        assert!(c.check_literal(&url).is_ok());
    }

    #[tokio::test]
    async fn a_name_resolving_to_a_private_address_cannot_be_connected_to() {
        // `localhost` resolves to loopback: the resolver refuses it at
        // connection time even though nothing checked the URL before.
        let c = client(&[]);
        let err = c
            .http()
            .get("http://localhost:9/")
            .send()
            .await
            .expect_err("refused");
        assert!(refused_address(&err), "{err:?}");
    }
}
