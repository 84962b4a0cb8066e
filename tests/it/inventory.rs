//! The instance inventory on API 3.0: DescribeDBInstances paged by `Offset`, names and
//! exported tags on `cdb_rollback_instance_info`, a failed refresh keeping the last
//! inventory, and a tag filter narrowing which jobs are tracked.

use std::time::Duration;

use crate::support::clock::now;
use crate::support::exposition::Exposition;
use crate::support::fake_v3::{FakeJob, FakeV3, api_error, instance};
use crate::support::{Daemon, config};

const GZ: &str = "ap-guangzhou";
const ACTION: &str = "DescribeDBInstances";

fn yaml(endpoint: &str, instances: &str) -> String {
    format!(
        "api:\n  endpoint: {endpoint}\n  region: {GZ}\n  max_requests_per_second: 500\n  timeout: 2s\n\
         poll:\n  interval: 300ms\n  finished_interval: 1s\n  retries: 0\ninstances:\n  interval: 1s\n\
         {instances}"
    )
}

/// Five instances (two prod, a DR among them), a job on a prod instance, one on a dev
/// instance, and a batch over both whose dev part failed.
fn world(api: &FakeV3) {
    api.with(|s| {
        s.instances.insert(
            GZ.into(),
            vec![
                instance(
                    "cdb-prod1",
                    "orders-prod-primary",
                    1,
                    &[("env", "prod"), ("team", "orders"), ("负责人", "王芳")],
                ),
                instance(
                    "cdb-dev1",
                    "orders-dev",
                    1,
                    &[("env", "dev"), ("team", "orders")],
                ),
                instance("cdb-prod2", "orders-prod-dr", 2, &[("env", "prod")]),
                instance("cdb-stg1", "orders-staging", 1, &[("env", "staging")]),
                instance("cdb-prod3", "orders-prod-ro", 3, &[("env", "Prod")]),
            ],
        );
    });
    let t = now();
    api.add(GZ, FakeJob::new(1, "RUNNING", t - 60, "cdb-prod1"));
    api.add(GZ, FakeJob::new(2, "RUNNING", t - 60, "cdb-dev1"));
    let mut batch = FakeJob::new(3, "FAILED", t - 120, "cdb-prod1");
    batch.task_type = "BATCH ROLLBACK";
    batch.instances = vec!["cdb-prod1", "cdb-dev1"];
    batch.parts.insert("cdb-prod1", ("SUCCESS", 100, ""));
    batch.parts.insert("cdb-dev1", ("FAILED", 60, "binlog gap"));
    api.add(GZ, batch);
}

fn offsets(api: &FakeV3) -> Vec<(u64, u64)> {
    api.log()
        .iter()
        .filter(|l| l.action == ACTION)
        .map(|l| {
            (
                l.body["Offset"].as_u64().unwrap(),
                l.body["Limit"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_and_tags_of_every_instance_paged_by_offset() {
    let api = FakeV3::start().await;
    world(&api);
    let mut c = config(&yaml(
        &api.endpoint,
        "  exported_tags:\n    team: team\n    负责人: owner\n",
    ));
    c.instances.page_limit = 2;
    let daemon = Daemon::start(c).await;
    let m = daemon
        .scrape_until(Duration::from_secs(10), "the inventory and the jobs", |m| {
            m.value("cdb_rollback_inventory_instances", &[("region", GZ)]) == Some(5.0)
                && m.value("cdb_rollback_tracked_jobs", &[]) == Some(3.0)
        })
        .await;
    assert_eq!(
        offsets(&api)[..3],
        [(0, 2), (2, 2), (4, 2)],
        "pages by Offset to TotalCount"
    );
    instance_labels(&m);
    assert_eq!(
        m.value("cdb_rollback_inventory_success", &[("region", GZ)]),
        Some(1.0)
    );
    assert!(
        m.value(
            "cdb_rollback_inventory_last_success_time_seconds",
            &[("region", GZ)]
        ) > Some(now() as f64 - 60.0)
    );
    let landing = daemon.get("/").await.text().await.unwrap();
    assert!(
        landing.contains(
            "listed, on orders-prod-primary (cdb-prod1; env=prod, team=orders, 负责人=王芳)"
        ) && landing
            .contains("Instance inventory (DescribeDBInstances): ap-guangzhou: 5 instances"),
        "{landing}"
    );
    let ok = [("action", ACTION), ("region", GZ), ("result", "success")];
    assert!(m.value("cdb_rollback_api_requests_total", &ok) >= Some(3.0));

    renamed_and_gone(&api, &daemon).await;
    daemon.stop().await;
}

/// cdb-prod1's name, zone, type, version, project and exported tags; a DR's type, and an
/// empty label for a tag it lacks.
fn instance_labels(m: &Exposition) {
    let info = m.find(
        "cdb_rollback_instance_info",
        &[("instance_id", "cdb-prod1")],
    );
    assert_eq!(info.len(), 1);
    let l = &info[0].labels;
    for (k, v) in [
        ("region", GZ),
        ("instance_name", "orders-prod-primary"),
        ("zone", "ap-guangzhou-3"),
        ("instance_type", "master"),
        ("engine_version", "8.0"),
        ("project_id", "0"),
        ("team", "orders"),
        ("owner", "王芳"),
    ] {
        assert_eq!(l.get(k).map(String::as_str), Some(v), "{k}: {l:?}");
    }
    let dr = m.find(
        "cdb_rollback_instance_info",
        &[("instance_id", "cdb-prod2")],
    );
    assert_eq!(
        dr[0].labels.get("instance_type").map(String::as_str),
        Some("dr")
    );
    assert_eq!(
        dr[0].labels.get("owner").map(String::as_str),
        Some(""),
        "no tag: empty"
    );
}

/// A renamed instance is renamed at the next refresh; one gone leaves the metrics.
async fn renamed_and_gone(api: &FakeV3, daemon: &Daemon) {
    api.with(|s| {
        let list = s.instances.get_mut(GZ).unwrap();
        list[0]["InstanceName"] = "orders-prod-main".into();
        list.remove(3);
    });
    let m = daemon
        .scrape_until(Duration::from_secs(10), "the renamed instance", |m| {
            !m.find(
                "cdb_rollback_instance_info",
                &[("instance_name", "orders-prod-main")],
            )
            .is_empty()
        })
        .await;
    assert!(
        m.find(
            "cdb_rollback_instance_info",
            &[("instance_name", "orders-prod-primary")]
        )
        .is_empty()
    );
    assert!(
        m.find("cdb_rollback_instance_info", &[("instance_id", "cdb-stg1")])
            .is_empty()
    );
    assert_eq!(
        m.value("cdb_rollback_inventory_instances", &[("region", GZ)]),
        Some(4.0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filter_tracks_jobs_on_its_instances_and_waits_for_the_first_inventory() {
    let api = FakeV3::start().await;
    world(&api);
    api.with(|s| {
        s.action_faults
            .insert(ACTION.into(), api_error("UnauthorizedOperation"))
    });
    let filter = "  exported_tags: [team]\n  filter:\n    tags: {env: [prod, staging]}\n    instance_types: [master, dr]\n";
    let daemon = Daemon::start(config(&yaml(&api.endpoint, filter))).await;
    let m = daemon
        .scrape_until(Duration::from_secs(10), "a failed inventory", |m| {
            m.value("cdb_rollback_inventory_success", &[("region", GZ)]) == Some(0.0)
                && m.value("cdb_rollback_discovery_success", &[("region", GZ)]) == Some(1.0)
        })
        .await;
    nothing_before_an_inventory(&m, &daemon).await;

    api.with(|s| s.action_faults.clear());
    let m = daemon
        .scrape_until(
            Duration::from_secs(10),
            "jobs on the filtered instances",
            |m| {
                m.value("cdb_rollback_tracked_jobs", &[]) == Some(2.0)
                    && m.value(
                        "cdb_rollback_task_state",
                        &[
                            ("job_id", "3"),
                            ("instance_id", "cdb-dev1"),
                            ("state", "failed"),
                        ],
                    ) == Some(1.0)
            },
        )
        .await;
    daemon.wait_ready(Duration::from_secs(5)).await;
    only_the_filtered_instances(&m);

    a_failed_refresh_keeps_the_last(&api, &daemon).await;
    a_retagged_instance_takes_its_jobs(&api, &daemon).await;
    daemon.stop().await;
}

/// Before the first inventory, a filter tracks nothing, and /-/ready says why.
async fn nothing_before_an_inventory(m: &Exposition, daemon: &Daemon) {
    assert_eq!(
        m.value("cdb_rollback_tracked_jobs", &[]),
        Some(0.0),
        "none before an inventory"
    );
    assert!(m.find("cdb_rollback_instance_info", &[]).is_empty());
    let ready = daemon.get("/-/ready").await;
    assert_eq!(ready.status(), 503);
    let why = ready.text().await.unwrap();
    assert!(
        why.contains("instances.filter") && why.contains(GZ),
        "{why}"
    );
}

/// `Prod` (the filter is case-sensitive) and the ro instance are out; the dev job too.
fn only_the_filtered_instances(m: &Exposition) {
    let ids: Vec<&str> = m
        .find("cdb_rollback_instance_info", &[])
        .iter()
        .map(|s| s.labels["instance_id"].as_str())
        .collect();
    assert_eq!(
        ids,
        ["cdb-prod1", "cdb-prod2", "cdb-stg1"],
        "`Prod` and ro are out"
    );
    assert!(
        m.find("cdb_rollback_job_state", &[("job_id", "2")])
            .is_empty(),
        "dev only"
    );
    assert!(
        m.value("cdb_rollback_job_status", &[("job_id", "1")])
            .is_some()
    );
}

/// A failed refresh keeps the last inventory, and the jobs.
async fn a_failed_refresh_keeps_the_last(api: &FakeV3, daemon: &Daemon) {
    api.with(|s| {
        s.action_faults
            .insert(ACTION.into(), api_error("InternalError"))
    });
    let m = daemon
        .scrape_until(Duration::from_secs(10), "a failed refresh", |m| {
            m.value("cdb_rollback_inventory_success", &[("region", GZ)]) == Some(0.0)
        })
        .await;
    assert_eq!(m.find("cdb_rollback_instance_info", &[]).len(), 3);
    assert_eq!(
        m.value("cdb_rollback_inventory_instances", &[("region", GZ)]),
        Some(3.0)
    );
    assert_eq!(m.value("cdb_rollback_tracked_jobs", &[]), Some(2.0));
}

/// An instance that leaves the filter takes its jobs along at the next good refresh.
async fn a_retagged_instance_takes_its_jobs(api: &FakeV3, daemon: &Daemon) {
    api.with(|s| {
        s.action_faults.clear();
        s.instances.get_mut(GZ).unwrap()[0]["TagList"] =
            serde_json::json!([{"TagKey": "env", "TagValue": "dev"}]);
    });
    let m = daemon
        .scrape_until(
            Duration::from_secs(10),
            "the jobs of the retagged instance dropped",
            |m| m.value("cdb_rollback_tracked_jobs", &[]) == Some(0.0),
        )
        .await;
    assert_eq!(m.find("cdb_rollback_instance_info", &[]).len(), 2);
}
