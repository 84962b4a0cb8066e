//! Golden files of the whole rollback exposition: the reference's seed job, and the demo
//! world at a fixed moment as API 3.0 tells it (the simulator's own answers, through the
//! real decoders and store). A change of the output shows as a diff of a text file.
//! `UPDATE_GOLDEN=1 cargo test --test it golden` rewrites them (and, with the whole
//! `--test it`, the generated contract and README tables of tests/it/contract.rs).

use std::path::Path;

use cdb_rollback_exporter::api::v2::decode::job_detail;
use cdb_rollback_exporter::api::v3::decode::{rollback_detail, tasks_page};
use cdb_rollback_exporter::config::Labels;
use cdb_rollback_exporter::demo::story::{REGION, jobs_at};
use cdb_rollback_exporter::demo::v3;
use cdb_rollback_exporter::metrics::Metrics;
use cdb_rollback_exporter::render::families::FAMILIES;
use cdb_rollback_exporter::render::{Sources, render};
use cdb_rollback_exporter::store::{JobKey, Source, Store};
use cdb_rollback_exporter::time::UtcOffset;
use serde_json::json;

const SEED: &str = include_str!("../../test-data/seed-answer.json");
/// 2026-11-28 10:00:00 in Beijing.
const T0: i64 = 1_795_831_200;

/// The rollback families of the table only: the exporter's own metrics carry a revision,
/// process data and start times.
fn rollback_text(store: &Store, now: f64) -> String {
    let text = String::from_utf8(render(
        &store.snapshot(),
        &Sources {
            discovery: &store.discovery_snapshot(),
            ..Sources::default()
        },
        &Metrics::new(),
        now,
    ))
    .unwrap();
    let mut out = String::new();
    let mut keep = false;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap_or("");
            keep = FAMILIES.iter().any(|f| f.name == name);
        }
        if keep {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

fn check(name: &str, actual: &str) {
    check_file(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("test-data/golden")
            .join(name),
        actual,
    );
}

/// Fails when the file at `path` is not `actual`; `UPDATE_GOLDEN=1` rewrites it instead.
pub fn check_file(path: &Path, actual: &str) {
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()));
    if expected != actual {
        let first = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(expected.lines().count().min(actual.lines().count()));
        panic!(
            "{} differs at line {} from what the code writes now:\n  file: {:?}\n  now:  {:?}\n(UPDATE_GOLDEN=1 rewrites it if the change is meant)",
            path.display(),
            first + 1,
            expected.lines().nth(first),
            actual.lines().nth(first)
        );
    }
}

#[test]
fn golden_seed_job() {
    let store = Store::new();
    let key = JobKey::new("ap-guangzhou", 12782);
    store.track(
        key.clone(),
        Source::Configured,
        Labels::from_pairs(&[("team", "dba")]),
    );
    let job = job_detail(SEED.as_bytes(), UtcOffset::CST, 12782).unwrap();
    store.record_success(&key, job, 1_462_961_000.0);
    check("seed.prom", &rollback_text(&store, 1_462_961_000.0));
}

#[test]
fn golden_demo_world_on_v3() {
    let now = T0 + 45;
    let world = jobs_at(T0, now);
    let store = Store::new();
    store.add_discovery_source(REGION, None);
    for offset in [0, 100] {
        let q = json!({"StartTimeBegin": "2026-11-28 07:00:00", "Offset": offset, "Limit": 100});
        let page = json!({"Response": v3::describe_tasks(&world, &q, now).unwrap()}).to_string();
        // The story's named jobs; the 110 older ones would only repeat them.
        let jobs = tasks_page(page.as_bytes(), UtcOffset::CST).unwrap().jobs;
        for job in jobs.into_iter().filter(|j| j.id >= 30_000) {
            let key = JobKey::new(REGION, job.id);
            let instance_id = match job.instances.as_slice() {
                [one] => Some(one.instance_id.clone()),
                _ => None,
            };
            store.track(
                key.clone(),
                Source::Listed { instance_id },
                Labels::default(),
            );
            for inst in job.instances.clone() {
                let id = inst.instance_id.as_str();
                let q = json!({"InstanceId": id, "AsyncRequestId": job.async_request_id});
                let answer = json!({"Response": v3::rollback_detail(&world, &q, now).unwrap()});
                let detail =
                    rollback_detail(answer.to_string().as_bytes(), UtcOffset::CST, id).unwrap();
                store.record_row(&key, job.clone(), now as f64);
                store.record_task(&key, id, detail.task, now as f64);
            }
        }
    }
    store.record_discovery(REGION, None, true, now as f64);
    check("demo-v3.prom", &rollback_text(&store, now as f64));
}
