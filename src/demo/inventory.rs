//! The simulated `DescribeDBInstances`: the demo region's instances with names, types and
//! tags (a Chinese key among them), paged by `Offset` and `Limit` as the API pages them.
//! The first three are the instances the rollback story happens on.

use serde_json::{Value, json};

use super::story::{Answer, REGION};

pub struct DemoDb {
    pub id: &'static str,
    pub name: &'static str,
    pub zone: &'static str,
    /// 1 master, 2 disaster recovery, 3 read-only.
    pub kind: i64,
    pub engine: &'static str,
    pub project: i64,
    /// 0 creating (listed without tags, as the API lists it), 1 running.
    pub status: i64,
    pub tags: &'static [(&'static str, &'static str)],
}

const fn db(
    id: &'static str,
    name: &'static str,
    zone: &'static str,
    kind: i64,
    tags: &'static [(&'static str, &'static str)],
) -> DemoDb {
    DemoDb {
        id,
        name,
        zone,
        kind,
        engine: "8.0",
        project: 0,
        status: 1,
        tags,
    }
}

/// The owner's tag key, in Chinese as many accounts write it.
pub const OWNER: &str = "负责人";

pub const FLEET: [DemoDb; 7] = [
    db(
        "cdb-demo0001",
        "orders-prod-primary",
        "ap-guangzhou-3",
        1,
        &[
            ("team", "orders"),
            ("env", "prod"),
            ("cost-center", "cc-1001"),
            (OWNER, "王芳"),
        ],
    ),
    db(
        "cdb-demo0002",
        "payments-prod-primary",
        "ap-guangzhou-4",
        1,
        &[
            ("team", "payments"),
            ("env", "prod"),
            ("cost-center", "cc-2002"),
            (OWNER, "李雷"),
        ],
    ),
    DemoDb {
        engine: "5.7",
        ..db(
            "cdb-demo0003",
            "analytics-staging",
            "ap-guangzhou-3",
            1,
            &[
                ("team", "data"),
                ("env", "staging"),
                ("cost-center", "cc-3003"),
            ],
        )
    },
    db(
        "cdb-demo0004",
        "orders-prod-dr",
        "ap-guangzhou-6",
        2,
        &[
            ("team", "orders"),
            ("env", "prod"),
            ("cost-center", "cc-1001"),
        ],
    ),
    db(
        "cdb-demo0005",
        "orders-prod-ro",
        "ap-guangzhou-3",
        3,
        &[
            ("team", "orders"),
            ("env", "prod"),
            ("cost-center", "cc-1001"),
        ],
    ),
    DemoDb {
        project: 1001,
        ..db(
            "cdb-demo0006",
            "reports-dev",
            "ap-guangzhou-4",
            1,
            &[("team", "data"), ("env", "dev")],
        )
    },
    DemoDb {
        status: 0,
        ..db("cdb-demo0007", "scratch-new", "ap-guangzhou-4", 1, &[])
    },
];

fn item(d: &DemoDb) -> Value {
    let tags: Vec<Value> = d
        .tags
        .iter()
        .map(|(k, v)| json!({"TagKey": k, "TagValue": v}))
        .collect();
    json!({
        "InstanceId": d.id, "InstanceName": d.name, "Region": REGION,
        "Zone": d.zone, "ZoneId": 100_003, "InstanceType": d.kind, "EngineVersion": d.engine,
        "ProjectId": d.project, "Status": d.status, "TaskStatus": 0, "Vport": 3306,
        "TagList": if tags.is_empty() { Value::Null } else { Value::Array(tags) },
    })
}

/// One page of the region's instances; `Limit` defaults to 20 and goes up to 2000.
pub fn describe_db_instances(params: &Value, in_region: bool) -> Answer {
    let offset = params["Offset"].as_u64().unwrap_or(0) as usize;
    let limit = params["Limit"].as_u64().unwrap_or(20) as usize;
    if limit == 0 || limit > 2000 {
        return Err((
            "InvalidParameterValue",
            format!("Limit {limit} is not from 1 to 2000"),
        ));
    }
    let fleet: &[DemoDb] = if in_region { &FLEET } else { &[] };
    let items: Vec<Value> = fleet.iter().skip(offset).take(limit).map(item).collect();
    Ok(json!({"TotalCount": fleet.len(), "Items": items}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::v3::instances::instances_page;
    use crate::inventory::InstanceType;

    #[test]
    fn pages_when_the_limit_is_small_and_decodes() {
        let mut all = Vec::new();
        let mut pages = 0;
        while all.len() < FLEET.len() {
            let v = describe_db_instances(&json!({"Offset": all.len(), "Limit": 3}), true).unwrap();
            let p = instances_page(json!({"Response": v}).to_string().as_bytes()).unwrap();
            assert_eq!(p.total as usize, FLEET.len());
            assert!(p.rows <= 3);
            all.extend(p.instances);
            pages += 1;
        }
        assert_eq!(pages, 3);
        let types: Vec<_> = all.iter().filter_map(|i| i.instance_type).collect();
        assert!(types.contains(&InstanceType::Dr) && types.contains(&InstanceType::Ro));
        assert_eq!(all[0].tag(OWNER), Some("王芳"));
        assert!(
            all[6].tags.is_empty(),
            "an instance being created has no tags"
        );
        let other = describe_db_instances(&json!({"Limit": 2000}), false).unwrap();
        assert_eq!(other["TotalCount"], 0);
        assert!(describe_db_instances(&json!({"Limit": 2001}), true).is_err());
    }

    #[test]
    fn the_story_instances_come_first() {
        for (i, inst) in super::super::INSTANCES.iter().enumerate() {
            assert_eq!(FLEET[i].id, inst.id);
        }
    }
}
