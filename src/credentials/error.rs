//! Why credentials could not be had, typed by where it went wrong. No variant holds a
//! secret: files are named by path, answers by code, message and RequestId.

use std::io;
use std::path::PathBuf;

use super::SourceKind;

/// One fetch that failed: a secret file, the metadata server or STS.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// `key` is the config key or variable that named the file.
    #[error("{key}: cannot read {}: {error}", path.display())]
    Unreadable {
        key: String,
        path: PathBuf,
        error: io::Error,
    },
    /// Without a slash the "path" may be the secret itself, pasted in by mistake: not echoed.
    #[error(
        "{key}: cannot read the file named there ({error}); give the path of a file holding the secret"
    )]
    NotAPath { key: String, error: io::Error },
    #[error("{key}: {} is empty", path.display())]
    EmptyFile { key: String, path: PathBuf },
    #[error("cannot build the HTTP client: {0}")]
    Client(reqwest::Error),
    #[error("STS endpoint `{0}` has no host")]
    NoHost(String),
    /// `at` names the service and URL, e.g. "STS AssumeRole at https://…".
    #[error("{at}: {problem}")]
    Service { at: String, problem: ServiceProblem },
}

/// What a credential service did wrong.
#[derive(Debug, thiserror::Error)]
pub enum ServiceProblem {
    #[error("did not answer within {0}s")]
    Timeout(u64),
    /// The transport error with its causes.
    #[error("is not reachable ({0})")]
    Unreachable(String),
    #[error("HTTP {0}")]
    Status(u16),
    /// `expected` says what the body should have been.
    #[error("HTTP {status}: not {expected} ({error})")]
    Undecodable {
        status: u16,
        expected: &'static str,
        error: serde_json::Error,
    },
    #[error("{code}: {message} (RequestId {request_id})")]
    Refused {
        code: String,
        message: String,
        request_id: String,
    },
    /// The metadata server's `Code`, when not `Success`.
    #[error("Code {0}")]
    Code(String),
    #[error("the answer has no Credentials or ExpiredTime (RequestId {0})")]
    Incomplete(String),
}

impl ServiceProblem {
    /// A transport error: a timeout, or what could not be reached and why.
    pub fn transport(e: &reqwest::Error, timeout_secs: u64) -> ServiceProblem {
        if e.is_timeout() {
            return ServiceProblem::Timeout(timeout_secs);
        }
        ServiceProblem::Unreachable(crate::net::with_causes(e))
    }
}

/// Why a source of the chain gave nothing.
#[derive(Debug, thiserror::Error)]
pub enum Lack {
    /// Not set up here: the chain tries the next source.
    #[error("{0}")]
    Absent(String),
    /// Set up, but wrongly: the chain stops, rather than fall back to another identity.
    #[error("{0}")]
    Misconfigured(String),
    /// Set up, but its credentials could not be fetched: the chain stops too.
    #[error(transparent)]
    Fetch(#[from] FetchError),
}

/// Why no credentials could be had at start.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// No source is set up; each tried source and what it lacked.
    #[error("no credentials found: {}", tried_list(.tried))]
    NotFound { tried: Vec<(SourceKind, String)> },
    /// A source is set up but broken.
    #[error("credentials from {kind}: {lack}{}", before(.tried))]
    Failed {
        kind: SourceKind,
        lack: Lack,
        tried: Vec<(SourceKind, String)>,
    },
    /// The base credentials were found, but assuming `credentials.role_arn` with them failed.
    #[error("credentials: {error} (with the {kind} credentials)")]
    AssumeRole { kind: SourceKind, error: FetchError },
}

fn tried_list(tried: &[(SourceKind, String)]) -> String {
    let parts: Vec<String> = tried.iter().map(|(k, why)| format!("{k}: {why}")).collect();
    parts.join("; ")
}

fn before(tried: &[(SourceKind, String)]) -> String {
    if tried.is_empty() {
        String::new()
    } else {
        format!(" (tried before: {})", tried_list(tried))
    }
}
