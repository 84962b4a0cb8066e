//! The rollback model: what a job and its tasks are once the API's quirks are gone.

/// The state of a job or task, whichever API version and spelling reported it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    Initial,
    Running,
    Success,
    Failed,
    Killed,
    Removed,
    /// v3's `PAUSED`, v2's status 6 (documented as 终止中, "terminating").
    Paused,
    Waiting,
    /// `UNDEFINED`, and any code or name this exporter does not know yet.
    Unknown,
}

impl State {
    /// Every state, in the order the state-set series are written.
    pub const ALL: [State; 9] = [
        State::Initial,
        State::Running,
        State::Success,
        State::Failed,
        State::Killed,
        State::Removed,
        State::Paused,
        State::Waiting,
        State::Unknown,
    ];

    /// The number of a state: DescribeTasks' `TaskStatus` filter (-1 to 6, the same as
    /// v2's status codes), with 7 for `WAITING`, which that enum lacks.
    pub fn code(self) -> i64 {
        match self {
            State::Unknown => -1,
            State::Initial => 0,
            State::Running => 1,
            State::Success => 2,
            State::Failed => 3,
            State::Killed => 4,
            State::Removed => 5,
            State::Paused => 6,
            State::Waiting => 7,
        }
    }

    pub fn from_code(code: i64) -> State {
        State::ALL
            .into_iter()
            .find(|s| s.code() == code)
            .unwrap_or(State::Unknown)
    }

    /// A v3 status name: `TaskStatus` of DescribeTasks or `Status` of
    /// DescribeRollbackTaskDetail, which spell success two ways.
    pub fn from_name(name: &str) -> State {
        match name.trim().to_ascii_uppercase().as_str() {
            "INITIAL" => State::Initial,
            "RUNNING" => State::Running,
            "SUCCEED" | "SUCCESS" => State::Success,
            "FAILED" => State::Failed,
            "KILLED" => State::Killed,
            "REMOVED" => State::Removed,
            "PAUSED" => State::Paused,
            "WAITING" => State::Waiting,
            _ => State::Unknown,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            State::Initial => "initial",
            State::Running => "running",
            State::Success => "success",
            State::Failed => "failed",
            State::Killed => "killed",
            State::Removed => "removed",
            State::Paused => "paused",
            State::Waiting => "waiting",
            State::Unknown => "unknown",
        }
    }

    /// A terminal job will not change any more, so it is polled less often.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            State::Success | State::Failed | State::Killed | State::Removed
        )
    }
}

/// A raw status code as the API sent it; the state is derived, the number kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status(pub i64);

impl Status {
    pub fn state(self) -> State {
        State::from_code(self.0)
    }

    /// A v3 status name, kept as its number (unknown names are -1, `unknown`).
    pub fn from_name(name: &str) -> Status {
        Status(State::from_name(name).code())
    }
}

/// One rollback job (`jobInfo` with its `taskDetail`).
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    pub id: u64,
    /// 1 a rollback, 10 a batch rollback (v3's `TaskTypes`; v2's `type`).
    pub job_type: i64,
    /// v3's id of the request that started the job; empty on v2.
    pub async_request_id: String,
    pub status: Status,
    /// 0–1, clamped; absent when the answer did not say.
    pub progress: Option<f64>,
    /// The job's own error code; 0 is fine.
    pub code: Option<i64>,
    pub message: String,
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub instances: Vec<Instance>,
    pub tasks: Vec<Task>,
}

/// What one task does on one instance (`detail[]` / `taskInfo`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Instance {
    pub instance_id: String,
    pub instance_name: String,
    pub strategy: String,
    /// The point in time the data is rolled back to.
    pub rollback_time: Option<i64>,
    pub operator: String,
    pub databases: Vec<DatabaseRename>,
    /// Tables rolled back, where the answer lists them (v3).
    pub tables: Option<i64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DatabaseRename {
    pub name: String,
    pub new_name: String,
}

/// One task of a job: the work on one instance, keyed by (job, instance).
#[derive(Clone, Debug, PartialEq)]
pub struct Task {
    /// v2's task id; v3 gives none, and it is empty.
    pub id: String,
    pub work_id: String,
    pub status: Status,
    pub progress: Option<f64>,
    pub code: Option<i64>,
    pub message: String,
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub instance: Instance,
}

/// One row of `GetCdbRollbackJob`: enough to decide whether to track the job.
#[derive(Clone, Debug, PartialEq)]
pub struct JobSummary {
    pub id: u64,
    pub job_type: i64,
    pub status: Status,
    pub progress: Option<f64>,
    pub start: Option<i64>,
    pub end: Option<i64>,
}

/// One page of `GetCdbRollbackJob`.
#[derive(Clone, Debug, PartialEq)]
pub struct JobPage {
    /// The instance's total number of jobs, across all pages, when the answer says.
    pub total: Option<u64>,
    pub jobs: Vec<JobSummary>,
}

/// A start and an end as the model keeps them. An end before the start (a clock step on
/// the API's side, or a damaged row) is kept as the start: the job has ended, took no
/// time, and nothing downstream (times, durations, alerts) sees time run backwards.
pub fn span(start: Option<i64>, end: Option<i64>) -> (Option<i64>, Option<i64>) {
    match (start, end) {
        (Some(s), Some(e)) => (Some(s), Some(e.max(s))),
        other => other,
    }
}

/// Seconds a job or task has taken: until its end, or until `now` while it is not terminal.
pub fn duration(start: Option<i64>, end: Option<i64>, state: State, now: i64) -> Option<i64> {
    let start = start?;
    match end {
        Some(end) => Some((end - start).max(0)),
        None if !state.is_terminal() => Some((now - start).max(0)),
        None => None,
    }
}

/// A percentage as the API writes it, as a 0–1 ratio.
pub fn progress_ratio(percent: f64) -> f64 {
    if percent.is_nan() {
        0.0
    } else {
        (percent / 100.0).clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_table() {
        let names: Vec<_> = (-1..9).map(|c| State::from_code(c).as_str()).collect();
        assert_eq!(
            names,
            [
                "unknown", "initial", "running", "success", "failed", "killed", "removed",
                "paused", "waiting", "unknown"
            ]
        );
        for s in State::ALL {
            assert_eq!(State::from_code(s.code()), s);
        }
        let terminal: Vec<_> = State::ALL.iter().filter(|s| s.is_terminal()).collect();
        assert_eq!(
            terminal,
            [
                &State::Success,
                &State::Failed,
                &State::Killed,
                &State::Removed
            ]
        );
    }

    #[test]
    fn v3_names() {
        let cases = [
            ("UNDEFINED", State::Unknown, -1),
            ("INITIAL", State::Initial, 0),
            ("RUNNING", State::Running, 1),
            ("SUCCEED", State::Success, 2),
            ("SUCCESS", State::Success, 2),
            ("FAILED", State::Failed, 3),
            ("KILLED", State::Killed, 4),
            ("REMOVED", State::Removed, 5),
            ("PAUSED", State::Paused, 6),
            ("WAITING", State::Waiting, 7),
            (" running ", State::Running, 1),
            ("ROLLING_BACK", State::Unknown, -1),
        ];
        for (name, state, code) in cases {
            assert_eq!(State::from_name(name), state, "{name}");
            assert_eq!(Status::from_name(name), Status(code), "{name}");
        }
    }

    #[test]
    fn an_end_before_the_start_is_the_start() {
        assert_eq!(span(Some(100), Some(40)), (Some(100), Some(100)));
        assert_eq!(span(Some(100), Some(140)), (Some(100), Some(140)));
        assert_eq!(span(None, Some(40)), (None, Some(40)));
        assert_eq!(span(Some(100), None), (Some(100), None));
    }

    #[test]
    fn durations() {
        assert_eq!(duration(Some(10), Some(70), State::Success, 1000), Some(60));
        assert_eq!(duration(Some(10), None, State::Running, 100), Some(90));
        assert_eq!(duration(Some(10), None, State::Failed, 100), None);
        assert_eq!(duration(None, Some(10), State::Success, 100), None);
    }

    #[test]
    fn progress_is_clamped() {
        assert_eq!(progress_ratio(100.0), 1.0);
        assert_eq!(progress_ratio(42.0), 0.42);
        assert_eq!(progress_ratio(250.0), 1.0);
        assert_eq!(progress_ratio(-3.0), 0.0);
        assert_eq!(progress_ratio(f64::NAN), 0.0);
    }
}
