//! [`ChatEngine`]: the one entry point, built from its backends.

use std::sync::{Arc, Weak};

use crate::attachments::{AttachmentConfig, AttachmentDeps, AttachmentService};
use crate::auth::service::AuthDeps;
use crate::auth::{AuthConfig, AuthService};
use crate::blocks::Blocks;
use crate::conversations::{ConversationConfig, ConversationDeps, ConversationService};
use crate::delivery::{DeliveryDeps, DeliveryService};
use crate::error::Result;
use crate::fanout::Fanout;
use crate::mailer::{LogMailer, Mailer};
use crate::members::Members;
use crate::memory::{
    MemoryBlobStore, MemoryDueWork, MemoryEventBus, MemoryOfflineQueue, MemoryPresence,
    MemoryPusher, MemoryRateLimiter, MemoryStore, MemoryWebhookSender,
};
use crate::message_hook::{HookConfig, HookGate, MessageHook};
use crate::metrics::Metrics;
use crate::moderation::{AdminConfig, AdminService, ModerationDeps, ModerationService};
use crate::push::{PushConfig, PushDeps, PushService, Pusher};
use crate::rate_limit::RateLimiter;
use crate::realtime::{DueWork, EventBus, OfflineQueue, Presence, RealtimeDeps};
use crate::store::{BatchedWrites, BlobStore, ConversationStore, MessageStore, Store, TimedReads};
use crate::time::{Clock, SystemClock};
use crate::users::UserService;
use crate::webhooks::{WebhookConfig, WebhookDeps, WebhookRegistry, WebhookSender, WebhookService};

/// The chat engine: services wired to their backends.
///
/// Cheap to clone; clones share everything.
///
/// ```
/// # async fn demo() -> chat_core::Result<()> {
/// use chat_core::{ChatEngine, Signup, Username, Email, Password};
///
/// let engine = ChatEngine::builder().build()?; // in-memory backends
/// let tokens = engine
///     .auth()
///     .signup(
///         Signup {
///             username: Username::parse("alice")?,
///             email: Email::parse("alice@example.com")?,
///             password: Password::parse("s3cret!pass")?,
///             display_name: None,
///         },
///         None,
///     )
///     .await?;
/// let me = engine.auth().authenticate(&tokens.access_token)?;
/// assert_eq!(me.user_id, tokens.user_id);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ChatEngine {
    // One pointer: transports keep a clone per connection.
    inner: Arc<EngineInner>,
}

struct EngineInner {
    store: Arc<dyn Store>,
    auth: AuthService,
    users: UserService,
    conversations: ConversationService,
    delivery: DeliveryService,
    moderation: ModerationService,
    admin: AdminService,
    attachments: AttachmentService,
    push: PushService,
    webhooks: WebhookService,
    realtime: RealtimeDeps,
    members: Arc<Members>,
    blocks: Arc<Blocks>,
    /// The batching writers under the services' message store.
    writes: Arc<BatchedWrites>,
    metrics: Metrics,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for ChatEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatEngine")
            .field("auth", &self.inner.auth)
            .finish_non_exhaustive()
    }
}

impl ChatEngine {
    /// Starts building an engine; every backend defaults to its in-memory
    /// implementation.
    pub fn builder() -> ChatEngineBuilder {
        ChatEngineBuilder::default()
    }

    /// Authentication.
    pub fn auth(&self) -> &AuthService {
        &self.inner.auth
    }

    /// Profiles and search.
    pub fn users(&self) -> &UserService {
        &self.inner.users
    }

    /// Conversations, groups and messages.
    pub fn conversations(&self) -> &ConversationService {
        &self.inner.conversations
    }

    /// Live delivery: connections, catch-up, acknowledgements, typing and
    /// presence.
    pub fn delivery(&self) -> &DeliveryService {
        &self.inner.delivery
    }

    /// Blocking users and reporting messages.
    pub fn moderation(&self) -> &ModerationService {
        &self.inner.moderation
    }

    /// The operators' API: accounts, sessions, reports, any message.
    pub fn admin(&self) -> &AdminService {
        &self.inner.admin
    }

    /// Uploads, downloads and the sweep of files.
    pub fn attachments(&self) -> &AttachmentService {
        &self.inner.attachments
    }

    /// Push notifications: devices' subscriptions, and the notifier
    /// (which a transport starts with
    /// [`PushService::spawn_notifier`]).
    pub fn push(&self) -> &PushService {
        &self.inner.push
    }

    /// Outgoing webhooks: registrations, dead letters, and the dispatcher
    /// (which a transport starts with
    /// [`WebhookService::spawn_dispatcher`]).
    pub fn webhooks(&self) -> &WebhookService {
        &self.inner.webhooks
    }

    /// The real-time backends: event bus, offline queue, presence.
    pub fn realtime(&self) -> &RealtimeDeps {
        &self.inner.realtime
    }

    /// The engine's figures (messages, connections, latencies, errors),
    /// renderable in the Prometheus text format.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Every figure of the engine in the Prometheus text format: its
    /// [`Metrics`], and the counters of this
    /// instance's hub of live connections (events dropped, queues
    /// overflowed) when the bus has one.
    pub fn render_metrics(&self) -> String {
        let mut out = self.metrics().render();
        if let Some(hub) = self.inner.realtime.bus.local_hub() {
            hub.render_metrics(&mut out);
        }
        out
    }

    /// Stops the engine's background work once what is queued is done:
    /// the store writers write every message and cursor move already
    /// handed to them, then stop. Call it after the transports have
    /// stopped taking requests (the server binary does, on SIGTERM);
    /// messages sent afterwards fail with `INTERNAL`.
    pub async fn shutdown(&self) {
        self.inner.writes.shutdown().await;
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// The clock services read.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }
}

/// Builder for [`ChatEngine`].
#[derive(Default)]
pub struct ChatEngineBuilder {
    store: Option<Arc<dyn Store>>,
    mailer: Option<Arc<dyn Mailer>>,
    rate_limiter: Option<Arc<dyn RateLimiter>>,
    bus: Option<Arc<dyn EventBus>>,
    queue: Option<Arc<dyn OfflineQueue>>,
    presence: Option<Arc<dyn Presence>>,
    due_work: Option<Arc<dyn DueWork>>,
    blobs: Option<Arc<dyn BlobStore>>,
    pusher: Option<Arc<dyn Pusher>>,
    webhook_sender: Option<Arc<dyn WebhookSender>>,
    message_hook: Option<Arc<dyn MessageHook>>,
    clock: Option<Arc<dyn Clock>>,
    auth_config: AuthConfig,
    attachment_config: AttachmentConfig,
    push_config: PushConfig,
    webhook_config: WebhookConfig,
    hook_config: HookConfig,
    conversation_config: ConversationConfig,
    admin_config: AdminConfig,
    jwt_secret: Option<Vec<u8>>,
}

impl std::fmt::Debug for ChatEngineBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatEngineBuilder")
            .field("auth_config", &self.auth_config)
            .field("conversation_config", &self.conversation_config)
            .field("admin_config", &self.admin_config)
            .finish_non_exhaustive()
    }
}

impl ChatEngineBuilder {
    /// The store (default: [`MemoryStore`]).
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// The mailer (default: [`LogMailer`], which writes emails to the log).
    pub fn mailer(mut self, mailer: Arc<dyn Mailer>) -> Self {
        self.mailer = Some(mailer);
        self
    }

    /// The rate limiter (default: [`MemoryRateLimiter`], per process).
    pub fn rate_limiter(mut self, limiter: Arc<dyn RateLimiter>) -> Self {
        self.rate_limiter = Some(limiter);
        self
    }

    /// The event bus (default: [`MemoryEventBus`], one process).
    pub fn bus(mut self, bus: Arc<dyn EventBus>) -> Self {
        self.bus = Some(bus);
        self
    }

    /// The offline queue (default: [`MemoryOfflineQueue`]).
    pub fn queue(mut self, queue: Arc<dyn OfflineQueue>) -> Self {
        self.queue = Some(queue);
        self
    }

    /// Presence (default: [`MemoryPresence`], one process).
    pub fn presence(mut self, presence: Arc<dyn Presence>) -> Self {
        self.presence = Some(presence);
        self
    }

    /// Background work shared by the instances (default:
    /// [`MemoryDueWork`], one process). Give every instance the same
    /// (`RedisBackend::due_work`), or each does its own share only.
    pub fn due_work(mut self, due: Arc<dyn DueWork>) -> Self {
        self.due_work = Some(due);
        self
    }

    /// Where the bytes of attachments live (default: [`MemoryBlobStore`],
    /// gone with the process).
    pub fn blobs(mut self, blobs: Arc<dyn BlobStore>) -> Self {
        self.blobs = Some(blobs);
        self
    }

    /// Attachment settings (default: [`AttachmentConfig::default`]).
    pub fn attachment_config(mut self, config: AttachmentConfig) -> Self {
        self.attachment_config = config;
        self
    }

    /// What sends push notifications (default: [`MemoryPusher`], which
    /// keeps them).
    pub fn pusher(mut self, pusher: Arc<dyn Pusher>) -> Self {
        self.pusher = Some(pusher);
        self
    }

    /// Push notification settings (default: [`PushConfig::default`]).
    pub fn push_config(mut self, config: PushConfig) -> Self {
        self.push_config = config;
        self
    }

    /// What posts webhook deliveries (default: [`MemoryWebhookSender`],
    /// which keeps them).
    pub fn webhook_sender(mut self, sender: Arc<dyn WebhookSender>) -> Self {
        self.webhook_sender = Some(sender);
        self
    }

    /// Webhook delivery settings (default: [`WebhookConfig::default`]).
    pub fn webhook_config(mut self, config: WebhookConfig) -> Self {
        self.webhook_config = config;
        self
    }

    /// The moderation hook every new message and edit passes before it
    /// is stored (default: none). See [`MessageHook`].
    pub fn message_hook(mut self, hook: Arc<dyn MessageHook>) -> Self {
        self.message_hook = Some(hook);
        self
    }

    /// The moderation hook's timeout and failure policy (default:
    /// [`HookConfig::default`]).
    pub fn hook_config(mut self, config: HookConfig) -> Self {
        self.hook_config = config;
        self
    }

    /// The clock (default: [`SystemClock`]).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Authentication settings (default: [`AuthConfig::default`]).
    pub fn auth_config(mut self, config: AuthConfig) -> Self {
        self.auth_config = config;
        self
    }

    /// Conversation settings (default: [`ConversationConfig::default`]).
    pub fn conversation_config(mut self, config: ConversationConfig) -> Self {
        self.conversation_config = config;
        self
    }

    /// Who the operators are (default: nobody).
    pub fn admin_config(mut self, config: AdminConfig) -> Self {
        self.admin_config = config;
        self
    }

    /// The HS256 secret for access tokens, at least 32 bytes (default: a
    /// random secret, so tokens die with the process).
    pub fn jwt_secret(mut self, secret: impl Into<Vec<u8>>) -> Self {
        self.jwt_secret = Some(secret.into());
        self
    }

    /// Builds the engine.
    ///
    /// # Errors
    /// `INVALID_CONFIG` for a short secret or bad argon2 parameters.
    pub fn build(self) -> Result<ChatEngine> {
        let clock = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let store = self.store.unwrap_or_else(|| Arc::new(MemoryStore::new()));
        let secret = match self.jwt_secret {
            Some(s) => s,
            None => crate::auth::secrets::random_bytes::<32>()?.to_vec(),
        };
        let limiter = self
            .rate_limiter
            .unwrap_or_else(|| Arc::new(MemoryRateLimiter::with_clock(clock.clone())));
        let realtime = RealtimeDeps {
            bus: self.bus.unwrap_or_else(|| Arc::new(MemoryEventBus::new())),
            queue: self
                .queue
                .unwrap_or_else(|| Arc::new(MemoryOfflineQueue::with_clock(clock.clone()))),
            presence: self
                .presence
                .unwrap_or_else(|| Arc::new(MemoryPresence::new())),
            due: self
                .due_work
                .unwrap_or_else(|| Arc::new(MemoryDueWork::with_clock(clock.clone()))),
        };
        let deps = AuthDeps {
            users: store.clone(),
            sessions: store.clone(),
            resets: store.clone(),
            mailer: self.mailer.unwrap_or_else(|| Arc::new(LogMailer)),
            limiter: limiter.clone(),
            clock: clock.clone(),
            bus: realtime.bus.clone(),
        };
        let auth = AuthService::new(deps, self.auth_config, &secret)?;
        // Every read of the two hot stores is timed, by whichever service
        // makes it; message inserts and delivery-cursor moves share
        // transactions through the writers, which start here and stop
        // with `ChatEngine::shutdown`.
        let metrics = Metrics::new();
        let conversation_store: Arc<dyn ConversationStore> =
            Arc::new(TimedReads::new(store.clone(), metrics.clone()));
        let timed_messages: Arc<dyn MessageStore> =
            Arc::new(TimedReads::new(store.clone(), metrics.clone()));
        let writes = BatchedWrites::start(timed_messages, metrics.clone())?;
        let messages: Arc<dyn MessageStore> = writes.clone();
        let members = Arc::new(Members::new(
            conversation_store.clone(),
            realtime.bus.clone(),
        ));
        let blocks = Arc::new(Blocks::new(store.clone(), realtime.bus.clone()));
        let webhook_registry = Arc::new(WebhookRegistry::new(store.clone(), realtime.due.clone()));
        let fanout = Fanout::new(realtime.clone(), metrics.clone(), webhook_registry.clone());
        let conversations = ConversationService::new(
            ConversationDeps {
                users: store.clone(),
                conversations: conversation_store.clone(),
                messages: messages.clone(),
                attachments: store.clone(),
                writes: writes.clone(),
                limiter: limiter.clone(),
                clock: clock.clone(),
                members: members.clone(),
                blocks: blocks.clone(),
                fanout: fanout.clone(),
                queue: realtime.queue.clone(),
                hook: HookGate::new(self.message_hook, self.hook_config, metrics.clone()),
            },
            self.conversation_config,
            metrics.clone(),
        )?;
        let delivery = DeliveryService::new(DeliveryDeps {
            conversations: conversations.clone(),
            conversation_store: conversation_store.clone(),
            messages,
            members: members.clone(),
            blocks: blocks.clone(),
            fanout,
            realtime: realtime.clone(),
            clock: clock.clone(),
            metrics: metrics.clone(),
        });
        let moderation = ModerationService::new(ModerationDeps {
            users: store.clone(),
            store: store.clone(),
            blocks: blocks.clone(),
            members: members.clone(),
            limiter: limiter.clone(),
            clock: clock.clone(),
        });
        let admin = AdminService::new(
            self.admin_config,
            store.clone(),
            store.clone(),
            auth.clone(),
            conversations.clone(),
            clock.clone(),
        );
        let attachments = AttachmentService::new(
            AttachmentDeps {
                attachments: store.clone(),
                conversations: store.clone(),
                limiter: limiter.clone(),
                blobs: self
                    .blobs
                    .unwrap_or_else(|| Arc::new(MemoryBlobStore::new())),
                clock: clock.clone(),
            },
            self.attachment_config,
        );
        let push = PushService::new(
            PushDeps {
                subscriptions: store.clone(),
                conversations: conversation_store.clone(),
                messages: store.clone(),
                users: store.clone(),
                realtime: realtime.clone(),
                pusher: self.pusher.unwrap_or_else(|| Arc::new(MemoryPusher::new())),
                limiter: limiter.clone(),
                clock: clock.clone(),
                metrics: metrics.clone(),
            },
            self.push_config,
        );
        let webhooks = WebhookService::new(
            WebhookDeps {
                store: store.clone(),
                conversations: conversation_store.clone(),
                messages: store.clone(),
                registry: webhook_registry,
                due: realtime.due.clone(),
                bus: realtime.bus.clone(),
                sender: self
                    .webhook_sender
                    .unwrap_or_else(|| Arc::new(MemoryWebhookSender::new())),
                clock: clock.clone(),
                metrics: metrics.clone(),
            },
            self.webhook_config,
        );
        let bus = realtime.bus.clone();
        let inner = Arc::new_cyclic(|engine: &Weak<EngineInner>| {
            // Weak: the bus keeps its handlers, and the engine keeps the bus.
            let engine = engine.clone();
            bus.on_notice(Arc::new(move |notice| {
                if let Some(engine) = engine.upgrade() {
                    engine.auth.on_notice(notice);
                    engine.members.on_notice(notice);
                    engine.blocks.on_notice(notice);
                    engine.webhooks.on_notice(notice);
                }
            }));
            EngineInner {
                delivery,
                realtime,
                users: UserService::new(store.clone()),
                conversations,
                moderation,
                admin,
                attachments,
                push,
                webhooks,
                members,
                blocks,
                writes,
                metrics,
                store,
                auth,
                clock,
            }
        });
        Ok(ChatEngine { inner })
    }
}
