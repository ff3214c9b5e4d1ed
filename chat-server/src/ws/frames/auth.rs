//! `auth` (a fresh access token in band) and `ping`.

use chat_core::ChatError;
use chat_core::protocol::ServerFrame;

use super::{Caller, Outcome, error};

/// `auth`: a fresh token of the same user; the session takes it on.
pub(super) fn auth(caller: Caller<'_>, token: &str) -> Outcome {
    match caller.engine.auth().authenticate(token) {
        Ok(ctx) if ctx.user_id == caller.connection.user_id => Outcome::Reauthenticated(ctx),
        // Another user's token must not take the connection over.
        Ok(_) => error(&ChatError::InvalidToken, None),
        Err(e) => error(&e, None),
    }
}

/// `ping`: answered with `pong`.
pub(super) fn ping() -> Outcome {
    Outcome::Reply(Box::new(ServerFrame::Pong))
}
