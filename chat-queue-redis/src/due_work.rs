//! [`RedisDueWork`]: due and claimed keys of each kind of work, two ZSETs
//! per kind shared by every instance.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chat_core::realtime::{DueWork, WorkKind};
use chat_core::{ChatError, Result};
use redis::{AsyncCommands, Script};

use crate::error::to_chat_error;
use crate::link::Link;

/// Hands up to ARGV[4] due keys to one worker. KEYS[1] is the due ZSET
/// (key → when it was first marked), KEYS[2] the claimed ZSET (key → when
/// the claim runs out). ARGV: now, the latest mark that has settled, the
/// new claims' end, the limit (milliseconds, except the limit). Claims
/// that ran out go back to due first (keeping an earlier mark), so a dead
/// worker's keys are taken over.
const CLAIM_DUE: &str = r#"
local now = tonumber(ARGV[1])
local limit = tonumber(ARGV[4])
for _, key in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)) do
  redis.call('ZREM', KEYS[2], key)
  redis.call('ZADD', KEYS[1], 'LT', now, key)
end
local held = redis.call('ZCARD', KEYS[2])
local ready = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', 0, limit + held)
local claimed = {}
for _, key in ipairs(ready) do
  if #claimed >= limit then break end
  if not redis.call('ZSCORE', KEYS[2], key) then
    redis.call('ZREM', KEYS[1], key)
    redis.call('ZADD', KEYS[2], ARGV[3], key)
    claimed[#claimed + 1] = key
  end
end
return claimed
"#;

/// Moves the end of a claim still held (KEYS[1] is the claimed ZSET) to
/// ARGV[2], never sooner. ARGV: now, the new end, the key. A claim that
/// ran out is left for the next claim to hand over.
const RENEW: &str = r#"
local held = redis.call('ZSCORE', KEYS[1], ARGV[3])
if held and tonumber(held) > tonumber(ARGV[1]) and tonumber(ARGV[2]) > tonumber(held) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
end
return 0
"#;

/// Due work in Redis: for each kind, `due:{work:kind}` (key → first
/// mark) and `claimed:{work:kind}` (key → end of its claim), in one slot
/// so one script claims atomically. Times are the instances' clocks
/// (assumed to agree well within a settle time).
#[derive(Debug, Clone)]
pub struct RedisDueWork {
    link: Arc<Link>,
    claim_due: Arc<Script>,
    renew: Arc<Script>,
}

impl RedisDueWork {
    pub(crate) fn new(link: Arc<Link>) -> Self {
        Self {
            link,
            claim_due: Arc::new(Script::new(CLAIM_DUE)),
            renew: Arc::new(Script::new(RENEW)),
        }
    }

    fn check_up(&self) -> Result<()> {
        if self.link.is_up() {
            Ok(())
        } else {
            Err(ChatError::StoreUnavailable("Redis is unavailable".into()))
        }
    }
}

#[async_trait]
impl DueWork for RedisDueWork {
    async fn mark_due(&self, kind: WorkKind, keys: &[String]) -> Result<()> {
        self.check_up()?;
        if keys.is_empty() {
            return Ok(());
        }
        // NX keeps the time of the first mark.
        let mut zadd = redis::cmd("ZADD");
        zadd.arg(self.link.keys.due(kind)).arg("NX");
        let now = now_millis();
        for key in keys {
            zadd.arg(now).arg(key);
        }
        self.link
            .run(|mut c| async move { zadd.query_async::<()>(&mut c).await })
            .await
            .map_err(to_chat_error)
    }

    async fn claim_due(
        &self,
        kind: WorkKind,
        settle: Duration,
        lease: Duration,
        limit: usize,
    ) -> Result<Vec<String>> {
        self.check_up()?;
        if limit == 0 {
            return Ok(Vec::new());
        }
        let now = now_millis();
        let settled = now.saturating_sub(millis(settle));
        let until = now.saturating_add(millis(lease));
        let keys = &self.link.keys;
        let (due, claimed) = (keys.due(kind), keys.claimed(kind));
        let script = self.claim_due.clone();
        self.link
            .run(|mut c| async move {
                script
                    .key(due)
                    .key(claimed)
                    .arg(now)
                    .arg(settled)
                    .arg(until)
                    .arg(limit)
                    .invoke_async(&mut c)
                    .await
            })
            .await
            .map_err(to_chat_error)
    }

    async fn renew(&self, kind: WorkKind, key: &str, lease: Duration) -> Result<()> {
        self.check_up()?;
        let now = now_millis();
        let until = now.saturating_add(millis(lease));
        let claimed = self.link.keys.claimed(kind);
        let script = self.renew.clone();
        let key = key.to_owned();
        self.link
            .run(|mut c| async move {
                script
                    .key(claimed)
                    .arg(now)
                    .arg(until)
                    .arg(key)
                    .invoke_async::<()>(&mut c)
                    .await
            })
            .await
            .map_err(to_chat_error)
    }

    async fn release(&self, kind: WorkKind, key: &str) -> Result<()> {
        self.check_up()?;
        let claimed = self.link.keys.claimed(kind);
        let key = key.to_owned();
        self.link
            .run(|mut c| async move { c.zrem::<_, _, ()>(claimed, key).await })
            .await
            .map_err(to_chat_error)
    }
}

/// Milliseconds since the Unix epoch by this instance's clock.
fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, millis)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
