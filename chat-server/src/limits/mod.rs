//! Per-user and per-connection limits of the WebSocket gateway, held in
//! [`AppState`](crate::state::AppState) and applied by [`crate::ws`]: the
//! cap on sockets per user ([`SocketSeats`]) and the rates of the frames
//! that cost the server most ([`FrameRate`]).

mod frame_rate;
mod seats;

pub(crate) use frame_rate::Bucket;
pub use frame_rate::FrameRate;
pub use seats::{Seat, SocketSeats};
