//! What both callers of Tencent's HTTP APIs share — the CDB client (`api`) and the
//! credential sources (`credentials`): the user agent, the Host header as signatures
//! cover it, error messages with their causes, and the TC3 signature of API 3.0.

pub mod tc3;

use reqwest::Url;

pub const USER_AGENT: &str = concat!("cdb-rollback-exporter/", env!("CARGO_PKG_VERSION"));

/// The Host header of requests to `url`, as signatures cover it (with a non-default port).
pub fn host_header(url: &Url) -> Option<String> {
    match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => Some(format!("{h}:{p}")),
        (Some(h), None) => Some(h.to_string()),
        (None, _) => None,
    }
}

/// An error and its causes, as one line: what reqwest's own message leaves out (a refused
/// connection, a DNS failure, a TLS alert) is in the causes.
pub fn with_causes(e: &dyn std::error::Error) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    message
}
