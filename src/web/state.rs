//! What the routes and pages share: the store, the served exposition, and readiness.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

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
        let served = self.exposition.latest();
        let polled = |key: &JobKey| match served.entries.binary_search_by(|e| e.key.cmp(key)) {
            Ok(i) => served.entries[i].health.is_some(),
            Err(_) => true,
        };
        self.configured_jobs.iter().all(polled)
            && served.discovery.iter().all(|d| d.success.is_some())
    }
}
