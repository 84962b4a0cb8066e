//! Each region's instance inventory, next to the jobs: readers (the landing page, the
//! readiness of rollback ranges, the tracking filter) look names and instances up here.

use std::sync::Arc;

use super::{Store, changing};
use crate::inventory::{Inventory, InventoryKey, InventoryStatus};

impl Store {
    fn inventory_entry<R>(
        &self,
        key: &InventoryKey,
        f: impl FnOnce(&mut InventoryStatus) -> R,
    ) -> R {
        let mut all = changing(&self.inventories, &self.generation);
        f(all.entry(key.clone()).or_default())
    }

    /// Makes a region's inventory known before its first refresh, so that it shows at
    /// once; `filtered` when `instances.filter` narrows it.
    pub fn add_inventory_source(&self, key: &InventoryKey, filtered: bool) {
        self.inventory_entry(key, |s| s.filtered = filtered);
    }

    /// A refresh that worked: its inventory replaces the last one.
    pub fn record_inventory(&self, key: &InventoryKey, inventory: Inventory) {
        self.inventory_entry(key, |s| {
            s.success = Some(true);
            s.last_success = Some(inventory.taken_at);
            s.inventory = Some(Arc::new(inventory));
        });
    }

    /// A refresh that failed: the last inventory stays.
    pub fn record_inventory_failure(&self, key: &InventoryKey) {
        self.inventory_entry(key, |s| s.success = Some(false));
    }

    /// Forgets the inventories `keep` refuses (a region no longer configured, or the
    /// inventory turned off), so that their series go.
    pub fn retain_inventories(&self, keep: impl Fn(&InventoryKey) -> bool) {
        changing(&self.inventories, &self.generation).retain(|k, _| keep(k));
    }

    /// Every region's inventory and refresh status, by key.
    pub fn inventory_snapshot(&self) -> Vec<(InventoryKey, InventoryStatus)> {
        self.inventories
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(k, s)| (k.clone(), s.clone()))
            .collect()
    }

    pub fn inventory_status(&self, region: &str) -> Option<InventoryStatus> {
        let all = self.inventories.read().unwrap_or_else(|p| p.into_inner());
        all.get(&InventoryKey::new(region)).cloned()
    }

    /// The region's last good inventory (after `instances.filter`), if any.
    pub fn inventory(&self, region: &str) -> Option<Arc<Inventory>> {
        self.inventory_status(region)?.inventory
    }

    /// The name of an instance of the region's inventory, if it has one.
    pub fn instance_name(&self, region: &str, instance_id: &str) -> Option<String> {
        self.inventory(region)?
            .name(instance_id)
            .map(str::to_string)
    }
}
