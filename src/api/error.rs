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
    Decode,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 6] = [
        ErrorKind::Transport,
        ErrorKind::Timeout,
        ErrorKind::HttpStatus,
        ErrorKind::ApiError,
        ErrorKind::Auth,
        ErrorKind::Decode,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Transport => "transport",
            ErrorKind::Timeout => "timeout",
            ErrorKind::HttpStatus => "http_status",
            ErrorKind::ApiError => "api_error",
            ErrorKind::Auth => "auth",
            ErrorKind::Decode => "decode",
        }
    }
}

/// How a failed request may be tried again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// Trying again cannot help (bad key, bad parameter, unknown job).
    Never,
    /// A replay rejection: once, at once, with a fresh Nonce and Timestamp.
    FreshNonce,
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
    #[error("API error {code}: {message}")]
    Api { code: i64, message: String },
    #[error("cannot decode the answer: {reason}; body starts {excerpt:?}")]
    Decode { reason: String, excerpt: String },
}

/// Auth and access codes of the public error table.
fn is_auth_code(code: i64) -> bool {
    matches!(code, 4100..=4110 | 4300)
}

impl ApiError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            ApiError::Transport(_) => ErrorKind::Transport,
            ApiError::Timeout(_) => ErrorKind::Timeout,
            ApiError::HttpStatus { .. } => ErrorKind::HttpStatus,
            ApiError::Api { code, .. } if is_auth_code(*code) => ErrorKind::Auth,
            ApiError::Api { .. } => ErrorKind::ApiError,
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
            ApiError::Api { code: 4500, .. } => Retry::FreshNonce,
            ApiError::Api {
                code: 4400 | 6000 | 6200,
                ..
            } => Retry::Backoff,
            ApiError::Api { .. } => Retry::Never,
            // A truncated or garbled body is most often a transient fault upstream.
            ApiError::Decode { .. } => Retry::Backoff,
        }
    }

    /// The API's own error code, when the answer carried one.
    pub fn api_code(&self) -> Option<i64> {
        match self {
            ApiError::Api { code, .. } => Some(*code),
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

    fn api(code: i64) -> ApiError {
        ApiError::Api {
            code,
            message: String::new(),
        }
    }

    #[test]
    fn classification_follows_the_error_table() {
        for code in [4100, 4101, 4102, 4103, 4104, 4105, 4110, 4300] {
            assert_eq!(api(code).kind(), ErrorKind::Auth, "{code}");
            assert_eq!(api(code).retry(), Retry::Never, "{code}");
        }
        for code in [4000, 5000, 6100, 9003, 9590] {
            assert_eq!(api(code).kind(), ErrorKind::ApiError, "{code}");
            assert_eq!(api(code).retry(), Retry::Never, "{code}");
        }
        for code in [4400, 6000, 6200] {
            assert_eq!(api(code).retry(), Retry::Backoff, "{code}");
        }
        assert_eq!(api(4500).retry(), Retry::FreshNonce);
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
