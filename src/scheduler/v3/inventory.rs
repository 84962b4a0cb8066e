//! The instance inventory on API 3.0: `DescribeDBInstances` per region, at start and every
//! `instances.interval`, at background priority through the same budget as the rest. A
//! failed refresh keeps the last inventory. With `instances.filter`, only jobs touching
//! an inventoried instance are tracked, and none before the region's first inventory.

use std::sync::Arc;
use std::time::Duration;

use super::{MAX_PAGES, Poller, lock, log_error};
use crate::api::retry::with_backoff;
use crate::api::{ApiError, Priority};
use crate::inventory::{Instance, Inventory};
use crate::rollback::Job;
use crate::time::jitter;
use crate::time::unix_now;

/// Whether a job is watched under the filter: it touches an instance of `inventory`.
/// Without a filter every job is; with one and no inventory yet, none.
pub fn watched(filtered: bool, inventory: Option<&Inventory>, job: &Job) -> bool {
    if !filtered {
        return true;
    }
    inventory.is_some_and(|inv| job.instances.iter().any(|i| inv.contains(&i.instance_id)))
}

impl Poller {
    pub(super) fn filtered(&self) -> bool {
        self.instances.enabled && self.instances.filter.is_set()
    }

    pub(super) async fn inventory_loop(self: Arc<Self>, region: String) {
        loop {
            self.refresh_inventory(&region).await;
            tokio::time::sleep(jitter(self.instances.interval, 0.1)).await;
        }
    }

    /// With a filter, the first listing waits for the first inventory refresh to end
    /// (well or not), so that it does not list while nothing can be tracked.
    pub(super) async fn first_inventory(&self, region: &str) {
        if !self.filtered() {
            return;
        }
        let mut changes = self.store.generation();
        while self
            .store
            .inventory_status(&self.store.region_key(region))
            .is_none_or(|s| s.success.is_none())
        {
            if changes.changed().await.is_err() {
                return;
            }
        }
    }

    async fn refresh_inventory(&self, region: &str) {
        let key = self.store.region_key(region);
        match self.list_instances(region).await {
            Ok((instances, pages)) => {
                lock(&self.inventory_pages).insert(region.to_string(), pages);
                let inventory = Inventory::build(&key, instances, &self.instances, unix_now());
                tracing::debug!(
                    region,
                    listed = inventory.listed,
                    kept = inventory.records.len(),
                    pages,
                    "instance inventory refreshed"
                );
                self.store.record_inventory(&key, inventory);
                self.drop_unwatched(region);
            }
            Err(e) => {
                log_error(
                    &e,
                    region,
                    "listing instances (DescribeDBInstances) failed; keeping the last inventory",
                );
                self.store.record_inventory_failure(&key);
            }
        }
    }

    /// Pages through DescribeDBInstances by `Offset` until `TotalCount`.
    async fn list_instances(&self, region: &str) -> Result<(Vec<Instance>, u64), ApiError> {
        let mut all = Vec::new();
        let mut offset = 0;
        let cap = (self.instances.interval / 2).max(Duration::from_secs(1));
        for page in 1..=MAX_PAGES {
            let p = with_backoff(self.poll.retries, cap, || {
                self.client.describe_db_instances(
                    region,
                    offset,
                    self.instances.page_limit,
                    Priority::Background,
                )
            })
            .await?;
            offset += p.rows;
            all.extend(p.instances);
            if p.rows == 0 || offset >= p.total {
                return Ok((all, page));
            }
        }
        tracing::warn!(
            region,
            pages = MAX_PAGES,
            "stopped paging: too many instances"
        );
        Ok((all, MAX_PAGES))
    }

    /// With a filter, stops tracking the region's jobs that touch no inventoried instance
    /// any more (its tags changed, or it is gone).
    fn drop_unwatched(&self, region: &str) {
        if !self.filtered() {
            return;
        }
        let inventory = self.store.inventory(&self.store.region_key(region));
        for e in self.store.snapshot() {
            let Some(d) = e.data.as_ref().filter(|_| e.key.region == region) else {
                continue;
            };
            if !watched(true, inventory.as_deref(), &d.job) {
                tracing::info!(
                    job_id = e.key.id,
                    region,
                    "the job touches no instance instances.filter keeps any more; dropping it"
                );
                self.store.untrack(&e.key);
                lock(&self.details).remove(&e.key);
            }
        }
    }

    /// Requests per second the inventory asks for: its pages every interval.
    pub(super) fn inventory_demand(&self) -> f64 {
        if !self.instances.enabled {
            return 0.0;
        }
        let pages = lock(&self.inventory_pages);
        let total: u64 = self
            .regions
            .iter()
            .map(|r| pages.get(r).copied().unwrap_or(1).max(1))
            .sum();
        total as f64 / self.instances.interval.as_secs_f64().max(0.001)
    }
}
