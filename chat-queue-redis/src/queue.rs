//! [`RedisOfflineQueue`]: `offline_queue:{user_id}` lists, one per user.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use chat_core::realtime::{OfflineQueue, QueuedMessage, UNHANDLED_SCAN};
use chat_core::{ChatError, ConversationId, Result, UserId};
use redis::{AsyncCommands, Script};

use crate::error::to_chat_error;
use crate::link::Link;

/// Removes a user's entries of one conversation up to a seq, in one pass,
/// keeping the others in order and the list's time to live. Entries that
/// are not readable JSON are kept.
const REMOVE_THROUGH: &str = r#"
local items = redis.call('LRANGE', KEYS[1], 0, -1)
if #items == 0 then return 0 end
local kept = {}
local removed = 0
local seq = tonumber(ARGV[2])
for _, item in ipairs(items) do
  local ok, entry = pcall(cjson.decode, item)
  if ok and type(entry) == 'table' and entry.conversation_id == ARGV[1]
     and tonumber(entry.seq) ~= nil and tonumber(entry.seq) <= seq then
    removed = removed + 1
  else
    kept[#kept + 1] = item
  end
end
if removed == 0 then return 0 end
local ttl = redis.call('PTTL', KEYS[1])
redis.call('DEL', KEYS[1])
for i = 1, #kept, 1000 do
  redis.call('RPUSH', KEYS[1], unpack(kept, i, math.min(i + 999, #kept)))
end
if ttl > 0 and #kept > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
return removed
"#;

/// Raises the marks of the HASH KEYS[1] (conversation → seq) to the pairs
/// of ARGV after the first (never lowering one), and sets the hash's time
/// to live to ARGV[1] milliseconds.
const RAISE_MARKS: &str = r#"
for i = 2, #ARGV, 2 do
  local seq = tonumber(ARGV[i + 1])
  local current = tonumber(redis.call('HGET', KEYS[1], ARGV[i]))
  if current == nil or current < seq then
    redis.call('HSET', KEYS[1], ARGV[i], seq)
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 0
"#;

/// Per-user queues in Redis, each a LIST of JSON entries
/// `{message_id, type, timestamp, conversation_id, seq}`, pushed with LPUSH
/// (so the oldest entry is at the tail), trimmed to the newest
/// `queue_max_len`, with the time to live refreshed on every push.
///
/// Entries leave only when acknowledged ([`remove_through`]). The store's
/// delivery cursors stay the source of truth: if Redis is flushed or down,
/// a connecting device still catches up from them.
///
/// [`remove_through`]: OfflineQueue::remove_through
///
/// What a consumer handled ([`OfflineQueue::mark_handled`]) is a HASH per
/// user, `queue_handled:{user_id}`, in the queue's slot.
#[derive(Debug, Clone)]
pub struct RedisOfflineQueue {
    link: Arc<Link>,
    remove_through: Arc<Script>,
    raise_marks: Arc<Script>,
}

impl RedisOfflineQueue {
    pub(crate) fn new(link: Arc<Link>) -> Self {
        Self {
            link,
            remove_through: Arc::new(Script::new(REMOVE_THROUGH)),
            raise_marks: Arc::new(Script::new(RAISE_MARKS)),
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
impl OfflineQueue for RedisOfflineQueue {
    async fn push(&self, users: &[UserId], entry: &QueuedMessage) -> Result<()> {
        self.check_up()?;
        if users.is_empty() {
            return Ok(());
        }
        let json = serde_json::to_vec(entry).map_err(ChatError::internal)?;
        let config = &self.link.config;
        let keep = config.queue_max_len as isize;
        let ttl = config.queue_ttl.as_millis() as i64;
        let keys = &self.link.keys;
        self.link
            .per_user(users, |pipe, user| {
                let key = keys.offline_queue(user);
                pipe.lpush(&key, &json[..])
                    .ignore()
                    .ltrim(&key, 0, keep - 1)
                    .ignore()
                    .pexpire(&key, ttl)
                    .ignore();
            })
            .await
            .map(drop)
            .map_err(to_chat_error)
    }

    async fn peek(&self, user: UserId, limit: usize) -> Result<Vec<QueuedMessage>> {
        self.check_up()?;
        if limit == 0 {
            return Ok(Vec::new());
        }
        let key = self.link.keys.offline_queue(user);
        let start = -(limit.min(isize::MAX as usize) as isize);
        let raw: Vec<Vec<u8>> = self
            .link
            .run(|mut c| async move { c.lrange(key, start, -1).await })
            .await
            .map_err(to_chat_error)?;
        // The tail is the oldest: read it backwards.
        Ok(raw
            .iter()
            .rev()
            .filter_map(|item| match serde_json::from_slice(item) {
                Ok(entry) => Some(entry),
                Err(e) => {
                    tracing::warn!(error = %e, %user, "skipping an unreadable offline queue entry");
                    None
                }
            })
            .collect())
    }

    async fn remove_through(
        &self,
        user: UserId,
        conversation: ConversationId,
        up_to_seq: u64,
    ) -> Result<()> {
        self.check_up()?;
        let key = self.link.keys.offline_queue(user);
        let script = self.remove_through.clone();
        self.link
            .run(|mut c| async move {
                script
                    .key(key)
                    .arg(conversation.to_string())
                    .arg(up_to_seq)
                    .invoke_async::<i64>(&mut c)
                    .await
            })
            .await
            .map(drop)
            .map_err(to_chat_error)
    }

    async fn len(&self, user: UserId) -> Result<usize> {
        self.check_up()?;
        let key = self.link.keys.offline_queue(user);
        self.link
            .run(|mut c| async move { c.llen(key).await })
            .await
            .map_err(to_chat_error)
    }

    async fn clear(&self, user: UserId) -> Result<()> {
        self.check_up()?;
        let key = self.link.keys.offline_queue(user);
        self.link
            .run(|mut c| async move { c.del::<_, ()>(key).await })
            .await
            .map_err(to_chat_error)
    }

    async fn unhandled(&self, user: UserId, limit: usize) -> Result<Vec<QueuedMessage>> {
        self.check_up()?;
        if limit == 0 {
            return Ok(Vec::new());
        }
        let keys = &self.link.keys;
        let (queue, handled) = (keys.offline_queue(user), keys.queue_handled(user));
        // The newest entries are at the head; the marks share their slot.
        let (raw, marks): (Vec<Vec<u8>>, HashMap<String, u64>) = self
            .link
            .run(|mut c| async move {
                redis::pipe()
                    .lrange(queue, 0, UNHANDLED_SCAN as isize - 1)
                    .hgetall(handled)
                    .query_async(&mut c)
                    .await
            })
            .await
            .map_err(to_chat_error)?;
        let mut newest_first: Vec<QueuedMessage> = raw
            .iter()
            .filter_map(|item| serde_json::from_slice::<QueuedMessage>(item).ok())
            .filter(|e| {
                marks
                    .get(&e.conversation_id.to_string())
                    .is_none_or(|mark| e.seq > *mark)
            })
            .take(limit)
            .collect();
        newest_first.reverse();
        Ok(newest_first)
    }

    async fn mark_handled(&self, user: UserId, handled: &[(ConversationId, u64)]) -> Result<()> {
        self.check_up()?;
        if handled.is_empty() {
            return Ok(());
        }
        let marks = self.link.keys.queue_handled(user);
        let ttl = self.link.config.queue_ttl.as_millis() as i64;
        let script = self.raise_marks.clone();
        let handled = handled.to_vec();
        self.link
            .run(|mut c| async move {
                let mut call = script.key(marks);
                call.arg(ttl);
                for (conversation, seq) in &handled {
                    call.arg(conversation.to_string()).arg(*seq);
                }
                call.invoke_async::<i64>(&mut c).await
            })
            .await
            .map(drop)
            .map_err(to_chat_error)
    }
}
