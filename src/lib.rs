//! Prometheus exporter for the rollback jobs (回档) of Tencent Cloud CDB for MySQL.
//!
//! Data flows one way: [`config`] → [`credentials`] → [`api`] (request, decode; `v2/` and
//! `v3/`) → [`rollback`] (states, times) → [`store`] (latest snapshot per job) →
//! [`render`] (/metrics text, and its cache: rendered once per change, shared by scrapes) →
//! [`web`] (routes, TLS, basic auth; the HTML of [`pages`]); [`scheduler`] drives the polls
//! (`v2/`, `v3/`), the [`supervisor`] runs the poller and credentials refresher in force,
//! [`reload`] reads the configuration again, [`demo`] plays Tencent's side; [`credentials`]
//! finds and refreshes the credentials; [`net`] holds what it and [`api`] share (TC3
//! signing, the Host header); [`time`] parses and formats the API's times.
#![forbid(unsafe_code)]

pub mod api;
pub mod app;
pub mod cli;
pub mod config;
pub mod credentials;
pub mod demo;
pub mod inventory;
pub mod metrics;
pub mod net;
pub mod pages;
pub mod parse_error;
pub mod readiness;
pub mod reload;
pub mod render;
pub mod rollback;
pub mod scheduler;
pub mod store;
pub mod supervisor;
pub mod time;
pub mod web;
