//! HTTP tests against a real server on a random port.

mod auth;
mod backends;
mod errors;
mod helpers;
mod password_reset;
mod smtp;
mod users;
