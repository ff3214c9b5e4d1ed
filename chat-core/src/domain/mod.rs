//! Validated value types, parsed once at the edge.
//!
//! Each type has a private field and a `parse` constructor, so holding one
//! proves the value passed validation. Services accept only these types.

mod display_name;
mod email;
mod group_name;
mod message;
mod password;
mod username;

pub use display_name::DisplayName;
pub use email::Email;
pub use group_name::GroupName;
pub use message::{ClientMsgId, MessageContent, MessageType};
pub use password::Password;
pub use username::Username;

/// True for control characters other than newline and tab.
pub(crate) fn is_forbidden_control(c: char) -> bool {
    c.is_control() && c != '\n' && c != '\t'
}
