//! One group member's main socket: times and checks every message frame,
//! and acknowledges like a real client.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chat_client::{ConversationId, ServerFrame, UserId, WsConnection, frames};
use hdrhistogram::Histogram;
use serde::Deserialize;
use tokio::sync::watch;

use super::Arrivals;
use crate::report;
use crate::scenarios::peers::{Counters, Plan, parse_content};
use crate::verify::{Arrival, GroupCheck};

/// What a member needs to know.
pub(super) struct Member {
    pub(super) plan: Plan,
    pub(super) group: ConversationId,
    /// The senders, by sender index.
    pub(super) senders: Arc<[UserId]>,
    pub(super) counters: Arc<Counters>,
    pub(super) arrivals: Arc<Arrivals>,
    pub(super) ack_every: u64,
    pub(super) ack_interval: Duration,
}

/// What a member saw.
pub(super) struct MemberResult {
    pub(super) check: GroupCheck,
    /// Due time to arrival, per message measured.
    pub(super) latency: Histogram<u64>,
    /// Frames that are not the run's messages (other kinds, other
    /// senders or conversations, undecodable).
    pub(super) unexpected: u64,
    pub(super) acks_sent: u64,
    /// `message.delivered` receipts (members' acks of this member's
    /// messages).
    pub(super) receipts: u64,
    /// Why the connection ended before the run did.
    pub(super) ended: Option<String>,
}

/// The fields of a `message.group.new` the checks need, borrowed from the
/// frame's text.
#[derive(Deserialize)]
struct Light<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    conversation_id: Option<ConversationId>,
    sender_id: Option<UserId>,
    seq: Option<u64>,
    #[serde(borrow)]
    content: Option<Cow<'a, str>>,
}

impl Member {
    /// Reads `conn` until `stop`.
    pub(super) async fn receive(
        self,
        mut conn: WsConnection,
        mut stop: watch::Receiver<bool>,
    ) -> MemberResult {
        let mut r = MemberResult {
            check: GroupCheck::new(self.senders.len()),
            latency: report::histogram(),
            unexpected: 0,
            acks_sent: 0,
            receipts: 0,
            ended: None,
        };
        let (mut acked_through, mut pending) = (0u64, 0u64);
        let mut tick = tokio::time::interval(self.ack_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let text = tokio::select! {
                text = conn.next_raw() => text,
                _ = tick.tick() => {
                    self.ack(&mut conn, &mut r, &mut acked_through, &mut pending).await;
                    continue;
                }
                _ = stop.changed() => {
                    self.ack(&mut conn, &mut r, &mut acked_through, &mut pending).await;
                    let _ = conn.close().await;
                    return r;
                }
            };
            match text {
                Ok(Some(text)) => {
                    pending += self.frame(&text, &mut r);
                    if pending >= self.ack_every {
                        self.ack(&mut conn, &mut r, &mut acked_through, &mut pending)
                            .await;
                    }
                }
                Ok(None) => {
                    r.ended = Some("closed by the server".to_owned());
                    return r;
                }
                Err(e) => {
                    r.ended = Some(format!("{}: {e}", e.code()));
                    return r;
                }
            }
        }
    }

    /// Handles one frame; returns how many new messages it brought.
    fn frame(&self, text: &str, r: &mut MemberResult) -> u64 {
        let Ok(light) = serde_json::from_str::<Light<'_>>(text) else {
            r.unexpected += 1;
            return 0;
        };
        match light.kind.as_ref() {
            "message.group.new" => {
                let (Some(conversation), Some(sender), Some(seq), Some(content)) = (
                    light.conversation_id,
                    light.sender_id,
                    light.seq,
                    light.content,
                ) else {
                    r.unexpected += 1;
                    return 0;
                };
                u64::from(self.arrive(conversation, sender, seq, &content, false, r))
            }
            // The socket's catch-up snapshot is taken a moment after the
            // handshake: what was committed in between comes here.
            "messages.offline" => match serde_json::from_str::<ServerFrame>(text) {
                Ok(ServerFrame::Offline { messages, .. }) => messages
                    .iter()
                    .map(|o| {
                        let m = &o.message.message;
                        u64::from(self.arrive(
                            m.conversation_id,
                            m.sender_id,
                            m.seq,
                            &m.content,
                            true,
                            r,
                        ))
                    })
                    .sum(),
                Ok(_) | Err(_) => {
                    r.unexpected += 1;
                    0
                }
            },
            "message.delivered" => {
                r.receipts += 1;
                0
            }
            _ => {
                r.unexpected += 1;
                0
            }
        }
    }

    /// Records one message; true when it was new.
    fn arrive(
        &self,
        conversation: ConversationId,
        sender: UserId,
        seq: u64,
        content: &str,
        catch_up: bool,
        r: &mut MemberResult,
    ) -> bool {
        let now = self.plan.now();
        let from = self.senders.iter().position(|s| *s == sender);
        let parsed = parse_content(content);
        let (Some(from), Some((due, k)), true) = (from, parsed, conversation == self.group) else {
            r.unexpected += 1;
            return false;
        };
        if r.check.record(from, k, seq, catch_up) != Arrival::New {
            return false;
        }
        self.arrivals.arrived(from, k, now);
        self.counters.delivered.fetch_add(1, Ordering::Relaxed);
        if self.plan.measured(due) {
            report::record(&mut r.latency, now.saturating_sub(due));
        }
        if self.plan.measured(now) {
            self.counters
                .delivered_in_window
                .fetch_add(1, Ordering::Relaxed);
        }
        true
    }

    /// Acknowledges everything received without a gap, if that moved. A
    /// failed send shows up as a failed read next.
    async fn ack(
        &self,
        conn: &mut WsConnection,
        r: &mut MemberResult,
        through: &mut u64,
        pending: &mut u64,
    ) {
        let seq = r.check.contiguous_seq();
        if seq <= *through {
            return;
        }
        if conn
            .send(&frames::ack_through(self.group, seq))
            .await
            .is_ok()
        {
            *through = seq;
            *pending = 0;
            r.acks_sent += 1;
        }
    }
}
