//! Delivery checks: every message a server acknowledged reaches its
//! receiver exactly once, in seq order, and seq order is send order.
//!
//! After a reconnect the server's catch-up (`messages.offline`) sends again
//! what the device had not acknowledged: at-least-once, deduplicated by
//! seq, as the protocol says. Those repeats are counted as redeliveries,
//! not duplicates; a repeat in a live `message.new` is a duplicate.
//!
//! Each sender numbers its messages 0, 1, 2, ... (the index is in the
//! content and the `client_msg_id`); the server numbers them with the
//! conversation's seq. One [`DeliveryCheck`] per receiver records what
//! arrives; [`DeliveryCheck::finish`] compares it with what the sender saw
//! acknowledged.

use serde::Serialize;

/// A growable set of small numbers.
#[derive(Debug, Default, Clone)]
pub(crate) struct IndexSet {
    bits: Vec<bool>,
    len: u64,
}

impl IndexSet {
    /// Adds `i`; false when it was already there.
    pub(crate) fn insert(&mut self, i: u64) -> bool {
        let at = usize::try_from(i).expect("index fits in memory");
        if at >= self.bits.len() {
            self.bits.resize((at + 1).max(self.bits.len() * 2), false);
        }
        let fresh = !self.bits[at];
        self.bits[at] = true;
        self.len += u64::from(fresh);
        fresh
    }

    /// Whether `i` is in the set.
    pub(crate) fn contains(&self, i: u64) -> bool {
        usize::try_from(i)
            .ok()
            .and_then(|at| self.bits.get(at))
            .copied()
            .unwrap_or(false)
    }

    /// How many numbers are in the set.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// The numbers in the set, ascending.
    pub(crate) fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.bits
            .iter()
            .enumerate()
            .filter(|(_, b)| **b)
            .map(|(i, _)| i as u64)
    }
}

/// What one arrival was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arrival {
    /// First time this message arrived.
    New,
    /// Already received, in a live frame: a duplicate.
    Duplicate,
    /// Already received, again in a catch-up after a reconnect.
    Redelivered,
}

/// What one receiver has received from its sender: a [`GroupCheck`]
/// with one sender.
#[derive(Debug)]
pub(crate) struct DeliveryCheck(GroupCheck);

impl Default for DeliveryCheck {
    fn default() -> Self {
        Self(GroupCheck::new(1))
    }
}

impl DeliveryCheck {
    /// A check with nothing received.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Records the arrival of message `index` with `seq`; `catch_up` when
    /// it came in a `messages.offline` batch.
    pub(crate) fn record(&mut self, index: u64, seq: u64, catch_up: bool) -> Arrival {
        self.0.record(0, index, seq, catch_up)
    }

    /// Every seq up to this one has arrived: what the receiver may ack.
    pub(crate) fn contiguous_seq(&self) -> u64 {
        self.0.contiguous_seq()
    }

    /// Compares what arrived with the indexes the server acknowledged to
    /// the sender: `settled` were acknowledged long enough before the end
    /// that they must have arrived (a message is fanned out before its
    /// sender hears `message.sent`); `acked` is every acknowledgement seen.
    /// `connected` is false when the receiver's connection ended before
    /// the run did: what it missed then counts as unreachable, not lost.
    pub(crate) fn finish(&self, settled: &IndexSet, acked: &IndexSet, connected: bool) -> Verdict {
        self.0.finish(
            std::slice::from_ref(settled),
            std::slice::from_ref(acked),
            connected,
        )
    }
}

/// What one member of a group has received from the group's senders:
/// the same checks as [`DeliveryCheck`], for many senders in one
/// conversation. Each sender's indexes are tracked on their own (send
/// order is per sender), the seqs once for the conversation.
#[derive(Debug)]
pub(crate) struct GroupCheck {
    /// Per sender: indexes received, and the highest one.
    by_sender: Vec<(IndexSet, Option<u64>)>,
    seqs: IndexSet,
    max_seq: u64,
    contiguous_seq: u64,
    received: u64,
    duplicates: u64,
    redelivered: u64,
    seq_reorders: u64,
    send_order_inversions: u64,
}

impl GroupCheck {
    /// A check for a group with `senders` senders, nothing received.
    pub(crate) fn new(senders: usize) -> Self {
        Self {
            by_sender: vec![(IndexSet::default(), None); senders],
            seqs: IndexSet::default(),
            max_seq: 0,
            contiguous_seq: 0,
            received: 0,
            duplicates: 0,
            redelivered: 0,
            seq_reorders: 0,
            send_order_inversions: 0,
        }
    }

    /// Records the arrival of message `index` of `sender` with `seq`;
    /// `catch_up` when it came in a `messages.offline` batch.
    pub(crate) fn record(
        &mut self,
        sender: usize,
        index: u64,
        seq: u64,
        catch_up: bool,
    ) -> Arrival {
        let (indexes, max_index) = &mut self.by_sender[sender];
        let new_index = indexes.insert(index);
        let new_seq = self.seqs.insert(seq);
        if !new_index || !new_seq {
            if catch_up {
                self.redelivered += 1;
                return Arrival::Redelivered;
            }
            self.duplicates += 1;
            return Arrival::Duplicate;
        }
        self.received += 1;
        if seq < self.max_seq {
            self.seq_reorders += 1;
        }
        if max_index.is_some_and(|m| index < m) {
            self.send_order_inversions += 1;
        }
        *max_index = Some(max_index.map_or(index, |m| m.max(index)));
        self.max_seq = self.max_seq.max(seq);
        while self.seqs.contains(self.contiguous_seq + 1) {
            self.contiguous_seq += 1;
        }
        Arrival::New
    }

    /// Every seq up to this one has arrived: what the member may ack.
    pub(crate) fn contiguous_seq(&self) -> u64 {
        self.contiguous_seq
    }

    /// As [`DeliveryCheck::finish`], with each sender's `settled` and
    /// `acked` indexes (in sender order).
    pub(crate) fn finish(
        &self,
        settled: &[IndexSet],
        acked: &[IndexSet],
        connected: bool,
    ) -> Verdict {
        let mut v = Verdict {
            received: self.received,
            duplicates: self.duplicates,
            redelivered: self.redelivered,
            seq_reorders: self.seq_reorders,
            send_order_inversions: self.send_order_inversions,
            ..Verdict::default()
        };
        for (((indexes, _), settled), acked) in self.by_sender.iter().zip(settled).zip(acked) {
            let missing = settled.iter().filter(|&i| !indexes.contains(i)).count() as u64;
            if connected {
                v.lost += missing;
            } else {
                v.unreachable += missing;
            }
            v.acked += acked.len();
            v.received_unacked += indexes.iter().filter(|&i| !acked.contains(i)).count() as u64;
        }
        v
    }
}

/// The outcome of the delivery checks, summed over receivers.
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub(crate) struct Verdict {
    /// Messages the server acknowledged (`message.sent`).
    pub(crate) acked: u64,
    /// Distinct messages received (`message.new`).
    pub(crate) received: u64,
    /// Acknowledged before the cut-off, yet never received.
    pub(crate) lost: u64,
    /// Acknowledged, never received, by a receiver whose connection had
    /// ended for good before the end of the run.
    pub(crate) unreachable: u64,
    /// Received more than once in live frames.
    pub(crate) duplicates: u64,
    /// Received again in a catch-up after a reconnect (expected).
    pub(crate) redelivered: u64,
    /// Received with a lower seq than one received before.
    pub(crate) seq_reorders: u64,
    /// Received with a lower send index than one received before: the
    /// server's seq order differs from the order the sender sent in.
    pub(crate) send_order_inversions: u64,
    /// Received although the sender never saw it acknowledged (its
    /// `message.sent` was lost or is late). Not a delivery failure.
    pub(crate) received_unacked: u64,
}

impl Verdict {
    /// Adds another receiver's verdict.
    pub(crate) fn add(&mut self, other: &Verdict) {
        self.acked += other.acked;
        self.received += other.received;
        self.lost += other.lost;
        self.unreachable += other.unreachable;
        self.duplicates += other.duplicates;
        self.redelivered += other.redelivered;
        self.seq_reorders += other.seq_reorders;
        self.send_order_inversions += other.send_order_inversions;
        self.received_unacked += other.received_unacked;
    }

    /// True when nothing was lost, duplicated or reordered.
    pub(crate) fn ok(&self) -> bool {
        self.lost == 0
            && self.duplicates == 0
            && self.seq_reorders == 0
            && self.send_order_inversions == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acked(indexes: impl IntoIterator<Item = u64>) -> IndexSet {
        let mut s = IndexSet::default();
        for i in indexes {
            s.insert(i);
        }
        s
    }

    #[test]
    fn in_order_exactly_once_is_ok() {
        let mut c = DeliveryCheck::new();
        for i in 0..10 {
            assert_eq!(c.record(i, i + 1, false), Arrival::New);
        }
        assert_eq!(c.contiguous_seq(), 10);
        let v = c.finish(&acked(0..10), &acked(0..10), true);
        assert!(v.ok(), "{v:?}");
        assert_eq!((v.acked, v.received), (10, 10));
    }

    #[test]
    fn duplicates_reorders_and_losses_are_counted() {
        let mut c = DeliveryCheck::new();
        c.record(0, 1, false);
        c.record(2, 3, false);
        c.record(1, 2, false);
        assert_eq!(c.record(1, 2, false), Arrival::Duplicate);
        assert_eq!(c.contiguous_seq(), 3);
        let v = c.finish(&acked(0..5), &acked(0..5), true);
        assert_eq!(v.duplicates, 1);
        assert_eq!(v.seq_reorders, 1);
        assert_eq!(v.send_order_inversions, 1);
        assert_eq!(v.lost, 2);
        assert!(!v.ok());
    }

    #[test]
    fn seq_order_differing_from_send_order_is_an_inversion() {
        let mut c = DeliveryCheck::new();
        c.record(1, 1, false);
        c.record(0, 2, false);
        let v = c.finish(&acked(0..2), &acked(0..2), true);
        assert_eq!((v.seq_reorders, v.send_order_inversions), (0, 1));
    }

    #[test]
    fn a_group_member_gets_every_sender_once_in_seq_order() {
        let mut c = GroupCheck::new(2);
        // Sender 0 sends indexes 0, 1; sender 1 sends 0, 1; seqs interleave.
        assert_eq!(c.record(0, 0, 1, false), Arrival::New);
        assert_eq!(c.record(1, 0, 2, false), Arrival::New);
        assert_eq!(c.record(1, 1, 3, false), Arrival::New);
        assert_eq!(c.record(0, 1, 4, false), Arrival::New);
        assert_eq!(c.contiguous_seq(), 4);
        let v = c.finish(
            &[acked(0..2), acked(0..2)],
            &[acked(0..2), acked(0..2)],
            true,
        );
        assert!(v.ok(), "{v:?}");
        assert_eq!((v.acked, v.received), (4, 4));
    }

    #[test]
    fn group_losses_duplicates_and_reorders_are_counted() {
        let mut c = GroupCheck::new(2);
        c.record(0, 0, 1, false);
        c.record(1, 1, 3, false);
        c.record(1, 0, 2, false);
        assert_eq!(c.record(1, 0, 2, false), Arrival::Duplicate);
        assert_eq!(c.record(1, 0, 2, true), Arrival::Redelivered);
        let v = c.finish(
            &[acked(0..2), acked(0..2)],
            &[acked(0..2), acked(0..2)],
            true,
        );
        assert_eq!(v.lost, 1, "sender 0's index 1 never came");
        assert_eq!((v.duplicates, v.redelivered), (1, 1));
        assert_eq!((v.seq_reorders, v.send_order_inversions), (1, 1));
        let gone = c.finish(
            &[acked(0..2), acked(0..2)],
            &[acked(0..2), acked(0..2)],
            false,
        );
        assert_eq!((gone.lost, gone.unreachable), (0, 1));
    }

    #[test]
    fn repeats_in_a_catch_up_are_redeliveries() {
        let mut c = DeliveryCheck::new();
        c.record(0, 1, false);
        c.record(1, 2, false);
        assert_eq!(c.record(1, 2, true), Arrival::Redelivered);
        assert_eq!(c.record(2, 3, true), Arrival::New);
        let v = c.finish(&acked(0..3), &acked(0..3), true);
        assert!(v.ok(), "{v:?}");
        assert_eq!((v.redelivered, v.duplicates), (1, 0));
    }

    #[test]
    fn a_closed_receiver_misses_messages_without_losing_them() {
        let mut c = DeliveryCheck::new();
        c.record(0, 1, false);
        let v = c.finish(&acked(0..3), &acked(0..3), false);
        assert!(v.ok(), "{v:?}");
        assert_eq!((v.lost, v.unreachable), (0, 2));
    }

    #[test]
    fn messages_acknowledged_after_the_cutoff_are_not_lost() {
        let mut c = DeliveryCheck::new();
        c.record(0, 1, false);
        let v = c.finish(&acked([0]), &acked([0, 1]), true);
        assert!(v.ok(), "{v:?}");
        assert_eq!(v.acked, 2);
    }

    #[test]
    fn a_gap_holds_the_contiguous_seq_back() {
        let mut c = DeliveryCheck::new();
        c.record(0, 1, false);
        c.record(2, 3, false);
        assert_eq!(c.contiguous_seq(), 1);
        let v = c.finish(&acked([0, 2, 3]), &acked([0, 2, 3]), true);
        assert_eq!(v.lost, 1);
        assert_eq!(v.received_unacked, 0);
    }
}
