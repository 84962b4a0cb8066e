//! The HTML pages: the landing page (what needs attention first) and a page per job.
//! Everything the API says is escaped ([`html::esc`]); no JavaScript, no external assets.

pub mod html;
pub mod job;
pub mod landing;
mod svg;

use crate::rollback::State;
use crate::store::{Entry, JobKey, Store};

/// A running job whose progress has not moved for this long is shown as stalled. The
/// alert waits longer (30 min); the page is for a person already looking.
pub const STALLED_AFTER: f64 = 600.0;

/// The link to a job's own page: `/jobs/{region}/{id}`, and with `accounts:`
/// `/jobs/{account}/{region}/{id}`; built here and nowhere else.
pub fn job_path(key: &JobKey) -> String {
    let region = html::segment(&key.region);
    match key.account.as_str() {
        "" => format!("/jobs/{region}/{}", key.id),
        account => format!("/jobs/{}/{region}/{}", html::segment(account), key.id),
    }
}

/// How the exporter came to a job, and in which account when there are several.
/// How a job came to be tracked, its instances named by name and tags where its account's
/// inventory has them, and its account with `accounts:`.
pub fn source(e: &Entry, store: &Store) -> String {
    let inventory = store.inventory(&e.key.inventory());
    let job = e.data.as_ref().map(|d| &d.job);
    let source = crate::inventory::text::source(&e.source, job, inventory.as_deref());
    match e.key.account.as_str() {
        "" => source,
        account => format!("{source}, account {account}"),
    }
}

/// Where a job stands for a person reading the pages, in the order they want to see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Standing {
    Failed,
    Stalled,
    /// Running, or any other state not finished.
    Active,
    Finished,
    /// Not polled yet, or no answer so far.
    NoData,
}

impl Standing {
    pub fn of(e: &Entry, now: f64) -> Standing {
        let Some(d) = &e.data else {
            return Standing::NoData;
        };
        match d.job.status.state() {
            State::Failed => Standing::Failed,
            s if s.is_terminal() => Standing::Finished,
            State::Running if now - e.trail.changed_at >= STALLED_AFTER => Standing::Stalled,
            _ => Standing::Active,
        }
    }

    pub fn needs_attention(self) -> bool {
        self < Standing::Finished
    }
}

/// The instances a job covers, with their names where known: from the API's task details
/// (API 2.0 gives them), else from the instance inventory, in the order of the job's
/// instances.
pub fn instances(e: &Entry, store: &Store) -> Vec<(String, String)> {
    let Some(d) = &e.data else {
        return Vec::new();
    };
    let name = |id: &str| {
        let named = |n: &&str| !n.is_empty();
        let from_tasks = d.job.tasks.iter().find(|t| t.instance.instance_id == id);
        let from_job = d.job.instances.iter().find(|i| i.instance_id == id);
        from_tasks
            .map(|t| t.instance.instance_name.as_str())
            .filter(named)
            .or(from_job.map(|i| i.instance_name.as_str()).filter(named))
            .map(str::to_string)
            .or_else(|| store.instance_name(&e.key.inventory(), id))
            .unwrap_or_default()
    };
    let mut ids: Vec<&str> = d
        .job
        .instances
        .iter()
        .map(|i| i.instance_id.as_str())
        .collect();
    for t in &d.job.tasks {
        if !ids.contains(&t.instance.instance_id.as_str()) {
            ids.push(&t.instance.instance_id);
        }
    }
    ids.into_iter()
        .map(|id| (id.to_string(), name(id)))
        .collect()
}

/// `name (id)`, or the id alone, for each instance; escaped.
pub fn instances_html(e: &Entry, store: &Store) -> String {
    let all: Vec<String> = instances(e, store)
        .iter()
        .map(|(id, name)| match name.as_str() {
            "" => html::esc(id),
            n => format!(
                "{} <span class=\"muted\">({})</span>",
                html::esc(n),
                html::esc(id)
            ),
        })
        .collect();
    all.join("<br>")
}

/// The API's own words about a job: its message and each task's, joined.
pub fn messages(e: &Entry) -> Vec<&str> {
    let Some(d) = &e.data else {
        return Vec::new();
    };
    let mut m = vec![d.job.message.as_str()];
    m.extend(d.job.tasks.iter().map(|t| t.message.as_str()));
    m.retain(|s| !s.is_empty());
    m
}
