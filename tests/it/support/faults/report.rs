//! What a good v3 answer of the fault fake reports: the jobs of a DescribeTasks listing,
//! the instance names of a DescribeDBInstances page and the windows of a
//! DescribeRollbackRangeTime answer; and the check that the exporter shows the
//! instances' ones as last served.

use std::collections::BTreeMap;

use cdb_rollback_exporter::rollback::Status;
use cdb_rollback_exporter::time::{UtcOffset, parse_local};
use serde_json::Value;

use super::{Exposition, Log, Served};

/// An instance's window as DescribeRollbackRangeTime last served it whole, and when; as
/// the exporter shows it (no window with a non-zero code).
#[derive(Clone, Debug, PartialEq)]
pub struct Window {
    pub at: f64,
    pub code: i64,
    pub begin: Option<i64>,
    pub end: Option<i64>,
    pub ranges: Option<usize>,
}

/// What one good answer reports.
#[derive(Default)]
pub(super) struct Report {
    pub(super) jobs: Vec<(u64, Served)>,
    /// Instance id to name.
    pub(super) names: BTreeMap<String, String>,
    pub(super) windows: Vec<(String, Window)>,
}

fn time(t: &Value) -> Option<i64> {
    parse_local(t.as_str()?, UtcOffset::CST).ok().flatten()
}

pub(super) fn report(action: &str, answer: &Value, now: f64) -> Report {
    let items = answer["Response"]["Items"].as_array();
    let items = items.map(Vec::as_slice).unwrap_or_default();
    let text = |v: &Value| v.as_str().map(str::to_string);
    match action {
        "DescribeTasks" => Report {
            jobs: items.iter().filter_map(|i| job(i, now)).collect(),
            ..Report::default()
        },
        "DescribeDBInstances" => Report {
            names: (items.iter())
                .filter_map(|i| Some((text(&i["InstanceId"])?, text(&i["InstanceName"])?)))
                .collect(),
            ..Report::default()
        },
        "DescribeRollbackRangeTime" => Report {
            windows: items.iter().filter_map(|i| window(i, now)).collect(),
            ..Report::default()
        },
        _ => Report::default(),
    }
}

/// A job of a DescribeTasks listing, as served at `now`.
fn job(item: &Value, now: f64) -> Option<(u64, Served)> {
    let status = Status::from_name(item["TaskStatus"].as_str().unwrap_or(""));
    let served = Served {
        at: now,
        status: status.0,
        progress: item["Progress"].as_f64(),
        start: time(&item["StartTime"]),
        end: time(&item["EndTime"]),
    };
    Some((item["JobId"].as_u64()?, served))
}

fn window(item: &Value, at: f64) -> Option<(String, Window)> {
    let code = item["Code"].as_i64()?;
    let times = item["Times"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let known = code == 0;
    let w = Window {
        at,
        code,
        begin: times.iter().filter_map(|t| time(&t["Begin"])).min(),
        end: times.iter().filter_map(|t| time(&t["End"])).max(),
        ranges: known.then_some(times.len()),
    };
    Some((item["InstanceId"].as_str()?.to_string(), w))
}

/// Each instance's `instance_info` against the inventory served last before the last
/// successful refresh, and its window series against the answer served last before the
/// last successful readiness round. Returns the problems found.
pub fn check_instances(e: &Exposition, log: &Log) -> Vec<String> {
    let mut problems = Vec::new();
    let refreshed = e.value("cdb_rollback_inventory_last_success_time_seconds", &[]);
    let served = refreshed.and_then(|t| log.names.iter().rev().find(|(at, _)| *at <= t));
    for (id, name) in served.map(|(_, names)| names).into_iter().flatten() {
        let info = e.find("cdb_rollback_instance_info", &[("instance_id", id)]);
        let shown: Vec<_> = info.iter().map(|s| s.labels.get("instance_name")).collect();
        if shown != [Some(name)] {
            problems.push(format!(
                "{id}: instance_info names {shown:?}, served {name}"
            ));
        }
    }
    let Some(round) = e.value("cdb_rollback_readiness_last_success_time_seconds", &[]) else {
        return problems;
    };
    for (id, history) in &log.windows {
        let Some(w) = history.iter().rev().find(|w| w.at <= round) else {
            problems.push(format!("{id}: a round succeeded at {round}, none served"));
            continue;
        };
        let labels = [("instance_id", id.as_str())];
        let got = |name: &str| e.value(&format!("cdb_rollback_recoverable_{name}"), &labels);
        let shown = [got("error_code"), got("begin_timestamp_seconds")]
            .into_iter()
            .chain([got("end_timestamp_seconds"), got("ranges")])
            .collect::<Vec<_>>();
        let want =
            [Some(w.code), w.begin, w.end, w.ranges.map(|r| r as i64)].map(|v| v.map(|v| v as f64));
        if shown != want {
            problems.push(format!("{id}: shows {shown:?}, served {w:?}"));
        }
    }
    problems
}
