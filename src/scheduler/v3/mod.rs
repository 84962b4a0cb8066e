//! v3 polling: each region's rollback jobs come from `DescribeTasks` listings, 100 jobs a
//! request, and each instance's part of a job from `DescribeRollbackTaskDetail`.
//!
//! Per region, every `poll.interval`: one listing of the jobs not finished (whatever
//! their age), and, every `min(discovery.interval, poll.finished_interval)`, one of the
//! jobs started within `discovery.max_age`, finished or not. A tracked job missing from
//! both (it finished between two listings) is looked up by its `AsyncRequestId`. Task
//! details run in their own loop at background priority, so that when the budget is
//! short they fall behind while job-level state stays fresh.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use tracing::Instrument as _;

use crate::api::v3::{Client, PAGE_LIMIT, TaskQuery};
use crate::api::{ApiError, Priority};
use crate::config::{Config, DiscoveryConfig, InventoryConfig, Labels, PollConfig};
use crate::rollback::Job;
use crate::scheduler::{interval, is_current, jitter, with_backoff};
use crate::store::{Entry, JobKey, PollError, Source, Store};
use crate::time::unix_now;
use rounds::{next_round, recent_due};

/// `TaskStatus` numbers of jobs not finished: undefined, initial, running, paused.
/// `WAITING` has no number; such a job is found by the recent listing and the lookup.
const ACTIVE: [i64; 4] = [-1, 0, 1, 6];
/// A bound on pages per listing, so that a runaway `TotalCount` cannot loop forever.
const MAX_PAGES: u64 = 100;
mod details;
mod inventory;
pub mod policy;
pub mod readiness;
mod rounds;

use self::details::{DetailMark, kept_marks};
pub use self::inventory::watched;
use self::readiness::{Readiness, fetch_with, inventory_ids};

pub struct Poller {
    client: Arc<Client>,
    store: Arc<Store>,
    poll: PollConfig,
    discovery: DiscoveryConfig,
    instances: InventoryConfig,
    regions: Vec<String>,
    /// Pages the latest inventory of each region took.
    inventory_pages: Mutex<HashMap<String, u64>>,
    /// `jobs:` entries: labels for a job id wherever it is found.
    job_labels: HashMap<u64, Labels>,
    /// Pages the latest listings of each region took: (not finished, recent).
    pages: Mutex<HashMap<String, (u64, u64)>>,
    details: Mutex<HashMap<JobKey, DetailMark>>,
    /// `None` when `readiness.enabled` is false.
    readiness: Option<Arc<Readiness>>,
    loops: Mutex<Vec<JoinHandle<()>>>,
}

impl Poller {
    pub fn start(client: Arc<Client>, store: Arc<Store>, config: &Config) -> Arc<Self> {
        let readiness = config.readiness.enabled.then(|| {
            Arc::new(Readiness::new(
                fetch_with(Arc::clone(&client)),
                inventory_ids(Arc::clone(&store)),
                Arc::clone(&store),
                config.readiness.interval,
                config.poll.retries,
            ))
        });
        let this = Arc::new(Self {
            details: Mutex::new(kept_marks(&store)),
            readiness,
            client,
            store,
            poll: config.poll.clone(),
            discovery: config.discovery.clone(),
            instances: config.instances.clone(),
            regions: config.client.regions.clone(),
            inventory_pages: Mutex::new(HashMap::new()),
            job_labels: config
                .jobs
                .iter()
                .map(|j| (j.id, j.labels.clone()))
                .collect(),
            pages: Mutex::new(HashMap::new()),
            loops: Mutex::new(Vec::new()),
        });
        let mut loops = Vec::new();
        for region in &config.client.regions {
            this.store.add_discovery_source(region, None);
            let (a, b) = (Arc::clone(&this), Arc::clone(&this));
            let (r1, r2) = (region.clone(), region.clone());
            // In the caller's span: an account's, with `accounts:`, so its logs name it.
            let listing = async move { a.listing_loop(r1).await }.in_current_span();
            loops.push(tokio::spawn(listing));
            let detail = async move { b.detail_loop(r2).await }.in_current_span();
            loops.push(tokio::spawn(detail));
            if let Some(r) = &this.readiness {
                let key = this.store.region_key(region);
                loops.push(tokio::spawn(Arc::clone(r).run(key).in_current_span()));
            }
            if this.instances.enabled {
                let key = this.store.region_key(region);
                this.store.add_inventory_source(&key, this.filtered());
                let (c, r3) = (Arc::clone(&this), region.clone());
                let inventory = async move { c.inventory_loop(r3).await }.in_current_span();
                loops.push(tokio::spawn(inventory));
            }
        }
        *lock(&this.loops) = loops;
        this
    }

    pub fn stop(&self) {
        for h in lock(&self.loops).drain(..) {
            h.abort();
        }
    }

    /// How often the listing of recent jobs (finished ones included) runs.
    fn recent_interval(&self) -> Duration {
        self.discovery.interval.min(self.poll.finished_interval)
    }

    /// Requests per second the intervals ask for: listings, and each job's instances.
    pub fn demand(&self) -> f64 {
        let per = |d: Duration| 1.0 / d.as_secs_f64().max(0.001);
        let listings: f64 = lock(&self.pages)
            .values()
            .map(|(active, recent)| {
                *active.max(&1) as f64 * per(self.poll.interval)
                    + *recent.max(&1) as f64 * per(self.recent_interval())
            })
            .sum();
        let details: f64 = self
            .store
            .snapshot()
            .iter()
            .filter_map(|e| {
                e.data
                    .as_ref()
                    .map(|d| (e.is_terminal(), d.job.instances.len()))
            })
            .map(|(terminal, n)| n as f64 * per(interval(&self.poll, terminal)))
            .sum();
        let readiness: f64 = self.readiness.as_ref().map_or(0.0, |r| {
            let regions = self.store.readiness_snapshot();
            regions.iter().map(|g| r.demand(&g.key)).sum()
        });
        listings + details + self.inventory_demand() + readiness
    }

    async fn listing_loop(self: Arc<Self>, region: String) {
        self.first_inventory(&region).await;
        let mut last_recent: Option<Instant> = None;
        loop {
            let started = Instant::now();
            let due = recent_due(
                last_recent,
                started,
                self.recent_interval(),
                self.poll.interval,
            );
            if self.refresh(&region, due).await {
                last_recent = Some(started);
            }
            tokio::time::sleep_until(next_round(started, self.poll.interval).into()).await;
        }
    }

    /// One round of listings for a region; true when the recent listing ran and worked.
    async fn refresh(&self, region: &str, recent_due: bool) -> bool {
        let Some(mut seen) = self.refresh_active(region).await else {
            return false;
        };
        // Jobs that left the listing of running jobs have most often just finished: the
        // recent listing finds them all in a few pages, cheaper than a lookup each.
        let recent_due = recent_due || !self.missing(region, &seen).is_empty();
        let recent_ok = recent_due && self.refresh_recent(region, &mut seen).await;
        for e in self.missing(region, &seen) {
            self.look_up(region, &e).await;
        }
        recent_ok
    }

    /// The listing of jobs not finished; the ids it saw, or `None` when it failed.
    async fn refresh_active(&self, region: &str) -> Option<HashSet<u64>> {
        let active = TaskQuery {
            statuses: ACTIVE.to_vec(),
            ..TaskQuery::default()
        };
        let mut seen = HashSet::new();
        match self
            .listing(region, &active, "not finished", &mut seen)
            .await
        {
            Ok(pages) => {
                lock(&self.pages).entry(region.to_string()).or_default().0 = pages;
                Some(seen)
            }
            Err(error) => {
                self.mark_stale(region, &error, &seen, |e| !e.is_terminal());
                None
            }
        }
    }

    /// The listing of jobs started within `max_age`; adds the ids it saw to `seen`.
    async fn refresh_recent(&self, region: &str, seen: &mut HashSet<u64>) -> bool {
        let since = unix_now() - self.discovery.max_age.as_secs_f64();
        let recent = TaskQuery {
            start_begin: Some(since.floor() as i64),
            ..TaskQuery::default()
        };
        match self.listing(region, &recent, "recent", seen).await {
            Ok(pages) => {
                lock(&self.pages).entry(region.to_string()).or_default().1 = pages;
                self.drop_old(region);
                true
            }
            Err(error) => {
                self.mark_stale(region, &error, seen, Entry::is_terminal);
                false
            }
        }
    }

    /// Every page of one listing, each applied as it arrives (a later page failing takes
    /// nothing back), and the ids shown added to `seen`; recorded as the region's
    /// discovery outcome. The pages used, when all arrived.
    async fn listing(
        &self,
        region: &str,
        query: &TaskQuery,
        what: &'static str,
        seen: &mut HashSet<u64>,
    ) -> Result<u64, PollError> {
        let result = self
            .list_all(region, query, Priority::Normal, |jobs, at| {
                seen.extend(jobs.iter().map(|j| j.id));
                self.absorb(region, jobs, at);
            })
            .await;
        match result {
            Ok(pages) => {
                tracing::debug!(region, listing = what, jobs = seen.len(), pages, "listed");
                self.store.record_discovery(region, None, true, unix_now());
                Ok(pages)
            }
            Err(e) => {
                log_error(
                    &e,
                    region,
                    "listing rollback jobs failed; keeping the last good values",
                );
                self.store.record_discovery(region, None, false, unix_now());
                Err(PollError::of(&e))
            }
        }
    }

    /// Pages through DescribeTasks until `TotalCount`, handing each page's jobs to `page`
    /// with the time it arrived; returns the pages used.
    async fn list_all(
        &self,
        region: &str,
        base: &TaskQuery,
        priority: Priority,
        mut page: impl FnMut(Vec<Job>, f64),
    ) -> Result<u64, ApiError> {
        let mut query = base.clone();
        let cap = (self.poll.interval / 2).max(Duration::from_secs(1));
        for n in 1..=MAX_PAGES {
            let p = with_backoff(self.poll.retries, cap, || {
                self.client.describe_tasks(region, &query, priority)
            })
            .await?;
            page(p.jobs, unix_now());
            query.offset += p.rows;
            if p.rows == 0 || p.rows < PAGE_LIMIT || query.offset >= p.total {
                return Ok(n);
            }
        }
        tracing::warn!(
            region,
            pages = MAX_PAGES,
            "stopped paging: too many rollback jobs"
        );
        Ok(MAX_PAGES)
    }

    /// Tracks the jobs worth tracking and records every row of a tracked job, as of `now`
    /// (when its page arrived).
    fn absorb(&self, region: &str, jobs: Vec<Job>, now: f64) {
        let inventory = self.store.inventory(&self.store.region_key(region));
        let filtered = self.filtered();
        for job in jobs {
            let key = JobKey::new(region, job.id);
            if self.store.get(&key).is_none() {
                if !watched(filtered, inventory.as_deref(), &job) {
                    continue;
                }
                let Some((source, labels)) = self.wanted(&job, now) else {
                    continue;
                };
                self.store.track(key.clone(), source, labels);
            }
            self.store.record_row(&key, job, now);
        }
    }

    /// Whether to track a job seen in a listing, and with which source and labels.
    fn wanted(&self, job: &Job, now: f64) -> Option<(Source, Labels)> {
        let terminal = job.status.state().is_terminal();
        if !is_current(terminal, job.start, job.end, now, self.discovery.max_age) {
            return None;
        }
        listed_as(job, &self.discovery, &self.job_labels)
    }

    /// Drops the region's finished jobs that started longer than `max_age` ago.
    fn drop_old(&self, region: &str) {
        let now = unix_now();
        for e in self.store.snapshot() {
            let Some(d) = e.data.as_ref().filter(|_| e.key.region == region) else {
                continue;
            };
            let job = &d.job;
            if !is_current(
                e.is_terminal(),
                job.start,
                job.end,
                now,
                self.discovery.max_age,
            ) {
                tracing::info!(
                    job_id = e.key.id,
                    region,
                    "dropping finished job older than max_age"
                );
                self.store.untrack(&e.key);
                lock(&self.details).remove(&e.key);
            }
        }
    }

    /// A failed listing: the region's jobs it would have refreshed, and no page did, keep
    /// their values, marked as failing.
    fn mark_stale(
        &self,
        region: &str,
        error: &PollError,
        seen: &HashSet<u64>,
        which: impl Fn(&Entry) -> bool,
    ) {
        let now = unix_now();
        for e in self.store.snapshot() {
            if e.key.region == region && !seen.contains(&e.key.id) && which(&e) {
                self.store.record_failure(&e.key, error.clone(), now);
            }
        }
    }

    /// Tracked jobs not finished that no listing showed this round.
    fn missing(&self, region: &str, seen: &HashSet<u64>) -> Vec<Arc<Entry>> {
        self.store
            .snapshot()
            .into_iter()
            .filter(|e| e.key.region == region && !seen.contains(&e.key.id))
            .filter(|e| e.data.is_some() && !e.is_terminal())
            .collect()
    }

    /// Asks for one job by its AsyncRequestId (else by instance and start time); a job the
    /// API no longer lists is dropped (and counted as vanished).
    async fn look_up(&self, region: &str, e: &Entry) {
        let Some(d) = e.data.as_ref() else { return };
        let job = &d.job;
        let query = if job.async_request_id.is_empty() {
            TaskQuery {
                instance_id: job.instances.first().map(|i| i.instance_id.clone()),
                start_begin: job.start,
                ..TaskQuery::default()
            }
        } else {
            TaskQuery {
                async_request_id: Some(job.async_request_id.clone()),
                ..TaskQuery::default()
            }
        };
        let mut found = None;
        let result = self
            .list_all(region, &query, Priority::Normal, |jobs, at| {
                if let Some(job) = jobs.into_iter().find(|j| j.id == e.key.id) {
                    found = Some((job, at));
                }
            })
            .await;
        match (result, found) {
            // A page that showed the job counts, whatever came after it.
            (_, Some((job, at))) => self.store.record_row(&e.key, job, at),
            (Ok(_), None) => {
                tracing::info!(
                    job_id = e.key.id,
                    region,
                    "the API no longer lists this job; dropping it"
                );
                self.store.vanish(&e.key);
                lock(&self.details).remove(&e.key);
            }
            (Err(err), None) => {
                log_error(
                    &err,
                    region,
                    "looking up a job that left the listing failed",
                );
                self.store
                    .record_failure(&e.key, PollError::of(&err), unix_now());
            }
        }
    }
}

/// The source and labels of a listed job under `discovery.instances` and `jobs:`; `None`
/// when the instances narrow tracking and the job touches none of them.
pub fn listed_as(
    job: &Job,
    discovery: &DiscoveryConfig,
    job_labels: &HashMap<u64, Labels>,
) -> Option<(Source, Labels)> {
    let mut labels = BTreeMap::new();
    let mut matched = false;
    for inst in &discovery.instances {
        if job.instances.iter().any(|i| i.instance_id == inst.id) {
            matched = true;
            for (k, v) in inst.labels.0.iter() {
                labels.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
    }
    if !discovery.instances.is_empty() && !matched {
        return None;
    }
    if let Some(own) = job_labels.get(&job.id) {
        labels.extend(own.0.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    let instance_id = match job.instances.as_slice() {
        [one] => Some(one.instance_id.clone()),
        _ => None,
    };
    Some((Source::Listed { instance_id }, Labels(Arc::new(labels))))
}

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

pub(super) fn log_error(e: &ApiError, region: &str, what: &str) {
    tracing::warn!(
        region,
        kind = e.kind().as_str(),
        api_code = e.api_code().unwrap_or(""),
        request_id = e.request_id().unwrap_or(""),
        error = %e,
        "{what}"
    );
}
