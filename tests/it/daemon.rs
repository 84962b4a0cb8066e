//! The daemon end to end against a fake API on 127.0.0.1, scraped over HTTP.

use std::time::Duration;

use crate::support::fake_api::{FakeApi, Reply, TaskSpec, cst, job_answer, now};
use crate::support::{Daemon, config};

const SEED: &str = include_str!("../../test-data/seed-answer.json");

fn yaml(endpoint: &str, extra: &str) -> String {
    format!(
        "api:\n  version: 2\n  endpoint: {endpoint}\n  max_requests_per_second: 50\n  timeout: 2s\npoll:\n  interval: 300ms\n  finished_interval: 300ms\n  retries: 0\n{extra}"
    )
}

fn task<'a>(
    id: &'a str,
    instance: &'a str,
    status: i64,
    progress: i64,
    start: &'a str,
    end: &'a str,
) -> TaskSpec<'a> {
    TaskSpec {
        id,
        instance,
        status,
        progress,
        code: if status == 3 { 9006 } else { 0 },
        start,
        end,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_reports_jobs_tasks_and_poll_health() {
    let api = FakeApi::start().await;
    let started = now() - 600;
    let (s, half) = (cst(started), cst(started + 300));
    api.set_job(12782, Reply::Json(SEED.into()));
    api.set_job(
        2001,
        job_answer(
            2001,
            1,
            40,
            0,
            &s,
            "0000-00-00 00:00:00",
            &[
                task("7", "cdb-a", 2, 100, &s, &half),
                task("8", "cdb-b", 1, 20, &half, ""),
            ],
        ),
    );
    api.set_job(
        2002,
        job_answer(
            2002,
            3,
            60,
            9006,
            &s,
            &half,
            &[task("9", "cdb-c", 3, 60, &s, &half)],
        ),
    );
    let cfg = yaml(
        &api.endpoint,
        "jobs:\n  - id: 12782\n    labels: { team: dba }\n  - id: 2001\n  - id: 2002\n  - id: 9999\n",
    );
    let daemon = Daemon::start(config(&cfg)).await;
    daemon.wait_ready(Duration::from_secs(10)).await;
    let m = daemon.scrape().await;

    // Exactly one state at 1 per job and per task.
    for (job, state) in [
        ("12782", "success"),
        ("2001", "running"),
        ("2002", "failed"),
    ] {
        assert_eq!(
            m.states("cdb_rollback_job_state", &[("job_id", job)]),
            [state],
            "job {job}"
        );
        assert_eq!(
            m.find("cdb_rollback_job_state", &[("job_id", job)]).len(),
            9
        );
    }
    for (job, task, state) in [
        ("12782", "105", "success"),
        ("2001", "7", "success"),
        ("2001", "8", "running"),
        ("2002", "9", "failed"),
    ] {
        let l = [("job_id", job), ("task_id", task)];
        assert_eq!(
            m.states("cdb_rollback_task_state", &l),
            [state],
            "task {task}"
        );
    }

    // The seed answer, with its configured label.
    let seed = [("job_id", "12782"), ("team", "dba")];
    assert_eq!(m.value("cdb_rollback_job_status", &seed), Some(2.0));
    assert_eq!(m.value("cdb_rollback_job_progress_ratio", &seed), Some(1.0));
    assert_eq!(
        m.value("cdb_rollback_job_start_time_seconds", &seed),
        Some(1_462_960_709.0)
    );
    assert_eq!(
        m.value("cdb_rollback_job_end_time_seconds", &seed),
        Some(1_462_960_802.0)
    );
    assert_eq!(
        m.value("cdb_rollback_job_duration_seconds", &seed),
        Some(93.0)
    );
    assert_eq!(m.value("cdb_rollback_job_error_code", &seed), Some(0.0));
    assert_eq!(
        m.value(
            "cdb_rollback_job_info",
            &[("job_id", "12782"), ("type", "10")]
        ),
        Some(1.0)
    );
    let seed_task = [
        ("job_id", "12782"),
        ("task_id", "105"),
        ("instance_id", "2629265e-11ec-11e6-abea-0819a6d0fc09"),
        ("team", "dba"),
    ];
    assert_eq!(
        m.value("cdb_rollback_task_duration_seconds", &seed_task),
        Some(61.0)
    );
    assert_eq!(
        m.value("cdb_rollback_task_target_time_seconds", &seed_task),
        Some(1_462_874_276.0)
    );
    assert_eq!(
        m.value("cdb_rollback_task_databases", &seed_task),
        Some(1.0)
    );
    let info = m.find("cdb_rollback_task_info", &seed_task);
    assert_eq!(info.len(), 1);
    assert_eq!(info[0].labels["work_id"], "311396");
    assert_eq!(info[0].labels["instance_name"], "cdb154047");
    assert_eq!(info[0].labels["strategy"], "full");
    assert_eq!(info[0].labels["operator"], "909619400");

    // The running job: progress, no end, duration growing from its start.
    let running = [("job_id", "2001")];
    assert_eq!(
        m.value("cdb_rollback_job_progress_ratio", &running),
        Some(0.4)
    );
    assert_eq!(
        m.value("cdb_rollback_job_start_time_seconds", &running),
        Some(started as f64)
    );
    assert_eq!(m.value("cdb_rollback_job_end_time_seconds", &running), None);
    let d = m
        .value("cdb_rollback_job_duration_seconds", &running)
        .unwrap();
    assert!((600.0..=630.0).contains(&d), "running duration {d}");
    assert_eq!(
        m.value("cdb_rollback_task_progress_ratio", &[("task_id", "8")]),
        Some(0.2)
    );
    assert_eq!(
        m.value("cdb_rollback_task_end_time_seconds", &[("task_id", "8")]),
        None
    );
    assert_eq!(
        m.value("cdb_rollback_task_duration_seconds", &[("task_id", "7")]),
        Some(300.0)
    );
    assert_eq!(
        m.value("cdb_rollback_task_databases", &[("task_id", "7")]),
        Some(2.0)
    );

    // The failed job and its failed task.
    assert_eq!(
        m.value("cdb_rollback_job_error_code", &[("job_id", "2002")]),
        Some(9006.0)
    );
    assert_eq!(
        m.value("cdb_rollback_job_duration_seconds", &[("job_id", "2002")]),
        Some(300.0)
    );
    assert_eq!(
        m.value(
            "cdb_rollback_task_error_code",
            &[("task_id", "9"), ("instance_id", "cdb-c")]
        ),
        Some(9006.0)
    );

    // Poll health: the unknown job is visible, failing, and has no values.
    for job in ["12782", "2001", "2002"] {
        assert_eq!(
            m.value("cdb_rollback_job_poll_success", &[("job_id", job)]),
            Some(1.0),
            "job {job}"
        );
        assert!(
            m.value(
                "cdb_rollback_job_last_success_time_seconds",
                &[("job_id", job)]
            )
            .is_some()
        );
    }
    assert_eq!(
        m.value("cdb_rollback_job_poll_success", &[("job_id", "9999")]),
        Some(0.0)
    );
    assert!(
        m.value(
            "cdb_rollback_job_last_poll_time_seconds",
            &[("job_id", "9999")]
        )
        .is_some()
    );
    assert_eq!(
        m.value(
            "cdb_rollback_job_last_success_time_seconds",
            &[("job_id", "9999")]
        ),
        None
    );
    assert!(
        m.find("cdb_rollback_job_state", &[("job_id", "9999")])
            .is_empty()
    );

    // The exporter's own metrics.
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
    assert_eq!(
        m.value("cdb_rollback_api_budget_requests_per_second", &[]),
        Some(50.0)
    );
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

    // Landing page and health.
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
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_api_keeps_last_good_values_then_recovers() {
    let api = FakeApi::start().await;
    let s = cst(now() - 60);
    api.set_job(
        3001,
        job_answer(3001, 1, 40, 0, &s, "", &[task("1", "cdb-a", 1, 40, &s, "")]),
    );
    let daemon = Daemon::start(config(&yaml(&api.endpoint, "jobs:\n  - id: 3001\n"))).await;
    let job = [("job_id", "3001")];
    daemon
        .scrape_until(Duration::from_secs(5), "first poll", |m| {
            m.value("cdb_rollback_job_poll_success", &job) == Some(1.0)
        })
        .await;

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
    assert_eq!(
        m.value("cdb_rollback_job_progress_ratio", &job),
        Some(0.4),
        "last good value kept"
    );
    assert_eq!(m.states("cdb_rollback_job_state", &job), ["running"]);
    assert_eq!(
        m.value("cdb_rollback_task_progress_ratio", &[("task_id", "1")]),
        Some(0.4)
    );
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

    // A truncated answer is no better: still failing, values still kept.
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
    assert_eq!(m.value("cdb_rollback_job_poll_success", &job), Some(0.0));
    assert_eq!(m.value("cdb_rollback_job_progress_ratio", &job), Some(0.4));

    api.with(|s| s.all_fail = None);
    api.set_job(
        3001,
        job_answer(3001, 1, 70, 0, &s, "", &[task("1", "cdb-a", 1, 70, &s, "")]),
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
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_that_disappears_leaves_no_series() {
    let api = FakeApi::start().await;
    let s = cst(now() - 60);
    api.set_job(
        4001,
        job_answer(
            4001,
            1,
            50,
            0,
            &s,
            "",
            &[
                task("41", "cdb-a", 1, 50, &s, ""),
                task("42", "cdb-b", 1, 50, &s, ""),
            ],
        ),
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
        job_answer(
            4001,
            1,
            60,
            0,
            &s,
            "",
            &[task("41", "cdb-a", 1, 60, &s, "")],
        ),
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
    let api = FakeApi::start().await;
    let s = cst(now() - 60);
    let mut jobs = String::from("jobs:\n");
    for id in 1..=50u64 {
        api.set_job(id, job_answer(id, 1, 10, 0, &s, "", &[]));
        jobs.push_str(&format!("  - id: {id}\n"));
    }
    let cfg = format!(
        "api:\n  version: 2\n  endpoint: {}\n  max_requests_per_second: 10\npoll:\n  interval: 1s\n  concurrency: 8\n{jobs}",
        api.endpoint
    );
    let daemon = Daemon::start(config(&cfg)).await;
    tokio::time::sleep(Duration::from_millis(4500)).await;
    daemon.stop().await;

    let times: Vec<_> = api.log().iter().map(|l| l.at).collect();
    assert!(
        times.len() >= 25,
        "the budget was used: {} requests",
        times.len()
    );
    let busiest = times
        .iter()
        .map(|start| {
            times
                .iter()
                .filter(|t| **t >= *start && t.duration_since(*start) < Duration::from_secs(1))
                .count()
        })
        .max()
        .unwrap_or(0);
    assert!(
        // Spaced 100 ms apart when sent; arrival can bunch by one on a loaded machine.
        busiest <= 12,
        "{busiest} requests in one second with a budget of 10/s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_rejection_is_retried_once_with_a_fresh_nonce() {
    let api = FakeApi::start().await;
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
