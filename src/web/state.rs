//! What the routes and pages share: the store, the served exposition, and readiness.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use crate::inventory::text::place;
use crate::metrics::Metrics;
use crate::render::cache::ExpositionCache;
use crate::store::{JobKey, Store};

pub struct AppState {
    pub store: Arc<Store>,
    pub metrics: Arc<Metrics>,
    pub telemetry_path: String,
    /// What the landing page says of the API: version, endpoint, regions, credentials; asked
    /// at each visit, as a reload may change it.
    pub api: Arc<dyn Fn() -> String + Send + Sync>,
    /// Ready once each of these has been polled once.
    pub configured_jobs: Vec<JobKey>,
    pub exposition: Arc<ExpositionCache>,
    /// Set once ready; readiness never goes back, as the first polls stay done.
    pub ready: AtomicBool,
}

impl AppState {
    /// Every configured job polled once and every instance or region listed once, well or
    /// not, in the metrics being served. A configured job no longer there was removed by a
    /// reload.
    pub fn is_ready(&self) -> bool {
        self.not_ready().is_none()
    }

    /// Why the exporter is not ready yet, or `None` when it is.
    pub fn not_ready(&self) -> Option<String> {
        let served = self.exposition.latest();
        let polled = |key: &JobKey| match served.entries.binary_search_by(|e| e.key.cmp(key)) {
            Ok(i) => served.entries[i].health.is_some(),
            Err(_) => true,
        };
        if !self.configured_jobs.iter().all(polled)
            || !served.discovery.iter().all(|d| d.success.is_some())
        {
            return Some("the first polls are still running".into());
        }
        // With a filter nothing is tracked before the first inventory has worked.
        let waiting: Vec<String> = served
            .inventories
            .iter()
            .filter(|(_, s)| s.filtered && s.last_success.is_none())
            .map(|(k, _)| place(&k.account, &k.region))
            .collect();
        if !waiting.is_empty() {
            return Some(format!(
                "instances.filter is set and the instance inventory of {} has not been listed \
                 yet (DescribeDBInstances): no rollback job is tracked there until it is",
                waiting.join(", ")
            ));
        }
        let listing = served.inventories.iter().any(|(_, s)| s.success.is_none());
        listing.then(|| "the first instance inventory is still being listed".into())
    }
}
