//! How many sockets each user holds on this instance, and the cap on it.
//!
//! Every socket costs the server its session and queue, and the kernel
//! its buffers (up to a few MiB for one that stops reading), so one
//! account must not open them without end. The cap is per instance:
//! several instances each hold at most this many of a user's sockets.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chat_core::UserId;

/// The sockets each user holds on this instance. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SocketSeats {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Most sockets one user may hold at once.
    max_per_user: u32,
    /// A std mutex: it is held for one map operation, never across an
    /// await.
    held: Mutex<HashMap<UserId, u32>>,
}

/// One socket's place; dropping it frees the place.
#[derive(Debug)]
pub struct Seat {
    seats: Arc<Inner>,
    user: UserId,
}

impl SocketSeats {
    /// Seats for at most `max_per_user` sockets per user (at least one).
    pub fn new(max_per_user: u32) -> Self {
        Self {
            inner: Arc::new(Inner {
                max_per_user: max_per_user.max(1),
                held: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Most sockets one user may hold at once.
    pub fn max_per_user(&self) -> u32 {
        self.inner.max_per_user
    }

    /// A seat for one more socket of `user`, or `None` when they hold as
    /// many as they may.
    pub fn take(&self, user: UserId) -> Option<Seat> {
        let mut held = self
            .inner
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = held.entry(user).or_insert(0);
        if *count >= self.inner.max_per_user {
            return None;
        }
        *count += 1;
        Some(Seat {
            seats: self.inner.clone(),
            user,
        })
    }

    /// Sockets `user` holds now.
    pub fn held_by(&self, user: UserId) -> u32 {
        self.inner
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&user)
            .copied()
            .unwrap_or(0)
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        let mut held = self
            .seats
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(count) = held.get_mut(&self.user) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                held.remove(&self.user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_gets_at_most_the_cap_and_a_freed_seat_is_taken_again() {
        let seats = SocketSeats::new(2);
        let (alice, bob) = (UserId::new(), UserId::new());
        let first = seats.take(alice).expect("first");
        let _second = seats.take(alice).expect("second");
        assert!(seats.take(alice).is_none(), "a third is refused");
        assert!(
            seats.take(bob).is_some(),
            "others are not counted against her"
        );
        drop(first);
        assert_eq!(seats.held_by(alice), 1);
        assert!(seats.take(alice).is_some(), "a freed seat is hers again");
    }
}
