//! A push service for tests, on a local port: it plays the browser's
//! push service and the device at once. Devices it makes have real P-256
//! keys; every push it takes is checked as a push service checks it (the
//! VAPID signature against the server's key, for this origin) and
//! decrypted as the device would (RFC 8291), so a test sees the
//! notification a service worker would get.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chat_core::model::PushNotification;
use serde_json::{Value, json};
use web_push_native::jwt_simple::prelude::{
    ECDSAP256PublicKeyLike, ES256PublicKey, NoCustomClaims,
};
use web_push_native::p256::SecretKey;
use web_push_native::p256::elliptic_curve::sec1::ToEncodedPoint;
use web_push_native::{Auth, decrypt};

/// How a device's pushes are answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    /// 201 Created, the push service took it.
    Take,
    /// This status, and nothing is delivered.
    Status(u16),
    /// Never answers (a push service that hangs).
    Hang,
}

/// One push the service took and the device decrypted.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    /// The device's name.
    pub(crate) device: String,
    /// What the service worker would find in the push event.
    pub(crate) notification: PushNotification,
    /// `TTL`, `Topic` and `Urgency`, as sent.
    pub(crate) ttl: Option<String>,
    pub(crate) topic: Option<String>,
    pub(crate) urgency: Option<String>,
}

struct Device {
    secret: SecretKey,
    auth: [u8; 16],
    answer: Answer,
}

#[derive(Default)]
struct Shared {
    devices: HashMap<String, Device>,
    received: Vec<Received>,
    /// Pushes refused for a bad signature or an undecryptable body.
    faults: Vec<String>,
    /// Every request, taken or not, per device.
    attempts: HashMap<String, u32>,
}

/// The local push service.
#[derive(Clone)]
pub(crate) struct LocalPushService {
    /// `http://127.0.0.1:port`.
    pub(crate) base: String,
    /// The VAPID public key pushes must be signed with.
    server_key: String,
    shared: Arc<Mutex<Shared>>,
}

impl LocalPushService {
    /// Starts one that takes pushes signed with `server_key` (base64url).
    pub(crate) async fn start(server_key: &str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr: SocketAddr = listener.local_addr().expect("addr");
        let service = Self {
            base: format!("http://{addr}"),
            server_key: server_key.to_owned(),
            shared: Arc::default(),
        };
        let app = Router::new()
            .route("/push/{device}", post(take))
            .with_state(service.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        service
    }

    fn shared(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new device: the subscription JSON a browser would hand the page
    /// (`PushSubscription.toJSON()`).
    pub(crate) fn new_device(&self, name: &str) -> Value {
        let secret = loop {
            let mut bytes = [0u8; 32];
            bytes[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
            bytes[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
            if let Ok(key) = SecretKey::from_slice(&bytes) {
                break key;
            }
        };
        let auth: [u8; 16] = *uuid::Uuid::new_v4().as_bytes();
        let public = secret.public_key().to_encoded_point(false);
        let subscription = json!({
            "endpoint": self.endpoint(name),
            "expirationTime": null,
            "keys": {
                "p256dh": URL_SAFE_NO_PAD.encode(public.as_bytes()),
                "auth": URL_SAFE_NO_PAD.encode(auth),
            }
        });
        self.shared().devices.insert(
            name.to_owned(),
            Device {
                secret,
                auth,
                answer: Answer::Take,
            },
        );
        subscription
    }

    /// The endpoint of device `name`.
    pub(crate) fn endpoint(&self, name: &str) -> String {
        format!("{}/push/{name}", self.base)
    }

    /// Answers device `name`'s pushes with `answer` from now on.
    pub(crate) fn answer(&self, name: &str, answer: Answer) {
        if let Some(d) = self.shared().devices.get_mut(name) {
            d.answer = answer;
        }
    }

    /// Requests made for device `name` so far, answered or not.
    pub(crate) fn attempts(&self, name: &str) -> u32 {
        self.shared().attempts.get(name).copied().unwrap_or(0)
    }

    /// Waits until `n` pushes were taken (at most `within`), and returns
    /// every push taken so far.
    pub(crate) async fn wait_for(&self, n: usize, within: Duration) -> Vec<Received> {
        crate::helpers::wait_until(within, || self.received(), |r| r.len() >= n).await
    }

    /// The pushes taken so far.
    pub(crate) fn received(&self) -> Vec<Received> {
        let shared = self.shared();
        assert!(shared.faults.is_empty(), "bad pushes: {:?}", shared.faults);
        shared.received.clone()
    }

    /// Checks the VAPID signature (`Authorization: vapid t=..., k=...`):
    /// the server's key, a valid ES256 token for this origin.
    fn check_vapid(&self, headers: &HeaderMap) -> Result<(), String> {
        let value = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .ok_or("no Authorization")?;
        let rest = value.strip_prefix("vapid ").ok_or("not vapid")?;
        let mut token = None;
        let mut key = None;
        for part in rest.split(',') {
            let part = part.trim();
            if let Some(t) = part.strip_prefix("t=") {
                token = Some(t);
            } else if let Some(k) = part.strip_prefix("k=") {
                key = Some(k);
            }
        }
        let (token, key) = (token.ok_or("no t=")?, key.ok_or("no k=")?);
        if key != self.server_key {
            return Err(format!("signed with {key}, not the server's key"));
        }
        let raw = URL_SAFE_NO_PAD.decode(key).map_err(|e| e.to_string())?;
        let public = ES256PublicKey::from_bytes(&raw).map_err(|e| e.to_string())?;
        let claims = public
            .verify_token::<NoCustomClaims>(token, None)
            .map_err(|e| e.to_string())?;
        let audience = claims
            .audiences
            .map(|a| a.into_string().unwrap_or_default())
            .unwrap_or_default();
        if audience != self.base {
            return Err(format!("audience {audience}, not {}", self.base));
        }
        Ok(())
    }
}

async fn take(
    State(service): State<LocalPushService>,
    Path(device): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let answer = {
        let mut shared = service.shared();
        *shared.attempts.entry(device.clone()).or_default() += 1;
        shared.devices.get(&device).map(|d| d.answer)
    };
    match answer {
        None => return StatusCode::GONE,
        Some(Answer::Hang) => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            return StatusCode::GATEWAY_TIMEOUT;
        }
        Some(Answer::Status(code)) => {
            return StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        }
        Some(Answer::Take) => {}
    }
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let outcome = service.check_vapid(&headers).and_then(|()| {
        if header("content-encoding").as_deref() != Some("aes128gcm") {
            return Err("not aes128gcm".to_owned());
        }
        let shared = service.shared();
        let d = shared.devices.get(&device).ok_or("no device")?;
        let auth = Auth::from(d.auth);
        let plain = decrypt(body.to_vec(), &d.secret, &auth).map_err(|e| e.to_string())?;
        serde_json::from_slice::<PushNotification>(&plain).map_err(|e| e.to_string())
    });
    let mut shared = service.shared();
    match outcome {
        Ok(notification) => {
            shared.received.push(Received {
                device,
                notification,
                ttl: header("ttl"),
                topic: header("topic"),
                urgency: header("urgency"),
            });
            StatusCode::CREATED
        }
        Err(fault) => {
            shared.faults.push(fault);
            StatusCode::BAD_REQUEST
        }
    }
}
