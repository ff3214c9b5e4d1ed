use std::time::Duration;

use crate::rate_limit::RateLimit;

/// argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Params {
    /// Memory in KiB (OWASP minimum: 19,456 = 19 MiB).
    pub memory_kib: u32,
    /// Passes over memory.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Default for Argon2Params {
    /// OWASP's recommended minimum: m = 19 MiB, t = 2, p = 1.
    fn default() -> Self {
        Self {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

/// Settings of the authentication service.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// Access token lifetime (default 15 minutes).
    pub access_ttl: Duration,
    /// Refresh token lifetime (default 7 days).
    pub refresh_ttl: Duration,
    /// Password reset token lifetime (default 1 hour).
    pub reset_ttl: Duration,
    /// How long after a rotation the old refresh token may still be
    /// presented without being treated as stolen (default 5 seconds), so
    /// two concurrent refreshes by one client do not log it out.
    pub refresh_reuse_grace: Duration,
    /// Failed logins allowed per client address (default 5 per 15 minutes).
    pub login_limit: RateLimit,
    /// Password reset requests allowed per client address (default 10 per
    /// hour); past it the request is refused with `RATE_LIMITED`.
    pub reset_client_limit: RateLimit,
    /// Signups allowed per client address through
    /// [`AuthService::signup_from`](crate::AuthService::signup_from)
    /// (default 20 per hour): each costs an argon2 hash, and accounts
    /// should not be made in bulk.
    pub signup_client_limit: RateLimit,
    /// Reset emails sent to one address (default 3 per hour); past it
    /// requests are answered as usual but send nothing, so nobody can
    /// flood an inbox and the answer reveals nothing.
    pub reset_email_limit: RateLimit,
    /// Changes of email or password one user may attempt (default 10 per
    /// hour); each needs the current password, so this also bounds
    /// guesses of it, and probes of which emails are taken.
    pub account_change_limit: RateLimit,
    /// argon2id cost.
    pub argon2: Argon2Params,
    /// Password hashes computed at once; further logins wait their turn so
    /// a burst cannot take every core from other requests.
    pub max_concurrent_hashes: usize,
    /// Base URL of the web app, for links in emails
    /// (`{public_url}/#reset-token=...`).
    pub public_url: String,
}

impl Default for AuthConfig {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self {
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(7 * 24 * 3600),
            reset_ttl: Duration::from_secs(3600),
            refresh_reuse_grace: Duration::from_secs(5),
            login_limit: RateLimit::new(5, Duration::from_secs(15 * 60)),
            reset_client_limit: RateLimit::new(10, Duration::from_secs(3600)),
            signup_client_limit: RateLimit::new(20, Duration::from_secs(3600)),
            reset_email_limit: RateLimit::new(3, Duration::from_secs(3600)),
            account_change_limit: RateLimit::new(10, Duration::from_secs(3600)),
            argon2: Argon2Params::default(),
            max_concurrent_hashes: (cores / 2).max(1),
            public_url: "http://127.0.0.1:8080".to_owned(),
        }
    }
}
