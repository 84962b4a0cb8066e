//! The latest snapshot of every tracked job, and of every discovery source.
//!
//! Entries are immutable and replaced whole, so a scrape clones a list of `Arc`s under a
//! short read lock and renders without holding it. Label sets are rendered into text once,
//! when a job is tracked or polled, not at every scrape.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock, RwLockWriteGuard};

use self::labels::{job_data, job_labels};
use crate::api::ErrorKind;
use crate::config::Labels;
use crate::inventory::{InventoryStatus, RegionKey};
use crate::readiness::RegionReadiness;
use crate::rollback::{Job, State, Task, duration};

mod trail;
pub use trail::{Outcomes, Trail};

/// A job is known by its account, region and id: ids are not promised unique across
/// regions, nor across accounts. `account` is empty without `accounts:`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JobKey {
    pub account: String,
    pub region: String,
    pub id: u64,
}

impl JobKey {
    pub fn new(region: impl Into<String>, id: u64) -> Self {
        Self::in_account("", region, id)
    }

    /// The inventory the job's instances are named from: its account's, in its region.
    pub fn inventory(&self) -> RegionKey {
        RegionKey::in_account(&self.account, &self.region)
    }

    pub fn in_account(account: impl Into<String>, region: impl Into<String>, id: u64) -> Self {
        Self {
            account: account.into(),
            region: region.into(),
            id,
        }
    }
}

/// How a job came to be tracked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// Listed under `jobs:`, and polled by its id.
    Configured,
    /// Found by listing one instance's jobs.
    Discovered { instance_id: String },
    /// Found by listing a region's jobs; `instance_id` when it touches one instance.
    Listed { instance_id: Option<String> },
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Configured => f.write_str("configured"),
            Source::Discovered { instance_id } => write!(f, "discovered on {instance_id}"),
            Source::Listed {
                instance_id: Some(i),
            } => write!(f, "listed, on {i}"),
            Source::Listed { instance_id: None } => f.write_str("listed"),
        }
    }
}

impl Source {
    /// The discovery source that found the job, as [`DiscoveryStatus`] names it: an
    /// instance, or `None` for the region's listing. `None` for a configured job.
    pub fn discovery(&self) -> Option<Option<&str>> {
        match self {
            Source::Configured => None,
            Source::Discovered { instance_id } => Some(Some(instance_id)),
            Source::Listed { .. } => Some(None),
        }
    }

    pub fn instance_id(&self) -> Option<&str> {
        match self {
            Source::Configured | Source::Listed { instance_id: None } => None,
            Source::Discovered { instance_id }
            | Source::Listed {
                instance_id: Some(instance_id),
            } => Some(instance_id),
        }
    }
}

/// The outcome of the latest poll of a job.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PollHealth {
    pub last_poll: f64,
    pub last_success: Option<f64>,
    /// `None` when the latest poll of the job succeeded.
    pub last_error: Option<PollError>,
    /// v3: `None` when the latest task detail of each instance succeeded.
    pub detail_error: Option<PollError>,
}

impl PollHealth {
    pub fn ok(&self) -> bool {
        self.last_error.is_none() && self.detail_error.is_none()
    }

    /// The error to show: the job's own first, else its tasks'.
    pub fn error(&self) -> Option<&PollError> {
        self.last_error.as_ref().or(self.detail_error.as_ref())
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct PollError {
    pub kind: ErrorKind,
    pub api_code: Option<String>,
}

impl PollError {
    pub fn of(e: &crate::api::ApiError) -> Self {
        Self {
            kind: e.kind(),
            api_code: e.api_code().map(str::to_string),
        }
    }
}

/// A job's last good answer, with each task's label set already rendered.
#[derive(Debug)]
pub struct JobData {
    pub job: Job,
    /// `job_id`, `region`, (`task_id`,) `instance_id` plus the configured labels, per task.
    pub task_labels: Vec<String>,
    /// The `work_id`, `instance_name`, `strategy`, `operator` labels of each task's info series.
    pub task_info_labels: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct Entry {
    pub key: JobKey,
    pub source: Source,
    pub labels: Arc<Labels>,
    /// `job_id`, `region`, `instance_id` (when the job has one) and the configured labels.
    pub job_labels: Arc<str>,
    /// Unix time the job started being tracked.
    pub tracked_at: f64,
    pub data: Option<Arc<JobData>>,
    pub health: Option<PollHealth>,
    /// What the exporter has seen of the job's progress and state over time.
    pub trail: Trail,
}

impl Entry {
    pub fn state(&self) -> Option<State> {
        self.data.as_ref().map(|d| d.job.status.state())
    }

    pub fn is_terminal(&self) -> bool {
        self.state().is_some_and(State::is_terminal)
    }
}

/// Status of discovery for one source: a v2 instance, or a v3 region.
#[derive(Clone, Debug, PartialEq)]
pub struct DiscoveryStatus {
    /// Empty without `accounts:`.
    pub account: String,
    pub region: String,
    pub instance_id: Option<String>,
    pub success: Option<bool>,
    pub last_success: Option<f64>,
}

type DiscoveryKey = (String, String, Option<String>);

#[derive(Default)]
struct Shared {
    jobs: RwLock<BTreeMap<JobKey, Arc<Entry>>>,
    discovery: RwLock<BTreeMap<DiscoveryKey, DiscoveryStatus>>,
    readiness: RwLock<BTreeMap<RegionKey, Arc<RegionReadiness>>>,
    inventories: RwLock<BTreeMap<RegionKey, InventoryStatus>>,
    /// Bumped after every change, so the exposition is rendered again only when needed.
    generation: tokio::sync::watch::Sender<u64>,
    outcomes: Option<Arc<dyn Outcomes>>,
}

/// The jobs and discovery sources of every account, or (a view from [`Store::account`])
/// of one: a view sees and changes only its account's, and puts its account in every key
/// it is given, so that a poller need not know which account it polls for.
#[derive(Default)]
pub struct Store {
    shared: Arc<Shared>,
    account: Option<Arc<str>>,
}

/// A write guard that bumps the store's generation once the write is done, so a render
/// woken by the bump sees the change.
struct Changing<'a, T> {
    guard: Option<RwLockWriteGuard<'a, T>>,
    generation: &'a tokio::sync::watch::Sender<u64>,
}

impl<T> std::ops::Deref for Changing<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.guard
            .as_deref()
            .unwrap_or_else(|| unreachable!("the guard lives until drop"))
    }
}

impl<T> std::ops::DerefMut for Changing<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.guard
            .as_deref_mut()
            .unwrap_or_else(|| unreachable!("the guard lives until drop"))
    }
}

impl<T> Drop for Changing<'_, T> {
    fn drop(&mut self) {
        self.guard.take();
        self.generation.send_modify(|g| *g += 1);
    }
}

fn changing<'a, T>(
    lock: &'a RwLock<T>,
    generation: &'a tokio::sync::watch::Sender<u64>,
) -> Changing<'a, T> {
    Changing {
        guard: Some(lock.write().unwrap_or_else(|p| p.into_inner())),
        generation,
    }
}

impl Store {
    pub fn new() -> Self {
        Self::default()
    }

    /// A store that reports the ends of jobs to `outcomes`.
    pub fn with_outcomes(outcomes: Arc<dyn Outcomes>) -> Self {
        let shared = Shared {
            outcomes: Some(outcomes),
            ..Shared::default()
        };
        Self {
            shared: Arc::new(shared),
            account: None,
        }
    }

    /// The view of one account's jobs, discovery sources, inventories and readiness.
    pub fn account(&self, name: &str) -> Arc<Store> {
        Arc::new(Store {
            shared: Arc::clone(&self.shared),
            account: Some(name.into()),
        })
    }

    /// `key` in this view's account.
    fn key<'k>(&self, key: &'k JobKey) -> Cow<'k, JobKey> {
        match &self.account {
            Some(a) if key.account != **a => Cow::Owned(JobKey {
                account: a.to_string(),
                ..key.clone()
            }),
            _ => Cow::Borrowed(key),
        }
    }

    /// Whether this view sees `account`'s jobs.
    fn sees(&self, account: &str) -> bool {
        self.account.as_deref().is_none_or(|a| a == account)
    }

    /// The account a key given to this view belongs to: the view's, or (the whole store)
    /// the key's own.
    fn account_of<'a>(&'a self, given: &'a str) -> &'a str {
        self.account.as_deref().unwrap_or(given)
    }

    /// The key of this view's `region` (its inventory and its readiness).
    pub fn region_key(&self, region: &str) -> RegionKey {
        RegionKey::in_account(self.account_of(""), region)
    }

    /// `key` in this view's account.
    fn own_region(&self, key: &RegionKey) -> RegionKey {
        RegionKey::in_account(self.account_of(&key.account), &key.region)
    }

    /// The generation now, and a receiver that wakes at each change after it.
    pub fn generation(&self) -> tokio::sync::watch::Receiver<u64> {
        self.shared.generation.subscribe()
    }

    fn write(&self) -> Changing<'_, BTreeMap<JobKey, Arc<Entry>>> {
        changing(&self.shared.jobs, &self.shared.generation)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<JobKey, Arc<Entry>>> {
        self.shared.jobs.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts tracking a job; false if it was tracked already (the first source wins).
    pub fn track(&self, key: JobKey, source: Source, labels: Labels) -> bool {
        let key = self.key(&key).into_owned();
        let mut jobs = self.write();
        if jobs.contains_key(&key) {
            return false;
        }
        let entry = Entry {
            job_labels: job_labels(&key, &source, &labels).into(),
            key: key.clone(),
            source,
            labels: Arc::new(labels),
            tracked_at: crate::time::unix_now(),
            data: None,
            health: None,
            trail: Trail::default(),
        };
        jobs.insert(key, Arc::new(entry));
        true
    }

    pub fn untrack(&self, key: &JobKey) -> Option<Arc<Entry>> {
        self.write().remove(&*self.key(key))
    }

    /// Untracks a job the API no longer lists; counted as vanished if it had not finished.
    pub fn vanish(&self, key: &JobKey) -> Option<Arc<Entry>> {
        let key = &*self.key(key);
        let mut jobs = self.write();
        let gone = jobs.remove(key)?;
        let unfinished = gone.data.is_some() && !gone.is_terminal();
        if let Some(o) = self.shared.outcomes.as_ref().filter(|_| unfinished) {
            o.vanished(&key.account, &key.region);
        }
        Some(gone)
    }

    pub fn get(&self, key: &JobKey) -> Option<Arc<Entry>> {
        self.read().get(&*self.key(key)).cloned()
    }

    /// Every tracked job this view sees, by account, region and id.
    pub fn snapshot(&self) -> Vec<Arc<Entry>> {
        let jobs = self.read();
        let mine = jobs.values().filter(|e| self.sees(&e.key.account));
        mine.cloned().collect()
    }

    /// Forgets every job, discovery source, inventory and readiness this view sees (an
    /// account removed).
    pub fn clear(&self) {
        self.write().retain(|k, _| !self.sees(&k.account));
        self.retain_discovery(|_| false);
        self.retain_inventories(|_| false);
        self.retain_readiness(|_| false);
    }

    /// Replaces a tracked entry with what `f` makes of it, under the lock, so that two
    /// pollers updating parts of one job do not lose each other's update.
    fn update(&self, key: &JobKey, f: impl FnOnce(&Entry) -> Entry) {
        let mut jobs = self.write();
        if let Some(e) = jobs.get_mut(&*self.key(key)) {
            *e = Arc::new(f(e));
        }
    }

    /// Gives a tracked job another source and labels (a reload), re-rendering its label
    /// sets and keeping its data and health; false if it is not tracked.
    pub fn relabel(&self, key: &JobKey, source: Source, labels: Labels) -> bool {
        let key = &*self.key(key);
        let mut jobs = self.write();
        let Some(e) = jobs.get_mut(key) else {
            return false;
        };
        if e.source == source && *e.labels == labels {
            return true;
        }
        let mut next = (**e).clone();
        next.job_labels = job_labels(key, &source, &labels).into();
        next.data = e
            .data
            .as_ref()
            .map(|d| Arc::new(job_data(key, d.job.clone(), &labels)));
        next.source = source;
        next.labels = Arc::new(labels);
        *e = Arc::new(next);
        true
    }

    /// A good answer replaces the job's data.
    pub fn record_success(&self, key: &JobKey, job: Job, now: f64) {
        self.succeeded(key, now, |_| job);
    }

    /// A job-level answer (a listing row) that keeps the tasks already known.
    pub fn record_row(&self, key: &JobKey, mut row: Job, now: f64) {
        self.succeeded(key, now, |e| {
            if let Some(d) = &e.data {
                row.tasks.clone_from(&d.job.tasks);
            }
            row
        });
    }

    /// A good answer: the job `make` builds from the entry becomes its data. The counters
    /// move under the lock, so that the render the change wakes sees them.
    fn succeeded(&self, key: &JobKey, now: f64, make: impl FnOnce(&Entry) -> Job) {
        self.update(key, |e| {
            let job = make(e);
            let mut next = e.clone();
            let state = job.status.state();
            let counted = next.trail.observe(now, job.progress, state);
            if let Some(o) = self.shared.outcomes.as_ref().filter(|_| counted) {
                let seconds = duration(job.start, job.end, state, now.floor() as i64);
                let seconds = seconds.map(|s| s as f64);
                o.finished(&e.key.account, &e.key.region, state, seconds);
            }
            next.data = Some(Arc::new(job_data(&e.key, job, &e.labels)));
            let health = next.health.get_or_insert_with(PollHealth::default);
            health.last_poll = now;
            health.last_success = Some(now);
            health.last_error = None;
            next
        });
    }

    /// One instance's task of a job (v3 detail): replaces that instance's task, keeping
    /// the tasks in the order of the job's instances. `None` removes it.
    pub fn record_task(&self, key: &JobKey, instance_id: &str, task: Option<Task>, now: f64) {
        self.update(key, |e| {
            let mut next = e.clone();
            if let Some(d) = &e.data {
                let mut job = d.job.clone();
                job.tasks.retain(|t| t.instance.instance_id != instance_id);
                job.tasks.extend(task);
                let order = |t: &Task| {
                    job.instances
                        .iter()
                        .position(|i| i.instance_id == t.instance.instance_id)
                };
                let mut tasks = std::mem::take(&mut job.tasks);
                tasks.sort_by_key(|t| order(t));
                job.tasks = tasks;
                next.data = Some(Arc::new(job_data(&e.key, job, &e.labels)));
            }
            let health = next.health.get_or_insert_with(PollHealth::default);
            health.last_poll = now;
            health.detail_error = None;
            next
        });
    }

    /// A failed poll keeps the last good data and says so in the health.
    pub fn record_failure(&self, key: &JobKey, error: PollError, now: f64) {
        self.update(key, |e| {
            let mut next = e.clone();
            let health = next.health.get_or_insert_with(PollHealth::default);
            health.last_poll = now;
            health.last_error = Some(error);
            next
        });
    }

    /// A failed task detail keeps the last good tasks and says so in the health.
    pub fn record_detail_failure(&self, key: &JobKey, error: PollError, now: f64) {
        self.update(key, |e| {
            let mut next = e.clone();
            let health = next.health.get_or_insert_with(PollHealth::default);
            health.last_poll = now;
            health.detail_error = Some(error);
            next
        });
    }
}

mod discovery;
mod inventory;
mod labels;
mod readiness;
#[cfg(test)]
pub(crate) mod tests;
