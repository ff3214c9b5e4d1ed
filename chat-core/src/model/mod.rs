//! Plain data records exchanged between services and stores.

mod auth;
mod user;

pub use auth::{
    NewPasswordReset, NewRefreshToken, NewSession, RefreshTokenRecord, ResetConsumption, Session,
};
pub use user::{NewUser, ProfileUpdate, User, UserCredentials, UserSummary};
