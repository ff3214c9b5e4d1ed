//! Runnable examples of the chat engine; see the `[[example]]` targets
//! (`cargo run -p examples --example embedded`) and `README.md`.
//!
//! The logic of the examples that talk to a server lives here, so the
//! tests in `tests/` can run it against a real server:
//!
//! - [`echo_bot`]: the `echo_bot` example's answering loop.
//! - [`terminal_chat`]: the `terminal_chat` example's command loop.

pub mod echo_bot;
pub mod terminal_chat;
