//! The landing page: counts by state, then the jobs that need attention (failed, stalled,
//! running), then the ones finished lately, newest first, then every tracked job. Each
//! part is a [`Section`]; a new part is one more function in [`SECTIONS`].

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::State;
use axum::response::Html;

use super::html::{esc, foot, head, percent, span, time};
use super::{Standing, instances_html, job_path, messages};
use crate::inventory::RegionKey;
use crate::metrics::{REVISION, VERSION};
use crate::rollback::{self, State as JobState};
use crate::store::Entry;
use crate::time::unix_now;
use crate::web::state::AppState;

/// Rows of the attention and tracked tables; the metrics carry every job.
const MAX_ROWS: usize = 500;
/// Rows of the recently finished table.
const RECENT: usize = 50;

/// What every section is given: the app, the tracked jobs, and the time of the visit.
pub struct Page<'a> {
    pub app: &'a AppState,
    pub entries: &'a [Arc<Entry>],
    pub now: f64,
}

/// Writes one part of the landing page.
pub type Section = fn(&mut String, &Page<'_>);

/// The landing page's parts, top to bottom.
pub const SECTIONS: &[Section] = &[summary, attention, finished, readiness, inventory, tracked];

pub async fn page(State(app): State<Arc<AppState>>) -> Html<String> {
    let entries = app.store.snapshot();
    let page = Page {
        app: &app,
        entries: &entries,
        now: unix_now(),
    };
    let mut h = String::with_capacity(8192 + entries.len().min(MAX_ROWS) * 512);
    head(&mut h, "CDB rollback exporter");
    let path = esc(&app.telemetry_path);
    let _ = write!(
        h,
        "<h1>CDB rollback exporter</h1><p>Version {} (revision {}). \
         <a href=\"{path}\">Metrics</a> · <a href=\"/-/healthy\">healthy</a> · <a href=\"/-/ready\">ready</a></p>\
         <p>Values come from a background poll of the Tencent Cloud CDB API ({}); a scrape never waits for it.</p>",
        esc(VERSION),
        esc(REVISION),
        esc(&(app.api)()),
    );
    for section in SECTIONS {
        section(&mut h, &page);
    }
    foot(&mut h);
    Html(h)
}

/// Counts of the tracked jobs by state; "stalled" counts running jobs that stand still.
fn summary(h: &mut String, p: &Page<'_>) {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    let mut add = |name: &'static str| match counts.iter_mut().find(|(n, _)| *n == name) {
        Some((_, c)) => *c += 1,
        None => counts.push((name, 1)),
    };
    for e in p.entries {
        match (e.state(), Standing::of(e, p.now)) {
            (_, Standing::Stalled) => add("stalled"),
            (Some(s), _) => add(s.as_str()),
            (None, _) => add("no data yet"),
        }
    }
    let order = |name: &str| {
        let states = JobState::ALL.map(JobState::as_str);
        ["failed", "stalled"]
            .iter()
            .chain(&states)
            .position(|s| *s == name)
            .unwrap_or(usize::MAX)
    };
    counts.sort_by_key(|(name, _)| order(name));
    let _ = write!(
        h,
        "<section id=\"summary\"><h2>{} tracked rollback jobs</h2><ul class=\"counts\">",
        p.entries.len()
    );
    for (name, n) in counts {
        let _ = write!(h, "<li class=\"{name}\"><b>{n}</b>{name}</li>");
    }
    h.push_str("</ul></section>");
}

/// Failed jobs (newest first), then stalled ones (longest still first), then the others
/// not finished (least recently moved first).
fn attention(h: &mut String, p: &Page<'_>) {
    let mut rows: Vec<(Standing, &Entry)> = p
        .entries
        .iter()
        .map(|e| (Standing::of(e, p.now), &**e))
        .filter(|(s, _)| s.needs_attention())
        .collect();
    rows.sort_by(|(a, x), (b, y)| {
        let key = |s: &Standing, e: &Entry| match s {
            Standing::Failed => -ended(e),
            _ => e.trail.changed_at,
        };
        let start = |e: &Entry| e.data.as_ref().and_then(|d| d.job.start);
        a.cmp(b)
            .then(key(a, x).total_cmp(&key(b, y)))
            .then(start(x).cmp(&start(y)))
    });
    let _ = write!(
        h,
        "<section id=\"attention\"><h2>Needs attention ({})</h2>",
        rows.len()
    );
    if rows.is_empty() {
        h.push_str("<p>Nothing failed, stalled or running.</p></section>");
        return;
    }
    h.push_str(
        "<table><tr><th>job</th><th>region</th><th>state</th><th>progress</th>\
         <th>expected end (UTC)</th><th>progress last moved</th><th>instances</th><th>message</th></tr>",
    );
    for (standing, e) in rows.iter().take(MAX_ROWS) {
        let state = match standing {
            Standing::Stalled => "stalled".to_string(),
            _ => e.state().map_or("–", JobState::as_str).to_string(),
        };
        let (progress, eta) = e.data.as_ref().map_or((None, None), |d| {
            let s = d.job.status.state();
            (d.job.progress, e.trail.estimated_end(s))
        });
        let moved = span(Some(p.now - e.trail.changed_at));
        let _ = write!(
            h,
            "<tr class=\"{state}\"><td>{}</td><td>{}</td><td>{state}</td><td>{}</td><td>{}</td>\
             <td>{moved} ago</td><td>{}</td><td class=\"msg\">{}</td></tr>",
            job_link(e),
            esc(&e.key.region),
            percent(progress),
            time(eta),
            instances_html(e, &p.app.store),
            esc(&messages(e).join("; ")),
        );
    }
    h.push_str("</table></section>");
}

/// When a finished job ended: by the API, else when the exporter last heard of it.
fn ended(e: &Entry) -> f64 {
    let api = e.data.as_ref().and_then(|d| d.job.end).map(|t| t as f64);
    api.or(e.trail.last.map(|(t, _)| t)).unwrap_or(0.0)
}

fn job_link(e: &Entry) -> String {
    format!("<a href=\"{}\">{}</a>", esc(&job_path(&e.key)), e.key.id)
}

/// Finished jobs that did not fail, newest first.
fn finished(h: &mut String, p: &Page<'_>) {
    let mut rows: Vec<&Entry> = p
        .entries
        .iter()
        .filter(|e| Standing::of(e, p.now) == Standing::Finished)
        .map(|e| &**e)
        .collect();
    rows.sort_by(|a, b| ended(b).total_cmp(&ended(a)).then(b.key.cmp(&a.key)));
    let _ = write!(
        h,
        "<section id=\"finished\"><h2>Recently finished ({} of {})</h2>\
         <table><tr><th>job</th><th>region</th><th>state</th><th>ended (UTC)</th><th>took</th>\
         <th>instances</th><th>message</th></tr>",
        rows.len().min(RECENT),
        rows.len()
    );
    for e in rows.iter().take(RECENT) {
        let Some(d) = &e.data else { continue };
        let state = d.job.status.state();
        let took = rollback::duration(d.job.start, d.job.end, state, 0);
        let _ = write!(
            h,
            "<tr class=\"{0}\"><td>{1}</td><td>{2}</td><td>{0}</td><td>{3}</td><td>{4}</td><td>{5}</td><td class=\"msg\">{6}</td></tr>",
            state.as_str(),
            job_link(e),
            esc(&e.key.region),
            time(d.job.end.map(|t| t as f64)),
            span(took.map(|s| s as f64)),
            instances_html(e, &p.app.store),
            esc(&messages(e).join("; ")),
        );
    }
    h.push_str("</table></section>");
}

/// Every tracked job by region and id, with how the exporter came to it and how its
/// polls go.
fn tracked(h: &mut String, p: &Page<'_>) {
    h.push_str(
        "<section id=\"tracked\"><h2>All tracked jobs</h2><table><tr><th>job</th><th>region</th>\
         <th>source</th><th>labels</th><th>state</th><th>progress</th><th>last poll (UTC)</th>\
         <th>last error</th></tr>",
    );
    for e in p.entries.iter().take(MAX_ROWS) {
        tracked_row(h, e, p);
    }
    h.push_str("</table>");
    if p.entries.len() > MAX_ROWS {
        let more = p.entries.len() - MAX_ROWS;
        let _ = write!(h, "<p>… and {more} more; see the metrics.</p>");
    }
    h.push_str("</section>");
}

/// The state, or why there is none; and the latest poll's error.
pub fn poll_words(e: &Entry) -> (String, String) {
    let state = match (&e.data, &e.health) {
        (Some(d), _) => d.job.status.state().as_str().to_string(),
        (None, Some(_)) => "no data (poll failing)".into(),
        (None, None) => "not polled yet".into(),
    };
    let error = e.health.as_ref().and_then(|h| h.error()).map_or_else(
        || "–".to_string(),
        |err| match &err.api_code {
            Some(code) => format!("{} (code {code})", err.kind.as_str()),
            None => err.kind.as_str().to_string(),
        },
    );
    (state, error)
}

fn tracked_row(h: &mut String, e: &Entry, p: &Page<'_>) {
    let (state, error) = poll_words(e);
    let progress = e.data.as_ref().and_then(|d| d.job.progress);
    let last_poll = e.health.as_ref().map(|h| h.last_poll);
    let _ = write!(
        h,
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        job_link(e),
        esc(&e.key.region),
        esc(&super::source(e, &p.app.store)),
        esc(&e.labels.to_string()),
        esc(&state),
        percent(progress),
        time(last_poll),
        esc(&error),
    );
}

/// The instance inventory's status, one region after another; nothing without one.
fn inventory(h: &mut String, p: &Page<'_>) {
    let all = p.app.store.inventory_snapshot();
    if all.is_empty() {
        return;
    }
    let lines: Vec<String> = all
        .iter()
        .map(|(k, s)| esc(&crate::inventory::text::status(k, s)))
        .collect();
    let _ = write!(
        h,
        "<section id=\"inventory\"><p>Instance inventory (DescribeDBInstances): {}.</p></section>",
        lines.join("; ")
    );
}

/// What each inventoried instance can be rolled back to ([`crate::readiness::page`]).
fn readiness(h: &mut String, p: &Page<'_>) {
    let store = &p.app.store;
    let name = |k: &RegionKey, id: &str| store.instance_name(k, id);
    let table =
        crate::readiness::page::section(&store.readiness_snapshot(), &name, &esc, p.now as i64);
    if !table.is_empty() {
        let _ = write!(h, "<section id=\"readiness\">{table}</section>");
    }
}
