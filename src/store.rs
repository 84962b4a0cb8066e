//! The latest snapshot of every tracked job, and of every discovery source.
//!
//! Entries are immutable and replaced whole, so a scrape clones a list of `Arc`s under a
//! short read lock and renders without holding it. Label sets are rendered into text once,
//! when a job is tracked or polled, not at every scrape.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, RwLock};

use crate::api::ErrorKind;
use crate::config::Labels;
use crate::rollback::{Job, State};

/// How a job came to be tracked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Configured,
    Discovered { instance_id: String },
}

/// The outcome of the latest poll of a job.
#[derive(Clone, Debug, PartialEq)]
pub struct PollHealth {
    pub last_poll: f64,
    pub last_success: Option<f64>,
    /// `None` when the latest poll succeeded.
    pub last_error: Option<PollError>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PollError {
    pub kind: ErrorKind,
    pub api_code: Option<i64>,
}

/// A job's last good answer, with each task's label set already rendered.
#[derive(Debug)]
pub struct JobData {
    pub job: Job,
    /// `job_id="…",task_id="…",instance_id="…"` plus the configured labels, one per task.
    pub task_labels: Vec<String>,
    /// The `work_id`, `instance_name`, `strategy`, `operator` labels of each task's info series.
    pub task_info_labels: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct Entry {
    pub id: u64,
    pub source: Source,
    pub labels: Arc<Labels>,
    /// `job_id="…"` (plus `instance_id` of the discovery source) and the configured labels.
    pub job_labels: Arc<str>,
    /// Unix time the job started being tracked.
    pub tracked_at: f64,
    pub data: Option<Arc<JobData>>,
    pub health: Option<PollHealth>,
}

impl Entry {
    pub fn state(&self) -> Option<State> {
        self.data.as_ref().map(|d| d.job.status.state())
    }
}

/// Status of discovery for one instance.
#[derive(Clone, Debug, PartialEq)]
pub struct DiscoveryStatus {
    pub instance_id: String,
    pub success: Option<bool>,
    pub last_success: Option<f64>,
}

#[derive(Default)]
pub struct Store {
    jobs: RwLock<BTreeMap<u64, Arc<Entry>>>,
    discovery: RwLock<BTreeMap<String, DiscoveryStatus>>,
    /// Bumped after every change, so the exposition is rendered again only when needed.
    generation: tokio::sync::watch::Sender<u64>,
}

/// Writes `value` as a label value: backslash, quote and newline escaped.
pub fn escape_into(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

pub(crate) fn push_label(out: &mut String, name: &str, value: &str) {
    if !out.is_empty() {
        out.push(',');
    }
    out.push_str(name);
    out.push_str("=\"");
    escape_into(out, value);
    out.push('"');
}

fn push_labels(out: &mut String, labels: &Labels) {
    for (k, v) in &labels.0 {
        push_label(out, k, v);
    }
}

fn job_labels(id: u64, source: &Source, labels: &Labels) -> String {
    let mut out = String::new();
    let _ = write!(out, "job_id=\"{id}\"");
    if let Source::Discovered { instance_id } = source {
        push_label(&mut out, "instance_id", instance_id);
    }
    push_labels(&mut out, labels);
    out
}

fn job_data(job: Job, labels: &Labels) -> JobData {
    let mut task_labels = Vec::with_capacity(job.tasks.len());
    let mut task_info_labels = Vec::with_capacity(job.tasks.len());
    for t in &job.tasks {
        let mut l = String::new();
        let _ = write!(l, "job_id=\"{}\"", job.id);
        push_label(&mut l, "task_id", &t.id);
        push_label(&mut l, "instance_id", &t.instance.instance_id);
        push_labels(&mut l, labels);
        task_labels.push(l);
        let mut info = String::new();
        push_label(&mut info, "work_id", &t.work_id);
        push_label(&mut info, "instance_name", &t.instance.instance_name);
        push_label(&mut info, "strategy", &t.instance.strategy);
        push_label(&mut info, "operator", &t.instance.operator);
        task_info_labels.push(info);
    }
    JobData {
        job,
        task_labels,
        task_info_labels,
    }
}

impl Store {
    pub fn new() -> Self {
        Self::default()
    }

    fn changed(&self) {
        self.generation.send_modify(|g| *g += 1);
    }

    /// The generation now, and a receiver that wakes at each change after it.
    pub fn generation(&self) -> tokio::sync::watch::Receiver<u64> {
        self.generation.subscribe()
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<u64, Arc<Entry>>> {
        self.jobs.write().unwrap_or_else(|p| p.into_inner())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<u64, Arc<Entry>>> {
        self.jobs.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts tracking a job; false if it was tracked already (the first source wins).
    pub fn track(&self, id: u64, source: Source, labels: Labels) -> bool {
        let mut jobs = self.write();
        if jobs.contains_key(&id) {
            return false;
        }
        let entry = Entry {
            id,
            job_labels: job_labels(id, &source, &labels).into(),
            source,
            labels: Arc::new(labels),
            tracked_at: crate::rollback::time::unix_now(),
            data: None,
            health: None,
        };
        jobs.insert(id, Arc::new(entry));
        drop(jobs);
        self.changed();
        true
    }

    pub fn untrack(&self, id: u64) -> Option<Arc<Entry>> {
        let gone = self.write().remove(&id);
        self.changed();
        gone
    }

    pub fn get(&self, id: u64) -> Option<Arc<Entry>> {
        self.read().get(&id).cloned()
    }

    /// Every tracked job, by id.
    pub fn snapshot(&self) -> Vec<Arc<Entry>> {
        self.read().values().cloned().collect()
    }

    /// A good answer replaces the job's data.
    pub fn record_success(&self, id: u64, job: Job, now: f64) {
        // Render labels outside the lock; the entry may be untracked meanwhile.
        let Some(current) = self.get(id) else { return };
        let data = Arc::new(job_data(job, &current.labels));
        let mut jobs = self.write();
        if let Some(e) = jobs.get_mut(&id) {
            let mut next = Entry::clone(e);
            next.data = Some(data);
            next.health = Some(PollHealth {
                last_poll: now,
                last_success: Some(now),
                last_error: None,
            });
            *e = Arc::new(next);
        }
        drop(jobs);
        self.changed();
    }

    /// A failed poll keeps the last good data and says so in the health.
    pub fn record_failure(&self, id: u64, error: PollError, now: f64) {
        let mut jobs = self.write();
        if let Some(e) = jobs.get_mut(&id) {
            let mut next = Entry::clone(e);
            next.health = Some(PollHealth {
                last_poll: now,
                last_success: e.health.as_ref().and_then(|h| h.last_success),
                last_error: Some(error),
            });
            *e = Arc::new(next);
        }
        drop(jobs);
        self.changed();
    }

    fn discovery_entry<R>(
        &self,
        instance_id: &str,
        f: impl FnOnce(&mut DiscoveryStatus) -> R,
    ) -> R {
        let mut d = self.discovery.write().unwrap_or_else(|p| p.into_inner());
        let s = d
            .entry(instance_id.to_string())
            .or_insert_with(|| DiscoveryStatus {
                instance_id: instance_id.to_string(),
                success: None,
                last_success: None,
            });
        let r = f(s);
        drop(d);
        self.changed();
        r
    }

    /// The outcome of one listing of an instance.
    pub fn record_discovery(&self, instance_id: &str, ok: bool, now: f64) {
        self.discovery_entry(instance_id, |s| {
            s.success = Some(ok);
            if ok {
                s.last_success = Some(now);
            }
        });
    }

    /// Makes an instance known before its first discovery, so it shows up at once.
    pub fn add_discovery_source(&self, instance_id: &str) {
        self.discovery_entry(instance_id, |_| ());
    }

    pub fn discovery_snapshot(&self) -> Vec<DiscoveryStatus> {
        self.discovery
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollback::Status;

    fn job(id: u64) -> Job {
        Job {
            id,
            job_type: 10,
            status: Status(1),
            progress: Some(0.5),
            code: Some(0),
            message: String::new(),
            start: Some(100),
            end: None,
            instances: vec![],
            tasks: vec![],
        }
    }

    #[test]
    fn labels_are_rendered_and_escaped() {
        let s = Store::new();
        s.track(
            7,
            Source::Discovered {
                instance_id: "cdb-1".into(),
            },
            Labels::from_pairs(&[("team", "a\"b\\c\nd")]),
        );
        let e = s.get(7).unwrap();
        assert_eq!(
            &*e.job_labels,
            r#"job_id="7",instance_id="cdb-1",team="a\"b\\c\nd""#
        );
    }

    #[test]
    fn failure_keeps_the_last_good_data() {
        let s = Store::new();
        assert!(s.track(1, Source::Configured, Labels::default()));
        assert!(!s.track(
            1,
            Source::Discovered {
                instance_id: "x".into()
            },
            Labels::default()
        ));
        s.record_success(1, job(1), 10.0);
        s.record_failure(
            1,
            PollError {
                kind: ErrorKind::Timeout,
                api_code: None,
            },
            20.0,
        );
        let e = s.get(1).unwrap();
        assert_eq!(e.source, Source::Configured);
        assert_eq!(e.data.as_ref().unwrap().job.progress, Some(0.5));
        let h = e.health.as_ref().unwrap();
        assert_eq!((h.last_poll, h.last_success), (20.0, Some(10.0)));
        assert_eq!(h.last_error.as_ref().unwrap().kind, ErrorKind::Timeout);
    }
}
