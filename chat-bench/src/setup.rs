//! Setting up a run: one [`ChatClient`] per server instance, users signed
//! up through the API under a fresh prefix, and WebSockets spread over the
//! instances round-robin.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chat_client::{ChatClient, ClientError, Session, WsConnection};
use futures::StreamExt as _;

use crate::sys;

/// Signup attempts per user before giving up.
const SIGNUP_ATTEMPTS: u32 = 3;
/// WebSockets opened at once while setting up.
const CONNECT_CONCURRENCY: usize = 32;

/// What [`Bench::new`] needs.
#[derive(Debug, Clone)]
pub(crate) struct BenchOptions {
    /// Base URLs of the server instances.
    pub(crate) urls: Vec<String>,
    /// Password of every user created.
    pub(crate) password: String,
    /// Signups in flight at once.
    pub(crate) signup_concurrency: usize,
    /// Source addresses to spread connections over (none: the system
    /// picks).
    pub(crate) source_addrs: Vec<IpAddr>,
}

/// The servers of a run and the prefix of its users. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Bench {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Per instance, one client per source address (or one client).
    clients: Vec<Vec<ChatClient>>,
    prefix: String,
    password: String,
    signup_concurrency: usize,
}

/// A user created for the run.
#[derive(Debug, Clone)]
pub(crate) struct BenchUser {
    /// Position among the users created by one call.
    pub(crate) index: usize,
    /// The username.
    pub(crate) username: String,
    /// Its session (the access token lasts the server's access TTL,
    /// 15 minutes by default).
    pub(crate) session: Session,
}

impl Bench {
    /// One client per URL and a fresh user prefix (`b` and six random
    /// characters).
    pub(crate) fn new(options: BenchOptions) -> anyhow::Result<Self> {
        anyhow::ensure!(!options.urls.is_empty(), "give at least one --url");
        let clients = options
            .urls
            .iter()
            .map(|u| {
                if options.source_addrs.is_empty() {
                    return Ok(vec![
                        ChatClient::new(u).with_context(|| format!("bad --url {u}"))?,
                    ]);
                }
                options
                    .source_addrs
                    .iter()
                    .map(|a| {
                        ChatClient::with_local_ports(u, *a, sys::ports_below_ephemeral())
                            .with_context(|| format!("bad --url {u} or --source-addr {a}"))
                    })
                    .collect()
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Self {
            inner: Arc::new(Inner {
                clients,
                prefix: random_prefix()?,
                password: options.password,
                signup_concurrency: options.signup_concurrency.max(1),
            }),
        })
    }

    /// The same servers under a fresh user prefix, for a run that signs up
    /// users again.
    pub(crate) fn with_new_prefix(&self) -> anyhow::Result<Self> {
        Ok(Self {
            inner: Arc::new(Inner {
                clients: self.inner.clients.clone(),
                prefix: random_prefix()?,
                password: self.inner.password.clone(),
                signup_concurrency: self.inner.signup_concurrency,
            }),
        })
    }

    /// The password of every user the run creates.
    pub(crate) fn password(&self) -> &str {
        &self.inner.password
    }

    /// The prefix of this run's usernames and message ids.
    pub(crate) fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// Server instances.
    pub(crate) fn instances(&self) -> usize {
        self.inner.clients.len()
    }

    /// The client of the instance that the `i`-th connection or request
    /// goes to (round-robin), and of its source address (round-robin over
    /// the connections of that instance).
    pub(crate) fn client(&self, i: usize) -> &ChatClient {
        let instances = self.inner.clients.len();
        let per_address = &self.inner.clients[i % instances];
        &per_address[(i / instances) % per_address.len()]
    }

    /// Opens a WebSocket for `user` on the instance of connection `i`.
    pub(crate) async fn connect(
        &self,
        i: usize,
        user: &BenchUser,
    ) -> chat_client::Result<WsConnection> {
        self.client(i).connect(&user.session.access_token).await
    }

    /// Opens a WebSocket for each `(connection index, user)`, a bounded
    /// number at a time, in order.
    pub(crate) async fn connect_all<'a>(
        &self,
        devices: impl IntoIterator<Item = (usize, &'a BenchUser)>,
    ) -> anyhow::Result<Vec<WsConnection>> {
        futures::stream::iter(devices)
            .map(|(i, user)| async move {
                self.connect(i, user)
                    .await
                    .with_context(|| format!("cannot open a WebSocket for {}", user.username))
            })
            .buffered(CONNECT_CONCURRENCY)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect()
    }

    /// Signs up `count` users named `<prefix>_<i>`, a bounded number at a
    /// time, printing progress on stderr. Users are returned in index order.
    pub(crate) async fn create_users(&self, count: usize) -> anyhow::Result<Vec<BenchUser>> {
        let started = Instant::now();
        eprintln!(
            "signing up {count} users {}_0..{} ({} at a time; each costs the server an argon2 hash)",
            self.prefix(),
            count.saturating_sub(1),
            self.inner.signup_concurrency,
        );
        let mut signups = futures::stream::iter(0..count)
            .map(|i| self.create_user(i))
            .buffer_unordered(self.inner.signup_concurrency);
        let mut users: Vec<Option<BenchUser>> = vec![None; count];
        let mut done = 0;
        let mut last_report = Instant::now();
        while let Some(user) = signups.next().await {
            let user = user?;
            let index = user.index;
            users[index] = Some(user);
            done += 1;
            if last_report.elapsed() >= Duration::from_secs(1) || done == count {
                last_report = Instant::now();
                let secs = started.elapsed().as_secs_f64();
                eprintln!(
                    "  users: {done}/{count} in {secs:.1} s ({:.1}/s)",
                    done as f64 / secs.max(1e-9)
                );
            }
        }
        Ok(users
            .into_iter()
            .map(|u| u.expect("every index signed up"))
            .collect())
    }

    /// Signs up user `i`, retrying transport failures; when an earlier
    /// attempt got through but its answer was lost, logs in instead.
    async fn create_user(&self, i: usize) -> anyhow::Result<BenchUser> {
        let username = format!("{}_{i}", self.prefix());
        let email = format!("{username}@bench.example.com");
        let client = self.client(i);
        let password = &self.inner.password;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = match client.signup(&username, &email, password).await {
                Err(e) if matches!(e.code(), "USERNAME_TAKEN" | "EMAIL_TAKEN") && attempt > 1 => {
                    client.login(&username, password).await
                }
                other => other,
            };
            match result {
                Ok(session) => {
                    return Ok(BenchUser {
                        index: i,
                        username,
                        session,
                    });
                }
                Err(e) if attempt < SIGNUP_ATTEMPTS && retryable(&e) => {
                    eprintln!("  signup of {username} failed ({e}); retrying");
                    tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
                }
                Err(e) => {
                    return Err(e).with_context(|| {
                        format!("cannot sign up {username} at {}", client.base_url())
                    });
                }
            }
        }
    }
}

/// Transport failures and server overload are worth another try; a refusal
/// (bad password, taken name) is not.
fn retryable(e: &ClientError) -> bool {
    match e {
        ClientError::Http(_) => true,
        ClientError::Api { status, .. } => *status >= 500 || *status == 429,
        _ => false,
    }
}

/// `b` and six random lowercase letters and digits.
fn random_prefix() -> anyhow::Result<String> {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = [0u8; 6];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let tail: String = bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect();
    Ok(format!("b{tail}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_valid_usernames_and_differ() {
        let a = random_prefix().expect("prefix");
        let b = random_prefix().expect("prefix");
        assert_eq!(a.len(), 7);
        assert!(a.starts_with('b'));
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
    }

    #[test]
    fn clients_are_picked_round_robin() {
        let bench = Bench::new(BenchOptions {
            urls: vec!["http://127.0.0.1:1".into(), "http://127.0.0.1:2".into()],
            password: "Bench-pass-1!".into(),
            signup_concurrency: 8,
            source_addrs: vec![],
        })
        .expect("bench");
        assert_eq!(bench.instances(), 2);
        assert_eq!(bench.client(0).base_url(), "http://127.0.0.1:1");
        assert_eq!(bench.client(3).base_url(), "http://127.0.0.1:2");
    }

    #[test]
    fn source_addresses_are_spread_within_each_instance() {
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        let bench = Bench::new(BenchOptions {
            urls: vec!["http://127.0.0.1:1".into(), "http://127.0.0.1:2".into()],
            password: "Bench-pass-1!".into(),
            signup_concurrency: 8,
            source_addrs: vec![ip("127.0.0.2"), ip("127.0.0.3")],
        })
        .expect("bench");
        // Connections 0, 2, 4, 6 go to the first instance, from .2, .3, .2, .3.
        let first: Vec<*const ChatClient> = [0, 2, 4, 6]
            .iter()
            .map(|&i| std::ptr::from_ref(bench.client(i)))
            .collect();
        assert_ne!(first[0], first[1]);
        assert_eq!(first[0], first[2]);
        assert_eq!(first[1], first[3]);
        assert_eq!(bench.client(1).base_url(), "http://127.0.0.1:2");
    }
}
