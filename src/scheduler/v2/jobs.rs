//! v2 polling: one loop per tracked job on its own jittered interval
//! (`GetCdbRollbackJobTask`), sharing the client's requests-per-second budget and one
//! concurrency cap for the whole process.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::api::Priority;
use crate::api::v2::Client;
use crate::config::{Labels, PollConfig};
use crate::scheduler::{interval, jitter, with_backoff};
use crate::store::{JobKey, PollError, Source, Store};
use crate::time::unix_now;

pub struct Scheduler {
    client: Arc<Client>,
    store: Arc<Store>,
    poll: PollConfig,
    loops: Mutex<HashMap<JobKey, JoinHandle<()>>>,
}

impl Scheduler {
    pub fn new(client: Arc<Client>, store: Arc<Store>, poll: PollConfig) -> Arc<Self> {
        Arc::new(Self {
            client,
            store,
            poll,
            loops: Mutex::new(HashMap::new()),
        })
    }

    /// The store's key of job `id`, in this client's region.
    pub fn key(&self, id: u64) -> JobKey {
        JobKey::new(self.client.region(), id)
    }

    /// Tracks a job and starts polling it; a job tracked already keeps its source.
    pub fn track(self: &Arc<Self>, id: u64, source: Source, labels: Labels) -> bool {
        let key = self.key(id);
        if !self.store.track(key.clone(), source, labels) {
            return false;
        }
        self.spawn_loop(key);
        true
    }

    /// Starts a loop for each job of this region already in the store and not polled yet
    /// by this scheduler (jobs kept by a reload), on its own schedule: no poll at once.
    pub fn resume(self: &Arc<Self>) {
        for e in self.store.snapshot() {
            let running = self
                .loops
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .contains_key(&e.key);
            if e.key.region == self.client.region() && !running {
                self.spawn_loop(e.key.clone());
            }
        }
    }

    fn spawn_loop(self: &Arc<Self>, key: JobKey) {
        let this = Arc::clone(self);
        let k = key.clone();
        let handle = tokio::spawn(async move { this.job_loop(k).await });
        self.loops
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, handle);
    }

    /// Stops polling a job; its series disappear with it.
    pub fn untrack(&self, key: &JobKey) {
        if let Some(h) = self
            .loops
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key)
        {
            h.abort();
        }
        self.store.untrack(key);
    }

    pub fn stop(&self) {
        for (_, h) in self.loops.lock().unwrap_or_else(|p| p.into_inner()).drain() {
            h.abort();
        }
    }

    async fn job_loop(self: Arc<Self>, key: JobKey) {
        tokio::time::sleep(self.first_wait(&key)).await;
        loop {
            // Boxed: a task holds its future's largest state all its life, and this one
            // sleeps nearly all of it; the request's state (1.4 KB a job) lives only while
            // a poll is under way.
            Box::pin(self.poll_once(&key)).await;
            let every = interval(&self.poll, self.is_terminal(&key));
            tokio::time::sleep(jitter(every, 0.1)).await;
        }
    }

    /// A job polled before (kept by a reload) waits for the rest of its interval; a new
    /// one for up to 2 s, which spreads the first polls (the budget spreads them further).
    fn first_wait(&self, key: &JobKey) -> Duration {
        let spread = self.poll.interval.min(Duration::from_secs(2));
        let spread = spread.mul_f64(fastrand::f64());
        let Some(last) = self.store.get(key).and_then(|e| e.health.clone()) else {
            return spread;
        };
        let every = interval(&self.poll, self.is_terminal(key)).as_secs_f64();
        let left = last.last_poll + every - unix_now();
        Duration::try_from_secs_f64(left).unwrap_or(Duration::ZERO) + spread
    }

    fn is_terminal(&self, key: &JobKey) -> bool {
        self.store.get(key).is_some_and(|e| e.is_terminal())
    }

    /// The requests per second the tracked jobs' intervals ask for.
    pub fn demand(&self) -> f64 {
        self.store
            .snapshot()
            .iter()
            .map(|e| {
                1.0 / interval(&self.poll, e.is_terminal())
                    .as_secs_f64()
                    .max(0.001)
            })
            .sum()
    }

    /// Polls one job now and records the outcome.
    pub async fn poll_once(&self, key: &JobKey) {
        let cap = (self.poll.interval / 2).max(Duration::from_secs(1));
        // Finished jobs yield the budget to running ones when it is short.
        let priority = if self.is_terminal(key) {
            Priority::Background
        } else {
            Priority::Normal
        };
        let result = with_backoff(self.poll.retries, cap, || {
            self.client.get_rollback_job_task(key.id, priority)
        })
        .await;
        let now = unix_now();
        match result {
            Ok(job) => self.store.record_success(key, job, now),
            Err(e) => {
                tracing::warn!(
                    job_id = key.id,
                    region = key.region,
                    kind = e.kind().as_str(),
                    api_code = e.api_code().unwrap_or(""),
                    error = %e,
                    "poll failed; keeping the last good values"
                );
                self.store.record_failure(key, PollError::of(&e), now);
            }
        }
    }
}
