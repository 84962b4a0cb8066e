//! The daemon on API 3.0 against a fake that checks TC3 signatures: every region's
//! rollback jobs from DescribeTasks pages, each instance's part from
//! DescribeRollbackTaskDetail, and what happens when the API misbehaves.

use std::time::Duration;

use crate::support::clock::now;
use crate::support::exposition::Exposition;
use crate::support::fake_v2::Reply;
use crate::support::fake_v3::{FakeJob, FakeV3, LoggedV3, api_error};
use crate::support::{Daemon, config};

const GZ: &str = "ap-guangzhou";
const SH: &str = "ap-shanghai";

fn yaml(endpoint: &str, extra: &str) -> String {
    format!(
        "api:\n  endpoint: {endpoint}\n  regions: [{GZ}, {SH}]\n  max_requests_per_second: 500\n  timeout: 2s\n\
         poll:\n  interval: 300ms\n  finished_interval: 1s\n  retries: 1\n  concurrency: 8\ndiscovery:\n  interval: 1s\n{extra}"
    )
}

fn gz(id: &str) -> [(&'static str, &str); 2] {
    [("job_id", id), ("region", GZ)]
}

/// One job per state name, 130 more running (two pages), a batch with a failed instance,
/// an old running job, an old finished one, a job in Shanghai, and other task types.
fn world(api: &FakeV3) {
    let t = now();
    for (i, status) in [
        "INITIAL",
        "RUNNING",
        "SUCCEED",
        "FAILED",
        "KILLED",
        "REMOVED",
        "PAUSED",
        "WAITING",
        "UNDEFINED",
        "ROLLING_SIDEWAYS",
    ]
    .into_iter()
    .enumerate()
    {
        api.add(GZ, FakeJob::new(1000 + i as u64, status, t - 600, "cdb-s"));
    }
    for k in 0..130 {
        api.add(
            GZ,
            FakeJob::new(2000 + k, "RUNNING", t - 300 - k as i64, "cdb-p"),
        );
    }
    let mut batch = FakeJob::new(3000, "FAILED", t - 900, "cdb-a");
    batch.task_type = "BATCH ROLLBACK";
    batch.instances = vec!["cdb-a", "cdb-b"];
    batch
        .parts
        .insert("cdb-a", ("SUCCESS", 100, "batch rollback success"));
    batch.parts.insert("cdb-b", ("FAILED", 60, "binlog gap"));
    api.add(GZ, batch);
    api.add(GZ, FakeJob::new(4000, "RUNNING", t - 2 * 86_400, "cdb-old"));
    api.add(GZ, FakeJob::new(4001, "SUCCEED", t - 2 * 86_400, "cdb-old"));
    api.add(SH, FakeJob::new(5000, "RUNNING", t - 60, "cdb-sh"));
    api.with(|s| {
        s.others.push(
            serde_json::json!({"JobId": 9000, "TaskType": "RESTART", "TaskStatus": "RUNNING",
            "Progress": 5, "StartTime": crate::support::clock::cst(t), "InstanceIds": ["cdb-s"]}),
        );
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v3_tracks_every_rollback_of_every_region() {
    let api = FakeV3::start().await;
    world(&api);
    let daemon = Daemon::start(config(&yaml(
        &api.endpoint,
        "jobs:\n  - id: 3000\n    labels: { team: dba }\n",
    )))
    .await;
    let m = daemon
        .scrape_until(
            Duration::from_secs(15),
            "every job and the batch's failed task",
            |m| {
                m.find("cdb_rollback_job_state", &[("state", "running")])
                    .iter()
                    .filter(|s| s.value == 1.0)
                    .count()
                    == 133
                    && m.value(
                        "cdb_rollback_task_state",
                        &[
                            ("job_id", "3000"),
                            ("instance_id", "cdb-b"),
                            ("state", "failed"),
                        ],
                    ) == Some(1.0)
            },
        )
        .await;

    every_state_name(&m);
    paging_and_regions(&m);
    the_batch(&m);
    on_the_wire(&api);

    // The landing page tells the API's words apart from labels.
    let landing = daemon.get("/").await.text().await.unwrap();
    assert!(
        landing.contains("binlog gap") && landing.contains("API 3.0"),
        "{landing}"
    );
    daemon.stop().await;
}

/// Every state name, each job with exactly one state at 1, and the documented numbers.
fn every_state_name(m: &Exposition) {
    for (id, state, number) in [
        ("1000", "initial", 0.0),
        ("1001", "running", 1.0),
        ("1002", "success", 2.0),
        ("1003", "failed", 3.0),
        ("1004", "killed", 4.0),
        ("1005", "removed", 5.0),
        ("1006", "paused", 6.0),
        ("1007", "waiting", 7.0),
        ("1008", "unknown", -1.0),
        ("1009", "unknown", -1.0),
    ] {
        assert_eq!(
            m.states("cdb_rollback_job_state", &gz(id)),
            [state],
            "job {id}"
        );
        assert_eq!(m.find("cdb_rollback_job_state", &gz(id)).len(), 9);
        assert_eq!(
            m.value("cdb_rollback_job_status", &gz(id)),
            Some(number),
            "job {id}"
        );
    }
}

/// Paging: all 130 of the second listing page, plus the old running job; not the old
/// finished one, nor another task type. A region's job carries its region, and each
/// region's listing succeeds.
fn paging_and_regions(m: &Exposition) {
    assert!(
        m.value("cdb_rollback_job_progress_ratio", &gz("2129"))
            .is_some()
    );
    assert_eq!(m.value("cdb_rollback_tracked_jobs", &[]), Some(143.0));
    assert_eq!(m.states("cdb_rollback_job_state", &gz("4000")), ["running"]);
    assert!(m.find("cdb_rollback_job_state", &gz("4001")).is_empty());
    assert!(
        m.find("cdb_rollback_job_state", &[("job_id", "9000")])
            .is_empty()
    );
    assert_eq!(
        m.states(
            "cdb_rollback_job_state",
            &[("job_id", "5000"), ("region", SH)]
        ),
        ["running"]
    );
    assert_eq!(
        m.value("cdb_rollback_discovery_success", &[("region", SH)]),
        Some(1.0)
    );
}

/// The batch: one task per instance, no task_id, labels from `jobs:`.
fn the_batch(m: &Exposition) {
    let batch = gz("3000");
    assert_eq!(m.states("cdb_rollback_job_state", &batch), ["failed"]);
    let info = m.find("cdb_rollback_job_info", &batch);
    assert_eq!(
        (
            info[0].labels["type"].as_str(),
            info[0].labels["async_request_id"].as_str()
        ),
        ("10", "async-3000")
    );
    assert_eq!(info[0].labels["team"], "dba");
    assert!(
        !info[0].labels.contains_key("instance_id"),
        "a batch spans instances"
    );
    let a = [("job_id", "3000"), ("instance_id", "cdb-a")];
    assert_eq!(m.states("cdb_rollback_task_state", &a), ["success"]);
    let tasks = m.find(
        "cdb_rollback_task_state",
        &[("job_id", "3000"), ("state", "failed")],
    );
    assert_eq!(tasks.len(), 2);
    assert!(tasks.iter().all(|t| !t.labels.contains_key("task_id")));
    assert_eq!(m.value("cdb_rollback_task_progress_ratio", &a), Some(1.0));
    assert_eq!(m.value("cdb_rollback_task_tables", &a), Some(2.0));
    assert_eq!(m.value("cdb_rollback_task_databases", &a), Some(1.0));
    assert!(
        m.value("cdb_rollback_task_target_time_seconds", &a)
            .is_some()
    );
}

/// On the wire: TC3 accepted, rollback types asked, pages of 100, each region by header.
fn on_the_wire(api: &FakeV3) {
    let log = api.log();
    assert_eq!(api.with(|s| s.rejected_signatures), 0);
    assert!(
        log.iter()
            .all(|l| l.secret_id == crate::support::SECRET_ID && l.token.is_none())
    );
    let listings: Vec<_> = log.iter().filter(|l| l.action == "DescribeTasks").collect();
    assert!(
        listings
            .iter()
            .all(|l| l.body["TaskTypes"] == serde_json::json!([1, 10]))
    );
    assert!(listings.iter().all(|l| l.body["Limit"] == 100));
    assert!(
        listings
            .iter()
            .any(|l| l.body["Offset"] == 100 && l.region == GZ)
    );
    assert!(listings.iter().any(|l| l.region == SH));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v3_refreshes_running_jobs_from_pages_and_sees_them_finish() {
    let api = FakeV3::start().await;
    let t = now();
    for k in 0..150 {
        api.add(GZ, FakeJob::new(6000 + k, "RUNNING", t - 100, "cdb-r"));
    }
    // Running for two days: older than max_age, so only the listing of running jobs has it.
    api.add(GZ, FakeJob::new(6200, "RUNNING", t - 2 * 86_400, "cdb-r"));
    let daemon = Daemon::start(config(&yaml(&api.endpoint, ""))).await;
    daemon
        .scrape_until(Duration::from_secs(10), "151 running jobs", |m| {
            m.find(
                "cdb_rollback_job_state",
                &[("state", "running"), ("region", GZ)],
            )
            .iter()
            .filter(|s| s.value == 1.0)
            .count()
                == 151
        })
        .await;
    let from = api.log().len();
    finish_two_and_move_one(&api, t);
    let m = daemon
        .scrape_until(
            Duration::from_secs(10),
            "6007 and 6200 succeeded, 6100 at 77%",
            |m| {
                m.states("cdb_rollback_job_state", &gz("6007")) == ["success"]
                    && m.states("cdb_rollback_job_state", &gz("6200")) == ["success"]
                    && m.value("cdb_rollback_job_progress_ratio", &gz("6100")) == Some(0.77)
            },
        )
        .await;
    assert_eq!(
        m.value("cdb_rollback_job_end_time_seconds", &gz("6007")),
        Some(t as f64)
    );
    let log = api.log();
    old_by_async_id_recent_by_listing(&log[from..]);
    two_pages_a_round(&log);
    daemon.stop().await;
}

/// Two jobs finish between two listings and leave the listing of running jobs: the
/// recent one is found by the listing of recent jobs, run at once; the old one is
/// asked for by its AsyncRequestId. Another moves on.
fn finish_two_and_move_one(api: &FakeV3, t: i64) {
    for id in [6007, 6200] {
        api.update(GZ, id, |j| {
            j.status = "SUCCEED";
            j.progress = 100;
            j.end = Some(t);
        });
    }
    api.update(GZ, 6100, |j| j.progress = 77);
}

/// The listings after two jobs finished: the old one asked for by its AsyncRequestId, the
/// recent one found by the listing of recent jobs.
fn old_by_async_id_recent_by_listing(log: &[LoggedV3]) {
    let after: Vec<_> = log.iter().filter(|l| l.action == "DescribeTasks").collect();
    assert!(
        after
            .iter()
            .any(|l| l.body["AsyncRequestId"] == "async-6200")
    );
    assert!(
        !after
            .iter()
            .any(|l| l.body["AsyncRequestId"] == "async-6007"),
        "found by the recent listing"
    );
    assert!(after.iter().any(|l| l.body["StartTimeBegin"].is_string()));
}

/// Job-level state of 151 running jobs: two listing pages per round, not 150 requests.
fn two_pages_a_round(log: &[LoggedV3]) {
    let rounds = log
        .iter()
        .filter(|l| {
            l.action == "DescribeTasks"
                && l.region == GZ
                && l.body["TaskStatus"].is_array()
                && l.body["Offset"] == 0
        })
        .count();
    let pages = log
        .iter()
        .filter(|l| {
            l.action == "DescribeTasks" && l.region == GZ && l.body["TaskStatus"].is_array()
        })
        .count();
    assert!(rounds >= 2, "{rounds}");
    assert!(pages <= 2 * rounds, "{pages} pages in {rounds} rounds");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v3_errors_keep_the_last_good_values() {
    let api = FakeV3::start().await;
    api.add(GZ, FakeJob::new(7000, "RUNNING", now() - 60, "cdb-e"));
    let daemon = Daemon::start(config(&yaml(&api.endpoint, "  max_age: 1h\n"))).await;
    let good = |m: &crate::support::exposition::Exposition| {
        m.value("cdb_rollback_job_poll_success", &gz("7000")) == Some(1.0)
            && m.value("cdb_rollback_task_progress_ratio", &[("job_id", "7000")]) == Some(0.4)
    };
    daemon
        .scrape_until(Duration::from_secs(10), "job 7000 polled", good)
        .await;
    for (fault, kind) in [
        (
            Reply::Http(502, "<html><title>502 Bad Gateway</title></html>".into()),
            "http_status",
        ),
        (
            Reply::Json(r#"{"Response":{"TotalCount":1,"Items":[{"JobId":70"#.into()),
            "decode",
        ),
        (api_error("InternalError"), "api_error"),
        (api_error("ResourceNotFound.InstanceNotFound"), "api_error"),
    ] {
        // More faults than retries, for a few rounds: the poll fails, and the values stay.
        api.with(|s| s.faults.extend(std::iter::repeat_n(fault.clone(), 100)));
        let m = daemon
            .scrape_until(Duration::from_secs(10), kind, |m| {
                m.value("cdb_rollback_job_poll_success", &gz("7000")) == Some(0.0)
            })
            .await;
        assert_eq!(
            m.states("cdb_rollback_job_state", &gz("7000")),
            ["running"],
            "{kind}"
        );
        let counted: f64 = m
            .find(
                "cdb_rollback_api_requests_total",
                &[("region", GZ), ("result", kind)],
            )
            .iter()
            .map(|s| s.value)
            .sum();
        assert!(counted > 0.0, "{kind}");
        api.with(|s| s.faults.clear());
        daemon
            .scrape_until(Duration::from_secs(10), "recovery", good)
            .await;
    }
    daemon.stop().await;
}

/// The daemon with a budget of 40 requests/s, once it has polled job 8000.
async fn one_job_polled() -> (FakeV3, Daemon) {
    let api = FakeV3::start().await;
    api.add(GZ, FakeJob::new(8000, "RUNNING", now() - 60, "cdb-t"));
    let cfg = yaml(&api.endpoint, "").replace(
        "max_requests_per_second: 500",
        "max_requests_per_second: 40",
    );
    let daemon = Daemon::start(config(&cfg)).await;
    daemon
        .scrape_until(Duration::from_secs(10), "first poll", |m| {
            m.value("cdb_rollback_job_poll_success", &gz("8000")) == Some(1.0)
        })
        .await;
    (api, daemon)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v3_throttling_halves_the_budget_and_quiet_wins_it_back() {
    let (api, daemon) = one_job_polled().await;
    api.with(|s| {
        s.faults.extend([
            api_error("RequestLimitExceeded"),
            api_error("RequestLimitExceeded.UinLimitExceeded"),
        ])
    });
    let m = daemon
        .scrape_until(Duration::from_secs(10), "the budget backs off", |m| {
            // Halved (once for the burst: the unit test of the budget checks that).
            m.value("cdb_rollback_api_budget_requests_per_second", &[])
                .is_some_and(|r| r < 40.0)
        })
        .await;
    let throttled = m.find(
        "cdb_rollback_api_requests_total",
        &[("result", "throttled")],
    );
    assert!(throttled.iter().map(|s| s.value).sum::<f64>() >= 2.0);
    // Quiet seconds win the rate back.
    daemon
        .scrape_until(Duration::from_secs(10), "the budget recovers", |m| {
            m.value("cdb_rollback_api_budget_requests_per_second", &[])
                .is_some_and(|r| r == 40.0)
        })
        .await;
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v3_a_clock_problem_is_retried_at_once_and_an_auth_failure_never() {
    let (api, daemon) = one_job_polled().await;
    let before = api.log().len();
    api.with(|s| s.faults.push_back(api_error("AuthFailure.SignatureExpire")));
    daemon
        .scrape_until(
            Duration::from_secs(5),
            "the retry after SignatureExpire",
            |_| api.log().len() >= before + 2,
        )
        .await;
    let log = api.log();
    let gap = log[before + 1].at - log[before].at;
    assert!(
        gap < Duration::from_millis(250),
        "retried at once, not after back-off: {gap:?}"
    );
    auth_failures_are_not_retried(&api, &daemon).await;
    daemon.stop().await;
}

/// Shanghai refuses the key: each round makes one listing request, neither retried at
/// once nor after a back-off. Rounds start one poll interval (300 ms ± 10 %) apart, from
/// start to start, so a request that left late (a loaded machine) is followed sooner:
/// what shows a retry is no gap of a back-off (0.5 s or more) and no more requests than
/// rounds.
async fn auth_failures_are_not_retried(api: &FakeV3, daemon: &Daemon) {
    let from = api.log().len();
    api.with(|s| {
        s.region_faults
            .insert(SH.into(), api_error("AuthFailure.SecretIdNotFound"))
    });
    let m = daemon
        .scrape_until(Duration::from_secs(10), "Shanghai failing", |m| {
            m.value("cdb_rollback_discovery_success", &[("region", SH)]) == Some(0.0)
        })
        .await;
    assert!(
        m.value(
            "cdb_rollback_api_requests_total",
            &[
                ("action", "DescribeTasks"),
                ("region", SH),
                ("result", "auth")
            ]
        )
        .unwrap()
            > 0.0
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let sh: Vec<_> = api
        .log()
        .into_iter()
        .skip(from)
        .filter(|l| l.region == SH)
        .collect();
    assert!(sh.len() >= 4, "{}", sh.len());
    for pair in sh[1..].windows(2) {
        let gap = pair[1].at - pair[0].at;
        assert!(
            gap < Duration::from_millis(450),
            "an auth failure was retried after a back-off: {gap:?} between two requests"
        );
    }
    // Rounds 270 ms apart at the closest, and one more for a request that left late.
    let span = sh[sh.len() - 1].at - sh[1].at;
    let rounds = span.as_secs_f64() / 0.27 + 2.0;
    assert!(
        ((sh.len() - 1) as f64) <= rounds,
        "an auth failure was retried at once: {} requests in {span:?}",
        sh.len() - 1
    );
    assert_eq!(
        m.value("cdb_rollback_discovery_success", &[("region", GZ)]),
        Some(1.0),
        "Guangzhou is fine"
    );
}
