//! Every rollback metric family, declared once: name, help, and how its rows are read
//! from a job, a task, a job's poll health, or a discovery source. Rendering walks this
//! table; the contract test checks `.ci/metrics-contract.txt` and the README against the
//! output. To add a family, add a row here (and a line to the contract).

use crate::rollback::{Job, Task, duration};
use crate::store::{DiscoveryStatus, PollHealth};

/// A sample value, written as an integer when it is one.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Num {
    Int(i64),
    Float(f64),
}

fn int(v: i64) -> Num {
    Num::Int(v)
}

fn float(v: f64) -> Num {
    Num::Float(v)
}

/// How a family's rows are read. `now` is Unix seconds, for running durations.
pub enum Rows {
    /// One series per job with data.
    Job(fn(&Job, i64) -> Option<Num>),
    /// A state set per job: one series per [`crate::rollback::State`], 1 for the current one.
    JobState,
    /// 1 per job, with `type` and `async_request_id`.
    JobInfo,
    /// One series per task (a job's part on one instance).
    Task(fn(&Task, i64) -> Option<Num>),
    TaskState,
    /// 1 per task, with its rendered info labels.
    TaskInfo,
    /// One series per job polled at least once, data or not.
    Health(fn(&PollHealth) -> Option<Num>),
    /// One series: the number of tracked jobs.
    Tracked,
    /// One series per discovery source (v2 instance, v3 region), with the jobs it tracks.
    Discovery(fn(&DiscoveryStatus, i64) -> Option<Num>),
}

pub struct Family {
    pub name: &'static str,
    pub help: &'static str,
    pub rows: Rows,
}

impl Family {
    /// Whether the values come from the API through the background poll (the HELP says so).
    pub fn polled(&self) -> bool {
        matches!(
            self.rows,
            Rows::Job(_)
                | Rows::JobState
                | Rows::JobInfo
                | Rows::Task(_)
                | Rows::TaskState
                | Rows::TaskInfo
        )
    }
}

const fn family(name: &'static str, help: &'static str, rows: Rows) -> Family {
    Family { name, help, rows }
}

pub const FAMILIES: &[Family] = &[
    family(
        "cdb_rollback_job_status",
        "Status of the rollback job as a number: -1 unknown, 0 initial, 1 running, 2 success, 3 failed, 4 killed, 5 removed, 6 paused, 7 waiting",
        Rows::Job(|j, _| Some(int(j.status.0))),
    ),
    family(
        "cdb_rollback_job_state",
        "State of the rollback job; exactly one state is 1",
        Rows::JobState,
    ),
    family(
        "cdb_rollback_job_progress_ratio",
        "Progress of the rollback job, 0 to 1",
        Rows::Job(|j, _| j.progress.map(float)),
    ),
    family(
        "cdb_rollback_job_start_time_seconds",
        "Unix time the rollback job started",
        Rows::Job(|j, _| j.start.map(int)),
    ),
    family(
        "cdb_rollback_job_end_time_seconds",
        "Unix time the rollback job ended; absent until it has",
        Rows::Job(|j, _| j.end.map(int)),
    ),
    family(
        "cdb_rollback_job_duration_seconds",
        "Seconds the rollback job took, or has been running so far",
        Rows::Job(|j, now| duration(j.start, j.end, j.status.state(), now).map(int)),
    ),
    family(
        "cdb_rollback_job_error_code",
        "The rollback job's own error code, 0 when fine",
        Rows::Job(|j, _| j.code.map(int)),
    ),
    family(
        "cdb_rollback_job_info",
        "Rollback job metadata; the value is always 1",
        Rows::JobInfo,
    ),
    family(
        "cdb_rollback_task_status",
        "Status of the rollback task on one instance as a number, as for jobs",
        Rows::Task(|t, _| Some(int(t.status.0))),
    ),
    family(
        "cdb_rollback_task_state",
        "State of the rollback task on one instance; exactly one state is 1",
        Rows::TaskState,
    ),
    family(
        "cdb_rollback_task_progress_ratio",
        "Progress of the rollback task, 0 to 1",
        Rows::Task(|t, _| t.progress.map(float)),
    ),
    family(
        "cdb_rollback_task_start_time_seconds",
        "Unix time the rollback task started",
        Rows::Task(|t, _| t.start.map(int)),
    ),
    family(
        "cdb_rollback_task_end_time_seconds",
        "Unix time the rollback task ended; absent until it has",
        Rows::Task(|t, _| t.end.map(int)),
    ),
    family(
        "cdb_rollback_task_duration_seconds",
        "Seconds the rollback task took, or has been running so far",
        Rows::Task(|t, now| duration(t.start, t.end, t.status.state(), now).map(int)),
    ),
    family(
        "cdb_rollback_task_error_code",
        "The rollback task's own error code, 0 when fine",
        Rows::Task(|t, _| t.code.map(int)),
    ),
    family(
        "cdb_rollback_task_info",
        "Rollback task metadata; the value is always 1",
        Rows::TaskInfo,
    ),
    family(
        "cdb_rollback_task_target_time_seconds",
        "Unix time of the point the task rolls the data back to",
        Rows::Task(|t, _| t.instance.rollback_time.map(int)),
    ),
    family(
        "cdb_rollback_task_databases",
        "Number of databases the rollback task rolls back",
        Rows::Task(|t, _| Some(int(t.instance.databases.len() as i64))),
    ),
    family(
        "cdb_rollback_task_tables",
        "Number of tables the rollback task rolls back, where the API lists them (v3)",
        Rows::Task(|t, _| t.instance.tables.map(int)),
    ),
    family(
        "cdb_rollback_job_poll_success",
        "1 if the latest background poll of the job succeeded, else 0 (its values are then the last good ones).",
        Rows::Health(|h| Some(int(i64::from(h.ok())))),
    ),
    family(
        "cdb_rollback_job_last_poll_time_seconds",
        "Unix time of the latest background poll of the job, successful or not.",
        Rows::Health(|h| Some(float(h.last_poll))),
    ),
    family(
        "cdb_rollback_job_last_success_time_seconds",
        "Unix time of the latest successful background poll of the job.",
        Rows::Health(|h| h.last_success.map(float)),
    ),
    family(
        "cdb_rollback_tracked_jobs",
        "Rollback jobs the exporter tracks, configured and discovered.",
        Rows::Tracked,
    ),
    family(
        "cdb_rollback_discovery_jobs",
        "Rollback jobs tracked through discovery: per instance (v2 GetCdbRollbackJob) or per region (v3 DescribeTasks).",
        Rows::Discovery(|_, jobs| Some(int(jobs))),
    ),
    family(
        "cdb_rollback_discovery_success",
        "1 if the latest listing of this instance's or region's rollback jobs succeeded, else 0.",
        Rows::Discovery(|d, _| d.success.map(|ok| int(i64::from(ok)))),
    ),
    family(
        "cdb_rollback_discovery_last_success_time_seconds",
        "Unix time of the latest successful listing of this instance's or region's rollback jobs.",
        Rows::Discovery(|d, _| d.last_success.map(float)),
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_namespaced() {
        let mut names: Vec<_> = FAMILIES.iter().map(|f| f.name).collect();
        assert!(names.iter().all(|n| n.starts_with("cdb_rollback_")));
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), FAMILIES.len());
    }
}
