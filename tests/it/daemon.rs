//! The daemon end to end against a fake API on 127.0.0.1, scraped over HTTP.

use std::time::Duration;

use crate::support::clock::{cst, now};
use crate::support::exposition::Exposition;
use crate::support::fake_v2::{FakeV2, Reply, V2Job, V2Task};
use crate::support::{Daemon, config};

const SEED: &str = include_str!("../../test-data/seed-answer.json");

fn yaml(endpoint: &str, extra: &str) -> String {
    format!(
        "api:\n  version: 2\n  endpoint: {endpoint}\n  max_requests_per_second: 50\n  timeout: 2s\npoll:\n  interval: 300ms\n  finished_interval: 300ms\n  retries: 0\n{extra}"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_reports_jobs_tasks_and_poll_health() {
    let api = FakeV2::start().await;
    let started = now() - 600;
    let (s, half) = (cst(started), cst(started + 300));
    api.set_job(12782, Reply::Json(SEED.into()));
    let running = V2Job::new(2001, &s)
        .at(1, 40)
        .ended("0000-00-00 00:00:00")
        .task(V2Task::new("7", "cdb-a", &s).at(2, 100).ended(&half))
        .task(V2Task::new("8", "cdb-b", &half).at(1, 20));
    api.set_job(2001, running.reply());
    let failed = V2Job::new(2002, &s).at(3, 60).code(9006).ended(&half);
    let failed = failed.task(V2Task::new("9", "cdb-c", &s).at(3, 60).ended(&half));
    api.set_job(2002, failed.reply());
    let cfg = yaml(
        &api.endpoint,
        "jobs:\n  - id: 12782\n    labels: { team: dba }\n  - id: 2001\n  - id: 2002\n  - id: 9999\n",
    );
    let daemon = Daemon::start(config(&cfg)).await;
    daemon.wait_ready(Duration::from_secs(10)).await;
    let m = daemon.scrape().await;
    one_state_per_job_and_task(&m);
    values_of_seed_running_and_failed_jobs(&m, started);
    poll_health_shows_the_unknown_job(&m);
    own_metrics_and_help(&m);
    landing_page_health_and_requests(&daemon, &api).await;
    daemon.stop().await;
}

/// Exactly one state at 1 per job and per task.
fn one_state_per_job_and_task(m: &Exposition) {
    for (job, task, state) in [
        ("12782", None, "success"),
        ("2001", None, "running"),
        ("2002", None, "failed"),
        ("12782", Some("105"), "success"),
        ("2001", Some("7"), "success"),
        ("2001", Some("8"), "running"),
        ("2002", Some("9"), "failed"),
    ] {
        let (family, labels) = match task {
            None => ("cdb_rollback_job_state", vec![("job_id", job)]),
            Some(t) => (
                "cdb_rollback_task_state",
                vec![("job_id", job), ("task_id", t)],
            ),
        };
        assert_eq!(m.states(family, &labels), [state], "{job} {task:?}");
        assert_eq!(m.find(family, &labels).len(), 9, "{job} {task:?}");
    }
}

/// The seed answer (its whole rendering is the golden file seed.prom), with its
/// configured label; the running job; the failed job and its failed task.
fn values_of_seed_running_and_failed_jobs(m: &Exposition, started: i64) {
    let seed = [("job_id", "12782"), ("team", "dba")];
    let seed_task = [
        ("job_id", "12782"),
        ("task_id", "105"),
        ("instance_id", "2629265e-11ec-11e6-abea-0819a6d0fc09"),
        ("team", "dba"),
    ];
    let info = [("job_id", "12782"), ("type", "10")];
    let (j2001, j2002) = ([("job_id", "2001")], [("job_id", "2002")]);
    let t = |id| [("task_id", id)];
    let (t7, t8, t9) = (t("7"), t("8"), t("9"));
    m.expect(&[
        ("job_status", &seed, Some(2.0)),
        ("job_progress_ratio", &seed, Some(1.0)),
        ("job_start_time_seconds", &seed, Some(1_462_960_709.0)),
        ("job_end_time_seconds", &seed, Some(1_462_960_802.0)),
        ("job_duration_seconds", &seed, Some(93.0)),
        ("job_error_code", &seed, Some(0.0)),
        ("job_info", &info, Some(1.0)),
        ("task_duration_seconds", &seed_task, Some(61.0)),
        (
            "task_target_time_seconds",
            &seed_task,
            Some(1_462_874_276.0),
        ),
        ("task_databases", &seed_task, Some(1.0)),
        ("job_progress_ratio", &j2001, Some(0.4)),
        ("job_start_time_seconds", &j2001, Some(started as f64)),
        ("job_end_time_seconds", &j2001, None),
        ("task_progress_ratio", &t8, Some(0.2)),
        ("task_end_time_seconds", &t8, None),
        ("task_duration_seconds", &t7, Some(300.0)),
        ("task_databases", &t7, Some(2.0)),
        ("job_error_code", &j2002, Some(9006.0)),
        ("job_duration_seconds", &j2002, Some(300.0)),
        ("task_error_code", &t9, Some(9006.0)),
    ]);
    let info = m.find("cdb_rollback_task_info", &seed_task);
    let info: Vec<_> = ["work_id", "instance_name", "strategy", "operator"]
        .map(|l| info[0].labels[l].as_str())
        .into();
    assert_eq!(info, ["311396", "cdb154047", "full", "909619400"]);
    // A running job's duration grows from its start.
    let d = m
        .value("cdb_rollback_job_duration_seconds", &j2001)
        .unwrap();
    assert!((600.0..=630.0).contains(&d), "running duration {d}");
}

/// Poll health: the unknown job is visible, failing, and has no values.
fn poll_health_shows_the_unknown_job(m: &Exposition) {
    let unknown = [("job_id", "9999")];
    for job in ["12782", "2001", "2002"] {
        let j = [("job_id", job)];
        m.expect(&[("job_poll_success", &j, Some(1.0))]);
        assert!(
            m.value("cdb_rollback_job_last_success_time_seconds", &j)
                .is_some()
        );
    }
    m.expect(&[
        ("job_poll_success", &unknown, Some(0.0)),
        ("job_last_success_time_seconds", &unknown, None),
        ("api_budget_requests_per_second", &[], Some(50.0)),
    ]);
    assert!(
        m.value("cdb_rollback_job_last_poll_time_seconds", &unknown)
            .is_some()
    );
    assert!(m.find("cdb_rollback_job_state", &unknown).is_empty());
}

/// The exporter's own metrics, and HELP text that says where values come from.
fn own_metrics_and_help(m: &Exposition) {
    let ok = m
        .value(
            "cdb_rollback_api_requests_total",
            &[("action", "GetCdbRollbackJobTask"), ("result", "success")],
        )
        .unwrap();
    assert!(ok >= 3.0, "{ok}");
    let not_found = m
        .value(
            "cdb_rollback_api_requests_total",
            &[("action", "GetCdbRollbackJobTask"), ("result", "api_error")],
        )
        .unwrap();
    assert!(not_found >= 1.0, "{not_found}");
    assert!(
        m.value(
            "cdb_rollback_api_request_duration_seconds_count",
            &[("action", "GetCdbRollbackJobTask")]
        )
        .unwrap()
            >= 4.0
    );
    assert_eq!(m.find("cdb_rollback_exporter_build_info", &[]).len(), 1);
    let demand = m
        .value("cdb_rollback_poll_demand_requests_per_second", &[])
        .unwrap();
    assert!(
        demand > 0.0 && demand <= 4.0 / 0.3 + 0.01,
        "4 jobs every 300 ms: {demand}"
    );
    assert!(!m.find("process_resident_memory_bytes", &[]).is_empty());
    assert!(
        m.text
            .lines()
            .any(|l| l.starts_with("# HELP cdb_rollback_job_state ")
                && l.contains("background poll")),
        "HELP says the values come from a background poll"
    );
    assert!(!m.text.contains(crate::support::SECRET_KEY));
}

/// Landing page and health; every request was signed well and named the exporter.
async fn landing_page_health_and_requests(daemon: &Daemon, api: &FakeV2) {
    let landing = daemon.get("/").await.text().await.unwrap();
    assert!(
        landing.contains("href=\"/metrics\"")
            && landing.contains("2001")
            && landing.contains("api_error (code 5000)"),
        "{landing}"
    );
    assert_eq!(daemon.get("/-/healthy").await.status(), 200);
    assert_eq!(api.with(|s| s.rejected_signatures), 0);
    assert!(
        api.log()
            .iter()
            .all(|l| l.user_agent.starts_with("cdb-rollback-exporter/"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_api_keeps_last_good_values_then_recovers() {
    let api = FakeV2::start().await;
    let s = cst(now() - 60);
    api.set_job(
        3001,
        V2Job::new(3001, &s)
            .at(1, 40)
            .task(V2Task::new("1", "cdb-a", &s).at(1, 40))
            .reply(),
    );
    let daemon = Daemon::start(config(&yaml(&api.endpoint, "jobs:\n  - id: 3001\n"))).await;
    let job = [("job_id", "3001")];
    daemon
        .scrape_until(Duration::from_secs(5), "first poll", |m| {
            m.value("cdb_rollback_job_poll_success", &job) == Some(1.0)
        })
        .await;
    let last_ok = a_502_keeps_the_last_good_values(&daemon, &api).await;
    a_truncated_answer_keeps_them_too(&daemon, &api).await;
    recovery_brings_new_values(&daemon, &api, &s, last_ok).await;
    daemon.stop().await;
}

const JOB_3001: [(&str, &str); 1] = [("job_id", "3001")];

/// The API answers 502: the poll fails, the last good values are kept. Returns the
/// last success time.
async fn a_502_keeps_the_last_good_values(daemon: &Daemon, api: &FakeV2) -> f64 {
    let job = JOB_3001;
    api.with(|s| {
        s.all_fail = Some(Reply::Http(
            502,
            "<html><body><h1>502 Bad Gateway</h1></body></html>".into(),
        ))
    });
    let m = daemon
        .scrape_until(Duration::from_secs(5), "poll failing", |m| {
            m.value("cdb_rollback_job_poll_success", &job) == Some(0.0)
        })
        .await;
    // The last good values are kept.
    m.expect(&[
        ("job_progress_ratio", &job, Some(0.4)),
        ("task_progress_ratio", &[("task_id", "1")], Some(0.4)),
    ]);
    assert_eq!(m.states("cdb_rollback_job_state", &job), ["running"]);
    let last_ok = m
        .value("cdb_rollback_job_last_success_time_seconds", &job)
        .unwrap();
    assert!(
        m.value("cdb_rollback_job_last_poll_time_seconds", &job)
            .unwrap()
            > last_ok
    );
    assert!(
        m.value(
            "cdb_rollback_api_requests_total",
            &[
                ("action", "GetCdbRollbackJobTask"),
                ("result", "http_status")
            ]
        )
        .unwrap()
            >= 1.0
    );
    last_ok
}

/// A truncated answer is no better: still failing, values still kept.
async fn a_truncated_answer_keeps_them_too(daemon: &Daemon, api: &FakeV2) {
    let job = JOB_3001;
    api.with(|s| {
        s.all_fail = Some(Reply::Json(
            r#"{"code":"0","data":{"jobInfo":{"jobId":"30"#.into(),
        ))
    });
    let m = daemon
        .scrape_until(Duration::from_secs(5), "decode errors", |m| {
            m.value(
                "cdb_rollback_api_requests_total",
                &[("action", "GetCdbRollbackJobTask"), ("result", "decode")],
            )
            .unwrap_or(0.0)
                >= 1.0
        })
        .await;
    m.expect(&[
        ("job_poll_success", &job, Some(0.0)),
        ("job_progress_ratio", &job, Some(0.4)),
    ]);
}

/// Once the API answers again, the new values show and the success time moves on.
async fn recovery_brings_new_values(daemon: &Daemon, api: &FakeV2, s: &str, last_ok: f64) {
    let job = JOB_3001;
    api.with(|s| s.all_fail = None);
    api.set_job(
        3001,
        V2Job::new(3001, s)
            .at(1, 70)
            .task(V2Task::new("1", "cdb-a", s).at(1, 70))
            .reply(),
    );
    let m = daemon
        .scrape_until(Duration::from_secs(5), "recovery", |m| {
            m.value("cdb_rollback_job_poll_success", &job) == Some(1.0)
        })
        .await;
    assert_eq!(m.value("cdb_rollback_job_progress_ratio", &job), Some(0.7));
    assert!(
        m.value("cdb_rollback_job_last_success_time_seconds", &job)
            .unwrap()
            > last_ok
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_that_disappears_leaves_no_series() {
    let api = FakeV2::start().await;
    let s = cst(now() - 60);
    api.set_job(
        4001,
        V2Job::new(4001, &s)
            .at(1, 50)
            .task(V2Task::new("41", "cdb-a", &s).at(1, 50))
            .task(V2Task::new("42", "cdb-b", &s).at(1, 50))
            .reply(),
    );
    let daemon = Daemon::start(config(&yaml(&api.endpoint, "jobs:\n  - id: 4001\n"))).await;
    let m = daemon
        .scrape_until(Duration::from_secs(5), "two tasks", |m| {
            m.find("cdb_rollback_task_status", &[("job_id", "4001")])
                .len()
                == 2
        })
        .await;
    assert_eq!(
        m.find("cdb_rollback_task_state", &[("task_id", "42")])
            .len(),
        9
    );

    api.set_job(
        4001,
        V2Job::new(4001, &s)
            .at(1, 60)
            .task(V2Task::new("41", "cdb-a", &s).at(1, 60))
            .reply(),
    );
    let m = daemon
        .scrape_until(Duration::from_secs(5), "task 42 gone", |m| {
            m.find("cdb_rollback_task_status", &[("job_id", "4001")])
                .len()
                == 1
        })
        .await;
    assert!(
        !m.text.contains("task_id=\"42\""),
        "no series of the vanished task remains"
    );
    assert_eq!(
        m.value("cdb_rollback_task_progress_ratio", &[("task_id", "41")]),
        Some(0.6)
    );
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_jobs_stay_within_the_request_budget() {
    let api = FakeV2::start().await;
    let s = cst(now() - 60);
    let mut jobs = String::from("jobs:\n");
    for id in 1..=50u64 {
        api.set_job(id, V2Job::new(id, &s).at(1, 10).reply());
        jobs.push_str(&format!("  - id: {id}\n"));
    }
    let cfg = format!(
        "api:\n  version: 2\n  endpoint: {}\n  max_requests_per_second: 10\npoll:\n  interval: 1s\n  concurrency: 8\n{jobs}",
        api.endpoint
    );
    let started = std::time::Instant::now();
    let daemon = Daemon::start(config(&cfg)).await;
    tokio::time::sleep(Duration::from_millis(4500)).await;
    daemon.stop().await;
    let ran = started.elapsed().as_secs_f64();

    let times: Vec<_> = api.log().iter().map(|l| l.at).collect();
    // Over the whole run, which late arrivals cannot inflate: the budget, give or take one.
    assert!(
        times.len() >= 25 && times.len() as f64 <= 10.0 * ran + 1.0,
        "{} requests in {ran:.1} s with a budget of 10/s",
        times.len()
    );
    // And over any two seconds as they arrive (20, plus 5 for arrivals up to 500 ms late
    // while tests run side by side on two cores): no burst. How the budget spaces starts
    // exactly is api::budget's unit tests, with a paused clock.
    let window = Duration::from_secs(2);
    let busiest = times
        .iter()
        .map(|start| {
            times
                .iter()
                .filter(|t| **t >= *start && t.duration_since(*start) < window)
                .count()
        })
        .max()
        .unwrap_or(0);
    assert!(
        busiest <= 25,
        "{busiest} requests in two seconds with a budget of 10/s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_rejection_is_retried_once_with_a_fresh_nonce() {
    let api = FakeV2::start().await;
    api.set_job(12782, Reply::Json(SEED.into()));
    api.with(|s| s.replay_once.insert(12782));
    let daemon = Daemon::start(config(&yaml(&api.endpoint, "jobs:\n  - id: 12782\n"))).await;
    daemon.wait_ready(Duration::from_secs(5)).await;
    let m = daemon.scrape().await;
    assert_eq!(
        m.value("cdb_rollback_job_poll_success", &[("job_id", "12782")]),
        Some(1.0)
    );
    let log = api.log();
    let (first, second) = (&log[0].params, &log[1].params);
    assert_ne!(
        (&first["Nonce"], &first["Timestamp"]),
        (&second["Nonce"], &second["Timestamp"])
    );
    assert_eq!(
        m.value(
            "cdb_rollback_api_requests_total",
            &[("action", "GetCdbRollbackJobTask"), ("result", "api_error")]
        ),
        Some(1.0)
    );
    daemon.stop().await;
}
