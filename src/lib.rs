//! Prometheus exporter for the rollback jobs (回档) of Tencent Cloud CDB for MySQL.
//!
//! Data flows one way: [`config`] → [`api`] (sign, request, decode; `v2/` and `v3/`) →
//! [`rollback`] (states, times) → [`store`] (latest snapshot per job) → [`render`]
//! (/metrics text, with [`exposition`]) → [`exposition_cache`] (rendered once per change,
//! shared by scrapes) → [`http`] behind [`web`] (TLS, basic auth); [`scheduler`] drives
//! the polls, [`reload`] swaps the configuration, [`demo`] plays Tencent's side;
//! [`credentials`] finds and refreshes the credentials.
#![forbid(unsafe_code)]

pub mod api;
pub mod app;
pub mod cli;
pub mod config;
pub mod credentials;
pub mod demo;
pub mod exposition;
pub mod exposition_cache;
pub mod http;
pub mod inventory;
pub mod metrics;
pub mod parse_error;
pub mod readiness;
pub mod reload;
pub mod render;
pub mod rollback;
pub mod scheduler;
pub mod store;
pub mod web;
