//! The integration tests, as one crate: one binary to link, specifications by room.

mod cli;
mod client;
mod contract;
mod daemon;
mod demo;
mod discovery;
mod properties;
mod restart;
mod soak;
mod support;
