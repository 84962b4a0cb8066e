//! Writes /metrics: the rollback series straight from the store's snapshot, walking the
//! table of [`families`] (where every metric a user can alert on is born), then the
//! exporter's own metrics. [`contract`] writes the metric contract and the metric tables
//! of docs/metrics.md from the same declarations.

pub mod cache;
pub mod contract;
pub mod exposition;
pub mod families;
mod readiness;

use std::collections::HashMap;
use std::sync::Arc;

use self::exposition::{push_account, push_label};
use self::families::{FAMILIES, Family, Num, Rows};
use crate::inventory::{InventoryStatus, RegionKey};
use crate::metrics::Metrics;
use crate::readiness::RegionReadiness;
use crate::rollback::{State, Task};
use crate::store::{DiscoveryStatus, Entry, JobData};

pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The exposition being written. Lines are assembled from pre-rendered label sets with
/// itoa/ryu rather than `format!`: 10,000 jobs make several hundred thousand lines.
struct Out<'s> {
    buf: Vec<u8>,
    ints: itoa::Buffer,
    floats: ryu::Buffer,
    sink: &'s mut dyn FnMut(Vec<u8>),
}

/// The exposition is handed out in chunks of about this size, so that memory stays flat
/// and the first bytes leave before the last line is written.
pub const CHUNK: usize = 64 * 1024;

impl Out<'_> {
    fn flush(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let full = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK + 4096));
        (self.sink)(full);
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

    fn num(&mut self, name: &str, labels: &str, extra: &str, value: Num) {
        self.head(name, labels, extra);
        match value {
            Num::Int(v) => self.buf.extend_from_slice(self.ints.format(v).as_bytes()),
            Num::Float(v) if v.is_finite() => self
                .buf
                .extend_from_slice(self.floats.format_finite(v).as_bytes()),
            Num::Float(_) => self.buf.extend_from_slice(b"NaN"),
        }
        self.buf.push(b'\n');
    }

    /// Rows of one family; rows without a value write no series.
    fn rows<'a>(&mut self, name: &str, rows: impl Iterator<Item = (&'a str, Option<Num>)>) {
        for (labels, value) in rows {
            if let Some(v) = value {
                self.num(name, labels, "", v);
            }
        }
    }

    /// A state set per row: a series per state, 1 for the current one.
    fn states<'a>(&mut self, name: &str, rows: impl Iterator<Item = (&'a str, State)>) {
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

fn tasks(entries: &[Arc<Entry>]) -> impl Iterator<Item = (&str, &str, &Task)> + Clone {
    with_data(entries).flat_map(|(_, d)| {
        d.job
            .tasks
            .iter()
            .zip(&d.task_labels)
            .zip(&d.task_info_labels)
            .map(|((t, l), i)| (l.as_str(), i.as_str(), t))
    })
}

/// What the store holds besides the jobs: discovery sources, instance inventories and
/// rollback readiness.
#[derive(Clone, Copy, Default)]
pub struct Sources<'a> {
    pub discovery: &'a [DiscoveryStatus],
    pub inventories: &'a [(RegionKey, InventoryStatus)],
    pub readiness: &'a [Arc<RegionReadiness>],
}

/// Renders the whole exposition into one buffer (for tests and small outputs).
pub fn render(
    entries: &[Arc<Entry>],
    sources: &Sources<'_>,
    metrics: &Metrics,
    now: f64,
) -> Vec<u8> {
    let mut all = Vec::new();
    render_to(entries, sources, metrics, now, &mut |chunk| {
        all.extend_from_slice(&chunk);
    });
    all
}

/// Renders the whole exposition, handing `sink` chunks of about [`CHUNK`] bytes. `now` is
/// Unix seconds, for running durations.
pub fn render_to(
    entries: &[Arc<Entry>],
    sources: &Sources<'_>,
    metrics: &Metrics,
    now: f64,
    sink: &mut dyn FnMut(Vec<u8>),
) {
    let mut o = Out {
        buf: Vec::with_capacity(CHUNK + 4096),
        ints: itoa::Buffer::new(),
        floats: ryu::Buffer::new(),
        sink,
    };
    let counts = discovered_jobs(entries);
    for f in FAMILIES {
        // Discovery, inventory and readiness families only where something is discovered,
        // listed or asked.
        let empty = match f.rows {
            Rows::Discovery(_) => sources.discovery.is_empty(),
            Rows::Inventory(_) | Rows::InstanceInfo => sources.inventories.is_empty(),
            Rows::Readiness(_) | Rows::ReadinessRegion(_) => sources.readiness.is_empty(),
            _ => false,
        };
        if !empty {
            write_family(&mut o, f, entries, sources, &counts, now.floor() as i64);
        }
    }
    metrics.encode(&mut o.buf);
    o.flush();
}

/// HELP and TYPE; a polled family's help says where its values come from.
fn family_header(o: &mut Out<'_>, f: &Family) {
    if f.polled() {
        let help = format!(
            "{} (from the exporter's background poll of the CDB API).",
            f.help
        );
        o.family(f.name, Family::KIND.as_str(), &help);
    } else {
        o.family(f.name, Family::KIND.as_str(), f.help);
    }
}

fn write_family(
    o: &mut Out<'_>,
    f: &Family,
    entries: &[Arc<Entry>],
    sources: &Sources<'_>,
    counts: &Counts<'_>,
    now: i64,
) {
    family_header(o, f);
    let jobs = with_data(entries);
    match f.rows {
        Rows::Job(read) => o.rows(f.name, jobs.map(|(l, d)| (l, read(&d.job, now)))),
        Rows::JobState => o.states(f.name, jobs.map(|(l, d)| (l, d.job.status.state()))),
        Rows::JobInfo => {
            let mut info = String::new();
            for (l, d) in jobs {
                info.clear();
                push_label(&mut info, "type", o.ints.format(d.job.job_type));
                push_label(&mut info, "async_request_id", &d.job.async_request_id);
                o.num(f.name, l, &info, Num::Int(1));
            }
        }
        Rows::Task(read) => o.rows(f.name, tasks(entries).map(|(l, _, t)| (l, read(t, now)))),
        Rows::TaskState => o.states(
            f.name,
            tasks(entries).map(|(l, _, t)| (l, t.status.state())),
        ),
        Rows::TaskInfo => {
            for (l, info, _) in tasks(entries) {
                o.num(f.name, l, info, Num::Int(1));
            }
        }
        Rows::Seen(read) => o.rows(
            f.name,
            entries.iter().filter_map(|e| {
                let d = e.data.as_deref()?;
                Some((&*e.job_labels, read(&e.trail, d.job.status.state())))
            }),
        ),
        Rows::Health(read) => o.rows(
            f.name,
            entries
                .iter()
                .filter_map(|e| e.health.as_ref().map(|h| (&*e.job_labels, read(h)))),
        ),
        Rows::Tracked => o.num(f.name, "", "", Num::Int(entries.len() as i64)),
        Rows::Readiness(_) | Rows::ReadinessRegion(_) => {
            readiness::rows(o, f, sources.readiness);
        }
        Rows::Inventory(_) | Rows::InstanceInfo => inventory_rows(o, f, sources.inventories),
        Rows::Discovery(read) => {
            for d in sources.discovery {
                if let Some(v) = read(d, jobs_of(counts, d)) {
                    o.num(f.name, &discovery_labels(d), "", v);
                }
            }
        }
    }
}

/// The jobs tracked through discovery source `d`.
fn jobs_of(counts: &Counts<'_>, d: &DiscoveryStatus) -> i64 {
    let source = (
        d.account.as_str(),
        d.region.as_str(),
        d.instance_id.as_deref(),
    );
    counts.get(&source).copied().unwrap_or(0)
}

/// The inventory families: one series per region, or one per inventoried instance.
fn inventory_rows(o: &mut Out<'_>, f: &Family, inventories: &[(RegionKey, InventoryStatus)]) {
    match f.rows {
        Rows::Inventory(read) => {
            for (key, status) in inventories {
                if let Some(v) = read(status) {
                    o.num(f.name, &key.labels(), "", v);
                }
            }
        }
        Rows::InstanceInfo => {
            for inv in inventories.iter().filter_map(|(_, s)| s.inventory.as_ref()) {
                for r in &inv.records {
                    o.num(f.name, &r.info_labels, "", Num::Int(1));
                }
            }
        }
        _ => {}
    }
}

/// Jobs tracked through each discovery source (an instance, or a region's listing).
fn discovered_jobs(entries: &[Arc<Entry>]) -> Counts<'_> {
    let mut counts = HashMap::new();
    for e in entries {
        if let Some(via) = e.source.discovery() {
            let region = e.key.region.as_str();
            *counts
                .entry((e.key.account.as_str(), region, via))
                .or_default() += 1;
        }
    }
    counts
}

/// Jobs per discovery source: (account, region, instance).
type Counts<'e> = HashMap<(&'e str, &'e str, Option<&'e str>), i64>;

fn discovery_labels(d: &DiscoveryStatus) -> String {
    let mut l = String::new();
    push_account(&mut l, &d.account);
    push_label(&mut l, "region", &d.region);
    if let Some(i) = &d.instance_id {
        push_label(&mut l, "instance_id", i);
    }
    l
}
