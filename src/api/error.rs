//! Every way a call to the API can fail, with a bounded `kind` for metric labels
//! and the retry policy of the reference's error table.

use std::time::Duration;

/// The bounded error kind used as the `result` label of request metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    Transport,
    Timeout,
    HttpStatus,
    ApiError,
    Auth,
    /// The API refused the request for its rate limit (`RequestLimitExceeded`, v2's 4400).
    Throttled,
    Decode,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 7] = [
        ErrorKind::Transport,
        ErrorKind::Timeout,
        ErrorKind::HttpStatus,
        ErrorKind::ApiError,
        ErrorKind::Auth,
        ErrorKind::Throttled,
        ErrorKind::Decode,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Transport => "transport",
            ErrorKind::Timeout => "timeout",
            ErrorKind::HttpStatus => "http_status",
            ErrorKind::ApiError => "api_error",
            ErrorKind::Auth => "auth",
            ErrorKind::Throttled => "throttled",
            ErrorKind::Decode => "decode",
        }
    }
}

/// How a failed request may be tried again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// Trying again cannot help (bad key, bad parameter, unknown job).
    Never,
    /// A replay (v2 4500) or an expired signature (v3 clock skew): once, at once, with a
    /// fresh Nonce and Timestamp.
    Immediate,
    /// Throttling or a server fault: later, with back-off.
    Backoff,
}

/// A failed API call. Never carries the SecretKey, a token or a signature:
/// messages are built from the answer and from URLs stripped of their query.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("transport error: {0}")]
    Transport(String),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("HTTP status {status}; body starts {excerpt:?}")]
    HttpStatus { status: u16, excerpt: String },
    /// An error the API answered, with the kind and retry policy its version's error
    /// table gives the code (v2's numbers as text, v3's dotted strings).
    #[error("API error {code}: {message}{}", request_id.as_ref().map(|r| format!(" (RequestId {r})")).unwrap_or_default())]
    Api {
        code: String,
        message: String,
        request_id: Option<String>,
        kind: ErrorKind,
        retry: Retry,
    },
    #[error("cannot decode the answer: {reason}; body starts {excerpt:?}")]
    Decode { reason: String, excerpt: String },
}

impl ApiError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            ApiError::Transport(_) => ErrorKind::Transport,
            ApiError::Timeout(_) => ErrorKind::Timeout,
            ApiError::HttpStatus { status: 429, .. } => ErrorKind::Throttled,
            ApiError::HttpStatus { .. } => ErrorKind::HttpStatus,
            ApiError::Api { kind, .. } => *kind,
            ApiError::Decode { .. } => ErrorKind::Decode,
        }
    }

    pub fn retry(&self) -> Retry {
        match self {
            ApiError::Transport(_) | ApiError::Timeout(_) => Retry::Backoff,
            ApiError::HttpStatus { status, .. } if *status >= 500 || *status == 429 => {
                Retry::Backoff
            }
            ApiError::HttpStatus { .. } => Retry::Never,
            ApiError::Api { retry, .. } => *retry,
            // A truncated or garbled body is most often a transient fault upstream.
            ApiError::Decode { .. } => Retry::Backoff,
        }
    }

    /// The API's own error code, when the answer carried one.
    pub fn api_code(&self) -> Option<&str> {
        match self {
            ApiError::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The `RequestId` of the answer, which Tencent support asks for.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            ApiError::Api { request_id, .. } => request_id.as_deref(),
            _ => None,
        }
    }

    pub(crate) fn decode(reason: impl Into<String>, body: &[u8]) -> ApiError {
        ApiError::Decode {
            reason: reason.into(),
            excerpt: excerpt(body),
        }
    }
}

/// The first 120 characters of a body, for error messages, with secrets scrubbed.
pub(crate) fn excerpt(body: &[u8]) -> String {
    const MAX: usize = 120;
    let text = scrub(&String::from_utf8_lossy(body));
    let text = text.trim();
    match text.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

/// Blanks the values of `Signature=` and `Token=`, in case a proxy's error page or an
/// API message echoes the request back.
pub(crate) fn scrub(text: &str) -> String {
    let mut out = text.to_string();
    for key in ["Signature=", "Token="] {
        let mut from = 0;
        while let Some(pos) = out[from..].find(key) {
            let start = from + pos + key.len();
            let len = out[start..]
                .find(|c: char| c.is_whitespace() || matches!(c, '&' | '"' | '\'' | '<' | '>'))
                .unwrap_or(out.len() - start);
            out.replace_range(start..start + len, "<redacted>");
            from = start + "<redacted>".len();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_faults_are_retried_with_back_off() {
        let bad_gateway = ApiError::HttpStatus {
            status: 502,
            excerpt: String::new(),
        };
        assert_eq!(bad_gateway.retry(), Retry::Backoff);
        assert_eq!(
            ApiError::Timeout(Duration::from_secs(1)).retry(),
            Retry::Backoff
        );
    }

    #[test]
    fn request_ids_are_told_and_429_is_throttling() {
        let e = ApiError::Api {
            code: "InternalError".into(),
            message: "boom".into(),
            request_id: Some("req-1".into()),
            kind: ErrorKind::ApiError,
            retry: Retry::Backoff,
        };
        assert_eq!(
            e.to_string(),
            "API error InternalError: boom (RequestId req-1)"
        );
        assert_eq!(e.request_id(), Some("req-1"));
        let throttled = ApiError::HttpStatus {
            status: 429,
            excerpt: String::new(),
        };
        assert_eq!(throttled.kind(), ErrorKind::Throttled);
    }

    #[test]
    fn signatures_and_tokens_are_scrubbed() {
        let page = b"<p>GET /v2/index.php?Action=X&Signature=abc%2Fdef&Token=tok123 failed</p>";
        let e = excerpt(page);
        assert!(!e.contains("abc") && !e.contains("tok123"), "{e}");
        assert!(
            e.contains("Signature=<redacted>&Token=<redacted> failed"),
            "{e}"
        );
    }

    #[test]
    fn excerpts_are_short() {
        let long = "x".repeat(1000);
        let e = excerpt(long.as_bytes());
        assert_eq!(e.chars().count(), 121);
        assert_eq!(excerpt(b"  <html>  "), "<html>");
    }
}

/// Why a client could not be set up from its configuration (before any request).
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("api.endpoint: `{0}` has no host")]
    NoHost(String),
    #[error("cannot build the HTTP client: {0}")]
    Http(reqwest::Error),
    #[error("api.regions: the v2 API takes exactly one region, not {0}")]
    Regions(usize),
}
