//! Plain data records exchanged between services and stores, and the
//! message views clients receive.

mod attachment;
mod auth;
mod change;
mod conversation;
mod cursor_batch;
mod message;
mod message_batch;
mod moderation;
mod push;
mod search;
mod user;
mod webhook;

pub use attachment::{
    Attachment, AttachmentRecord, ImageInfo, MAX_ATTACHMENTS_PER_MESSAGE, MessageAttachment,
    NewAttachment, SentIn, attachments_to_json,
};
pub use auth::{
    NewPasswordReset, NewRefreshToken, NewSession, RefreshTokenRecord, ResetConsumption, Session,
};
pub use change::{
    ChangeAction, ChangeKind, ChangeOutcome, LogEntry, MessageChange, NewChange, Reaction,
    ReactionCount, ReplyQuote,
};
pub use conversation::{
    Conversation, ConversationKind, ConversationOverview, Cursor, CursorAdvance, DeliveryMove,
    EntryKind, Member, MemberEntry, MemberRemoval, MemberRole, Membership, NewDirectConversation,
    NewGroup, NewMember, NewlyRead, PostingPolicy, SenderCursors, UnknownVariant,
};
pub use cursor_batch::{CursorBatch, ReadRange};
pub use message::{InsertOutcome, Message, MessageTarget, MessageView, NewMessage, Receipt};
pub use message_batch::{ConversationGrowth, MessageBatch};
pub use moderation::{BlockedUser, NewReport, Report, ReportOutcome, ReportStatus, UserListQuery};
pub use push::{
    MAX_PUSH_SUBSCRIPTIONS_PER_USER, NewPushSubscription, PushLevel, PushNotification,
    PushSubscription,
};
pub use search::{
    MARK_END, MARK_START, SearchHit, SearchQuery, SearchScope, SearchTerms, Snippet, mark_snippet,
    words_of,
};
pub use user::{Credential, NewUser, ProfileUpdate, User, UserCredentials, UserSummary};
pub use webhook::{DeadLetter, NewWebhook, Webhook, WebhookCursorMove, WebhookEvent};
