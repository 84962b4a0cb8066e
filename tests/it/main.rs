//! The integration tests, as one crate: one binary to link, specifications by room.

mod accounts;
mod cli;
mod client;
mod contract;
mod credentials;
mod daemon;
mod demo;
mod discovery;
mod doc_links;
mod golden;
mod history;
mod inventory;
mod pages;
mod properties;
mod readiness;
mod regions;
mod reload;
mod restart;
mod soak;
mod support;
mod web;
mod web_pages;
