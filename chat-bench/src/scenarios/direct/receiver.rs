//! A receiver: one task that owns the receiver's WebSocket, times and
//! checks every `message.new` and `messages.offline` entry, acknowledges
//! with `messages.ack` every `ack_every` messages or `ack_interval`, and
//! reconnects (then catches up) when the server asks it to.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chat_client::{ClientError, ConversationId, ServerFrame, UserId, WsConnection, frames};
use chat_core::model::Message;
use chat_core::protocol::close;
use hdrhistogram::Histogram;
use tokio::sync::watch;

use crate::report;
use crate::scenarios::peers::{Counters, Plan, parse_content};
use crate::setup::{Bench, BenchUser};
use crate::verify::{Arrival, DeliveryCheck};

/// Reconnects one receiver may make.
const MAX_RECONNECTS: u32 = 5;

/// Who a receiver is and how it acknowledges.
#[derive(Debug, Clone)]
pub(super) struct Receiver {
    /// To reconnect.
    pub(super) bench: Bench,
    /// Its connection index (which instance it connects to).
    pub(super) conn_index: usize,
    /// The receiving user.
    pub(super) user: BenchUser,
    /// The pair's sender.
    pub(super) from: UserId,
    /// Acknowledge every this many messages ...
    pub(super) ack_every: u64,
    /// ... or this often.
    pub(super) ack_interval: Duration,
}

/// What a receiver saw.
#[derive(Debug)]
pub(super) struct ReceiverResult {
    pub(super) check: DeliveryCheck,
    /// Due time to arrival, live or in a catch-up.
    pub(super) latency: Histogram<u64>,
    /// Messages from someone other than the pair's sender, or whose
    /// content is not the tool's.
    pub(super) unexpected: u64,
    pub(super) other_frames: u64,
    pub(super) acks_sent: u64,
    /// Why the server closed the connection, each time it reconnected.
    pub(super) reconnects: Vec<String>,
    /// Why the connection ended for good before the run did.
    pub(super) ended: Option<String>,
}

/// Acknowledgement state.
struct Acks {
    conversation: Option<ConversationId>,
    /// The seq last acknowledged.
    through: u64,
    /// Messages since the last acknowledgement.
    pending: u64,
}

/// Runs the receiver on `conn` until `stop`.
pub(super) async fn receive(
    cfg: Receiver,
    mut conn: WsConnection,
    plan: Plan,
    counters: Arc<Counters>,
    mut stop: watch::Receiver<bool>,
) -> ReceiverResult {
    let mut r = ReceiverResult {
        check: DeliveryCheck::new(),
        latency: report::histogram(),
        unexpected: 0,
        other_frames: 0,
        acks_sent: 0,
        reconnects: Vec::new(),
        ended: None,
    };
    let mut acks = Acks {
        conversation: None,
        through: 0,
        pending: 0,
    };
    let mut tick = tokio::time::interval(cfg.ack_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let frame = tokio::select! {
            frame = conn.next() => frame,
            _ = tick.tick() => {
                // A failed send shows up as a failed read next.
                let _ = flush(&mut conn, &mut acks, &mut r).await;
                continue;
            }
            _ = stop.changed() => {
                let _ = flush(&mut conn, &mut acks, &mut r).await;
                let _ = conn.close().await;
                return r;
            }
        };
        match frame {
            Ok(Some(ServerFrame::MessageNew(view))) => {
                arrive(
                    &cfg,
                    &plan,
                    &counters,
                    &mut r,
                    &mut acks,
                    view.message,
                    false,
                );
                if acks.pending >= cfg.ack_every {
                    let _ = flush(&mut conn, &mut acks, &mut r).await;
                }
            }
            Ok(Some(ServerFrame::Offline { messages, .. })) => {
                for m in messages {
                    let message = m.message.message;
                    arrive(&cfg, &plan, &counters, &mut r, &mut acks, message, true);
                }
                // A device acknowledges a catch-up batch once it has it.
                let _ = flush(&mut conn, &mut acks, &mut r).await;
            }
            Ok(Some(_)) | Err(ClientError::Decode(_)) => r.other_frames += 1,
            Err(ClientError::Closed {
                code: Some(code),
                reason,
            }) if reconnectable(code) && r.reconnects.len() < MAX_RECONNECTS as usize => {
                r.reconnects.push(format!("{code}: {reason}"));
                match reconnect(&cfg, &mut stop).await {
                    Some(Ok(fresh)) => conn = fresh,
                    Some(Err(e)) => {
                        r.ended = Some(format!("reconnect failed: {}: {e}", e.code()));
                        return r;
                    }
                    None => return r,
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

/// Records one arrival.
fn arrive(
    cfg: &Receiver,
    plan: &Plan,
    counters: &Counters,
    r: &mut ReceiverResult,
    acks: &mut Acks,
    m: Message,
    catch_up: bool,
) {
    let now = plan.now();
    let Some((due, k)) = parse_content(&m.content).filter(|_| m.sender_id == cfg.from) else {
        r.unexpected += 1;
        return;
    };
    acks.conversation.get_or_insert(m.conversation_id);
    if r.check.record(k, m.seq, catch_up) != Arrival::New {
        return;
    }
    acks.pending += 1;
    counters.delivered.fetch_add(1, Ordering::Relaxed);
    if plan.measured(due) {
        report::record(&mut r.latency, now.saturating_sub(due));
    }
    if plan.measured(now) {
        counters.delivered_in_window.fetch_add(1, Ordering::Relaxed);
    }
}

/// Acknowledges everything received without a gap, if that moved.
async fn flush(
    conn: &mut WsConnection,
    acks: &mut Acks,
    r: &mut ReceiverResult,
) -> chat_client::Result<()> {
    let seq = r.check.contiguous_seq();
    let Some(conversation) = acks.conversation else {
        return Ok(());
    };
    if seq <= acks.through {
        return Ok(());
    }
    conn.send(&frames::ack_through(conversation, seq)).await?;
    acks.through = seq;
    acks.pending = 0;
    r.acks_sent += 1;
    Ok(())
}

/// Closes after which a client is expected to reconnect and catch up.
fn reconnectable(code: u16) -> bool {
    matches!(
        code,
        close::TRY_AGAIN_LATER | close::GOING_AWAY | close::INTERNAL_ERROR
    )
}

/// Opens a new connection for the receiver, retrying with a short backoff;
/// `None` when told to stop meanwhile.
async fn reconnect(
    cfg: &Receiver,
    stop: &mut watch::Receiver<bool>,
) -> Option<chat_client::Result<WsConnection>> {
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let result = cfg.bench.connect(cfg.conn_index, &cfg.user).await;
        if result.is_ok() || attempt >= 3 {
            return Some(result);
        }
        let backoff = tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt)));
        tokio::select! {
            () = backoff => {}
            _ = stop.changed() => return None,
        }
    }
}
