//! What a new configuration keeps of the store: each version's poller says which jobs
//! and discovery sources it still wants, and with what labels.

use std::collections::HashMap;

use super::poller::Version;
use crate::api::ApiVersion;
use crate::config::{Config, Labels};
use crate::store::Store;

/// Drops the jobs and discovery sources `policy` does not want under `config` and
/// relabels the others, in place. Returns (kept, dropped).
pub(super) fn reconcile(policy: &dyn Version, store: &Store, config: &Config) -> (usize, usize) {
    let jobs: HashMap<u64, Labels> = config
        .jobs
        .iter()
        .map(|j| (j.id, j.labels.clone()))
        .collect();
    let (mut kept, mut dropped) = (0, 0);
    for e in store.snapshot() {
        let wanted = config
            .client
            .regions
            .contains(&e.key.region)
            .then(|| policy.wanted(&e, config, &jobs))
            .flatten();
        match wanted {
            Some((source, labels)) => {
                store.relabel(&e.key, source, labels);
                kept += 1;
            }
            None => {
                store.untrack(&e.key);
                dropped += 1;
            }
        }
    }
    store.retain_discovery(|d| {
        config.client.regions.contains(&d.region)
            && policy.keeps_discovery(d.instance_id.as_deref(), config)
    });
    // The inventory is API 3.0's, and only where it is on.
    let inventory = config.instances.enabled && config.client.version == ApiVersion::V3;
    store.retain_inventories(|k| inventory && config.client.regions.contains(&k.region));
    // Readiness likewise.
    let readiness = config.readiness.enabled && config.client.version == ApiVersion::V3;
    store.retain_readiness(|k| readiness && config.client.regions.contains(&k.region));
    (kept, dropped)
}
