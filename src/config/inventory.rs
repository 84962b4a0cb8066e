//! The `instances:` section: the instance inventory (API 3.0), the tags it exports as
//! labels, and the filter that narrows which instances, and so which jobs, are watched.

use std::time::Duration;

use serde::Deserialize;
use serde_yaml_ng::Value;

use super::Invalid;
use super::values::{Interval, check_label_name, parsed};
use crate::inventory::{Instance, InstanceType};

/// Labels `cdb_rollback_instance_info` writes itself besides `region`; a tag label may
/// take neither these nor `region`.
pub const INFO_LABELS: &[&str] = &[
    "instance_id",
    "instance_name",
    "zone",
    "instance_type",
    "engine_version",
    "project_id",
];

#[derive(Deserialize, Default)]
#[serde(
    deny_unknown_fields,
    default,
    expecting = "the instances: section, a mapping (enabled, interval, exported_tags, filter)"
)]
pub(super) struct RawInstances {
    pub(super) enabled: Option<bool>,
    #[serde(deserialize_with = "parsed")]
    pub(super) interval: Option<Interval>,
    pub(super) exported_tags: Option<Value>,
    pub(super) filter: Option<RawFilter>,
}

#[derive(Deserialize, Default)]
#[serde(
    deny_unknown_fields,
    default,
    expecting = "instances.filter, a mapping (tags, instance_types)"
)]
pub(super) struct RawFilter {
    pub(super) tags: Option<serde_yaml_ng::Mapping>,
    pub(super) instance_types: Option<Vec<String>>,
}

/// A tag key exported as a label of `cdb_rollback_instance_info`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportedTag {
    pub key: String,
    pub label: String,
}

/// Which instances are watched: every key of `tags` must have one of its values (AND
/// across keys, OR within one), and the type must be listed, when types are.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InventoryFilter {
    pub tags: Vec<(String, Vec<String>)>,
    pub instance_types: Vec<InstanceType>,
}

impl InventoryFilter {
    pub fn is_set(&self) -> bool {
        !self.tags.is_empty() || !self.instance_types.is_empty()
    }

    pub fn matches(&self, i: &Instance) -> bool {
        let tags = self
            .tags
            .iter()
            .all(|(k, values)| i.tag(k).is_some_and(|v| values.iter().any(|w| w == v)));
        let types = self.instance_types.is_empty()
            || i.instance_type
                .is_some_and(|t| self.instance_types.contains(&t));
        tags && types
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InventoryConfig {
    /// On by default with API 3.0; `instances.enabled: false` turns it off.
    pub enabled: bool,
    pub interval: Duration,
    pub exported_tags: Vec<ExportedTag>,
    pub filter: InventoryFilter,
    /// `Limit` of each DescribeDBInstances page: the API's maximum (tests lower it).
    pub page_limit: u64,
}

impl Default for InventoryConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            interval: Duration::from_secs(600),
            exported_tags: Vec::new(),
            filter: InventoryFilter::default(),
            page_limit: crate::api::v3::instances::PAGE_LIMIT,
        }
    }
}

/// The label a listed tag key becomes: `tag_` and the key, with every character outside
/// `[a-zA-Z0-9_]` replaced by `_`.
pub fn tag_label(key: &str) -> String {
    let mut out = String::from("tag_");
    out.extend(
        key.chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }),
    );
    out
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn exported_tag(at: &str, key: String, label: Option<String>) -> Result<ExportedTag, Invalid> {
    if key.is_empty() {
        return Err(Invalid::rule(at, "a tag key must not be empty"));
    }
    let label = match label {
        None if !key.chars().any(|c| c.is_ascii_alphanumeric()) => {
            return Err(Invalid::value(
                at,
                key,
                "has no letter or digit a label name could keep: give it a label name in a map \
                 (exported_tags: {KEY: label_name})",
            ));
        }
        None => tag_label(&key),
        Some(l) => {
            check_label_name(&l).map_err(|e| Invalid::parse(at, e))?;
            if l == "region" || INFO_LABELS.contains(&l.as_str()) {
                return Err(Invalid::value(
                    at,
                    l,
                    "is a label cdb_rollback_instance_info sets itself; choose another",
                ));
            }
            l
        }
    };
    Ok(ExportedTag { key, label })
}

/// `exported_tags`: a list of keys, or a map from key to label name.
fn exported_tags(raw: Value) -> Result<Vec<ExportedTag>, Invalid> {
    const KEY: &str = "instances.exported_tags";
    let mut out: Vec<ExportedTag> = Vec::new();
    let entries: Vec<(String, String, Option<String>)> = match raw {
        Value::Null => Vec::new(),
        Value::Sequence(keys) => keys
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let at = format!("{KEY}[{i}]");
                let key = text(k).ok_or_else(|| Invalid::rule(&at, "a tag key must be text"))?;
                Ok((at, key, None))
            })
            .collect::<Result<_, Invalid>>()?,
        Value::Mapping(map) => map
            .iter()
            .map(|(k, v)| {
                let key = text(k).ok_or_else(|| Invalid::rule(KEY, "a tag key must be text"))?;
                let at = format!("{KEY}.{key}");
                let label = text(v).ok_or_else(|| Invalid::rule(&at, "write a label name"))?;
                Ok((at, key, Some(label)))
            })
            .collect::<Result<_, Invalid>>()?,
        _ => {
            return Err(Invalid::rule(
                KEY,
                "write a list of tag keys, or a map from tag key to label name",
            ));
        }
    };
    for (at, key, label) in entries {
        let tag = exported_tag(&at, key, label)?;
        if let Some(other) = out.iter().find(|t| t.label == tag.label) {
            return Err(Invalid::value(
                at,
                &tag.label,
                format!(
                    "is the label of tag `{}` too; map one of them to another name",
                    other.key
                ),
            ));
        }
        out.push(tag);
    }
    Ok(out)
}

fn filter(raw: RawFilter) -> Result<InventoryFilter, Invalid> {
    let mut f = InventoryFilter::default();
    for (k, v) in raw.tags.unwrap_or_default() {
        let key = text(&k)
            .ok_or_else(|| Invalid::rule("instances.filter.tags", "a tag key must be text"))?;
        let at = format!("instances.filter.tags.{key}");
        let values = match &v {
            Value::Sequence(list) => list.iter().map(text).collect::<Option<Vec<_>>>(),
            one => text(one).map(|t| vec![t]),
        }
        .ok_or_else(|| Invalid::rule(&at, "write one tag value or a list of them"))?;
        if values.is_empty() {
            return Err(Invalid::rule(&at, "list at least one value"));
        }
        f.tags.push((key, values));
    }
    for (i, name) in raw.instance_types.unwrap_or_default().iter().enumerate() {
        let t = InstanceType::from_name(name.trim()).ok_or_else(|| {
            Invalid::value(
                format!("instances.filter.instance_types[{i}]"),
                name,
                "is not an instance type: write master, dr or ro",
            )
        })?;
        f.instance_types.push(t);
    }
    Ok(f)
}

/// Reads `instances:`; `v3` false means API v2, which has no inventory.
pub(super) fn inventory_config(
    raw: Option<RawInstances>,
    v3: bool,
) -> Result<InventoryConfig, Invalid> {
    let mut c = InventoryConfig::default();
    let Some(raw) = raw else {
        c.enabled = v3;
        return Ok(c);
    };
    c.enabled = raw.enabled.unwrap_or(v3);
    if !v3
        && (c.enabled
            || raw.interval.is_some()
            || raw.exported_tags.is_some()
            || raw.filter.is_some())
    {
        return Err(Invalid::rule(
            "instances",
            "the instance inventory needs API 3.0 (api.version: 3); leave `instances:` out on v2",
        ));
    }
    if let Some(interval) = raw.interval {
        c.interval = interval.a_second_or_more("instances.interval")?;
    }
    if let Some(tags) = raw.exported_tags {
        c.exported_tags = exported_tags(tags)?;
    }
    if let Some(f) = raw.filter {
        c.filter = filter(f)?;
    }
    if !c.enabled && (c.filter.is_set() || !c.exported_tags.is_empty()) {
        return Err(Invalid::rule(
            "instances.enabled",
            "is false, but instances.filter or instances.exported_tags need the inventory",
        ));
    }
    Ok(c)
}
