//! Writes /metrics: the rollback series straight from the store's snapshot, then the
//! exporter's own metrics. Every metric a user can alert on is born in this file.

use std::sync::Arc;

use crate::metrics::Metrics;
use crate::rollback::{State, duration};
use crate::store::{DiscoveryStatus, Entry, JobData};

pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

const POLLED: &str = "(from the exporter's background poll of GetCdbRollbackJobTask)";

/// `,state="…"} ` for each state, in [`State::ALL`] order.
const STATE_SUFFIX: [&str; 8] = [
    ",state=\"initial\"} ",
    ",state=\"running\"} ",
    ",state=\"success\"} ",
    ",state=\"failed\"} ",
    ",state=\"killed\"} ",
    ",state=\"removed\"} ",
    ",state=\"terminating\"} ",
    ",state=\"unknown\"} ",
];

/// The exposition being written. Lines are assembled from pre-rendered label sets with
/// itoa/ryu rather than `format!`: 10,000 jobs make several hundred thousand lines.
struct Out<'s> {
    buf: Vec<u8>,
    ints: itoa::Buffer,
    floats: ryu::Buffer,
    sink: &'s mut dyn FnMut(Vec<u8>) -> bool,
    /// False once the sink has refused a chunk (the scraper went away).
    open: bool,
}

/// The exposition is handed out in chunks of about this size, so that memory stays flat
/// and the first bytes leave before the last line is written.
pub const CHUNK: usize = 64 * 1024;

impl Out<'_> {
    fn flush(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        if self.open {
            let full = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK + 4096));
            self.open = (self.sink)(full);
        } else {
            self.buf.clear();
        }
    }

    fn family(&mut self, name: &str, kind: &str, help: &str) {
        for part in [
            "# HELP ",
            name,
            " ",
            help,
            "\n# TYPE ",
            name,
            " ",
            kind,
            "\n",
        ] {
            self.buf.extend_from_slice(part.as_bytes());
        }
    }

    fn head(&mut self, name: &str, labels: &str, extra: &str) {
        if self.buf.len() >= CHUNK {
            self.flush();
        }
        self.buf.extend_from_slice(name.as_bytes());
        if labels.is_empty() && extra.is_empty() {
            self.buf.push(b' ');
            return;
        }
        self.buf.push(b'{');
        self.buf.extend_from_slice(labels.as_bytes());
        if !extra.is_empty() {
            if !labels.is_empty() {
                self.buf.push(b',');
            }
            self.buf.extend_from_slice(extra.as_bytes());
        }
        self.buf.extend_from_slice(b"} ");
    }

    fn int(&mut self, name: &str, labels: &str, extra: &str, value: i64) {
        self.head(name, labels, extra);
        self.buf
            .extend_from_slice(self.ints.format(value).as_bytes());
        self.buf.push(b'\n');
    }

    fn float(&mut self, name: &str, labels: &str, extra: &str, value: f64) {
        self.head(name, labels, extra);
        if value.is_finite() {
            self.buf
                .extend_from_slice(self.floats.format_finite(value).as_bytes());
        } else {
            self.buf.extend_from_slice(b"NaN");
        }
        self.buf.push(b'\n');
    }

    /// One state-set family: a series per state, 1 for the current one.
    fn states<'a>(&mut self, name: &str, help: &str, rows: impl Iterator<Item = (&'a str, State)>) {
        self.family(name, "gauge", help);
        for (labels, current) in rows {
            if self.buf.len() >= CHUNK {
                self.flush();
            }
            for (s, suffix) in State::ALL.iter().zip(STATE_SUFFIX) {
                self.buf.extend_from_slice(name.as_bytes());
                self.buf.push(b'{');
                self.buf.extend_from_slice(labels.as_bytes());
                self.buf.extend_from_slice(suffix.as_bytes());
                self.buf
                    .extend_from_slice(if *s == current { b"1\n" } else { b"0\n" });
            }
        }
    }
}

fn with_data(entries: &[Arc<Entry>]) -> impl Iterator<Item = (&str, &JobData)> + Clone {
    entries
        .iter()
        .filter_map(|e| e.data.as_deref().map(|d| (&*e.job_labels, d)))
}

fn tasks(
    entries: &[Arc<Entry>],
) -> impl Iterator<Item = (&str, &str, &crate::rollback::Task)> + Clone {
    with_data(entries).flat_map(|(_, d)| {
        d.job
            .tasks
            .iter()
            .zip(&d.task_labels)
            .zip(&d.task_info_labels)
            .map(|((t, l), i)| (l.as_str(), i.as_str(), t))
    })
}

/// Renders the whole exposition into one buffer (for tests and small outputs).
pub fn render(
    entries: &[Arc<Entry>],
    discovery: &[DiscoveryStatus],
    metrics: &Metrics,
    now: f64,
) -> Vec<u8> {
    let mut all = Vec::new();
    render_to(entries, discovery, metrics, now, &mut |chunk| {
        all.extend_from_slice(&chunk);
        true
    });
    all
}

/// Renders the whole exposition, handing `sink` chunks of about [`CHUNK`] bytes; `sink`
/// returns false to say it wants no more. `now` is Unix seconds, for running durations.
pub fn render_to(
    entries: &[Arc<Entry>],
    discovery: &[DiscoveryStatus],
    metrics: &Metrics,
    now: f64,
    sink: &mut dyn FnMut(Vec<u8>) -> bool,
) {
    let mut o = Out {
        buf: Vec::with_capacity(CHUNK + 4096),
        ints: itoa::Buffer::new(),
        floats: ryu::Buffer::new(),
        sink,
        open: true,
    };
    let now_s = now.floor() as i64;

    // Jobs.
    let jobs = with_data(entries);
    o.family("cdb_rollback_job_status", "gauge", &format!("Raw status code of the rollback job {POLLED}: 0 initial, 1 running, 2 success, 3 failed, 4 killed, 5 removed, 6 terminating."));
    for (l, d) in jobs.clone() {
        o.int("cdb_rollback_job_status", l, "", d.job.status.0);
    }
    o.states(
        "cdb_rollback_job_state",
        &format!("State of the rollback job {POLLED}; exactly one state is 1."),
        jobs.clone().map(|(l, d)| (l, d.job.status.state())),
    );
    o.family(
        "cdb_rollback_job_progress_ratio",
        "gauge",
        &format!("Progress of the rollback job, 0 to 1 {POLLED}."),
    );
    for (l, d) in jobs.clone() {
        if let Some(p) = d.job.progress {
            o.float("cdb_rollback_job_progress_ratio", l, "", p);
        }
    }
    o.family(
        "cdb_rollback_job_start_time_seconds",
        "gauge",
        &format!("Unix time the rollback job started {POLLED}."),
    );
    for (l, d) in jobs.clone() {
        if let Some(t) = d.job.start {
            o.int("cdb_rollback_job_start_time_seconds", l, "", t);
        }
    }
    o.family(
        "cdb_rollback_job_end_time_seconds",
        "gauge",
        &format!("Unix time the rollback job ended; absent until it has {POLLED}."),
    );
    for (l, d) in jobs.clone() {
        if let Some(t) = d.job.end {
            o.int("cdb_rollback_job_end_time_seconds", l, "", t);
        }
    }
    o.family(
        "cdb_rollback_job_duration_seconds",
        "gauge",
        &format!("Seconds the rollback job took, or has been running so far {POLLED}."),
    );
    for (l, d) in jobs.clone() {
        if let Some(s) = duration(d.job.start, d.job.end, d.job.status.state(), now_s) {
            o.int("cdb_rollback_job_duration_seconds", l, "", s);
        }
    }
    o.family(
        "cdb_rollback_job_error_code",
        "gauge",
        &format!("The rollback job's own error code, 0 when fine {POLLED}."),
    );
    for (l, d) in jobs.clone() {
        if let Some(c) = d.job.code {
            o.int("cdb_rollback_job_error_code", l, "", c);
        }
    }
    o.family(
        "cdb_rollback_job_info",
        "gauge",
        &format!("Rollback job metadata; the value is always 1 {POLLED}."),
    );
    let mut type_label = String::new();
    for (l, d) in jobs.clone() {
        type_label.clear();
        type_label.push_str("type=\"");
        type_label.push_str(o.ints.format(d.job.job_type));
        type_label.push('"');
        o.int("cdb_rollback_job_info", l, &type_label, 1);
    }

    // Tasks.
    let ts = tasks(entries);
    o.family(
        "cdb_rollback_task_status",
        "gauge",
        &format!("Raw status code of the rollback task on one instance {POLLED}."),
    );
    for (l, _, t) in ts.clone() {
        o.int("cdb_rollback_task_status", l, "", t.status.0);
    }
    o.states(
        "cdb_rollback_task_state",
        &format!("State of the rollback task on one instance {POLLED}; exactly one state is 1."),
        ts.clone().map(|(l, _, t)| (l, t.status.state())),
    );
    o.family(
        "cdb_rollback_task_progress_ratio",
        "gauge",
        &format!("Progress of the rollback task, 0 to 1 {POLLED}."),
    );
    for (l, _, t) in ts.clone() {
        if let Some(p) = t.progress {
            o.float("cdb_rollback_task_progress_ratio", l, "", p);
        }
    }
    o.family(
        "cdb_rollback_task_start_time_seconds",
        "gauge",
        &format!("Unix time the rollback task started {POLLED}."),
    );
    for (l, _, t) in ts.clone() {
        if let Some(v) = t.start {
            o.int("cdb_rollback_task_start_time_seconds", l, "", v);
        }
    }
    o.family(
        "cdb_rollback_task_end_time_seconds",
        "gauge",
        &format!("Unix time the rollback task ended; absent until it has {POLLED}."),
    );
    for (l, _, t) in ts.clone() {
        if let Some(v) = t.end {
            o.int("cdb_rollback_task_end_time_seconds", l, "", v);
        }
    }
    o.family(
        "cdb_rollback_task_duration_seconds",
        "gauge",
        &format!("Seconds the rollback task took, or has been running so far {POLLED}."),
    );
    for (l, _, t) in ts.clone() {
        if let Some(v) = duration(t.start, t.end, t.status.state(), now_s) {
            o.int("cdb_rollback_task_duration_seconds", l, "", v);
        }
    }
    o.family(
        "cdb_rollback_task_error_code",
        "gauge",
        &format!("The rollback task's own error code, 0 when fine {POLLED}."),
    );
    for (l, _, t) in ts.clone() {
        if let Some(c) = t.code {
            o.int("cdb_rollback_task_error_code", l, "", c);
        }
    }
    o.family(
        "cdb_rollback_task_info",
        "gauge",
        &format!("Rollback task metadata; the value is always 1 {POLLED}."),
    );
    for (l, info, _) in ts.clone() {
        o.int("cdb_rollback_task_info", l, info, 1);
    }
    o.family(
        "cdb_rollback_task_target_time_seconds",
        "gauge",
        &format!("Unix time of the point the task rolls the data back to {POLLED}."),
    );
    for (l, _, t) in ts.clone() {
        if let Some(v) = t.instance.rollback_time {
            o.int("cdb_rollback_task_target_time_seconds", l, "", v);
        }
    }
    o.family(
        "cdb_rollback_task_databases",
        "gauge",
        &format!("Number of databases the rollback task rolls back {POLLED}."),
    );
    for (l, _, t) in ts {
        o.int(
            "cdb_rollback_task_databases",
            l,
            "",
            t.instance.databases.len() as i64,
        );
    }

    // Poll health, for every tracked job that has been polled.
    let polled = entries
        .iter()
        .filter_map(|e| e.health.as_ref().map(|h| (&*e.job_labels, h)));
    o.family("cdb_rollback_job_poll_success", "gauge", "1 if the latest background poll of the job succeeded, else 0 (its values are then the last good ones).");
    for (l, h) in polled.clone() {
        o.int(
            "cdb_rollback_job_poll_success",
            l,
            "",
            i64::from(h.last_error.is_none()),
        );
    }
    o.family(
        "cdb_rollback_job_last_poll_time_seconds",
        "gauge",
        "Unix time of the latest background poll of the job, successful or not.",
    );
    for (l, h) in polled.clone() {
        o.float(
            "cdb_rollback_job_last_poll_time_seconds",
            l,
            "",
            h.last_poll,
        );
    }
    o.family(
        "cdb_rollback_job_last_success_time_seconds",
        "gauge",
        "Unix time of the latest successful background poll of the job.",
    );
    for (l, h) in polled {
        if let Some(t) = h.last_success {
            o.float("cdb_rollback_job_last_success_time_seconds", l, "", t);
        }
    }
    o.family(
        "cdb_rollback_tracked_jobs",
        "gauge",
        "Rollback jobs the exporter tracks, configured and discovered.",
    );
    o.int("cdb_rollback_tracked_jobs", "", "", entries.len() as i64);

    render_discovery(&mut o, entries, discovery);
    metrics.encode(&mut o.buf);
    o.flush();
}

fn render_discovery(o: &mut Out<'_>, entries: &[Arc<Entry>], discovery: &[DiscoveryStatus]) {
    if discovery.is_empty() {
        return;
    }
    let mut counts = std::collections::HashMap::<&str, i64>::new();
    for e in entries {
        if let crate::store::Source::Discovered { instance_id } = &e.source {
            *counts.entry(instance_id.as_str()).or_default() += 1;
        }
    }
    let labels: Vec<String> = discovery
        .iter()
        .map(|d| {
            let mut l = String::from("instance_id=\"");
            crate::store::escape_into(&mut l, &d.instance_id);
            l.push('"');
            l
        })
        .collect();
    o.family(
        "cdb_rollback_discovery_jobs",
        "gauge",
        "Rollback jobs tracked through discovery on this instance (GetCdbRollbackJob).",
    );
    for (d, l) in discovery.iter().zip(&labels) {
        o.int(
            "cdb_rollback_discovery_jobs",
            l,
            "",
            counts.get(d.instance_id.as_str()).copied().unwrap_or(0),
        );
    }
    o.family(
        "cdb_rollback_discovery_success",
        "gauge",
        "1 if the latest discovery of this instance's rollback jobs succeeded, else 0.",
    );
    for (d, l) in discovery.iter().zip(&labels) {
        if let Some(ok) = d.success {
            o.int("cdb_rollback_discovery_success", l, "", i64::from(ok));
        }
    }
    o.family(
        "cdb_rollback_discovery_last_success_time_seconds",
        "gauge",
        "Unix time of the latest successful discovery on this instance.",
    );
    for (d, l) in discovery.iter().zip(&labels) {
        if let Some(t) = d.last_success {
            o.float("cdb_rollback_discovery_last_success_time_seconds", l, "", t);
        }
    }
}
