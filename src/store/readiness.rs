//! Each account's regions' rollback readiness, next to the jobs, rendered and shown from
//! here. A view ([`Store::account`]) puts its account in every key it is given.

use std::sync::Arc;

use super::{Store, changing};
use crate::inventory::RegionKey;
use crate::readiness::RegionReadiness;

impl Store {
    /// Makes a region's readiness known before its first round, so that it shows at once.
    pub fn add_readiness_source(&self, key: &RegionKey) {
        let key = self.own_region(key);
        let mut all = changing(&self.shared.readiness, &self.shared.generation);
        all.entry(key)
            .or_insert_with_key(|k| Arc::new(RegionReadiness::new(k)));
    }

    /// Replaces a region's readiness with the outcome of a round.
    pub fn record_readiness(&self, key: &RegionKey, next: RegionReadiness) {
        let key = self.own_region(key);
        changing(&self.shared.readiness, &self.shared.generation).insert(key, Arc::new(next));
    }

    pub fn readiness(&self, key: &RegionKey) -> Option<Arc<RegionReadiness>> {
        let all = self.shared.readiness.read();
        let all = all.unwrap_or_else(|p| p.into_inner());
        all.get(&self.own_region(key)).cloned()
    }

    /// Forgets this view's regions that `keep` refuses (no longer configured, or readiness
    /// turned off), so that their series go.
    pub fn retain_readiness(&self, keep: impl Fn(&RegionKey) -> bool) {
        let mut all = changing(&self.shared.readiness, &self.shared.generation);
        all.retain(|k, _| !self.sees(&k.account) || keep(k));
    }

    /// Every region's readiness this view sees, by key.
    pub fn readiness_snapshot(&self) -> Vec<Arc<RegionReadiness>> {
        let all = self.shared.readiness.read();
        let all = all.unwrap_or_else(|p| p.into_inner());
        let mine = all.iter().filter(|(k, _)| self.sees(&k.account));
        mine.map(|(_, r)| Arc::clone(r)).collect()
    }
}
