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
    /// The last round of the region's detail loop that found the job in the store: a
    /// mark not seen in a round is of a job no longer tracked, and goes.
    seen: u32,
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
                    seen: 0,
                },
            ))
        })
        .collect()
}

impl Poller {
    pub(super) async fn detail_loop(self: Arc<Self>, region: String) {
        let mut round = 0u32;
        loop {
            round = round.wrapping_add(1);
            let due = self.details_due(&region, round);
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

    /// The region's (job, instance) pairs whose task is due; see [`due_in`].
    fn details_due(&self, region: &str, round: u32) -> Vec<(Arc<Entry>, String)> {
        // Locked before the snapshot: a job dropped meanwhile has its mark removed after.
        let mut marks = lock(&self.details);
        due_in(
            &mut marks,
            &self.store.snapshot(),
            region,
            round,
            &self.poll,
        )
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

/// The region's (job, instance) pairs whose task is due (see [`DetailMark::due`]), marked
/// asked. The marks of the region's jobs not in `snapshot` go, however the job went
/// (listing, retention, filter, reload): the walk visits every job anyway, so forgetting
/// costs one pass over the marks, not another walk of the store.
fn due_in(
    marks: &mut HashMap<JobKey, DetailMark>,
    snapshot: &[Arc<Entry>],
    region: &str,
    round: u32,
    poll: &PollConfig,
) -> Vec<(Arc<Entry>, String)> {
    let mut due = Vec::new();
    for e in snapshot {
        let Some(d) = e.data.as_ref().filter(|_| e.key.region == region) else {
            continue;
        };
        let (state, progress) = (d.job.status.state(), d.job.progress);
        if let Some(m) = marks.get_mut(&e.key) {
            m.seen = round;
            if !m.due(state, progress, poll) {
                continue;
            }
        }
        let mark = DetailMark {
            at: Instant::now(),
            state,
            progress,
            seen: round,
        };
        marks.insert(e.key.clone(), mark);
        let instances = d.job.instances.iter();
        due.extend(instances.map(|i| (Arc::clone(e), i.instance_id.clone())));
    }
    // Other regions' marks are their own loops' to judge.
    marks.retain(|k, m| m.seen == round || k.region != region);
    due
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Labels;
    use crate::rollback::{Instance, Job};
    use crate::store::Source;

    /// A running job listed in `region`, on one instance.
    fn listed(store: &Store, region: &str, id: u64) -> JobKey {
        let key = JobKey::new(region, id);
        let source = Source::Listed { instance_id: None };
        store.track(key.clone(), source, Labels::default());
        let instance = Instance {
            instance_id: format!("cdb-{id}"),
            ..Instance::default()
        };
        let job = Job {
            instances: vec![instance],
            ..crate::store::tests::job(id)
        };
        store.record_row(&key, job, 100.0);
        key
    }

    #[test]
    fn marks_of_jobs_no_longer_tracked_go() {
        let (store, poll) = (Store::new(), PollConfig::default());
        let gone = listed(&store, "ap-a", 1);
        let kept = listed(&store, "ap-a", 2);
        let elsewhere = listed(&store, "ap-b", 3);
        let mut marks = HashMap::new();
        let due = due_in(&mut marks, &store.snapshot(), "ap-a", 1, &poll);
        assert_eq!(due.len(), 2, "each of the region's jobs asked for once");
        due_in(&mut marks, &store.snapshot(), "ap-b", 1, &poll);
        assert_eq!(marks.len(), 3);
        // Untracked behind the detail loop's back, as any path that drops jobs may.
        store.untrack(&gone);
        let due = due_in(&mut marks, &store.snapshot(), "ap-a", 2, &poll);
        assert!(due.is_empty(), "nothing moved: nothing asked again");
        assert!(
            !marks.contains_key(&gone),
            "the untracked job's mark is gone"
        );
        assert!(marks.contains_key(&kept), "a tracked job keeps its mark");
        assert!(
            marks.contains_key(&elsewhere),
            "another region's marks are its own loop's"
        );
        let due = due_in(&mut marks, &store.snapshot(), "ap-b", 2, &poll);
        assert!(due.is_empty() && marks.len() == 2, "kept across rounds");
    }

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
            seen: 0,
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
