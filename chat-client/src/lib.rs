//! A typed Rust client for the chat server: the REST API under `/api/v1`
//! and the WebSocket at `/ws`.
//!
//! The wire types are `chat-types`' own ([`ClientFrame`], [`ServerFrame`],
//! [`MessageView`], the typed ids), the same ones the server serializes, so
//! client and server cannot drift apart. Every failure is a
//! [`ClientError`] with a stable [`code`](ClientError::code): the
//! server's own (`USERNAME_TAKEN`, `INVALID_TOKEN`, ...) for error answers.
//!
//! # Layout
//!
//! - [`client`]: the entry point, [`ChatClient`] (signup, login, refresh,
//!   logout, connect), and [`Session`].
//! - [`users`]: [`UserClient`], the authenticated REST calls (profiles,
//!   search, sending, groups, history, read state), with [`Sent`],
//!   [`HistoryPage`] and [`UserHit`].
//! - [`ws`]: [`WsConnection`] and its halves [`WsSender`] and [`WsReceiver`].
//! - [`frames`]: constructors for the common [`ClientFrame`]s.
//! - [`error`]: [`ClientError`] and [`Result`].
//! - `rest` (private): the shared HTTP plumbing.
//!
//! # Example
//!
//! ```no_run
//! use chat_client::{ChatClient, ServerFrame, frames};
//!
//! # async fn run() -> chat_client::Result<()> {
//! let client = ChatClient::new("http://127.0.0.1:8080")?;
//! let alice = client.login("alice", "s3cret!pass").await?;
//! let bob = client.login("bob", "s3cret!pass").await?;
//!
//! // REST: send, then read the conversation back.
//! let sent = client
//!     .user(&alice)
//!     .send_direct(bob.user_id, "hi bob", Some("m-1"))
//!     .await?;
//! let page = client.user(&bob).history(sent.conversation_id, Some(20), None).await?;
//! println!("{} messages", page.messages.len());
//!
//! // WebSocket: bob hears alice live, and acknowledges.
//! let mut ws = client.connect(&bob.access_token).await?;
//! let mut ws_alice = client.connect(&alice.access_token).await?;
//! ws_alice.send(&frames::send_direct(bob.user_id, "still there?", None)).await?;
//! while let Some(frame) = ws.next().await? {
//!     if let ServerFrame::MessageNew(m) = frame {
//!         println!("{}: {}", m.message.sender_id, m.message.content);
//!         ws.send(&frames::ack_through(m.message.conversation_id, m.message.seq)).await?;
//!         break;
//!     }
//! }
//! ws.close().await?;
//! # Ok(())
//! # }
//! ```

pub mod attachments;
pub mod client;
pub mod error;
pub mod frames;
mod local;
pub mod moderation;
mod rest;
pub mod users;
pub mod ws;

pub use chat_types::model::MessageView;
pub use chat_types::protocol::{ClientFrame, ServerFrame};
pub use chat_types::{ConversationId, MessageId, Timestamp, UserId};
pub use client::{ChatClient, Session};
pub use error::{ClientError, Result};
pub use users::{Changed, HistoryPage, Sent, UserClient, UserHit};
pub use ws::{WsConnection, WsReceiver, WsSender};
