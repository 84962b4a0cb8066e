//! Prometheus exporter for the rollback jobs (回档) of Tencent Cloud CDB for MySQL.
//!
//! Data flows one way: [`config`] → [`api`] (sign, request, decode) → [`rollback`]
//! (states, times) → [`store`] (latest snapshot per job) → [`render`] (/metrics text) →
//! [`exposition_cache`] (rendered once per change, shared by scrapes) → [`http`] behind
//! [`web`] (TLS, basic auth); [`scheduler`] and [`discovery`] drive the polls, [`demo`] plays Tencent's side.
#![forbid(unsafe_code)]

pub mod api;
pub mod app;
pub mod cli;
pub mod config;
pub mod demo;
pub mod discovery;
pub mod exposition_cache;
pub mod http;
pub mod metrics;
pub mod render;
pub mod rollback;
pub mod scheduler;
pub mod store;
pub mod web;
