//! Discovery against a fake API on 127.0.0.1: paging, de-duplication, dropping old
//! finished jobs, keeping configured ones, and surviving a failing discovery.

use std::time::Duration;

use crate::support::clock::{cst, now};
use crate::support::exposition::Exposition;
use crate::support::fake_v2::{FakeV2, Reply, V2Job, list_row};
use crate::support::{Daemon, config};

const HOUR: i64 = 3600;

/// A job in both the list and the detail answer.
fn put(api: &FakeV2, instance: &str, id: u64, status: i64, start: i64, end: Option<i64>) {
    let (s, e) = (cst(start), end.map(cst).unwrap_or_default());
    api.set_job(
        id,
        V2Job::new(id, &s)
            .at(status, if status == 2 { 100 } else { 50 })
            .ended(&e)
            .reply(),
    );
    api.with(|st| {
        let rows = st.lists.entry(instance.to_string()).or_default();
        let key = id.to_string();
        rows.retain(|r| r["jobId"].as_str() != Some(key.as_str()));
        rows.push(list_row(id, status, &s, &e));
    });
}

fn tracked(m: &Exposition) -> Vec<u64> {
    let mut ids: Vec<u64> = m
        .find("cdb_rollback_job_poll_success", &[])
        .iter()
        .map(|s| s.labels["job_id"].parse().unwrap())
        .collect();
    ids.sort();
    ids
}

/// cdb-big: 130 jobs, so paging past 100 is needed; cdb-small: a handful, one shared
/// with cdb-big, one also configured.
fn seed_two_instances(api: &FakeV2, t: i64) {
    for id in 10001..=10120 {
        put(api, "cdb-big", id, 2, t - 2 * HOUR, Some(t - HOUR));
    }
    for id in 10121..=10125 {
        put(api, "cdb-big", id, 2, t - 72 * HOUR, Some(t - 71 * HOUR)); // old and finished
    }
    for id in 10126..=10130 {
        put(api, "cdb-big", id, 1, t - 30 * HOUR, None); // old but still running
    }
    put(api, "cdb-small", 20001, 1, t - HOUR, None);
    put(
        api,
        "cdb-small",
        20002,
        3,
        t - 50 * HOUR,
        Some(t - 49 * HOUR),
    );
    put(api, "cdb-small", 20003, 1, t - 25 * HOUR, None);
    put(api, "cdb-small", 10001, 2, t - 2 * HOUR, Some(t - HOUR));
    put(
        api,
        "cdb-small",
        30001,
        2,
        t - 80 * HOUR,
        Some(t - 79 * HOUR),
    );
}

const BIG: [(&str, &str); 1] = [("instance_id", "cdb-big")];
const SMALL: [(&str, &str); 1] = [("instance_id", "cdb-small")];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_tracks_pages_drops_and_survives_failures() {
    let api = FakeV2::start().await;
    let t = now();
    seed_two_instances(&api, t);
    let cfg = format!(
        "api:\n  version: 2\n  endpoint: {}\n  max_requests_per_second: 400\npoll:\n  interval: 300ms\n  finished_interval: 2s\n  concurrency: 8\n  retries: 0\n\
         jobs:\n  - id: 30001\n    labels: {{ team: dba }}\n\
         discovery:\n  interval: 400ms\n  max_age: 24h\n  instances:\n    - id: cdb-big\n      labels: {{ team: payments }}\n    - id: cdb-small\n",
        api.endpoint
    );
    let daemon = Daemon::start(config(&cfg)).await;
    daemon.wait_ready(Duration::from_secs(10)).await;

    let mut expected: Vec<u64> = (10001..=10120).chain(10126..=10130).collect();
    expected.extend([20001, 20003, 30001]);
    expected.sort();
    let m = daemon
        .scrape_until(Duration::from_secs(15), "every job polled", |m| {
            tracked(m) == expected
        })
        .await;
    recent_or_running_jobs_tracked_once(&m);
    discovery_counts_and_pages(&m, &api, t, &expected);
    a_job_finished_old_is_dropped(&daemon, &api, t).await;
    let last_ok = failing_discovery_is_reported(&daemon, &api).await;
    no_drop_while_discovery_fails(&daemon, &api, t, last_ok).await;

    // Once discovery works again, the now old and finished job is dropped.
    api.with(|s| s.list_failures.clear());
    daemon
        .scrape_until(
            Duration::from_secs(5),
            "20001 dropped after recovery",
            |m| !tracked(m).contains(&20001),
        )
        .await;
    daemon.stop().await;
}

/// Old finished jobs are not tracked; a job two instances list is tracked once, with
/// the labels of the first instance that found it; a configured job keeps its own.
fn recent_or_running_jobs_tracked_once(m: &Exposition) {
    for id in [10121u64, 10125, 20002] {
        assert!(
            !m.text.contains(&format!("job_id=\"{id}\"")),
            "old finished job {id} is not tracked"
        );
    }
    let shared = m.find("cdb_rollback_job_status", &[("job_id", "10001")]);
    assert_eq!(shared.len(), 1);
    assert_eq!(shared[0].labels["instance_id"], "cdb-big");
    assert_eq!(shared[0].labels["team"], "payments");
    let configured = m.find("cdb_rollback_job_status", &[("job_id", "30001")]);
    assert_eq!(
        configured[0].labels.get("team").map(String::as_str),
        Some("dba")
    );
    assert!(
        !configured[0].labels.contains_key("instance_id"),
        "a configured job keeps its own labels"
    );
    assert!(
        m.find("cdb_rollback_job_poll_success", &[])
            .iter()
            .all(|s| s.value == 1.0)
    );
}

/// Discovery's own metrics per instance; paging with limit 100 and a rising offset,
/// until taskCount; every expected job polled.
fn discovery_counts_and_pages(m: &Exposition, api: &FakeV2, t: i64, expected: &[u64]) {
    m.expect(&[
        ("discovery_jobs", &BIG, Some(125.0)),
        ("discovery_jobs", &SMALL, Some(2.0)),
        ("discovery_success", &BIG, Some(1.0)),
        ("discovery_success", &SMALL, Some(1.0)),
    ]);
    for inst in ["cdb-big", "cdb-small"] {
        assert!(
            m.value(
                "cdb_rollback_discovery_last_success_time_seconds",
                &[("instance_id", inst)]
            )
            .unwrap()
                >= t as f64
        );
    }
    let offsets: std::collections::BTreeSet<(String, String)> = api
        .log()
        .iter()
        .filter(|l| l.action() == "GetCdbRollbackJob" && l.params["cdbInstanceId"] == "cdb-big")
        .map(|l| (l.params["offset"].clone(), l.params["limit"].clone()))
        .collect();
    assert_eq!(
        offsets,
        [
            ("0".to_string(), "100".to_string()),
            ("100".to_string(), "100".to_string())
        ]
        .into()
    );
    let polled: std::collections::HashSet<String> = api
        .log()
        .iter()
        .filter_map(|l| l.params.get("jobId").cloned())
        .collect();
    for id in expected {
        assert!(polled.contains(&id.to_string()), "job {id} polled");
    }
}

/// 20003 finishes; it started 25 h ago, so it is dropped and its series vanish.
async fn a_job_finished_old_is_dropped(daemon: &Daemon, api: &FakeV2, t: i64) {
    put(api, "cdb-small", 20003, 2, t - 25 * HOUR, Some(t));
    let m = daemon
        .scrape_until(Duration::from_secs(10), "20003 dropped", |m| {
            !tracked(m).contains(&20003)
        })
        .await;
    assert!(!m.text.contains("job_id=\"20003\""));
    assert!(
        tracked(&m).contains(&30001),
        "configured jobs are never dropped"
    );
    m.expect(&[("discovery_jobs", &SMALL, Some(1.0))]);
}

/// cdb-small's discovery fails and the metrics say so. Returns its last success time.
async fn failing_discovery_is_reported(daemon: &Daemon, api: &FakeV2) -> f64 {
    api.with(|s| {
        s.list_failures.insert(
            "cdb-small".into(),
            Reply::Json(r#"{"code":4103,"message":"not authorised"}"#.into()),
        )
    });
    let m = daemon
        .scrape_until(Duration::from_secs(5), "discovery failing", |m| {
            m.value(
                "cdb_rollback_discovery_success",
                &[("instance_id", "cdb-small")],
            ) == Some(0.0)
        })
        .await;
    m.value(
        "cdb_rollback_discovery_last_success_time_seconds",
        &[("instance_id", "cdb-small")],
    )
    .unwrap()
}

/// While cdb-small's discovery fails, its jobs stay tracked, even one that turns old
/// and finished meanwhile, over two more failing rounds.
async fn no_drop_while_discovery_fails(daemon: &Daemon, api: &FakeV2, t: i64, last_ok: f64) {
    api.set_job(
        20001,
        V2Job::new(20001, &cst(t - 72 * HOUR))
            .at(2, 100)
            .ended(&cst(t - 71 * HOUR))
            .reply(),
    );
    daemon
        .scrape_until(Duration::from_secs(10), "20001 polled as finished", |m| {
            m.states("cdb_rollback_job_state", &[("job_id", "20001")]) == ["success"]
        })
        .await;
    wait_for_two_discovery_rounds(api, "cdb-small").await;
    let m = daemon.scrape().await;
    assert_eq!(
        m.states("cdb_rollback_job_state", &[("job_id", "20001")]),
        ["success"]
    );
    assert!(
        tracked(&m).contains(&20001),
        "no drop while the instance's discovery fails"
    );
    m.expect(&[
        ("discovery_jobs", &SMALL, Some(1.0)),
        ("discovery_success", &SMALL, Some(0.0)),
        ("discovery_success", &BIG, Some(1.0)),
        ("discovery_last_success_time_seconds", &SMALL, Some(last_ok)),
    ]);
    assert!(
        m.value(
            "cdb_rollback_api_requests_total",
            &[("action", "GetCdbRollbackJob"), ("result", "auth")]
        )
        .unwrap()
            >= 1.0
    );
}

async fn wait_for_two_discovery_rounds(api: &FakeV2, instance: &str) {
    let rounds = || {
        api.log()
            .iter()
            .filter(|l| l.params.get("cdbInstanceId").map(String::as_str) == Some(instance))
            .count()
    };
    let before = rounds();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while rounds() < before + 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "discovery stopped running"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
