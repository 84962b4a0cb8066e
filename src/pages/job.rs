//! A job's own page, `/jobs/{region}/{id}`: its times, its instances and tasks, the API's
//! messages, and its progress over time as the exporter saw it.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Html;

use super::html::{esc, foot, head, percent, span, time};
use super::landing::poll_words;
use super::{Standing, instances, messages, svg};
use crate::rollback::{self, Job};
use crate::store::{Entry, JobKey, Store};
use crate::time::unix_now;
use crate::web::state::AppState;

pub async fn page(
    State(app): State<Arc<AppState>>,
    Path((region, id)): Path<(String, u64)>,
) -> (StatusCode, Html<String>) {
    page_of(&app, JobKey::new(region, id))
}

/// `/jobs/{account}/{region}/{id}`, with `accounts:`.
pub async fn page_in_account(
    State(app): State<Arc<AppState>>,
    Path((account, region, id)): Path<(String, String, u64)>,
) -> (StatusCode, Html<String>) {
    page_of(&app, JobKey::in_account(account, region, id))
}

fn page_of(app: &AppState, key: JobKey) -> (StatusCode, Html<String>) {
    let mut h = String::with_capacity(8192);
    let mut title = format!("Rollback job {} in {}", key.id, key.region);
    if !key.account.is_empty() {
        let _ = write!(title, ", account {}", key.account);
    }
    head(&mut h, &title);
    let _ = write!(
        h,
        "<p><a href=\"/\">← all jobs</a></p><h1>{}</h1>",
        esc(&title)
    );
    let status = match app.store.get(&key) {
        Some(e) => {
            body(&mut h, &e, &app.store, unix_now());
            StatusCode::OK
        }
        None => {
            h.push_str(
                "<p>This job is not tracked: it may never have been seen, or it finished \
                 longer than discovery.max_age ago.</p>",
            );
            StatusCode::NOT_FOUND
        }
    };
    foot(&mut h);
    (status, Html(h))
}

fn body(h: &mut String, e: &Entry, store: &Store, now: f64) {
    h.push_str("<dl>");
    for (name, value) in facts(e, store, now) {
        let _ = write!(h, "<dt>{name}</dt><dd>{value}</dd>");
    }
    h.push_str("</dl><h2>Progress as the exporter saw it</h2>");
    h.push_str(&svg::progress(&e.trail));
    let _ = write!(h, "<h2>Messages</h2><ul>");
    for m in messages(e) {
        let _ = write!(h, "<li>{}</li>", esc(m));
    }
    h.push_str("</ul>");
    instances_table(h, e, store);
    if let Some(d) = &e.data {
        tasks_table(h, &d.job, now);
    }
}

/// The job's facts, as (name, HTML) pairs.
fn facts(e: &Entry, store: &Store, now: f64) -> [(&'static str, String); 13] {
    let (state, error) = poll_words(e);
    let standing = match Standing::of(e, now) {
        Standing::Stalled => format!(
            "{state} (stalled: no progress for {})",
            span(Some(now - e.trail.changed_at))
        ),
        _ => state,
    };
    let job = e.data.as_ref().map(|d| &d.job);
    let field = |f: fn(&Job) -> Option<i64>| job.and_then(f).map(|t| t as f64);
    let eta = job.and_then(|j| e.trail.estimated_end(j.status.state()));
    let took =
        job.and_then(|j| rollback::duration(j.start, j.end, j.status.state(), now.floor() as i64));
    let kind = job.map_or("–", |j| match j.job_type {
        10 => "batch rollback",
        1 => "rollback",
        _ => "other",
    });
    [
        ("state", esc(&standing)),
        ("progress", percent(job.and_then(|j| j.progress))),
        ("type", kind.to_string()),
        ("request id", esc(job.map_or("", |j| &j.async_request_id))),
        ("started (UTC)", time(field(|j| j.start))),
        ("ended (UTC)", time(field(|j| j.end))),
        ("took, or running for", span(took.map(|s| s as f64))),
        ("expected end (UTC)", time(eta)),
        (
            "progress last moved (UTC)",
            time(Some(e.trail.changed_at).filter(|_| job.is_some())),
        ),
        ("tracked since (UTC)", time(Some(e.tracked_at))),
        (
            "source, labels",
            format!(
                "{}; {}",
                esc(&super::source(e, store)),
                esc(&e.labels.to_string())
            ),
        ),
        (
            "last poll (UTC), error",
            format!(
                "{}; {}",
                time(e.health.as_ref().map(|h| h.last_poll)),
                esc(&error)
            ),
        ),
        (
            "error code",
            job.and_then(|j| j.code)
                .map_or("–".into(), |c| c.to_string()),
        ),
    ]
}

fn instances_table(h: &mut String, e: &Entry, store: &Store) {
    let job = e.data.as_ref().map(|d| &d.job);
    h.push_str(
        "<h2>Instances</h2><table><tr><th>instance</th><th>name</th><th>strategy</th>\
         <th>rolled back to (UTC)</th><th>databases</th><th>tables</th></tr>",
    );
    for (id, name) in instances(e, store) {
        let inst = job.and_then(|j| {
            let from_tasks = j.tasks.iter().map(|t| &t.instance);
            from_tasks.chain(&j.instances).find(|i| i.instance_id == id)
        });
        let dbs = inst.map(|i| {
            let names: Vec<String> = i
                .databases
                .iter()
                .map(|d| format!("{} → {}", d.name, d.new_name))
                .collect();
            names.join(", ")
        });
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&id),
            esc(&name),
            esc(inst.map_or("", |i| &i.strategy)),
            time(inst.and_then(|i| i.rollback_time).map(|t| t as f64)),
            esc(&dbs.unwrap_or_default()),
            inst.and_then(|i| i.tables)
                .map_or("–".into(), |t| t.to_string()),
        );
    }
    h.push_str("</table>");
}

fn tasks_table(h: &mut String, job: &Job, now: f64) {
    h.push_str(
        "<h2>Tasks</h2><table><tr><th>task</th><th>instance</th><th>state</th><th>progress</th>\
         <th>started (UTC)</th><th>ended (UTC)</th><th>took</th><th>code</th><th>message</th></tr>",
    );
    for t in &job.tasks {
        let state = t.status.state();
        let took = rollback::duration(t.start, t.end, state, now.floor() as i64);
        let _ = write!(
            h,
            "<tr class=\"{0}\"><td>{1}</td><td>{2}</td><td>{0}</td><td>{3}</td><td>{4}</td><td>{5}</td>\
             <td>{6}</td><td>{7}</td><td class=\"msg\">{8}</td></tr>",
            state.as_str(),
            esc(if t.id.is_empty() { "–" } else { &t.id }),
            esc(&t.instance.instance_id),
            percent(t.progress),
            time(t.start.map(|s| s as f64)),
            time(t.end.map(|s| s as f64)),
            span(took.map(|s| s as f64)),
            t.code.map_or("–".into(), |c| c.to_string()),
            esc(&t.message),
        );
    }
    h.push_str("</table>");
}
