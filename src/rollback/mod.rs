//! The rollback model: what a job and its tasks are once the API's quirks are gone.

pub mod time;

/// The state a status code stands for (the reference's table).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    Initial,
    Running,
    Success,
    Failed,
    Killed,
    Removed,
    Terminating,
    Unknown,
}

impl State {
    /// Every state, in the order the state-set series are written.
    pub const ALL: [State; 8] = [
        State::Initial,
        State::Running,
        State::Success,
        State::Failed,
        State::Killed,
        State::Removed,
        State::Terminating,
        State::Unknown,
    ];

    pub fn from_code(code: i64) -> State {
        match code {
            0 => State::Initial,
            1 => State::Running,
            2 => State::Success,
            3 => State::Failed,
            4 => State::Killed,
            5 => State::Removed,
            6 => State::Terminating,
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
            State::Terminating => "terminating",
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
}

/// One rollback job (`jobInfo` with its `taskDetail`).
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    pub id: u64,
    pub job_type: i64,
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
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DatabaseRename {
    pub name: String,
    pub new_name: String,
}

/// One task of a job: the work on one instance.
#[derive(Clone, Debug, PartialEq)]
pub struct Task {
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
        let names: Vec<_> = (0..8).map(|c| State::from_code(c).as_str()).collect();
        assert_eq!(
            names,
            [
                "initial",
                "running",
                "success",
                "failed",
                "killed",
                "removed",
                "terminating",
                "unknown"
            ]
        );
        assert_eq!(State::from_code(-1), State::Unknown);
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
