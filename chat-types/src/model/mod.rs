//! Plain data records exchanged between services and stores, and the
//! message views clients receive.

mod auth;
mod conversation;
mod message;
mod user;

pub use auth::{
    NewPasswordReset, NewRefreshToken, NewSession, RefreshTokenRecord, ResetConsumption, Session,
};
pub use conversation::{
    Conversation, ConversationKind, ConversationOverview, Cursor, CursorAdvance, DeliveryMove,
    Member, MemberEntry, MemberRemoval, MemberRole, Membership, NewDirectConversation, NewGroup,
    NewMember, SenderCursors, UnknownVariant,
};
pub use message::{InsertOutcome, Message, MessageTarget, MessageView, NewMessage, Receipt};
pub use user::{Credential, NewUser, ProfileUpdate, User, UserCredentials, UserSummary};
