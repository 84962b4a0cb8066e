//! v2 discovery: finds the rollback jobs of the configured instances
//! (`GetCdbRollbackJob`), so that nobody has to know a job id in advance, and drops
//! discovered jobs once they are finished and old.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use super::jobs::Scheduler;
use crate::api::ApiError;
use crate::api::v2::Client;
use crate::config::{DiscoveryConfig, InstanceConfig};
use crate::rollback::JobSummary;
use crate::scheduler::{is_current, jitter, with_backoff};
use crate::store::{Source, Store};
use crate::time::unix_now;

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

pub struct Discovery {
    /// Its own handle on the client: listing is discovery's work, tracking the scheduler's.
    client: Arc<Client>,
    scheduler: Arc<Scheduler>,
    store: Arc<Store>,
    config: DiscoveryConfig,
    retries: u32,
}

impl Discovery {
    pub fn new(
        client: Arc<Client>,
        scheduler: Arc<Scheduler>,
        store: Arc<Store>,
        config: DiscoveryConfig,
        retries: u32,
    ) -> Self {
        let region = client.region().to_string();
        for i in &config.instances {
            store.add_discovery_source(&region, Some(&i.id));
        }
        Self {
            client,
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
        let region = self.client.region();
        for inst in &self.config.instances {
            match list_instance(&self.client, &inst.id, self.retries).await {
                Ok(jobs) => {
                    let now = unix_now();
                    let added = self.track_current(inst, &jobs, now);
                    tracing::debug!(
                        instance_id = inst.id,
                        listed = jobs.len(),
                        added,
                        "discovery done"
                    );
                    self.store
                        .record_discovery(region, Some(&inst.id), true, now);
                    succeeded.insert(inst.id.as_str());
                    listed.extend(jobs.into_iter().map(|j| (j.id, j)));
                }
                Err(e) => {
                    tracing::warn!(
                        instance_id = inst.id,
                        kind = e.kind().as_str(),
                        api_code = e.api_code().unwrap_or(""),
                        error = %e,
                        "discovery failed; jobs already tracked stay tracked"
                    );
                    self.store
                        .record_discovery(region, Some(&inst.id), false, unix_now());
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
            let (terminal, start, end) = match (&e.data, listed.get(&e.key.id)) {
                (Some(d), _) => (d.job.status.state().is_terminal(), d.job.start, d.job.end),
                (None, Some(s)) => (s.status.state().is_terminal(), s.start, s.end),
                (None, None) => (true, Some(e.tracked_at as i64), None),
            };
            if !is_current(terminal, start, end, now, self.config.max_age) {
                tracing::info!(
                    job_id = e.key.id,
                    instance_id,
                    "dropping finished job older than max_age"
                );
                self.scheduler.untrack(&e.key);
            }
        }
    }
}
