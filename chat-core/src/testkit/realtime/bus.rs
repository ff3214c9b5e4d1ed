//! Conformance cases for [`EventBus`] and
//! [`Subscription`].

use std::time::Duration;

use bytes::Bytes;

use crate::ids::{ConnectionId, ConversationId, SessionId, UserId};
use crate::realtime::{Event, EventBus, EventKind, Frame, FrameClass, Subscription};

use super::TestRealtime;

/// How long an expected event may take to arrive.
const ARRIVAL: Duration = Duration::from_secs(5);
/// How long to wait before concluding that nothing arrives.
const SILENCE: Duration = Duration::from_millis(200);

fn frame(json: &str) -> Event {
    Event::frame(Frame {
        json: Bytes::copy_from_slice(json.as_bytes()),
        class: FrameClass::Durable,
        message: None,
        origin: None,
    })
}

/// The JSON of a frame event.
fn json(event: &Event) -> String {
    match event.kind() {
        EventKind::Frame(f) => String::from_utf8(f.json.to_vec()).expect("utf-8 frame"),
        other => panic!("expected a frame, got {other:?}"),
    }
}

async fn next(sub: &mut Subscription, what: &str) -> Event {
    tokio::time::timeout(ARRIVAL, sub.recv())
        .await
        .unwrap_or_else(|_| panic!("{what}: no event within {ARRIVAL:?}"))
        .unwrap_or_else(|| panic!("{what}: subscription ended"))
}

async fn silent(sub: &mut Subscription, what: &str) {
    if let Ok(Some(event)) = tokio::time::timeout(SILENCE, sub.recv()).await {
        panic!("{what}: unexpected event {event:?}");
    }
}

async fn subscribe(bus: &dyn EventBus, user: UserId) -> Subscription {
    bus.subscribe(user, ConnectionId::new())
        .await
        .expect("subscribe")
}

/// Every connection of every addressed user gets the event exactly once.
pub async fn realtime_bus_publish_reaches_every_connection_once(rt: &dyn TestRealtime) {
    let bus = rt.bus();
    let (a, b) = (UserId::new(), UserId::new());
    let mut subs = vec![
        subscribe(&*bus, a).await,
        subscribe(&*bus, a).await,
        subscribe(&*bus, b).await,
    ];
    bus.publish(&[a, b], frame(r#"{"n":1}"#))
        .await
        .expect("publish");
    for sub in &mut subs {
        assert_eq!(json(&next(sub, "addressed").await), r#"{"n":1}"#);
    }
    for sub in &mut subs {
        silent(sub, "delivered once").await;
    }
}

/// Users the event is not addressed to get nothing.
pub async fn realtime_bus_users_not_addressed_get_nothing(rt: &dyn TestRealtime) {
    let bus = rt.bus();
    let (a, b) = (UserId::new(), UserId::new());
    let mut to_a = subscribe(&*bus, a).await;
    let mut to_b = subscribe(&*bus, b).await;
    bus.publish(&[a], frame(r#"{"for":"a"}"#))
        .await
        .expect("publish");
    bus.publish(&[UserId::new()], frame("{}"))
        .await
        .expect("publish");
    bus.publish(&[], frame("{}"))
        .await
        .expect("publish to nobody");
    assert_eq!(json(&next(&mut to_a, "addressed").await), r#"{"for":"a"}"#);
    silent(&mut to_b, "not addressed").await;
    silent(&mut to_a, "only its own event").await;
}

/// A dropped subscription leaves the user's other connections and other
/// users unaffected, and publishing to a user with none left succeeds.
pub async fn realtime_bus_dropped_subscription_does_not_break_publishing(rt: &dyn TestRealtime) {
    let bus = rt.bus();
    let (a, b) = (UserId::new(), UserId::new());
    let dropped = subscribe(&*bus, a).await;
    let mut kept = subscribe(&*bus, a).await;
    let only_b = subscribe(&*bus, b).await;
    drop(dropped);
    drop(only_b);
    bus.publish(&[a, b], frame(r#"{"n":1}"#))
        .await
        .expect("publish");
    assert_eq!(json(&next(&mut kept, "kept").await), r#"{"n":1}"#);
    silent(&mut kept, "delivered once").await;
    // Subscribing again works, however the drop's unsubscribe is timed.
    // A bus whose delivery is in flight may still hand it `{"n":1}`.
    let mut b_again = subscribe(&*bus, b).await;
    bus.publish(&[b], frame(r#"{"n":2}"#))
        .await
        .expect("publish");
    let mut got = json(&next(&mut b_again, "resubscribed").await);
    if got == r#"{"n":1}"# {
        got = json(&next(&mut b_again, "resubscribed").await);
    }
    assert_eq!(got, r#"{"n":2}"#, "the resubscribed user gets new events");
}

/// A session revocation arrives as one, with its session id.
pub async fn realtime_bus_session_revocations_arrive_as_such(rt: &dyn TestRealtime) {
    let bus = rt.bus();
    let user = UserId::new();
    let session = SessionId::new();
    let mut sub = subscribe(&*bus, user).await;
    bus.publish(&[user], Event::session_revoked(session))
        .await
        .expect("publish");
    match next(&mut sub, "revocation").await.kind() {
        EventKind::SessionRevoked(s) => assert_eq!(*s, session, "its session"),
        other => panic!("expected a session revocation, got {other:?}"),
    }
}

/// A frame arrives with its bytes, class, message position and origin.
pub async fn realtime_bus_frames_keep_their_contents(rt: &dyn TestRealtime) {
    let bus = rt.bus();
    let user = UserId::new();
    let mut sub = subscribe(&*bus, user).await;
    let conversation = ConversationId::new();
    let origin = ConnectionId::new();
    let sent = [
        (
            r#"{"type":"message.new","seq":7}"#,
            FrameClass::Durable,
            Some((conversation, 7)),
            Some(origin),
        ),
        (
            r#"{"type":"typing","é":"ü"}"#,
            FrameClass::Ephemeral,
            None,
            None,
        ),
    ];
    for (text, class, message, origin) in sent {
        let frame = Frame {
            json: Bytes::copy_from_slice(text.as_bytes()),
            class,
            message,
            origin,
        };
        bus.publish(&[user], Event::frame(frame))
            .await
            .expect("publish");
    }
    for (text, class, message, origin) in sent {
        let event = next(&mut sub, "frame").await;
        let EventKind::Frame(f) = event.kind() else {
            panic!("expected a frame, got {event:?}");
        };
        assert_eq!(&f.json[..], text.as_bytes(), "bytes kept");
        assert_eq!(f.class, class, "class kept");
        assert_eq!(f.message, message, "message position kept");
        assert_eq!(f.origin, origin, "origin kept");
        assert_eq!(event.is_ephemeral(), class == FrameClass::Ephemeral);
    }
}

/// Events to one connection arrive in the order they were published.
pub async fn realtime_bus_events_arrive_in_publish_order(rt: &dyn TestRealtime) {
    let bus = rt.bus();
    let (a, b) = (UserId::new(), UserId::new());
    let mut sub_a = subscribe(&*bus, a).await;
    let mut sub_b = subscribe(&*bus, b).await;
    for i in 0..50 {
        let to: &[UserId] = if i % 2 == 0 { &[a, b] } else { &[a] };
        bus.publish(to, frame(&format!("{i}")))
            .await
            .expect("publish");
    }
    for i in 0..50 {
        assert_eq!(json(&next(&mut sub_a, "a in order").await), format!("{i}"));
    }
    for i in (0..50).step_by(2) {
        assert_eq!(json(&next(&mut sub_b, "b in order").await), format!("{i}"));
    }
}

/// An event published on one instance reaches the user's connections on
/// every instance, once each.
pub async fn realtime_bus_events_cross_instances(rt: &dyn TestRealtime) {
    let Some(other) = rt.other_instance_bus() else {
        return;
    };
    let here = rt.bus();
    let (a, b) = (UserId::new(), UserId::new());
    let mut a_there = subscribe(&*other, a).await;
    let mut a_here = subscribe(&*here, a).await;
    let mut b_here = subscribe(&*here, b).await;
    here.publish(&[a], frame(r#"{"n":1}"#))
        .await
        .expect("publish");
    assert_eq!(
        json(&next(&mut a_there, "other instance").await),
        r#"{"n":1}"#
    );
    assert_eq!(
        json(&next(&mut a_here, "same instance").await),
        r#"{"n":1}"#
    );
    other
        .publish(&[b], Event::session_revoked(SessionId::new()))
        .await
        .expect("publish");
    let event = next(&mut b_here, "back from the other instance").await;
    assert!(
        matches!(event.kind(), EventKind::SessionRevoked(_)),
        "{event:?}"
    );
    silent(&mut a_there, "once on the other instance").await;
    silent(&mut a_here, "once on the same instance").await;
}

/// A notice runs this instance's handlers before `announce` returns, and
/// every other instance's handlers once.
pub async fn realtime_bus_notices_reach_every_instance_once(rt: &dyn TestRealtime) {
    use std::sync::{Arc, Mutex};

    use crate::realtime::Notice;

    let here = rt.bus();
    let seen_here = Arc::new(Mutex::new(Vec::new()));
    let sink = seen_here.clone();
    here.on_notice(Arc::new(move |n: &Notice| {
        sink.lock().expect("lock").push(n.clone());
    }));
    let (tx, mut seen_there) = tokio::sync::mpsc::unbounded_channel();
    let other = rt.other_instance_bus();
    if let Some(other) = &other {
        other.on_notice(Arc::new(move |n: &Notice| {
            let _ = tx.send(n.clone());
        }));
    }
    let notice = Notice::MembersChanged {
        conversation_id: ConversationId::new(),
    };
    here.announce(notice.clone()).await.expect("announce");
    assert_eq!(
        *seen_here.lock().expect("lock"),
        vec![notice.clone()],
        "this instance's handlers ran once before announce returned"
    );
    if other.is_some() {
        let got = tokio::time::timeout(ARRIVAL, seen_there.recv())
            .await
            .expect("the other instance hears the notice");
        assert_eq!(got, Some(notice));
        tokio::time::sleep(SILENCE).await;
        assert!(seen_there.try_recv().is_err(), "heard once");
        assert_eq!(seen_here.lock().expect("lock").len(), 1, "no echo here");
    }
}
