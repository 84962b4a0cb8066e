//! The inventory in words, for the landing page: an instance by name, id and tags, and
//! each region's inventory status. Plain text; the page escapes it.

use super::{Inventory, InventoryStatus, RegionKey};
use crate::rollback::Job;
use crate::store::Source;
use crate::time::format_utc;

/// `orders-prod-primary (cdb-c1nl9rpv; team=orders, env=prod)`, or the id alone when the
/// inventory does not hold the instance.
pub fn instance(inventory: Option<&Inventory>, id: &str) -> String {
    let Some(i) = inventory.and_then(|inv| inv.get(id)) else {
        return id.to_string();
    };
    let tags: Vec<String> = i.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let tags = tags.join(", ");
    match (i.name.is_empty(), tags.is_empty()) {
        (true, true) => id.to_string(),
        (true, false) => format!("{id} ({tags})"),
        (false, true) => format!("{} ({id})", i.name),
        (false, false) => format!("{} ({id}; {tags})", i.name),
    }
}

/// How a job came to be tracked, its instances named: `listed, on orders-prod (cdb-1; …)`.
pub fn source(source: &Source, job: Option<&Job>, inventory: Option<&Inventory>) -> String {
    let named = |id: &str| instance(inventory, id);
    match (source, job) {
        (Source::Discovered { instance_id }, _) => format!("discovered on {}", named(instance_id)),
        (
            Source::Listed {
                instance_id: Some(i),
            },
            _,
        ) => format!("listed, on {}", named(i)),
        (Source::Listed { instance_id: None }, Some(j)) if !j.instances.is_empty() => {
            let on: Vec<String> = j.instances.iter().map(|i| named(&i.instance_id)).collect();
            format!("listed, on {}", on.join(" · "))
        }
        _ => source.to_string(),
    }
}

/// A region, and its account with `accounts:`: `ap-guangzhou (account prod)`.
pub fn place(account: &str, region: &str) -> String {
    match account {
        "" => region.to_string(),
        account => format!("{region} (account {account})"),
    }
}

/// One line per region: how many instances, when listed, whether the last refresh worked.
pub fn status(key: &RegionKey, s: &InventoryStatus) -> String {
    let region = place(&key.account, &key.region);
    let what = match &s.inventory {
        Some(inv) if s.filtered => {
            format!(
                "{} of {} instances match instances.filter",
                inv.records.len(),
                inv.listed
            )
        }
        Some(inv) => format!("{} instances", inv.records.len()),
        None => "not listed yet".to_string(),
    };
    let when = s
        .last_success
        .map(|t| format!(", listed {}", format_utc(t as i64)))
        .unwrap_or_default();
    let last = match s.success {
        Some(false) if s.inventory.is_some() => {
            "; the latest refresh failed, showing the last good one"
        }
        Some(false) => "; listing failed (see the log)",
        _ => "",
    };
    format!("{region}: {what}{when}{last}")
}

#[cfg(test)]
mod tests {
    use super::super::{Instance, Inventory, Record};
    use super::*;

    #[test]
    fn names_ids_and_tags() {
        let rec = |id: &str, name: &str, tags: &[(&str, &str)]| Record {
            instance: Instance {
                id: id.into(),
                name: name.into(),
                tags: tags
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                ..Instance::default()
            },
            info_labels: String::new(),
        };
        let inv = Inventory {
            records: vec![
                rec("cdb-1", "orders", &[("team", "a"), ("env", "prod")]),
                rec("cdb-2", "", &[("team", "b")]),
                rec("cdb-3", "plain", &[]),
                rec("cdb-4", "", &[]),
            ],
            listed: 9,
            taken_at: 0.0,
        };
        assert_eq!(
            instance(Some(&inv), "cdb-1"),
            "orders (cdb-1; team=a, env=prod)"
        );
        assert_eq!(instance(Some(&inv), "cdb-2"), "cdb-2 (team=b)");
        assert_eq!(instance(Some(&inv), "cdb-3"), "plain (cdb-3)");
        assert_eq!(instance(Some(&inv), "cdb-4"), "cdb-4");
        assert_eq!(instance(Some(&inv), "cdb-9"), "cdb-9");
        assert_eq!(instance(None, "cdb-1"), "cdb-1");
        let key = RegionKey::new("ap-guangzhou");
        let s = InventoryStatus {
            inventory: Some(std::sync::Arc::new(inv)),
            success: Some(false),
            last_success: Some(0.0),
            filtered: true,
        };
        assert_eq!(
            status(&key, &s),
            "ap-guangzhou: 4 of 9 instances match instances.filter, listed 1970-01-01T00:00:00Z; \
             the latest refresh failed, showing the last good one"
        );
    }
}
