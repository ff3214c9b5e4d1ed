//! The scenarios: each has its clap `Args` and a `run` that sets up its
//! users, drives the load and prints its report.

pub(crate) mod connections;
pub(crate) mod direct;
pub(crate) mod files;
pub(crate) mod group;
pub(crate) mod mixed;
pub(crate) mod offline;
mod peers;
