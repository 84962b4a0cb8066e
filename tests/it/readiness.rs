//! Rollback readiness on API 3.0: DescribeRollbackRangeTime for every instance of the
//! inventory, 100 ids a request, halved for good when the API refuses a batch; each
//! instance's window on /metrics and the landing page; a failed round keeping the last
//! values; an instance leaving the inventory leaving the metrics.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cdb_rollback_exporter::demo::inventory::FLEET;
use cdb_rollback_exporter::demo::ranges::{ERRING, GAPPED, LAGGING, SHORT};

use crate::support::clock::now;
use crate::support::exposition::Exposition;
use crate::support::fake_v3::{FakeV3, api_error, instance, range_item};
use crate::support::process::{self, BIN};
use crate::support::{Daemon, config, scrape};

const GZ: &str = "ap-guangzhou";
const ACTION: &str = "DescribeRollbackRangeTime";

fn yaml(endpoint: &str) -> String {
    format!(
        "api:\n  endpoint: {endpoint}\n  region: {GZ}\n  max_requests_per_second: 500\n  timeout: 2s\n\
         poll:\n  interval: 1s\n  retries: 0\ninstances:\n  interval: 1s\nreadiness:\n  interval: 1s\n"
    )
}

fn inventory(api: &FakeV3, ids: &[String]) {
    let list = ids
        .iter()
        .map(|id| instance(id, &format!("db-{id}"), 1, &[]))
        .collect();
    api.with(|s| s.instances.insert(GZ.into(), list));
}

/// The number of ids of each DescribeRollbackRangeTime request so far.
fn batches(api: &FakeV3) -> Vec<usize> {
    let log = api.log();
    let asked = log.iter().filter(|l| l.action == ACTION);
    asked
        .map(|l| l.body["InstanceIds"].as_array().map_or(0, Vec::len))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_of_100_halved_when_the_api_refuses_them() {
    let api = FakeV3::start().await;
    let ids: Vec<String> = (0..230).map(|k| format!("cdb-{k:04}")).collect();
    inventory(&api, &ids);
    api.with(|s| s.range_batch_limit = Some(60));
    let daemon = Daemon::start(config(&yaml(&api.endpoint))).await;
    let m = daemon
        .scrape_until(Duration::from_secs(15), "two rounds", |_| {
            batches(&api).len() >= 11
        })
        .await;
    let sizes = batches(&api);
    // 100 refused, then 50 at a time: 230 = 4 × 50 + 30; the next round starts at 50.
    assert_eq!(sizes[..11], [100, 50, 50, 50, 50, 30, 50, 50, 50, 50, 30]);
    let windows = m.find(
        "cdb_rollback_recoverable_end_timestamp_seconds",
        &[("region", GZ)],
    );
    assert_eq!(windows.len(), 230, "every instance of the inventory");
    assert_eq!(
        m.value("cdb_rollback_readiness_success", &[("region", GZ)]),
        Some(1.0)
    );
    let refused = [("action", ACTION), ("region", GZ), ("result", "api_error")];
    assert_eq!(
        m.value("cdb_rollback_api_requests_total", &refused),
        Some(1.0)
    );
    daemon.stop().await;
}

const BEGIN: &str = "cdb_rollback_recoverable_begin_timestamp_seconds";
const END: &str = "cdb_rollback_recoverable_end_timestamp_seconds";
const RANGES: &str = "cdb_rollback_recoverable_ranges";
const GAP: &str = "cdb_rollback_recoverable_gap_seconds";
const CODE: &str = "cdb_rollback_recoverable_error_code";
const WINDOW: [&str; 4] = [BEGIN, END, RANGES, GAP];
const WEEK: i64 = 7 * 86_400;

/// Four instances: one window (unsorted, overlapping ranges), one with a hole, one lagging
/// (with a range that ends before it begins), one with an error code.
fn four_instances(api: &FakeV3, t: i64) -> Vec<String> {
    let ids: Vec<String> = ["cdb-ok", "cdb-gap", "cdb-lag", "cdb-err"]
        .map(String::from)
        .into();
    inventory(api, &ids);
    api.with(|s| {
        let r = &mut s.ranges;
        // Unsorted and overlapping: one range after merging, from t - WEEK.
        r.insert(
            "cdb-ok".into(),
            range_item("cdb-ok", 0, &[(t - 3600, t - 10), (t - WEEK, t - 3000)]),
        );
        r.insert(
            "cdb-gap".into(),
            range_item("cdb-gap", 0, &[(t - WEEK, t - 7200), (t - 3600, t - 10)]),
        );
        // A range ending before it begins is ignored.
        r.insert(
            "cdb-lag".into(),
            range_item("cdb-lag", 0, &[(t - WEEK, t - 5 * 3600), (t, t - 60)]),
        );
        r.insert("cdb-err".into(), range_item("cdb-err", 1_624_001, &[]));
    });
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn windows_gaps_lag_and_errors_then_a_failing_round_and_a_leaving_instance() {
    let api = FakeV3::start().await;
    let t = now();
    let ids = four_instances(&api, t);
    let daemon = Daemon::start(config(&yaml(&api.endpoint))).await;
    let m = daemon
        .scrape_until(Duration::from_secs(15), "the windows", |m| {
            m.value("cdb_rollback_readiness_success", &[("region", GZ)]) == Some(1.0)
        })
        .await;
    each_window(&m, t);
    let page = daemon.get("/").await.text().await.unwrap();
    assert!(
        page.contains("<td>cdb-gap</td><td>db-cdb-gap</td>"),
        "{page}"
    );
    assert!(page.contains("2 ranges, 1h 0m missing"), "{page}");
    assert!(page.contains("code 1624001 fake"), "{page}");
    a_failing_round_keeps_the_last_values(&api, &daemon).await;
    a_leaving_instance_takes_its_series(&api, &daemon, &ids).await;
    daemon.stop().await;
}

/// What /metrics shows of the four instances.
fn each_window(m: &Exposition, t: i64) {
    let v = |name: &str, id: &str| m.value(name, &[("region", GZ), ("instance_id", id)]);
    let at = |x: i64| Some(x as f64);
    assert_eq!(
        [
            v(BEGIN, "cdb-ok"),
            v(END, "cdb-ok"),
            v(RANGES, "cdb-ok"),
            v(GAP, "cdb-ok")
        ],
        [at(t - WEEK), at(t - 10), at(1), at(0)]
    );
    assert_eq!([v(RANGES, "cdb-gap"), v(GAP, "cdb-gap")], [at(2), at(3600)]);
    assert_eq!(
        [v(END, "cdb-lag"), v(RANGES, "cdb-lag")],
        [at(t - 5 * 3600), at(1)]
    );
    assert_eq!(v(CODE, "cdb-err"), at(1_624_001));
    for family in WINDOW {
        assert_eq!(
            v(family, "cdb-err"),
            None,
            "{family}: no window with a code"
        );
    }
}

/// A failing round keeps the last values and says so.
async fn a_failing_round_keeps_the_last_values(api: &FakeV3, daemon: &Daemon) {
    api.with(|s| {
        s.action_faults
            .insert(ACTION.into(), api_error("InternalError"))
    });
    let m = daemon
        .scrape_until(Duration::from_secs(15), "a failed round", |m| {
            m.value("cdb_rollback_readiness_success", &[("region", GZ)]) == Some(0.0)
        })
        .await;
    assert_eq!(
        m.value(GAP, &[("instance_id", "cdb-gap")]),
        Some(3600.0),
        "kept"
    );
    assert_eq!(m.find(END, &[("region", GZ)]).len(), 3);
}

/// Back, with only cdb-ok left in the inventory: the others' series go.
async fn a_leaving_instance_takes_its_series(api: &FakeV3, daemon: &Daemon, ids: &[String]) {
    api.with(|s| s.action_faults.clear());
    inventory(api, &ids[..1]);
    let m = daemon
        .scrape_until(Duration::from_secs(15), "the instance gone", |m| {
            m.find(CODE, &[("region", GZ)]).len() == 1
        })
        .await;
    assert_eq!(
        m.value("cdb_rollback_readiness_success", &[("region", GZ)]),
        Some(1.0)
    );
    assert_eq!(m.find(GAP, &[("instance_id", "cdb-gap")]).len(), 0);
}

#[tokio::test]
async fn the_demo_shows_every_window_the_hole_the_lag_and_the_error() {
    let demo = process::spawn({
        let mut cmd = Command::new(BIN);
        cmd.arg("--demo").stdout(Stdio::null());
        cmd
    });
    let base = format!("http://127.0.0.1:{}", demo.port);
    let started = Instant::now();
    let m = loop {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no readiness in the demo"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        let Some(m) = scrape(&base).await else {
            continue;
        };
        if m.find(CODE, &[]).len() == FLEET.len() {
            break m;
        }
    };
    let v = |name: &str, id: &str| m.value(name, &[("instance_id", id)]);
    for db in FLEET.iter().filter(|d| d.id != ERRING) {
        for family in WINDOW {
            assert!(v(family, db.id).is_some(), "{family} of {}", db.id);
        }
    }
    assert_eq!(v(WINDOW[2], GAPPED), Some(2.0));
    assert!(v(WINDOW[3], GAPPED) > Some(0.0));
    let lag = now() as f64 - v(WINDOW[1], LAGGING.0).unwrap_or(0.0);
    assert!(lag > 4.0 * 3600.0, "{lag}");
    assert_eq!(v(CODE, ERRING), Some(1_624_001.0));
    assert!(WINDOW.iter().all(|f| v(f, ERRING).is_none()));
    let length = |id| v(WINDOW[1], id).unwrap_or(0.0) - v(WINDOW[0], id).unwrap_or(0.0);
    assert!(length(FLEET[0].id) > 6.9 * 86_400.0, "a seven-day window");
    assert!(
        length(SHORT.0) < 86_400.0,
        "shorter than the alerts' default policy"
    );
}
