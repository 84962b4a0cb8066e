use super::*;
use crate::config::{ExportedTag, InventoryFilter};

fn instance(id: &str, name: &str, kind: i64, tags: &[(&str, &str)]) -> Instance {
    Instance {
        id: id.into(),
        name: name.into(),
        zone: "ap-guangzhou-3".into(),
        instance_type: Some(InstanceType::from_code(kind)),
        engine_version: "8.0".into(),
        project_id: Some(0),
        status: Some(1),
        tags: tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

fn fleet() -> Vec<Instance> {
    vec![
        instance(
            "cdb-3",
            "orders-prod-ro",
            3,
            &[("env", "prod"), ("team", "payments")],
        ),
        instance(
            "cdb-1",
            "orders-prod-primary",
            1,
            &[("env", "prod"), ("team", "payments")],
        ),
        instance("cdb-2", "reports-staging", 1, &[("env", "staging")]),
        instance("cdb-4", "orders-prod-dr", 2, &[("env", "prod")]),
        instance("cdb-5", "ledger-Prod", 1, &[("env", "Prod")]),
    ]
}

fn config(tags: &[(&str, &[&str])], types: &[InstanceType]) -> InventoryConfig {
    InventoryConfig {
        exported_tags: vec![
            ExportedTag {
                key: "team".into(),
                label: "tag_team".into(),
            },
            ExportedTag {
                key: "负责人".into(),
                label: "owner".into(),
            },
        ],
        filter: InventoryFilter {
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
                .collect(),
            instance_types: types.to_vec(),
        },
        ..InventoryConfig::default()
    }
}

fn ids(inv: &Inventory) -> Vec<&str> {
    inv.instances().map(|i| i.id.as_str()).collect()
}

#[test]
fn filters_are_and_across_keys_or_within_one_exact_case() {
    let all = Inventory::build(&RegionKey::new("r"), fleet(), &config(&[], &[]), 1.0);
    assert_eq!(ids(&all), ["cdb-1", "cdb-2", "cdb-3", "cdb-4", "cdb-5"]);
    assert_eq!(all.listed, 5);
    let prod = Inventory::build(
        &RegionKey::new("r"),
        fleet(),
        &config(&[("env", &["prod"])], &[]),
        1.0,
    );
    assert_eq!(
        ids(&prod),
        ["cdb-1", "cdb-3", "cdb-4"],
        "`Prod` is not `prod`"
    );
    let either = config(
        &[("env", &["prod", "staging"]), ("team", &["payments"])],
        &[],
    );
    assert_eq!(
        ids(&Inventory::build(
            &RegionKey::new("r"),
            fleet(),
            &either,
            1.0
        )),
        ["cdb-1", "cdb-3"]
    );
    let masters = config(
        &[("env", &["prod"])],
        &[InstanceType::Master, InstanceType::Dr],
    );
    let inv = Inventory::build(&RegionKey::new("r"), fleet(), &masters, 1.0);
    assert_eq!(ids(&inv), ["cdb-1", "cdb-4"]);
    assert_eq!(inv.listed, 5);
    assert_eq!(inv.name("cdb-1"), Some("orders-prod-primary"));
    assert_eq!(inv.name("cdb-2"), None, "filtered out");
}

#[test]
fn info_labels_carry_the_exported_tags_empty_when_missing() {
    let mut list = fleet();
    list[1].tags.push(("负责人".into(), "张三".into()));
    let inv = Inventory::build(
        &RegionKey::new("ap-guangzhou"),
        list,
        &config(&[], &[]),
        1.0,
    );
    assert_eq!(
        inv.records[0].info_labels,
        r#"region="ap-guangzhou",instance_id="cdb-1",instance_name="orders-prod-primary",zone="ap-guangzhou-3",instance_type="master",engine_version="8.0",project_id="0",tag_team="payments",owner="张三""#
    );
    assert!(
        inv.records[3].info_labels.contains(
            r#"instance_type="dr",engine_version="8.0",project_id="0",tag_team="",owner="""#
        ),
        "{}",
        inv.records[3].info_labels
    );
    assert_eq!(InstanceType::from_code(7).to_string(), "7");
}

#[test]
fn jobs_are_watched_when_they_touch_the_filtered_inventory() {
    use crate::rollback::{Instance as On, Job, Status};
    let job = |ids: &[&str]| Job {
        id: 1,
        job_type: 10,
        async_request_id: String::new(),
        status: Status(1),
        progress: None,
        code: None,
        message: String::new(),
        start: None,
        end: None,
        tasks: Vec::new(),
        instances: ids
            .iter()
            .map(|i| On {
                instance_id: i.to_string(),
                ..On::default()
            })
            .collect(),
    };
    let prod = Inventory::build(
        &RegionKey::new("r"),
        fleet(),
        &config(&[("env", &["prod"])], &[]),
        1.0,
    );
    use crate::scheduler::v3::watched;
    assert!(
        watched(false, None, &job(&["cdb-2"])),
        "no filter: every job"
    );
    assert!(
        !watched(true, None, &job(&["cdb-1"])),
        "no inventory yet: none"
    );
    assert!(
        watched(true, Some(&prod), &job(&["cdb-2", "cdb-1"])),
        "a batch touching one"
    );
    assert!(!watched(true, Some(&prod), &job(&["cdb-2", "cdb-5"])));
}
