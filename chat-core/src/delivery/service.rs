//! [`DeliveryService`]: what a transport holding live connections calls.

use std::collections::HashMap;
use std::sync::Arc;

use super::catch_up::CatchUp;
use super::order::MessageOrder;
use crate::blocks::Blocks;
use crate::conversations::{ConversationService, ReadState};
use crate::error::{ChatError, Result};
use crate::fanout::{Fanout, live_frame, live_view};
use crate::ids::{ConnectionId, ConversationId, MessageId, SessionId, UserId};
use crate::members::{MemberSet, Members};
use crate::message_views::{Reactions, decorate_with};
use crate::metrics::Metrics;
use crate::model::{ConversationKind, LogEntry, MessageChange, MessageView};
use crate::protocol::{MAX_BATCH, MAX_BATCH_BYTES, OfflineMessage, ServerFrame, SyncResult};
use crate::realtime::{PresenceStatus, RealtimeDeps, Subscription};
use crate::store::{ConversationStore, MessageStore};
use crate::time::Clock;

/// Live delivery for transports (the WebSocket gateway): connections,
/// catch-up, acknowledgements, typing and presence. Sending goes through
/// [`ConversationService::send_from`], which fans out to every transport.
///
/// Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct DeliveryService {
    deps: DeliveryDeps,
}

/// What [`DeliveryService`] works with.
#[derive(Clone)]
pub(crate) struct DeliveryDeps {
    /// Cursor moves (acknowledgements, reads) and their receipts.
    pub(crate) conversations: ConversationService,
    /// Conversations and members, as the engine wraps the store.
    pub(crate) conversation_store: Arc<dyn ConversationStore>,
    /// Messages, as the engine wraps the store.
    pub(crate) messages: Arc<dyn MessageStore>,
    /// Member lists, cached.
    pub(crate) members: Arc<Members>,
    /// Who blocks whom (typing and presence skip blockers).
    pub(crate) blocks: Arc<Blocks>,
    /// Publishes typing and presence.
    pub(crate) fanout: Fanout,
    /// Bus subscriptions and presence records.
    pub(crate) realtime: RealtimeDeps,
    /// Server time.
    pub(crate) clock: Arc<dyn Clock>,
    /// Catch-up backlog figures.
    pub(crate) metrics: Metrics,
}

impl std::fmt::Debug for DeliveryService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeliveryService").finish_non_exhaustive()
    }
}

/// One live connection (a device): its identity and its events.
#[derive(Debug)]
pub struct Connection {
    /// This connection.
    pub id: ConnectionId,
    /// Its user.
    pub user_id: UserId,
    /// The session its token belongs to; revoking it closes the connection.
    pub session_id: SessionId,
    /// Events for the connection.
    pub subscription: Subscription,
    /// What the connection has been sent, to keep message events in order
    /// and exactly once.
    pub order: MessageOrder,
}

/// What a `messages.ack` acknowledges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AckTarget {
    /// These messages (of any conversations).
    Messages(Vec<MessageId>),
    /// Everything up to `seq` in a conversation.
    Through {
        /// The conversation.
        conversation: ConversationId,
        /// The seq.
        seq: u64,
    },
}

/// Where someone is typing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypingTarget {
    /// The direct conversation with this user.
    Direct(UserId),
    /// A conversation (direct or group) by id.
    Conversation(ConversationId),
}

impl DeliveryService {
    pub(crate) fn new(deps: DeliveryDeps) -> Self {
        Self { deps }
    }

    /// Opens a connection: subscribes to the user's events first (so
    /// nothing sent from now on is missed), records presence (telling the
    /// user's direct peers when this is their first connection), then
    /// takes the catch-up snapshot from the store, which also sets the
    /// connection's [`MessageOrder`].
    ///
    /// # Errors
    /// Backend errors from the bus, presence or the store.
    pub async fn connect(&self, user: UserId, session: SessionId) -> Result<(Connection, CatchUp)> {
        let id = ConnectionId::new();
        let rt = &self.deps.realtime;
        let subscription = rt.bus.subscribe(user, id).await?;
        let now = self.deps.clock.now();
        let first = rt.presence.connect(user, id, now).await?;
        let overviews = self.deps.conversation_store.overviews(user, None).await?;
        let connection = Connection {
            id,
            user_id: user,
            session_id: session,
            subscription,
            order: MessageOrder::from_snapshot(&overviews),
        };
        if first {
            let peers: Vec<UserId> = overviews
                .iter()
                .filter_map(|o| o.peer.as_ref().map(|p| p.member.user_id))
                .collect();
            let online = PresenceStatus {
                online: true,
                last_seen: None,
            };
            let peers = self.deps.blocks.audience(user, peers).await;
            self.deps.fanout.presence(user, online, &peers).await;
        }
        let catch_up = CatchUp::plan(user, &overviews, |o| {
            Some(o.membership.member.delivered_seq)
        });
        self.deps.metrics.catch_up_backlog(catch_up.remaining());
        Ok((connection, catch_up))
    }

    /// After a resync (the instance was cut off from the others), what the
    /// connection may have missed: in each of the user's conversations, the
    /// messages past what it was sent. The connection's positions move to
    /// the end of the plan, so live events it covers are skipped.
    ///
    /// # Errors
    /// Store errors.
    pub async fn resync(&self, connection: &mut Connection) -> Result<CatchUp> {
        let user = connection.user_id;
        let overviews = self.deps.conversation_store.overviews(user, None).await?;
        let order = &connection.order;
        let catch_up = CatchUp::plan(user, &overviews, |o| {
            let c = &o.membership.conversation;
            // A conversation the connection never heard of since it
            // connected: from the user's delivery cursor.
            Some(
                order
                    .last(c.id)
                    .unwrap_or(o.membership.member.delivered_seq),
            )
        });
        for o in &overviews {
            let c = &o.membership.conversation;
            connection.order.advance(c.id, c.last_seq);
        }
        Ok(catch_up)
    }

    /// The log entries of `conversation` with seqs strictly between
    /// `after` and `before`, as the live frames the connection of `reader`
    /// missed (see [`Admission::FillGap`](super::Admission::FillGap)),
    /// oldest first: `message.new` / `message.group.new` for messages,
    /// `message.changed` for changes.
    ///
    /// # Errors
    /// Store errors.
    pub async fn fill_gap(
        &self,
        reader: UserId,
        conversation: ConversationId,
        after: u64,
        before: u64,
    ) -> Result<Vec<ServerFrame>> {
        if before <= after + 1 {
            return Ok(Vec::new());
        }
        self.deps.metrics.gap_filled();
        let members = self.deps.members.of(conversation).await?;
        let mut frames = Vec::with_capacity((before - after - 1) as usize);
        let mut next = after + 1;
        while next < before {
            let upto = (before - 1).min(next + MAX_BATCH as u64 - 1);
            let entries = self.log_in(conversation, next, upto).await?;
            // No reactions: the reader replays the log from here on.
            let page = self
                .render(reader, entries, &members, Reactions::Skip)
                .await?;
            frames.extend(page.into_iter().map(|entry| match entry {
                Rendered::Message(view) => live_frame(view, members.kind),
                Rendered::Change(change) => ServerFrame::MessageChanged(change),
            }));
            next = upto + 1;
        }
        Ok(frames)
    }

    /// The log entries of `conversation` with seqs `from..=to`, oldest
    /// first (callers keep the range to a page).
    async fn log_in(
        &self,
        conversation: ConversationId,
        from: u64,
        to: u64,
    ) -> Result<Vec<LogEntry>> {
        self.deps.messages.log_between(conversation, from, to).await
    }

    /// Log entries as `reader` is sent them: messages as live views with
    /// their reply quotes (and reactions, as `reactions` says), changes as
    /// they are.
    async fn render(
        &self,
        reader: UserId,
        entries: Vec<LogEntry>,
        members: &MemberSet,
        reactions: Reactions,
    ) -> Result<Vec<Rendered>> {
        let mut views: Vec<MessageView> = entries
            .iter()
            .filter_map(|e| match e {
                LogEntry::Message(m) => Some(live_view(m.clone(), members)),
                LogEntry::Change(_) => None,
            })
            .collect();
        decorate_with(&*self.deps.messages, reader, &mut views, reactions).await?;
        let mut views = views.into_iter();
        Ok(entries
            .into_iter()
            .filter_map(|e| match e {
                LogEntry::Message(_) => views.next().map(Rendered::Message),
                LogEntry::Change(c) => Some(Rendered::Change(c)),
            })
            .collect())
    }

    /// Closes a connection: unsubscribes, and when it was the user's last,
    /// tells their direct peers they went offline.
    pub async fn disconnect(&self, connection: Connection) {
        let Connection { id, user_id, .. } = connection;
        drop(connection.subscription);
        let now = self.deps.clock.now();
        let last = match self
            .deps
            .realtime
            .presence
            .disconnect(user_id, id, now)
            .await
        {
            Ok(last) => last,
            Err(e) => {
                tracing::warn!(error = %e, %user_id, "could not record a disconnect");
                return;
            }
        };
        if !last {
            return;
        }
        match self.direct_peers(user_id).await {
            Ok(peers) => {
                let peers = self.deps.blocks.audience(user_id, peers).await;
                let offline = PresenceStatus {
                    online: false,
                    last_seen: Some(now),
                };
                self.deps.fanout.presence(user_id, offline, &peers).await;
            }
            Err(e) => tracing::warn!(error = %e, %user_id, "could not announce going offline"),
        }
    }

    async fn direct_peers(&self, user: UserId) -> Result<Vec<UserId>> {
        Ok(self
            .deps
            .conversation_store
            .overviews(user, Some(ConversationKind::Direct))
            .await?
            .into_iter()
            .filter_map(|o| o.peer.map(|p| p.member.user_id))
            .collect())
    }

    /// Keeps the connection's presence alive.
    ///
    /// # Errors
    /// Presence backend errors.
    pub async fn heartbeat(&self, connection: &Connection) -> Result<()> {
        let now = self.deps.clock.now();
        self.deps
            .realtime
            .presence
            .heartbeat(connection.user_id, connection.id, now)
            .await
    }

    /// The next `messages.offline` batch (at most [`MAX_BATCH`] log
    /// entries and [`MAX_BATCH_BYTES`] of content), or `None` when the
    /// catch-up is complete.
    ///
    /// # Errors
    /// Store errors; the catch-up can be retried from where it stopped.
    pub async fn next_offline_batch(&self, catch_up: &mut CatchUp) -> Result<Option<OfflineBatch>> {
        let mut batch = OfflineBatch::default();
        let mut entries = 0;
        let mut bytes = 0;
        while entries < MAX_BATCH {
            let Some(range) = catch_up.ranges.front_mut() else {
                break;
            };
            let want = (MAX_BATCH - entries) as u64;
            let upto = range.last.min(range.next + want - 1);
            let mut page = self.log_in(range.conversation, range.next, upto).await?;
            let fit = fitting(&page, &mut bytes, entries == 0);
            let full = fit == page.len();
            page.truncate(fit);
            range.next = match page.last() {
                Some(e) if !full => e.seq() + 1,
                _ => upto + 1,
            };
            entries += page.len();
            let members = MemberSet {
                kind: range.kind,
                users: range.users.clone(),
                posters: None,
            };
            let kind = range.kind;
            if range.next > range.last {
                catch_up.ranges.pop_front();
            }
            for entry in self
                .render(catch_up.reader, page, &members, Reactions::Read)
                .await?
            {
                match entry {
                    Rendered::Message(message) => {
                        batch.messages.push(OfflineMessage { kind, message });
                    }
                    Rendered::Change(change) => batch.changes.push(change),
                }
            }
            if !full {
                break;
            }
        }
        Ok((entries > 0).then_some(batch))
    }

    /// Records that the user's device has messages: moves delivery cursors,
    /// clears queue entries, and sends `message.delivered` to the senders.
    /// Messages of conversations the user is not in are ignored.
    ///
    /// # Errors
    /// `MESSAGE_NOT_FOUND` when none of the given ids exists;
    /// `CONVERSATION_NOT_FOUND` for a conversation the user is not in.
    pub async fn ack(&self, user: UserId, target: AckTarget) -> Result<()> {
        let through: HashMap<ConversationId, u64> = match target {
            AckTarget::Through { conversation, seq } => HashMap::from([(conversation, seq)]),
            AckTarget::Messages(ids) => {
                let messages = self.deps.messages.messages_by_ids(&ids).await?;
                if messages.is_empty() && !ids.is_empty() {
                    return Err(ChatError::MessageNotFound);
                }
                let mut through = HashMap::new();
                for m in messages {
                    let e = through.entry(m.conversation_id).or_insert(0);
                    *e = m.seq.max(*e);
                }
                through
            }
        };
        let single = through.len() == 1;
        for (conversation, seq) in through {
            match self
                .deps
                .conversations
                .mark_delivered(user, conversation, seq)
                .await
            {
                Err(ChatError::ConversationNotFound) if !single => {}
                other => {
                    other?;
                }
            }
        }
        Ok(())
    }

    /// Moves the read cursor to a message, or to the newest message of a
    /// conversation.
    ///
    /// # Errors
    /// `MESSAGE_NOT_FOUND`, `CONVERSATION_NOT_FOUND`.
    pub async fn read_message(&self, user: UserId, message: MessageId) -> Result<ReadState> {
        let found = self.deps.messages.messages_by_ids(&[message]).await?;
        let m = found.first().ok_or(ChatError::MessageNotFound)?;
        self.deps
            .conversations
            .mark_read(user, m.conversation_id, Some(m.id))
            .await
            .map_err(|e| match e {
                // A message of a conversation one is not in does not exist
                // for them.
                ChatError::ConversationNotFound => ChatError::MessageNotFound,
                e => e,
            })
    }

    /// Tells the other members that the user is (or stopped) typing.
    /// Nothing is stored.
    ///
    /// # Errors
    /// `CONVERSATION_NOT_FOUND` when the user is not a member.
    pub async fn typing(
        &self,
        connection: &Connection,
        target: TypingTarget,
        is_typing: bool,
    ) -> Result<()> {
        let user = connection.user_id;
        let conversation = match target {
            TypingTarget::Conversation(id) => id,
            TypingTarget::Direct(peer) => self
                .deps
                .members
                .direct_between(user, peer)
                .await?
                .ok_or(ChatError::ConversationNotFound)?,
        };
        let members = self.deps.members.require(conversation, user, None).await?;
        let to = self.deps.blocks.audience(user, members.others(user)).await;
        self.deps
            .fanout
            .typing(user, conversation, is_typing, &to, connection.id)
            .await;
        Ok(())
    }

    /// The messages of a conversation after `after_seq`, oldest first, at
    /// most `limit` (default and maximum 100).
    ///
    /// # Errors
    /// `CONVERSATION_NOT_FOUND`, `INVALID_PAGINATION` for a zero limit.
    pub async fn sync(
        &self,
        user: UserId,
        conversation: ConversationId,
        after_seq: u64,
        limit: Option<u32>,
    ) -> Result<SyncResult> {
        let limit = crate::conversations::sync_limit(limit)?;
        let me = self
            .deps
            .conversation_store
            .membership(conversation, user)
            .await?
            .ok_or(ChatError::ConversationNotFound)?;
        let members = self.deps.members.of(conversation).await?;
        let last = me.conversation.last_seq;
        let upto = last.min(after_seq.saturating_add(u64::from(limit)));
        let mut entries = if upto > after_seq {
            self.log_in(conversation, after_seq + 1, upto).await?
        } else {
            Vec::new()
        };
        let fit = fitting(&entries, &mut 0, true);
        let cut = fit < entries.len();
        entries.truncate(fit);
        let mut result = SyncResult {
            conversation_id: conversation,
            messages: Vec::new(),
            changes: Vec::new(),
            has_more: upto < last || cut,
        };
        for entry in self
            .render(user, entries, &members, Reactions::Read)
            .await?
        {
            match entry {
                Rendered::Message(view) => result.messages.push(view),
                Rendered::Change(change) => result.changes.push(change),
            }
        }
        Ok(result)
    }

    /// Presence of each user as `viewer` sees it, in order: a user the
    /// viewer blocked shows offline, with no last-seen time.
    ///
    /// # Errors
    /// Presence backend and store errors.
    pub async fn statuses(&self, viewer: UserId, users: &[UserId]) -> Result<Vec<PresenceStatus>> {
        let mut statuses = self.deps.realtime.presence.statuses(users).await?;
        for (user, status) in users.iter().zip(statuses.iter_mut()) {
            if self.deps.blocks.blockers_of(*user).await?.contains(&viewer) {
                *status = PresenceStatus {
                    online: false,
                    last_seen: None,
                };
            }
        }
        Ok(statuses)
    }
}

/// A log entry ready to send to one reader.
enum Rendered {
    Message(MessageView),
    Change(MessageChange),
}

/// One `messages.offline` batch: the messages and the changes among its
/// log entries.
#[derive(Debug, Default)]
pub struct OfflineBatch {
    /// The messages, oldest first.
    pub messages: Vec<OfflineMessage>,
    /// The changes, oldest first.
    pub changes: Vec<MessageChange>,
}

impl OfflineBatch {
    /// How many log entries the batch holds.
    pub fn len(&self) -> usize {
        self.messages.len() + self.changes.len()
    }

    /// True when the batch holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The content a log entry carries (a message's text, an edit's new text).
fn content_len(entry: &LogEntry) -> usize {
    match entry {
        LogEntry::Message(m) => m.content.len(),
        LogEntry::Change(c) => c.content.as_ref().map_or(0, String::len),
    }
}

/// How many of `entries`, from the first, fit in a batch that already
/// holds `bytes` of content, keeping it within [`MAX_BATCH_BYTES`]; adds
/// theirs to `bytes`. An `empty` batch takes its first entry whatever
/// its size, so every batch makes progress.
fn fitting(entries: &[LogEntry], bytes: &mut usize, empty: bool) -> usize {
    let mut fit = 0;
    for m in entries {
        let size = content_len(m);
        if (fit > 0 || !empty) && *bytes + size > MAX_BATCH_BYTES {
            break;
        }
        *bytes += size;
        fit += 1;
    }
    fit
}
