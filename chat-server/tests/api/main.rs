//! HTTP tests against a real server on a random port.

mod auth;
mod backends;
mod conversations;
mod errors;
mod groups;
mod helpers;
mod messages;
mod non_members;
mod password_reset;
mod smtp;
mod users;
