//! Basic auth and the configured headers, on every path (as exporter-toolkit does).
//!
//! bcrypt is slow on purpose, so a successful check is remembered: a scrape every second
//! pays it once. Only successes are kept (a flood of wrong passwords cannot push the good
//! one out), under a digest with a per-process salt rather than the password itself.
//! Checks run one at a time off the async workers, like exporter-toolkit's.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use super::reload::{Settings, WebConfig};

/// Successful checks remembered; the set is emptied when full.
const REMEMBERED: usize = 256;

pub struct Auth {
    web: Arc<WebConfig>,
    salt: [u8; 16],
    passed: Mutex<HashSet<[u8; 32]>>,
    bcrypt: Semaphore,
}

impl Auth {
    pub fn new(web: Arc<WebConfig>) -> Self {
        let mut salt = [0u8; 16];
        salt.iter_mut().for_each(|b| *b = fastrand::u8(..));
        Self {
            web,
            salt,
            passed: Mutex::new(HashSet::new()),
            bcrypt: Semaphore::new(1),
        }
    }

    fn digest(&self, user: &[u8], hash: &str, password: &[u8]) -> [u8; 32] {
        let mut d = Sha256::new();
        d.update(self.salt);
        for part in [user, hash.as_bytes(), password] {
            d.update((part.len() as u64).to_be_bytes());
            d.update(part);
        }
        d.finalize().into()
    }

    fn remembered(&self, key: &[u8; 32]) -> bool {
        let passed = self.passed.lock().unwrap_or_else(|p| p.into_inner());
        passed.contains(key)
    }

    fn remember(&self, key: [u8; 32]) {
        let mut passed = self.passed.lock().unwrap_or_else(|p| p.into_inner());
        if passed.len() >= REMEMBERED {
            passed.clear();
        }
        passed.insert(key);
    }

    /// Whether the request may pass: no users configured, or a right user and password.
    async fn allows(&self, settings: &Settings, headers: &HeaderMap) -> bool {
        let Some((_, any_hash)) = settings.users.iter().next() else {
            return true;
        };
        let Some((user, password)) = basic_credentials(headers) else {
            return false;
        };
        let known = std::str::from_utf8(&user)
            .ok()
            .and_then(|u| settings.users.get(u));
        // An unknown user is checked against a real hash anyway, so that the time taken
        // does not tell which users exist.
        let hash = known.unwrap_or(any_hash).clone();
        let key = self.digest(&user, &hash, &password);
        if known.is_some() && self.remembered(&key) {
            return true;
        }
        let Ok(_one) = self.bcrypt.acquire().await else {
            return false;
        };
        let ok = tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash))
            .await
            .is_ok_and(|r| r.unwrap_or(false));
        if ok && known.is_some() {
            self.remember(key);
        }
        ok && known.is_some()
    }
}

/// The user and password of an `Authorization: Basic` header.
fn basic_credentials(headers: &HeaderMap) -> Option<(Vec<u8>, Vec<u8>)> {
    let value = headers.get(header::AUTHORIZATION)?.as_bytes();
    let (scheme, rest) = value.split_at_checked(6)?;
    if !scheme.eq_ignore_ascii_case(b"basic ") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim_ascii())
        .ok()?;
    let colon = decoded.iter().position(|b| *b == b':')?;
    Some((decoded[..colon].to_vec(), decoded[colon + 1..].to_vec()))
}

/// The middleware: 401 with `WWW-Authenticate: Basic` unless allowed; the configured
/// headers on every answer.
pub async fn middleware(State(auth): State<Arc<Auth>>, request: Request, next: Next) -> Response {
    let settings = auth.web.current();
    let mut response = if auth.allows(&settings, request.headers()).await {
        next.run(request).await
    } else {
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic"))],
            "Unauthorized\n",
        )
            .into_response()
    };
    for (name, value) in &settings.headers {
        response.headers_mut().insert(name.clone(), value.clone());
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn basic_credentials_are_read_like_go_does() {
        // "alice:pa:ss"
        let h = headers("basic YWxpY2U6cGE6c3M=");
        assert_eq!(
            basic_credentials(&h),
            Some((b"alice".to_vec(), b"pa:ss".to_vec()))
        );
        for bad in [
            "Bearer YWxpY2U6cGE6c3M=",
            "Basic !!!",
            "Basic YWxpY2U=",
            "Basic",
        ] {
            assert_eq!(basic_credentials(&headers(bad)), None, "{bad}");
        }
    }
}
