//! HTTP tests against a real server on a random port.

mod auth;
mod backends;
mod bad_input;
mod cluster;
mod cluster_faults;
mod conversations;
mod embedding;
mod errors;
mod groups;
mod helpers;
mod messages;
mod metrics;
mod non_members;
mod openapi;
mod password_reset;
mod process;
mod shutdown;
mod smtp;
mod store_faults;
mod users;
mod web;
mod ws_authorization;
mod ws_client;
mod ws_connect;
mod ws_delivery;
mod ws_limits;
