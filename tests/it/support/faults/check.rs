//! Checks an exposition against what the fault fake served.

use super::{Exposition, Log};

/// Each job's series against what the fake served: the values of the latest answer
/// served before the job's last success, and no answer served well before the scrape
/// left unseen. Returns the problems found.
pub fn check_jobs(e: &Exposition, log: &Log, scraped_at: f64) -> Vec<String> {
    let mut problems = Vec::new();
    for s in e.find("cdb_rollback_job_last_success_time_seconds", &[]) {
        let Some(id) = s.labels.get("job_id").and_then(|j| j.parse::<u64>().ok()) else {
            continue;
        };
        let labels = [("job_id", s.labels["job_id"].as_str())];
        let Some(served) = log.served_before(id, s.value) else {
            problems.push(format!(
                "job {id}: success at {} but nothing served before",
                s.value
            ));
            continue;
        };
        let got = (
            e.value("cdb_rollback_job_status", &labels),
            e.value("cdb_rollback_job_progress_ratio", &labels),
            e.value("cdb_rollback_job_start_time_seconds", &labels),
            e.value("cdb_rollback_job_end_time_seconds", &labels),
        );
        let want = (
            Some(served.status as f64),
            served.progress.map(|p| p / 100.0),
            served.start.map(|t| t as f64),
            served.end.map(|t| t as f64),
        );
        let close = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) => (a - b).abs() < 1e-9,
            (a, b) => a == b,
        };
        if !(close(got.0, want.0)
            && close(got.1, want.1)
            && close(got.2, want.2)
            && close(got.3, want.3))
        {
            problems.push(format!(
                "job {id}: shows {got:?}, latest served before its success {want:?}"
            ));
        }
        // An answer served 1.5 s before the scrape has had time to be recorded, and the
        // served metrics lag the store by at most the render's coalescing bound (2 s plus
        // one render).
        if let Some(latest) = log.latest.get(&id) {
            if latest.at < scraped_at - 4.0 && s.value < latest.at {
                problems.push(format!(
                    "job {id}: last success {} older than the answer served at {}",
                    s.value, latest.at
                ));
            }
        }
        if e.value("cdb_rollback_job_poll_success", &labels).is_none() {
            problems.push(format!("job {id}: no poll_success"));
        }
    }
    problems
}
