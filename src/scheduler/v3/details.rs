//! Task details on API 3.0: `DescribeRollbackTaskDetail` per job and instance, in a loop
//! of its own at background priority, asked for only when a job's listing row moved.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use tracing::Instrument as _;

use super::{Poller, lock, log_error};
use crate::api::Priority;
use crate::api::retry::with_backoff;
use crate::config::PollConfig;
use crate::rollback::State;
use crate::store::{Entry, JobKey, PollError, Store};
use crate::time::unix_now;

/// How often the detail loop looks for jobs whose tasks are due.
const DETAIL_TICK: Duration = Duration::from_secs(1);

/// When a job's tasks were last asked for, and what its listing row said then.
#[derive(Clone, Copy)]
pub(super) struct DetailMark {
    at: Instant,
    state: State,
    progress: Option<f64>,
}

impl DetailMark {
    /// A job's tasks are asked for again when its state changed, when its progress moved
    /// and `poll.interval` has passed, and at least every `finished_interval`: a job
    /// whose listing row stands still has tasks that stand still, and asking costs one
    /// request per instance.
    fn due(&self, state: State, progress: Option<f64>, poll: &PollConfig) -> bool {
        let age = self.at.elapsed();
        self.state != state
            || (self.progress != progress && age >= poll.interval)
            || age >= poll.finished_interval
    }
}

/// Jobs already in the store when the poller starts (after a reload) whose tasks are
/// known count as just asked for, so that a reload does not ask every job's tasks again.
pub(super) fn kept_marks(store: &Store) -> HashMap<JobKey, DetailMark> {
    let at = Instant::now();
    store
        .snapshot()
        .iter()
        .filter_map(|e| {
            let d = e.data.as_ref().filter(|d| !d.job.tasks.is_empty())?;
            let (state, progress) = (d.job.status.state(), d.job.progress);
            Some((
                e.key.clone(),
                DetailMark {
                    at,
                    state,
                    progress,
                },
            ))
        })
        .collect()
}

impl Poller {
    pub(super) async fn detail_loop(self: Arc<Self>, region: String) {
        loop {
            let due = self.details_due(&region);
            let mut set = JoinSet::new();
            for (e, instance_id) in due {
                if set.len() >= self.poll.concurrency.max(1) {
                    set.join_next().await;
                }
                let this = Arc::clone(&self);
                set.spawn(async move { this.detail(&e, &instance_id).await }.in_current_span());
            }
            while set.join_next().await.is_some() {}
            tokio::time::sleep(DETAIL_TICK).await;
        }
    }

    /// (job, instance) pairs whose task is due (see [`DetailMark::due`]); marks them asked.
    fn details_due(&self, region: &str) -> Vec<(Arc<Entry>, String)> {
        let mut marks = lock(&self.details);
        let mut due = Vec::new();
        for e in self.store.snapshot() {
            let Some(d) = e.data.as_ref().filter(|_| e.key.region == region) else {
                continue;
            };
            let (state, progress) = (d.job.status.state(), d.job.progress);
            if marks
                .get(&e.key)
                .is_some_and(|m| !m.due(state, progress, &self.poll))
            {
                continue;
            }
            let mark = DetailMark {
                at: Instant::now(),
                state,
                progress,
            };
            marks.insert(e.key.clone(), mark);
            for inst in &d.job.instances {
                due.push((Arc::clone(&e), inst.instance_id.clone()));
            }
        }
        due
    }

    async fn detail(&self, e: &Entry, instance_id: &str) {
        let Some(d) = e.data.as_ref() else { return };
        let cap = (self.poll.interval / 2).max(Duration::from_secs(1));
        let result = with_backoff(self.poll.retries, cap, || {
            self.client.rollback_task_detail(
                &e.key.region,
                instance_id,
                &d.job.async_request_id,
                Priority::Background,
            )
        })
        .await;
        let now = unix_now();
        match result {
            Ok(page) => {
                if let Some(t) = page.task.as_ref().filter(|t| !t.message.is_empty()) {
                    tracing::debug!(
                        job_id = e.key.id,
                        instance_id,
                        info = t.message,
                        "task detail"
                    );
                }
                self.store.record_task(&e.key, instance_id, page.task, now);
            }
            Err(err) => {
                log_error(
                    &err,
                    &e.key.region,
                    "task detail failed; keeping the last good values",
                );
                self.store
                    .record_detail_failure(&e.key, PollError::of(&err), now);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_details_are_asked_for_when_the_row_moves() {
        let poll = PollConfig {
            interval: Duration::from_secs(30),
            finished_interval: Duration::from_secs(600),
            ..PollConfig::default()
        };
        let now = DetailMark {
            at: Instant::now(),
            state: State::Running,
            progress: Some(0.4),
        };
        assert!(!now.due(State::Running, Some(0.4), &poll), "nothing moved");
        assert!(
            !now.due(State::Running, Some(0.5), &poll),
            "moved, but within the interval"
        );
        assert!(
            now.due(State::Failed, Some(0.4), &poll),
            "a new state at once"
        );
        let earlier = DetailMark {
            at: Instant::now() - Duration::from_secs(31),
            ..now
        };
        assert!(earlier.due(State::Running, Some(0.5), &poll));
        assert!(
            !earlier.due(State::Running, Some(0.4), &poll),
            "a still row: still tasks"
        );
        let long_ago = DetailMark {
            at: Instant::now() - Duration::from_secs(601),
            ..now
        };
        assert!(
            long_ago.due(State::Running, Some(0.4), &poll),
            "at least every finished_interval"
        );
    }
}
