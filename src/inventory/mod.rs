//! The instance inventory (API 3.0 `DescribeDBInstances`): what each CDB instance is
//! called, where it runs and how it is tagged, so that people read names, not ids.
//!
//! A region's inventory is built from every listed instance, narrowed by
//! `instances.filter`, with each instance's `cdb_rollback_instance_info` labels rendered
//! once, when it is built.

use std::fmt;
use std::sync::Arc;

use crate::config::InventoryConfig;
use crate::render::exposition::{push_account, push_label};

/// `InstanceType`: 1 master, 2 disaster recovery, 3 read-only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InstanceType {
    Master,
    Dr,
    Ro,
    Other(i64),
}

impl InstanceType {
    pub fn from_code(n: i64) -> Self {
        match n {
            1 => InstanceType::Master,
            2 => InstanceType::Dr,
            3 => InstanceType::Ro,
            n => InstanceType::Other(n),
        }
    }

    /// The names `instances.filter.instance_types` takes.
    pub fn from_name(s: &str) -> Option<Self> {
        match s {
            "master" => Some(InstanceType::Master),
            "dr" => Some(InstanceType::Dr),
            "ro" => Some(InstanceType::Ro),
            _ => None,
        }
    }
}

impl fmt::Display for InstanceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InstanceType::Master => f.write_str("master"),
            InstanceType::Dr => f.write_str("dr"),
            InstanceType::Ro => f.write_str("ro"),
            InstanceType::Other(n) => write!(f, "{n}"),
        }
    }
}

/// One instance as `DescribeDBInstances` lists it. Tags keep the API's order and spelling.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Instance {
    pub id: String,
    pub name: String,
    pub zone: String,
    pub instance_type: Option<InstanceType>,
    pub engine_version: String,
    pub project_id: Option<i64>,
    pub status: Option<i64>,
    pub tags: Vec<(String, String)>,
}

impl Instance {
    /// The value of one tag, compared exactly as the API writes the key.
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// An inventoried instance with its info labels rendered.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub instance: Instance,
    /// Every label of its `cdb_rollback_instance_info` series, `account` (with
    /// `accounts:`) and `region` first.
    pub info_labels: String,
}

/// A region's instances after `instances.filter`, sorted by id.
#[derive(Clone, Debug, PartialEq)]
pub struct Inventory {
    pub records: Vec<Record>,
    /// Instances the API listed, before the filter.
    pub listed: usize,
    /// Unix time of the refresh that produced it.
    pub taken_at: f64,
}

impl Inventory {
    /// Narrows `listed` by the filter and renders each kept instance's labels.
    pub fn build(
        key: &RegionKey,
        listed: Vec<Instance>,
        config: &InventoryConfig,
        now: f64,
    ) -> Self {
        let total = listed.len();
        let mut records: Vec<Record> = listed
            .into_iter()
            .filter(|i| config.filter.matches(i))
            .map(|instance| Record {
                info_labels: info_labels(key, &instance, config),
                instance,
            })
            .collect();
        records.sort_by(|a, b| a.instance.id.cmp(&b.instance.id));
        records.dedup_by(|a, b| a.instance.id == b.instance.id);
        Inventory {
            records,
            listed: total,
            taken_at: now,
        }
    }

    pub fn get(&self, id: &str) -> Option<&Instance> {
        self.records
            .binary_search_by(|r| r.instance.id.as_str().cmp(id))
            .ok()
            .map(|i| &self.records[i].instance)
    }

    pub fn contains(&self, id: &str) -> bool {
        self.get(id).is_some()
    }

    /// The instance's name, when it is inventoried and has one.
    pub fn name(&self, id: &str) -> Option<&str> {
        self.get(id)
            .map(|i| i.name.as_str())
            .filter(|n| !n.is_empty())
    }

    pub fn instances(&self) -> impl Iterator<Item = &Instance> {
        self.records.iter().map(|r| &r.instance)
    }
}

fn info_labels(key: &RegionKey, i: &Instance, config: &InventoryConfig) -> String {
    let mut l = key.labels();
    push_label(&mut l, "instance_id", &i.id);
    push_label(&mut l, "instance_name", &i.name);
    push_label(&mut l, "zone", &i.zone);
    let kind = i.instance_type.map(|t| t.to_string()).unwrap_or_default();
    push_label(&mut l, "instance_type", &kind);
    push_label(&mut l, "engine_version", &i.engine_version);
    let project = i.project_id.map(|p| p.to_string()).unwrap_or_default();
    push_label(&mut l, "project_id", &project);
    for t in &config.exported_tags {
        push_label(&mut l, &t.label, i.tag(&t.key).unwrap_or(""));
    }
    l
}

/// An account's region: the key of its inventory and of its readiness. `account` is empty
/// without `accounts:`; the same instance id in two accounts is two instances.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RegionKey {
    pub account: String,
    pub region: String,
}

impl RegionKey {
    pub fn new(region: impl Into<String>) -> Self {
        Self::in_account("", region)
    }

    pub fn in_account(account: impl Into<String>, region: impl Into<String>) -> Self {
        Self {
            account: account.into(),
            region: region.into(),
        }
    }

    /// `account` (only with `accounts:`) and `region`, the labels of its series.
    pub fn labels(&self) -> String {
        let mut l = String::new();
        push_account(&mut l, &self.account);
        push_label(&mut l, "region", &self.region);
        l
    }
}

/// A region's inventory and how its refreshes went. A failed refresh keeps the last one.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct InventoryStatus {
    /// The last good inventory; `None` until a refresh has worked.
    pub inventory: Option<Arc<Inventory>>,
    /// Whether the latest refresh worked; `None` before the first has finished.
    pub success: Option<bool>,
    pub last_success: Option<f64>,
    /// `instances.filter` is set: jobs are tracked only once an inventory exists.
    pub filtered: bool,
}

#[cfg(test)]
mod tests;
pub mod text;
