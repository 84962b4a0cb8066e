//! Finds the rollback jobs of the configured instances, so that nobody has to know a
//! job id in advance, and drops discovered jobs once they are finished and old.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use crate::api::{ApiError, Client};
use crate::config::{DiscoveryConfig, InstanceConfig};
use crate::rollback::JobSummary;
use crate::rollback::time::unix_now;
use crate::scheduler::{Scheduler, jitter, with_backoff};
use crate::store::{Source, Store};

/// The API's largest page.
pub const PAGE_LIMIT: u64 = 100;
/// A bound on pages per instance and round, so a runaway `taskCount` cannot loop forever.
const MAX_PAGES: u64 = 100;

/// Every job of one instance, page by page, until `taskCount` is reached.
pub async fn list_instance(
    client: &Client,
    instance_id: &str,
    retries: u32,
) -> Result<Vec<JobSummary>, ApiError> {
    let mut jobs = Vec::new();
    let mut offset = 0;
    for _ in 0..MAX_PAGES {
        // Discovery makes one request at a time, so it can never take the whole budget.
        let page = with_backoff(retries, Duration::from_secs(10), || {
            client.get_rollback_jobs(instance_id, offset, PAGE_LIMIT)
        })
        .await?;
        let n = page.jobs.len() as u64;
        jobs.extend(page.jobs);
        offset += n;
        // Without a taskCount, a short page is the last one.
        let done = match page.total {
            Some(total) => offset >= total,
            None => n < PAGE_LIMIT,
        };
        if n == 0 || done {
            return Ok(jobs);
        }
    }
    tracing::warn!(
        instance_id,
        pages = MAX_PAGES,
        "stopped paging: too many rollback jobs on this instance"
    );
    Ok(jobs)
}

/// Whether a discovered job is worth tracking: not finished, or started (else ended)
/// within `max_age`. A finished job with neither time is not.
fn is_current(
    terminal: bool,
    start: Option<i64>,
    end: Option<i64>,
    now: f64,
    max_age: Duration,
) -> bool {
    let oldest = now - max_age.as_secs_f64();
    !terminal || start.or(end).is_some_and(|t| t as f64 >= oldest)
}

pub struct Discovery {
    scheduler: Arc<Scheduler>,
    store: Arc<Store>,
    config: DiscoveryConfig,
    retries: u32,
}

impl Discovery {
    pub fn new(
        scheduler: Arc<Scheduler>,
        store: Arc<Store>,
        config: DiscoveryConfig,
        retries: u32,
    ) -> Self {
        for i in &config.instances {
            store.add_discovery_source(&i.id);
        }
        Self {
            scheduler,
            store,
            config,
            retries,
        }
    }

    pub async fn run(self) {
        if self.config.instances.is_empty() {
            return;
        }
        loop {
            self.round().await;
            tokio::time::sleep(jitter(self.config.interval, 0.1)).await;
        }
    }

    /// One pass over every instance: track what is new, drop what is finished and old.
    pub async fn round(&self) {
        let mut succeeded: HashSet<&str> = HashSet::new();
        let mut listed: HashMap<u64, JobSummary> = HashMap::new();
        for inst in &self.config.instances {
            match list_instance(self.scheduler.client(), &inst.id, self.retries).await {
                Ok(jobs) => {
                    let now = unix_now();
                    let added = self.track_current(inst, &jobs, now);
                    tracing::debug!(
                        instance_id = inst.id,
                        listed = jobs.len(),
                        added,
                        "discovery done"
                    );
                    self.store.record_discovery(&inst.id, true, now);
                    succeeded.insert(inst.id.as_str());
                    listed.extend(jobs.into_iter().map(|j| (j.id, j)));
                }
                Err(e) => {
                    tracing::warn!(
                        instance_id = inst.id,
                        kind = e.kind().as_str(),
                        api_code = e.api_code().unwrap_or(0),
                        error = %e,
                        "discovery failed; jobs already tracked stay tracked"
                    );
                    self.store.record_discovery(&inst.id, false, unix_now());
                }
            }
        }
        self.drop_old(&succeeded, &listed, unix_now());
    }

    fn track_current(&self, inst: &InstanceConfig, jobs: &[JobSummary], now: f64) -> usize {
        jobs.iter()
            .filter(|j| {
                is_current(
                    j.status.state().is_terminal(),
                    j.start,
                    j.end,
                    now,
                    self.config.max_age,
                )
            })
            .filter(|j| {
                let source = Source::Discovered {
                    instance_id: inst.id.clone(),
                };
                self.scheduler.track(j.id, source, inst.labels.clone())
            })
            .count()
    }

    /// Drops discovered jobs that are terminal and older than `max_age`, only for instances
    /// whose discovery worked this round. A job is judged on its own latest poll, else on
    /// this round's listing; one that has neither (never polled well, no longer listed)
    /// counts as ended, and as started when it was first tracked.
    fn drop_old(&self, succeeded: &HashSet<&str>, listed: &HashMap<u64, JobSummary>, now: f64) {
        for e in self.store.snapshot() {
            let Source::Discovered { instance_id } = &e.source else {
                continue;
            };
            if !succeeded.contains(instance_id.as_str()) {
                continue;
            }
            let (terminal, start, end) = match (&e.data, listed.get(&e.id)) {
                (Some(d), _) => (d.job.status.state().is_terminal(), d.job.start, d.job.end),
                (None, Some(s)) => (s.status.state().is_terminal(), s.start, s.end),
                (None, None) => (true, Some(e.tracked_at as i64), None),
            };
            if !is_current(terminal, start, end, now, self.config.max_age) {
                tracing::info!(
                    job_id = e.id,
                    instance_id,
                    "dropping finished job older than max_age"
                );
                self.scheduler.untrack(e.id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_jobs() {
        let day = Duration::from_secs(86_400);
        let now = 1_000_000.0;
        let recent = Some(1_000_000 - 3600);
        let old = Some(1_000_000 - 2 * 86_400);
        assert!(
            is_current(false, old, None, now, day),
            "running jobs are always current"
        );
        assert!(is_current(false, None, None, now, day));
        assert!(is_current(true, recent, None, now, day));
        assert!(
            !is_current(true, old, recent, now, day),
            "judged on the start first"
        );
        assert!(is_current(true, None, recent, now, day), "else on the end");
        assert!(
            !is_current(true, None, None, now, day),
            "a finished job with no times is not tracked"
        );
    }
}
