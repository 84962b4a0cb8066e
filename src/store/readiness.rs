//! Each region's rollback readiness, next to the jobs, rendered and shown from here.

use std::sync::Arc;

use super::{Store, changing};
use crate::readiness::{ReadinessKey, RegionReadiness};

impl Store {
    /// Makes a region's readiness known before its first round, so that it shows at once.
    pub fn add_readiness_source(&self, key: &ReadinessKey) {
        let mut all = changing(&self.readiness, &self.generation);
        all.entry(key.clone())
            .or_insert_with(|| Arc::new(RegionReadiness::new(key)));
    }

    /// Replaces a region's readiness with the outcome of a round.
    pub fn record_readiness(&self, key: &ReadinessKey, next: RegionReadiness) {
        changing(&self.readiness, &self.generation).insert(key.clone(), Arc::new(next));
    }

    pub fn readiness(&self, key: &ReadinessKey) -> Option<Arc<RegionReadiness>> {
        let all = self.readiness.read().unwrap_or_else(|p| p.into_inner());
        all.get(key).cloned()
    }

    /// Forgets the regions `keep` refuses (no longer configured, or readiness turned
    /// off), so that their series go.
    pub fn retain_readiness(&self, keep: impl Fn(&ReadinessKey) -> bool) {
        changing(&self.readiness, &self.generation).retain(|k, _| keep(k));
    }

    /// Every region's readiness, by key.
    pub fn readiness_snapshot(&self) -> Vec<Arc<RegionReadiness>> {
        let all = self.readiness.read().unwrap_or_else(|p| p.into_inner());
        all.values().cloned().collect()
    }
}
