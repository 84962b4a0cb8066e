//! The status of each discovery source (an instance's listing, or a region's), per
//! account.

use super::{DiscoveryStatus, Store, changing};

impl Store {
    fn discovery_entry<R>(
        &self,
        region: &str,
        instance_id: Option<&str>,
        f: impl FnOnce(&mut DiscoveryStatus) -> R,
    ) -> R {
        let mut d = changing(&self.shared.discovery, &self.shared.generation);
        let account = self.account.as_deref().unwrap_or_default().to_string();
        let key = (
            account.clone(),
            region.to_string(),
            instance_id.map(str::to_string),
        );
        let s = d.entry(key).or_insert_with(|| DiscoveryStatus {
            account,
            region: region.to_string(),
            instance_id: instance_id.map(str::to_string),
            success: None,
            last_success: None,
        });
        f(s)
    }

    /// The outcome of one listing of an instance (v2) or a region (v3).
    pub fn record_discovery(&self, region: &str, instance_id: Option<&str>, ok: bool, now: f64) {
        self.discovery_entry(region, instance_id, |s| {
            s.success = Some(ok);
            if ok {
                s.last_success = Some(now);
            }
        });
    }

    /// Makes a source known before its first listing, so it shows up at once.
    pub fn add_discovery_source(&self, region: &str, instance_id: Option<&str>) {
        self.discovery_entry(region, instance_id, |_| ());
    }

    /// Forgets the discovery sources `keep` refuses (a region or instance no longer
    /// configured), so that their series go.
    pub fn retain_discovery(&self, keep: impl Fn(&DiscoveryStatus) -> bool) {
        let mut d = changing(&self.shared.discovery, &self.shared.generation);
        d.retain(|_, d| !self.sees(&d.account) || keep(d));
    }

    pub fn discovery_snapshot(&self) -> Vec<DiscoveryStatus> {
        let d = self.shared.discovery.read();
        let d = d.unwrap_or_else(|p| p.into_inner());
        let mine = d.values().filter(|d| self.sees(&d.account));
        mine.cloned().collect()
    }
}
