//! Drives the polls: one loop per tracked job on its own jittered interval, sharing the
//! client's requests-per-second budget and one concurrency cap for the whole process.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::api::{ApiError, Client, Priority, Retry};
use crate::config::{Labels, PollConfig};
use crate::store::{PollError, Source, Store};

use crate::rollback::time::unix_now;

/// `base` ± `spread` (a fraction), so that loops started together drift apart.
pub fn jitter(base: Duration, spread: f64) -> Duration {
    base.mul_f64(1.0 + spread * (fastrand::f64() * 2.0 - 1.0))
}

/// Runs `call` again after retryable failures, with exponential back-off and full jitter.
pub async fn with_backoff<T, F, Fut>(
    retries: u32,
    cap: Duration,
    mut call: F,
) -> Result<T, ApiError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    let mut attempt = 0u32;
    loop {
        match call().await {
            Err(e) if e.retry() == Retry::Backoff && attempt < retries => {
                let ceiling = Duration::from_secs(1u64 << attempt.min(6)).min(cap);
                let wait = ceiling.mul_f64(0.5 + fastrand::f64() / 2.0);
                tracing::debug!(error = %e, attempt, wait_ms = wait.as_millis() as u64, "retrying after back-off");
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

pub struct Scheduler {
    client: Arc<Client>,
    store: Arc<Store>,
    poll: PollConfig,
    loops: Mutex<HashMap<u64, JoinHandle<()>>>,
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

    pub fn client(&self) -> &Arc<Client> {
        &self.client
    }

    /// Tracks a job and starts polling it; a job tracked already keeps its source.
    pub fn track(self: &Arc<Self>, id: u64, source: Source, labels: Labels) -> bool {
        if !self.store.track(id, source, labels) {
            return false;
        }
        let this = Arc::clone(self);
        let handle = tokio::spawn(async move { this.job_loop(id).await });
        self.loops
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, handle);
        true
    }

    /// Stops polling a job; its series disappear with it.
    pub fn untrack(&self, id: u64) {
        if let Some(h) = self
            .loops
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id)
        {
            h.abort();
        }
        self.store.untrack(id);
    }

    pub fn stop(&self) {
        for (_, h) in self.loops.lock().unwrap_or_else(|p| p.into_inner()).drain() {
            h.abort();
        }
    }

    async fn job_loop(self: Arc<Self>, id: u64) {
        // Spread the first polls; the request budget spreads them further.
        let first = self.poll.interval.min(Duration::from_secs(2));
        tokio::time::sleep(first.mul_f64(fastrand::f64())).await;
        loop {
            self.poll_once(id).await;
            let base = if self.is_terminal(id) {
                self.poll.finished_interval
            } else {
                self.poll.interval
            };
            tokio::time::sleep(jitter(base, 0.1)).await;
        }
    }

    fn is_terminal(&self, id: u64) -> bool {
        self.store
            .get(id)
            .and_then(|e| e.state())
            .is_some_and(|s| s.is_terminal())
    }

    /// The requests per second the tracked jobs' intervals ask for.
    pub fn demand(&self) -> f64 {
        self.store
            .snapshot()
            .iter()
            .map(|e| {
                let terminal = e.state().is_some_and(|s| s.is_terminal());
                let every = if terminal {
                    self.poll.finished_interval
                } else {
                    self.poll.interval
                };
                1.0 / every.as_secs_f64().max(0.001)
            })
            .sum()
    }

    /// Polls one job now and records the outcome.
    pub async fn poll_once(&self, id: u64) {
        let cap = (self.poll.interval / 2).max(Duration::from_secs(1));
        // Finished jobs yield the budget to running ones when it is short.
        let priority = if self.is_terminal(id) {
            Priority::Background
        } else {
            Priority::Normal
        };
        let result = with_backoff(self.poll.retries, cap, || {
            self.client.get_rollback_job_task_with(id, priority)
        })
        .await;
        let now = unix_now();
        match result {
            Ok(job) => self.store.record_success(id, job, now),
            Err(e) => {
                let kind = e.kind();
                let api_code = e.api_code();
                tracing::warn!(
                    job_id = id,
                    kind = kind.as_str(),
                    api_code = api_code.unwrap_or(0),
                    error = %e,
                    "poll failed; keeping the last good values"
                );
                self.store
                    .record_failure(id, PollError { kind, api_code }, now);
            }
        }
    }
}
