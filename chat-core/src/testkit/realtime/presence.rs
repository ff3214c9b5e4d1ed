//! Conformance cases for [`Presence`](crate::realtime::Presence).
//!
//! Times come from the system clock, so a backend that expires
//! connections by time sees them as fresh.

use std::time::Duration;

use crate::ids::{ConnectionId, UserId};
use crate::realtime::PresenceStatus;
use crate::time::Timestamp;

use super::TestRealtime;

async fn statuses(rt: &dyn TestRealtime, users: &[UserId]) -> Vec<PresenceStatus> {
    rt.presence().statuses(users).await.expect("statuses")
}

const ONLINE: PresenceStatus = PresenceStatus {
    online: true,
    last_seen: None,
};

/// The first connection brings the user online; a second does not again.
pub async fn realtime_presence_first_connection_brings_the_user_online(rt: &dyn TestRealtime) {
    let p = rt.presence();
    let user = UserId::new();
    let now = Timestamp::now();
    let first = p.connect(user, ConnectionId::new(), now).await;
    assert!(first.expect("connect"), "first connection comes online");
    let second = p.connect(user, ConnectionId::new(), now).await;
    assert!(
        !second.expect("connect"),
        "second connection: already online"
    );
    assert_eq!(statuses(rt, &[user]).await, [ONLINE]);
}

/// Closing one of two connections keeps the user online.
pub async fn realtime_presence_user_stays_online_while_a_connection_lives(rt: &dyn TestRealtime) {
    let p = rt.presence();
    let user = UserId::new();
    let (c1, c2) = (ConnectionId::new(), ConnectionId::new());
    let now = Timestamp::now();
    p.connect(user, c1, now).await.expect("connect");
    p.connect(user, c2, now).await.expect("connect");
    let offline = p.disconnect(user, c1, now).await.expect("disconnect");
    assert!(!offline, "another connection lives");
    assert_eq!(statuses(rt, &[user]).await, [ONLINE]);
}

/// The last disconnect takes the user offline with `last_seen` at its
/// time; connecting again brings them back online.
pub async fn realtime_presence_last_disconnect_records_last_seen(rt: &dyn TestRealtime) {
    let p = rt.presence();
    let user = UserId::new();
    let (c1, c2) = (ConnectionId::new(), ConnectionId::new());
    let now = Timestamp::now();
    p.connect(user, c1, now).await.expect("connect");
    p.connect(user, c2, now).await.expect("connect");
    p.disconnect(user, c1, now).await.expect("disconnect");
    let left = Timestamp::from_millis(now.as_millis() + 1_500);
    let offline = p.disconnect(user, c2, left).await.expect("disconnect");
    assert!(offline, "the last connection closed");
    let expected = PresenceStatus {
        online: false,
        last_seen: Some(left),
    };
    assert_eq!(
        statuses(rt, &[user]).await,
        [expected],
        "last seen at close"
    );
    let back = p.connect(user, ConnectionId::new(), left).await;
    assert!(back.expect("connect"), "connecting again comes online");
    assert_eq!(statuses(rt, &[user]).await, [ONLINE]);
}

/// Statuses follow the input order; unknown users are offline, never
/// seen.
pub async fn realtime_presence_statuses_keep_input_order(rt: &dyn TestRealtime) {
    let p = rt.presence();
    let (on, off, unknown) = (UserId::new(), UserId::new(), UserId::new());
    let now = Timestamp::now();
    p.connect(on, ConnectionId::new(), now)
        .await
        .expect("connect");
    let c = ConnectionId::new();
    p.connect(off, c, now).await.expect("connect");
    p.disconnect(off, c, now).await.expect("disconnect");
    let was_off = PresenceStatus {
        online: false,
        last_seen: Some(now),
    };
    let never = PresenceStatus {
        online: false,
        last_seen: None,
    };
    let got = statuses(rt, &[unknown, on, off, on]).await;
    assert_eq!(got, [never, ONLINE, was_off, ONLINE], "input order");
    assert!(statuses(rt, &[]).await.is_empty(), "no users, no statuses");
}

/// Disconnecting a connection that is not live reports no change.
pub async fn realtime_presence_unknown_connection_disconnect_changes_nothing(
    rt: &dyn TestRealtime,
) {
    let p = rt.presence();
    let (user, stranger) = (UserId::new(), UserId::new());
    let now = Timestamp::now();
    let gone = p.disconnect(stranger, ConnectionId::new(), now).await;
    assert!(!gone.expect("disconnect"), "unknown user");
    p.connect(user, ConnectionId::new(), now)
        .await
        .expect("connect");
    let gone = p.disconnect(user, ConnectionId::new(), now).await;
    assert!(!gone.expect("disconnect"), "unknown connection");
    assert_eq!(statuses(rt, &[user]).await, [ONLINE], "still online");
}

/// Heartbeats keep a live connection online.
pub async fn realtime_presence_heartbeat_keeps_a_connection_online(rt: &dyn TestRealtime) {
    let p = rt.presence();
    let user = UserId::new();
    let c = ConnectionId::new();
    p.connect(user, c, Timestamp::now()).await.expect("connect");
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        p.heartbeat(user, c, Timestamp::now())
            .await
            .expect("heartbeat");
        assert_eq!(statuses(rt, &[user]).await, [ONLINE]);
    }
    let offline = p.disconnect(user, c, Timestamp::now()).await;
    assert!(
        offline.expect("disconnect"),
        "heartbeats kept one connection"
    );
}
