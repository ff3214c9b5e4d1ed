//! Validated value types, parsed once at the edge.
//!
//! Each type has a private field and a `parse` constructor, so holding one
//! proves the value passed validation. Services accept only these types.

mod control;
mod display_name;
mod email;
mod emoji;
mod file_name;
mod group_name;
mod message;
mod password;
mod report_reason;
mod username;

pub(crate) use control::is_forbidden_control;
pub use control::{
    field_with_forbidden_control, has_forbidden_control, json_has_forbidden_control,
};
pub use display_name::DisplayName;
pub use email::Email;
pub use emoji::Emoji;
pub use file_name::FileName;
pub use group_name::GroupName;
pub use message::{ClientMsgId, MessageContent, MessageType};
pub use password::Password;
pub use report_reason::ReportReason;
pub use username::Username;
