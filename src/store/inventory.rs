//! Each account's regions' instance inventories, next to the jobs: readers (the landing
//! page, the readiness of rollback ranges, the tracking filter) look names and instances
//! up here. A view ([`Store::account`]) puts its account in every key it is given.

use std::sync::Arc;

use super::{Store, changing};
use crate::inventory::{Inventory, InventoryStatus, RegionKey};

impl Store {
    fn inventory_entry<R>(&self, key: &RegionKey, f: impl FnOnce(&mut InventoryStatus) -> R) -> R {
        let mut all = changing(&self.shared.inventories, &self.shared.generation);
        f(all.entry(self.own_region(key)).or_default())
    }

    /// Makes a region's inventory known before its first refresh, so that it shows at
    /// once; `filtered` when `instances.filter` narrows it.
    pub fn add_inventory_source(&self, key: &RegionKey, filtered: bool) {
        self.inventory_entry(key, |s| s.filtered = filtered);
    }

    /// A refresh that worked: its inventory replaces the last one.
    pub fn record_inventory(&self, key: &RegionKey, inventory: Inventory) {
        self.inventory_entry(key, |s| {
            s.success = Some(true);
            s.last_success = Some(inventory.taken_at);
            s.inventory = Some(Arc::new(inventory));
        });
    }

    /// A refresh that failed: the last inventory stays.
    pub fn record_inventory_failure(&self, key: &RegionKey) {
        self.inventory_entry(key, |s| s.success = Some(false));
    }

    /// Forgets the inventories of this view that `keep` refuses (a region no longer
    /// configured, or the inventory turned off), so that their series go.
    pub fn retain_inventories(&self, keep: impl Fn(&RegionKey) -> bool) {
        let mut all = changing(&self.shared.inventories, &self.shared.generation);
        all.retain(|k, _| !self.sees(&k.account) || keep(k));
    }

    /// Every inventory this view sees and its refresh status, by key.
    pub fn inventory_snapshot(&self) -> Vec<(RegionKey, InventoryStatus)> {
        let all = self.shared.inventories.read();
        let all = all.unwrap_or_else(|p| p.into_inner());
        let mine = all.iter().filter(|(k, _)| self.sees(&k.account));
        mine.map(|(k, s)| (k.clone(), s.clone())).collect()
    }

    pub fn inventory_status(&self, key: &RegionKey) -> Option<InventoryStatus> {
        let all = self.shared.inventories.read();
        let all = all.unwrap_or_else(|p| p.into_inner());
        all.get(&self.own_region(key)).cloned()
    }

    /// The last good inventory (after `instances.filter`), if any.
    pub fn inventory(&self, key: &RegionKey) -> Option<Arc<Inventory>> {
        self.inventory_status(key)?.inventory
    }

    /// The name of an instance of an account's region's inventory, if it has one: the same
    /// id in two accounts is two instances.
    pub fn instance_name(&self, key: &RegionKey, instance_id: &str) -> Option<String> {
        self.inventory(key)?.name(instance_id).map(str::to_string)
    }
}
