//! The HTTP routes: /metrics from the shared, pre-rendered exposition (gzipped when the
//! client accepts it, else inflated as it is sent), health, readiness, and the pages of
//! [`crate::pages`].

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::get;

pub use super::state::AppState;
use crate::render::CONTENT_TYPE;
use crate::render::cache::PlainText;

/// `--web.telemetry-path`, checked once, when it is read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TelemetryPath(String);

impl TelemetryPath {
    pub fn new(path: &str) -> Result<Self, BadTelemetryPath> {
        let plain = path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'.'));
        if !path.starts_with('/') || path == "/" || path.starts_with("/-/") || !plain {
            return Err(BadTelemetryPath(path.to_string()));
        }
        Ok(TelemetryPath(path.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for TelemetryPath {
    fn default() -> Self {
        TelemetryPath("/metrics".into())
    }
}

#[derive(Debug, thiserror::Error)]
#[error(
    "--web.telemetry-path: `{0}` must start with /, use only letters, digits and / _ - ., \
     and be neither / nor under /-/"
)]
pub struct BadTelemetryPath(pub String);

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(crate::pages::landing::page))
        .route("/jobs/{region}/{id}", get(crate::pages::job::page))
        .route(
            "/jobs/{account}/{region}/{id}",
            get(crate::pages::job::page_in_account),
        )
        .route(&state.telemetry_path, get(metrics))
        .route("/-/healthy", get(|| async { "OK\n" }))
        .route("/-/ready", get(ready))
        .with_state(state)
}

/// Whether an `Accept-Encoding` header accepts gzip: named with a q-value above 0, or
/// not named and `*` accepted.
pub fn accepts_gzip(headers: &HeaderMap) -> bool {
    let (mut gzip, mut any) = (None, None);
    for value in headers.get_all(header::ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim();
            let q = parts
                .filter_map(|p| p.trim().split_once('='))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
                .map_or(Some(1.0), |(_, v)| v.trim().parse::<f32>().ok());
            // An unreadable q-value counts as a refusal: plain text is always fine.
            let accepted = q.is_some_and(|q| q > 0.0 && q <= 1.0);
            if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
                gzip = Some(accepted);
            } else if coding == "*" {
                any = Some(accepted);
            }
        }
    }
    gzip.or(any).unwrap_or(false)
}

async fn metrics(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let exposition = state.exposition.fresh().await;
    let gzip = accepts_gzip(&headers);
    let body = if gzip {
        Body::from(exposition.gzip.clone())
    } else {
        Body::new(PlainText::of(&exposition))
    };
    let mut response = Response::new(body);
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if gzip {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    response
}

/// Ready once the served metrics show the first polls (and, with a filter, inventories).
async fn ready(State(state): State<Arc<AppState>>) -> (StatusCode, String) {
    if state.ready.load(Ordering::Relaxed) {
        return (StatusCode::OK, "Ready\n".into());
    }
    match state.not_ready() {
        None => {
            state.ready.store(true, Ordering::Relaxed);
            (StatusCode::OK, "Ready\n".into())
        }
        Some(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("Not ready: {why}\n"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn telemetry_paths() {
        for ok in ["/metrics", "/cdb/metrics", "/m-1.txt"] {
            assert!(TelemetryPath::new(ok).is_ok(), "{ok}");
        }
        for bad in ["metrics", "/", "/-/healthy", "/:x", "/*x", "/{x}", "/a b"] {
            let err = TelemetryPath::new(bad).unwrap_err();
            assert_eq!(err.0, bad, "{err}");
        }
    }

    #[test]
    fn gzip_is_chosen_by_q_values() {
        for (value, gzip) in [
            ("gzip", true),
            ("GZIP", true),
            ("deflate, gzip;q=0.5", true),
            ("gzip;q=0", false),
            ("gzip; q=0.000", false),
            ("gzip;q=0, *", false),
            ("*", true),
            ("*;q=0", false),
            ("br, identity", false),
            ("x-gzip", true),
            ("gzip;q=abc", false),
            ("gzip;q=2", false),
            ("", false),
        ] {
            let mut h = HeaderMap::new();
            h.insert(
                header::ACCEPT_ENCODING,
                HeaderValue::from_str(value).unwrap(),
            );
            assert_eq!(accepts_gzip(&h), gzip, "{value}");
        }
        assert!(!accepts_gzip(&HeaderMap::new()));
    }
}
