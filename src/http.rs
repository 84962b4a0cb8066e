//! The HTTP server: /metrics behind load shedding and a timeout, health, readiness, and
//! a landing page listing the tracked jobs.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use tokio::sync::{Semaphore, mpsc};

use crate::metrics::{Metrics, REVISION, VERSION};
use crate::render::{CONTENT_TYPE, render_to};
use crate::rollback::time::format_utc;
use crate::rollback::time::unix_now;
use crate::store::{JobKey, Source, Store};

/// Scrapes rendered at once; more are refused with 503 rather than queued.
pub const MAX_CONCURRENT_SCRAPES: usize = 4;
/// A scraper that takes no data for this long is given up on.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(30);
/// Rows on the landing page; the metrics carry every job.
const MAX_ROWS: usize = 500;

pub struct AppState {
    pub store: Arc<Store>,
    pub metrics: Arc<Metrics>,
    pub telemetry_path: String,
    /// What the landing page says of the API: version, endpoint, regions.
    pub api: String,
    /// Ready once each of these has been polled once.
    pub configured_jobs: Vec<JobKey>,
    /// Permits for concurrent scrapes.
    pub scrapes: Arc<Semaphore>,
}

impl AppState {
    /// Every configured job polled once and every instance discovered once, well or not.
    /// A configured job no longer in the store was removed by a reload.
    pub fn is_ready(&self) -> bool {
        self.configured_jobs
            .iter()
            .all(|key| self.store.get(key).is_none_or(|e| e.health.is_some()))
            && self
                .store
                .discovery_snapshot()
                .iter()
                .all(|d| d.success.is_some())
    }
}

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(landing))
        .route(&state.telemetry_path, get(metrics))
        .route("/-/healthy", get(|| async { "OK\n" }))
        .route("/-/ready", get(ready))
        .with_state(state)
}

/// The body of a scrape: chunks arrive from the renderer as they are written.
struct ChunkBody {
    rx: mpsc::Receiver<Vec<u8>>,
}

impl http_body::Body for ChunkBody {
    type Data = bytes::Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        self.rx
            .poll_recv(cx)
            .map(|chunk| chunk.map(|c| Ok(http_body::Frame::data(bytes::Bytes::from(c)))))
    }
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    // Bounds the CPU and memory that concurrent scrapes can take; more are refused.
    let Ok(permit) = Arc::clone(&state.scrapes).try_acquire_owned() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "too many concurrent scrapes\n",
        )
            .into_response();
    };
    let entries = state.store.snapshot();
    let discovery = state.store.discovery_snapshot();
    let metrics = Arc::clone(&state.metrics);
    let (tx, rx) = mpsc::channel::<Vec<u8>>(4);
    let runtime = tokio::runtime::Handle::current();
    // Rendering 10,000 jobs is CPU work: keep it off the async workers, and stream it out
    // in chunks so memory stays flat. A scraper that stops reading ends the render.
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let now = unix_now();
        render_to(&entries, &discovery, &metrics, now, &mut |chunk| {
            runtime
                .block_on(tokio::time::timeout(SCRAPE_TIMEOUT, tx.send(chunk)))
                .is_ok_and(|sent| sent.is_ok())
        });
    });
    (
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        Body::new(ChunkBody { rx }),
    )
        .into_response()
}

async fn ready(State(state): State<Arc<AppState>>) -> (StatusCode, &'static str) {
    if state.is_ready() {
        (StatusCode::OK, "Ready\n")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "Not ready: the first polls are still running\n",
        )
    }
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

async fn landing(State(state): State<Arc<AppState>>) -> Html<String> {
    let entries = state.store.snapshot();
    let path = esc(&state.telemetry_path);
    let mut h = String::with_capacity(4096 + entries.len().min(MAX_ROWS) * 256);
    let _ = write!(
        h,
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>CDB rollback exporter</title>\
         <style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}\
         td,th{{border:1px solid #ccc;padding:.3em .6em;text-align:left}}</style></head><body>\
         <h1>CDB rollback exporter</h1><p>Version {} (revision {}). \
         <a href=\"{path}\">Metrics</a> · <a href=\"/-/healthy\">healthy</a> · <a href=\"/-/ready\">ready</a></p>\
         <p>Values come from a background poll of the Tencent Cloud CDB API ({}); a scrape never waits for it.</p>\
         <h2>Tracked rollback jobs ({})</h2><table><tr><th>job</th><th>region</th><th>source</th><th>labels</th><th>state</th>\
         <th>progress</th><th>last poll (UTC)</th><th>last error</th><th>message</th></tr>",
        esc(VERSION),
        esc(REVISION),
        esc(&state.api),
        entries.len()
    );
    for e in entries.iter().take(MAX_ROWS) {
        let source = match &e.source {
            Source::Configured => "configured".to_string(),
            Source::Discovered { instance_id } => format!("discovered on {instance_id}"),
            Source::Listed {
                instance_id: Some(i),
            } => format!("listed, on {i}"),
            Source::Listed { instance_id: None } => "listed".to_string(),
        };
        let (state_name, progress) = match &e.data {
            Some(d) => (
                d.job.status.state().as_str().to_string(),
                d.job
                    .progress
                    .map_or_else(|| "–".to_string(), |p| format!("{:.0}%", p * 100.0)),
            ),
            None if e.health.is_some() => ("no data (poll failing)".into(), "–".into()),
            None => ("not polled yet".into(), "–".into()),
        };
        let (last_poll, error) = match &e.health {
            Some(h) => (
                format_utc(h.last_poll as i64),
                h.error()
                    .map(|err| match &err.api_code {
                        Some(code) => format!("{} (code {code})", err.kind.as_str()),
                        None => err.kind.as_str().to_string(),
                    })
                    .unwrap_or_else(|| "–".into()),
            ),
            None => ("–".into(), "–".into()),
        };
        // The API's own words (v3 `Message`, each task's `Info`): shown here, never as labels.
        let message = e.data.as_ref().map_or_else(String::new, |d| {
            let mut m = vec![d.job.message.as_str()];
            m.extend(d.job.tasks.iter().map(|t| t.message.as_str()));
            m.retain(|s| !s.is_empty());
            m.join("; ")
        });
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            e.key.id,
            esc(&e.key.region),
            esc(&source),
            esc(&e.labels.to_string()),
            esc(&state_name),
            esc(&progress),
            esc(&last_poll),
            esc(&error),
            esc(&message)
        );
    }
    h.push_str("</table>");
    if entries.len() > MAX_ROWS {
        let _ = write!(
            h,
            "<p>… and {} more; see the metrics.</p>",
            entries.len() - MAX_ROWS
        );
    }
    h.push_str("</body></html>\n");
    Html(h)
}
