//! History and foresight under a fake clock: every time is passed in, so a job of an hour
//! runs in a loop. Jobs finish once in the counters, whatever listings and restarts do,
//! and a steady job's expected end is right halfway through.

use std::sync::Arc;

use cdb_rollback_exporter::config::Labels;
use cdb_rollback_exporter::metrics::Metrics;
use cdb_rollback_exporter::render::{Sources, render};
use cdb_rollback_exporter::rollback::{Job, State, Status};
use cdb_rollback_exporter::store::{JobKey, Source, Store};

use crate::support::exposition::Exposition;

/// 2026-11-28 10:00:00 in Beijing.
const T0: i64 = 1_795_831_200;
const REGION: &str = "ap-shanghai";

fn job(id: u64, state: State, percent: i64, end: Option<i64>) -> Job {
    Job {
        id,
        job_type: 1,
        async_request_id: format!("req-{id}"),
        status: Status(state.code()),
        progress: Some(percent as f64 / 100.0),
        code: Some(0),
        message: String::new(),
        start: Some(T0),
        end,
        instances: Vec::new(),
        tasks: Vec::new(),
    }
}

/// A fresh exporter: its metrics prepared for the region, and a store that reports to them.
fn exporter() -> (Arc<Metrics>, Store) {
    let metrics = Arc::new(Metrics::new());
    metrics.prepare(&["DescribeTasks"], &[REGION.to_string()]);
    let store = Store::with_outcomes(metrics.clone());
    for id in [1, 2, 3] {
        let listed = Source::Listed { instance_id: None };
        store.track(JobKey::new(REGION, id), listed, Labels::default());
    }
    (metrics, store)
}

fn scrape(metrics: &Metrics, store: &Store, now: i64) -> Exposition {
    let text = render(&store.snapshot(), &Sources::default(), metrics, now as f64);
    Exposition::parse(&String::from_utf8(text).unwrap())
}

fn row(store: &Store, job: Job, now: i64) {
    store.record_row(&JobKey::new(REGION, job.id), job, now as f64);
}

const HOUR: i64 = 3600;

/// Job 1 runs steadily 0→100 % over an hour; job 2 fails 15 minutes in, at 20 %. The
/// scrape halfway through job 1.
fn run_an_hour(metrics: &Metrics, store: &Store) -> Exposition {
    let mut halfway = None;
    for t in (T0..T0 + HOUR).step_by(30) {
        let percent = (t - T0) * 100 / HOUR;
        row(store, job(1, State::Running, percent, None), t);
        let failed = t >= T0 + 900;
        let (state, end) = if failed {
            (State::Failed, Some(T0 + 900))
        } else {
            (State::Running, None)
        };
        row(store, job(2, state, percent.min(20), end), t);
        if t == T0 + HOUR / 2 {
            halfway = Some(scrape(metrics, store, t));
        }
    }
    halfway.unwrap()
}

#[test]
fn finished_jobs_count_once_and_a_steady_job_is_foreseen() {
    let (metrics, store) = exporter();
    let halfway = run_an_hour(&metrics, &store);
    let one = [("job_id", "1")];
    let eta = halfway
        .value("cdb_rollback_job_estimated_end_time_seconds", &one)
        .unwrap();
    let (truth, now) = ((T0 + HOUR) as f64, (T0 + HOUR / 2) as f64);
    let error = (eta - truth).abs() / (truth - now);
    assert!(
        error < 0.05,
        "ETA {eta}, truth {truth}: {error:.3} of the time left"
    );
    assert_eq!(
        halfway.value("cdb_rollback_job_progress_change_time_seconds", &one),
        Some(now),
        "it moved at the latest poll"
    );
    let two = [("job_id", "2")];
    assert_eq!(
        halfway.value("cdb_rollback_job_estimated_end_time_seconds", &two),
        None,
        "no ETA for a failed job"
    );
    // Job 1 succeeds; both are then listed again and again, finished.
    for t in (T0 + HOUR..T0 + 2 * HOUR).step_by(30) {
        row(&store, job(1, State::Success, 100, Some(T0 + HOUR)), t);
        row(&store, job(2, State::Failed, 20, Some(T0 + 900)), t);
    }
    let end = scrape(&metrics, &store, T0 + 2 * HOUR);
    let (ok, failed) = (("state", "success"), ("state", "failed"));
    let region = ("region", REGION);
    #[rustfmt::skip]
    end.expect(&[
        ("jobs_finished_total", &[region, ok], Some(1.0)),
        ("jobs_finished_total", &[region, failed], Some(1.0)),
        ("jobs_finished_total", &[region, ("state", "killed")], Some(0.0)),
        ("jobs_finished_total", &[region, ("state", "removed")], Some(0.0)),
        ("finished_job_duration_seconds_count", &[region, ok], Some(1.0)),
        ("finished_job_duration_seconds_sum", &[region, ok], Some(3600.0)),
        ("finished_job_duration_seconds_count", &[region, failed], Some(1.0)),
        ("finished_job_duration_seconds_sum", &[region, failed], Some(900.0)),
        ("finished_job_duration_seconds_bucket", &[region, failed, ("le", "600")], Some(0.0)),
        ("finished_job_duration_seconds_bucket", &[region, failed, ("le", "1800")], Some(1.0)),
        ("jobs_vanished_total", &[region], Some(0.0)),
        ("job_estimated_end_time_seconds", &[("job_id", "1")], None),
    ]);
    let observed: f64 = end
        .find("cdb_rollback_finished_job_duration_seconds_count", &[])
        .iter()
        .map(|s| s.value)
        .sum();
    assert_eq!(observed, 2.0, "two observations in all");
}

#[test]
fn a_restart_does_not_count_finished_jobs_again() {
    let (metrics, store) = exporter();
    row(&store, job(1, State::Running, 50, None), T0);
    row(&store, job(1, State::Success, 100, Some(T0 + 60)), T0 + 60);
    let before = scrape(&metrics, &store, T0 + 60);
    let success = [("region", REGION), ("state", "success")];
    assert_eq!(
        before.value("cdb_rollback_jobs_finished_total", &success),
        Some(1.0)
    );
    // The exporter restarts: a new store and counters; the API lists the job finished.
    let (metrics, store) = exporter();
    for t in [T0 + 120, T0 + 150] {
        row(&store, job(1, State::Success, 100, Some(T0 + 60)), t);
    }
    let after = scrape(&metrics, &store, T0 + 150);
    after.expect(&[
        ("jobs_finished_total", &success, Some(0.0)),
        ("finished_job_duration_seconds_count", &success, Some(0.0)),
        (
            "job_progress_change_time_seconds",
            &[("job_id", "1")],
            Some((T0 + 120) as f64),
        ),
    ]);
}

#[test]
fn a_running_job_the_api_forgets_vanishes_once() {
    let (metrics, store) = exporter();
    row(&store, job(1, State::Running, 10, None), T0);
    row(&store, job(2, State::Success, 100, Some(T0)), T0);
    let key = |id| JobKey::new(REGION, id);
    assert!(store.vanish(&key(1)).is_some());
    assert!(
        store.vanish(&key(1)).is_none(),
        "a second lookup finds it gone"
    );
    assert!(
        store.vanish(&key(2)).is_some(),
        "a finished job is dropped..."
    );
    assert!(store.vanish(&key(3)).is_some(), "...as is one never polled");
    let text = scrape(&metrics, &store, T0);
    text.expect(&[("jobs_vanished_total", &[("region", REGION)], Some(1.0))]);
}
