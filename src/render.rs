//! Writes /metrics: the rollback series straight from the store's snapshot, then the
//! exporter's own metrics. Every metric a user can alert on is born in this file.

use std::sync::Arc;

use crate::exposition::push_label;
use crate::metrics::Metrics;
use crate::rollback::{State, duration};
use crate::store::{DiscoveryStatus, Entry, JobData, Source};

pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

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

    /// One gauge family of integers; rows without a value write no series.
    fn ints<'a>(
        &mut self,
        name: &str,
        help: &str,
        rows: impl Iterator<Item = (&'a str, Option<i64>)>,
    ) {
        self.family(name, "gauge", help);
        for (labels, value) in rows {
            if let Some(v) = value {
                self.int(name, labels, "", v);
            }
        }
    }

    /// One gauge family of floats; rows without a value write no series.
    fn floats<'a>(
        &mut self,
        name: &str,
        help: &str,
        rows: impl Iterator<Item = (&'a str, Option<f64>)>,
    ) {
        self.family(name, "gauge", help);
        for (labels, value) in rows {
            if let Some(v) = value {
                self.float(name, labels, "", v);
            }
        }
    }

    /// One state-set family: a series per state, 1 for the current one.
    fn states<'a>(&mut self, name: &str, help: &str, rows: impl Iterator<Item = (&'a str, State)>) {
        self.family(name, "gauge", help);
        for (labels, current) in rows {
            if self.buf.len() >= CHUNK {
                self.flush();
            }
            for s in State::ALL {
                self.buf.extend_from_slice(name.as_bytes());
                self.buf.push(b'{');
                self.buf.extend_from_slice(labels.as_bytes());
                self.buf.extend_from_slice(b",state=\"");
                self.buf.extend_from_slice(s.as_str().as_bytes());
                self.buf.extend_from_slice(b"\"} ");
                self.buf
                    .extend_from_slice(if s == current { b"1\n" } else { b"0\n" });
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
    let polled =
        |what: &str| format!("{what} (from the exporter's background poll of the CDB API).");

    // Jobs: one series each, labelled with the job's pre-rendered label set.
    let jobs = with_data(entries);
    o.ints(
        "cdb_rollback_job_status",
        &polled("Status of the rollback job as a number: -1 unknown, 0 initial, 1 running, 2 success, 3 failed, 4 killed, 5 removed, 6 paused, 7 waiting"),
        jobs.clone().map(|(l, d)| (l, Some(d.job.status.0))),
    );
    o.states(
        "cdb_rollback_job_state",
        &polled("State of the rollback job; exactly one state is 1"),
        jobs.clone().map(|(l, d)| (l, d.job.status.state())),
    );
    o.floats(
        "cdb_rollback_job_progress_ratio",
        &polled("Progress of the rollback job, 0 to 1"),
        jobs.clone().map(|(l, d)| (l, d.job.progress)),
    );
    o.ints(
        "cdb_rollback_job_start_time_seconds",
        &polled("Unix time the rollback job started"),
        jobs.clone().map(|(l, d)| (l, d.job.start)),
    );
    o.ints(
        "cdb_rollback_job_end_time_seconds",
        &polled("Unix time the rollback job ended; absent until it has"),
        jobs.clone().map(|(l, d)| (l, d.job.end)),
    );
    o.ints(
        "cdb_rollback_job_duration_seconds",
        &polled("Seconds the rollback job took, or has been running so far"),
        jobs.clone().map(|(l, d)| {
            (
                l,
                duration(d.job.start, d.job.end, d.job.status.state(), now_s),
            )
        }),
    );
    o.ints(
        "cdb_rollback_job_error_code",
        &polled("The rollback job's own error code, 0 when fine"),
        jobs.clone().map(|(l, d)| (l, d.job.code)),
    );
    o.family(
        "cdb_rollback_job_info",
        "gauge",
        &polled("Rollback job metadata; the value is always 1"),
    );
    let mut info = String::new();
    for (l, d) in jobs.clone() {
        info.clear();
        push_label(&mut info, "type", o.ints.format(d.job.job_type));
        push_label(&mut info, "async_request_id", &d.job.async_request_id);
        o.int("cdb_rollback_job_info", l, &info, 1);
    }

    // Tasks: one series per task, labelled with job_id, task_id and instance_id.
    let ts = tasks(entries);
    o.ints(
        "cdb_rollback_task_status",
        &polled("Status of the rollback task on one instance as a number, as for jobs"),
        ts.clone().map(|(l, _, t)| (l, Some(t.status.0))),
    );
    o.states(
        "cdb_rollback_task_state",
        &polled("State of the rollback task on one instance; exactly one state is 1"),
        ts.clone().map(|(l, _, t)| (l, t.status.state())),
    );
    o.floats(
        "cdb_rollback_task_progress_ratio",
        &polled("Progress of the rollback task, 0 to 1"),
        ts.clone().map(|(l, _, t)| (l, t.progress)),
    );
    o.ints(
        "cdb_rollback_task_start_time_seconds",
        &polled("Unix time the rollback task started"),
        ts.clone().map(|(l, _, t)| (l, t.start)),
    );
    o.ints(
        "cdb_rollback_task_end_time_seconds",
        &polled("Unix time the rollback task ended; absent until it has"),
        ts.clone().map(|(l, _, t)| (l, t.end)),
    );
    o.ints(
        "cdb_rollback_task_duration_seconds",
        &polled("Seconds the rollback task took, or has been running so far"),
        ts.clone()
            .map(|(l, _, t)| (l, duration(t.start, t.end, t.status.state(), now_s))),
    );
    o.ints(
        "cdb_rollback_task_error_code",
        &polled("The rollback task's own error code, 0 when fine"),
        ts.clone().map(|(l, _, t)| (l, t.code)),
    );
    o.family(
        "cdb_rollback_task_info",
        "gauge",
        &polled("Rollback task metadata; the value is always 1"),
    );
    for (l, info, _) in ts.clone() {
        o.int("cdb_rollback_task_info", l, info, 1);
    }
    o.ints(
        "cdb_rollback_task_target_time_seconds",
        &polled("Unix time of the point the task rolls the data back to"),
        ts.clone().map(|(l, _, t)| (l, t.instance.rollback_time)),
    );
    o.ints(
        "cdb_rollback_task_databases",
        &polled("Number of databases the rollback task rolls back"),
        ts.clone()
            .map(|(l, _, t)| (l, Some(t.instance.databases.len() as i64))),
    );
    o.ints(
        "cdb_rollback_task_tables",
        &polled("Number of tables the rollback task rolls back, where the API lists them (v3)"),
        ts.map(|(l, _, t)| (l, t.instance.tables)),
    );

    // Poll health, for every tracked job that has been polled, with or without data.
    let health = entries
        .iter()
        .filter_map(|e| e.health.as_ref().map(|h| (&*e.job_labels, h)));
    o.ints(
        "cdb_rollback_job_poll_success",
        "1 if the latest background poll of the job succeeded, else 0 (its values are then the last good ones).",
        health.clone().map(|(l, h)| (l, Some(i64::from(h.ok())))),
    );
    o.floats(
        "cdb_rollback_job_last_poll_time_seconds",
        "Unix time of the latest background poll of the job, successful or not.",
        health.clone().map(|(l, h)| (l, Some(h.last_poll))),
    );
    o.floats(
        "cdb_rollback_job_last_success_time_seconds",
        "Unix time of the latest successful background poll of the job.",
        health.map(|(l, h)| (l, h.last_success)),
    );
    o.ints(
        "cdb_rollback_tracked_jobs",
        "Rollback jobs the exporter tracks, configured and discovered.",
        std::iter::once(("", Some(entries.len() as i64))),
    );

    render_discovery(&mut o, entries, discovery);
    metrics.encode(&mut o.buf);
    o.flush();
}

fn render_discovery(o: &mut Out<'_>, entries: &[Arc<Entry>], discovery: &[DiscoveryStatus]) {
    if discovery.is_empty() {
        return;
    }
    // v2 discovers per instance, v3 per region: count each job under its own source.
    let mut counts = std::collections::HashMap::<(&str, Option<&str>), i64>::new();
    for e in entries {
        let source = match &e.source {
            Source::Configured => continue,
            Source::Discovered { instance_id } => {
                (e.key.region.as_str(), Some(instance_id.as_str()))
            }
            Source::Listed { .. } => (e.key.region.as_str(), None),
        };
        *counts.entry(source).or_default() += 1;
    }
    let labels: Vec<String> = discovery
        .iter()
        .map(|d| {
            let mut l = String::new();
            push_label(&mut l, "region", &d.region);
            if let Some(i) = &d.instance_id {
                push_label(&mut l, "instance_id", i);
            }
            l
        })
        .collect();
    let rows = || discovery.iter().zip(labels.iter().map(String::as_str));
    o.ints(
        "cdb_rollback_discovery_jobs",
        "Rollback jobs tracked through discovery: per instance (v2 GetCdbRollbackJob) or per region (v3 DescribeTasks).",
        rows().map(|(d, l)| {
            let key = (d.region.as_str(), d.instance_id.as_deref());
            (l, Some(counts.get(&key).copied().unwrap_or(0)))
        }),
    );
    o.ints(
        "cdb_rollback_discovery_success",
        "1 if the latest listing of this instance's or region's rollback jobs succeeded, else 0.",
        rows().map(|(d, l)| (l, d.success.map(i64::from))),
    );
    o.floats(
        "cdb_rollback_discovery_last_success_time_seconds",
        "Unix time of the latest successful listing of this instance's or region's rollback jobs.",
        rows().map(|(d, l)| (l, d.last_success)),
    );
}
