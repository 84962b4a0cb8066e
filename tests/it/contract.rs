//! Every metric name the shipped alert rules and dashboard use is one the exporter really
//! writes, so that a rename cannot silently break an alert.

use std::collections::BTreeSet;
use std::path::Path;

use cdb_rollback_exporter::api::ApiVersion;
use cdb_rollback_exporter::api::v2::decode::job_detail;
use cdb_rollback_exporter::api::v3::decode::{rollback_detail, tasks_page};
use cdb_rollback_exporter::api::v3::instances::instances_page;
use cdb_rollback_exporter::config::InventoryConfig;
use cdb_rollback_exporter::config::Labels;
use cdb_rollback_exporter::inventory::{Inventory, RegionKey};
use cdb_rollback_exporter::metrics::Metrics;
use cdb_rollback_exporter::readiness::{InstanceReadiness, Range, RegionReadiness, Window};
use cdb_rollback_exporter::render::{Sources, contract, render_to};
use cdb_rollback_exporter::store::{JobKey, Source, Store};
use cdb_rollback_exporter::time::UtcOffset;

use crate::golden::check_file;

const SEED: &str = include_str!("../../test-data/seed-answer.json");

/// Every family the exporter writes, with the histogram's series suffixes.
fn exposed() -> BTreeSet<String> {
    let (store, metrics) = (seeded(), Metrics::new());
    metrics.prepare(ApiVersion::V3.actions(), &["ap-shanghai".to_string()]);
    // Temporary credentials: their expiry and refresh counters show.
    metrics.prepare_credentials("cvm_role");
    cdb_rollback_exporter::credentials::refresh::Recorder::expires(&metrics, "cvm_role", 1);
    let sources = Sources {
        discovery: &store.discovery_snapshot(),
        inventories: &store.inventory_snapshot(),
        readiness: &store.readiness_snapshot(),
    };
    let mut text = Vec::new();
    render_to(&store.snapshot(), &sources, &metrics, 2.0, &mut |c| {
        text.extend(c)
    });
    let text = String::from_utf8(text).unwrap();
    let mut names = BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split(' ');
            let (name, kind) = (parts.next().unwrap(), parts.next().unwrap());
            names.insert(name.to_string());
            if kind == "histogram" || kind == "summary" {
                for suffix in ["_bucket", "_sum", "_count"] {
                    names.insert(format!("{name}{suffix}"));
                }
            }
        }
    }
    names
}

/// A store holding one of everything a family is written from: a v2 job, a v3 job with
/// its task, discoveries, an inventory and a readiness round.
fn seeded() -> Store {
    let store = Store::new();
    let key = JobKey::new("ap-guangzhou", 12782);
    store.track(
        key.clone(),
        Source::Discovered {
            instance_id: "cdb-1".into(),
        },
        Labels::default(),
    );
    store.record_success(
        &key,
        job_detail(SEED.as_bytes(), UtcOffset::CST, 12782).unwrap(),
        1.0,
    );
    store.record_discovery("ap-guangzhou", Some("cdb-1"), true, 1.0);
    // A v3 job with its detail: the families only v3 fills (tables) show too.
    let v3 = JobKey::new("ap-shanghai", 7);
    store.track(
        v3.clone(),
        Source::Listed { instance_id: None },
        Labels::default(),
    );
    let page = r#"{"Response":{"TotalCount":1,"Items":[{"JobId":7,"TaskType":"ROLLBACK","TaskStatus":"RUNNING",
        "Progress":5,"StartTime":"2026-11-28 10:00:00","InstanceIds":["cdb-2"]}],"RequestId":"r"}}"#;
    let row = tasks_page(page.as_bytes(), UtcOffset::CST)
        .unwrap()
        .jobs
        .remove(0);
    store.record_row(&v3, row, 1.0);
    let detail = r#"{"Response":{"TotalCount":1,"Items":[{"Status":"RUNNING","Progress":5,
        "StartTime":"2026-11-28 10:00:00","Detail":[{"InstanceId":"cdb-2","Tables":[{"Database":"d","Table":[{"TableName":"t"}]}]}]}],"RequestId":"r"}}"#;
    let task = rollback_detail(detail.as_bytes(), UtcOffset::CST, "cdb-2")
        .unwrap()
        .task;
    store.record_task(&v3, "cdb-2", task, 1.0);
    store.record_discovery("ap-shanghai", None, true, 1.0);
    // An inventory of one instance (API 3.0).
    let listed = r#"{"Response":{"TotalCount":1,"Items":[{"InstanceId":"cdb-2","InstanceName":"n",
        "InstanceType":1}],"RequestId":"r"}}"#;
    let listed = instances_page(listed.as_bytes()).unwrap().instances;
    let key = RegionKey::new("ap-shanghai");
    let inventory = Inventory::build(&key, listed, &InventoryConfig::default(), 1.0);
    store.record_inventory(&key, inventory);
    // Its rollback readiness: a window, and a round that worked.
    let key = RegionKey::new("ap-shanghai");
    let mut readiness = RegionReadiness::new(&key);
    let mut one = InstanceReadiness::new(&key, "cdb-2", 0, "ok".into());
    one.window = Some(Window::of(&[Range { begin: 0, end: 1 }]).window);
    readiness.instances.insert("cdb-2".into(), one.into());
    (readiness.success, readiness.last_success) = (Some(true), Some(1.0));
    store.record_readiness(&key, readiness);
    store
}

/// `cdb_rollback_*` metric names in a file; recording rules (`cdb_rollback:…`) are not metrics.
fn used_in(path: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let bytes = text.as_bytes();
    let mut found = BTreeSet::new();
    let mut i = 0;
    while let Some(pos) = text[i..].find("cdb_rollback_") {
        let start = i + pos;
        let boundary =
            start == 0 || !(bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
        let end = start
            + text[start..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(text.len() - start);
        if boundary && bytes.get(end) != Some(&b':') {
            found.insert(text[start..end].to_string());
        }
        i = end;
    }
    found
}

fn files(dir: &str, ext: &str) -> Vec<std::path::PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut out: Vec<_> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    out.sort();
    out
}

#[test]
fn rules_and_dashboards_use_only_exposed_metrics() {
    let exposed = exposed();
    assert!(
        exposed.contains("cdb_rollback_job_state")
            && exposed.contains("cdb_rollback_api_request_duration_seconds_bucket")
    );
    let mut checked = Vec::new();
    let mut sources = files("deploy/prometheus/rules", "yml");
    sources.extend(files("deploy/grafana/dashboards", "json"));
    sources
        .push(Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kubernetes/prometheusrule.yaml"));
    // The README's overview and PromQL examples are part of the contract too (docs/, with
    // the generated tables, is checked by docs_name_only_exposed_metrics).
    sources.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"));
    for path in &sources {
        let used = used_in(path);
        assert!(
            !used.is_empty(),
            "{} uses no exporter metric",
            path.display()
        );
        let unknown: Vec<_> = used.difference(&exposed).collect();
        assert!(
            unknown.is_empty(),
            "{} uses metrics the exporter does not expose: {unknown:?}",
            path.display()
        );
        checked.extend(used);
    }
    // The alerts stand on these; losing one from the files is a change worth noticing too.
    for name in [
        "cdb_rollback_job_state",
        "cdb_rollback_task_state",
        "cdb_rollback_job_progress_ratio",
        "cdb_rollback_job_poll_success",
    ] {
        assert!(
            checked.iter().any(|n| n == name),
            "{name} is no longer used by the rules or dashboard"
        );
    }
}

/// `cdb_rollback:…` recording-rule names used in `text`, and those it defines (`record:`).
fn recording_rules(text: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let name_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let (mut used, mut defined) = (BTreeSet::new(), BTreeSet::new());
    for (at, _) in text.match_indices("cdb_rollback:") {
        let rest = &text[at..];
        let name = &rest[..rest.find(|c| !name_char(c)).unwrap_or(rest.len())];
        let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
        match text[line_start..at].trim_start().trim_start_matches("- ") {
            "record: " => defined.insert(name.to_string()),
            _ => used.insert(name.to_string()),
        };
    }
    (used, defined)
}

#[test]
fn dashboards_and_rules_use_only_recording_rules_that_are_defined() {
    let rules = files("deploy/prometheus/rules", "yml");
    let mut defined = BTreeSet::new();
    for path in &rules {
        defined.extend(recording_rules(&std::fs::read_to_string(path).unwrap()).1);
    }
    assert!(defined.contains("cdb_rollback:job_running_too_long_threshold_seconds"));
    let mut sources = rules;
    sources.extend(files("deploy/grafana/dashboards", "json"));
    sources
        .push(Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kubernetes/prometheusrule.yaml"));
    for path in &sources {
        let (used, _) = recording_rules(&std::fs::read_to_string(path).unwrap());
        let unknown: Vec<_> = used.difference(&defined).collect();
        assert!(unknown.is_empty(), "{}: {unknown:?}", path.display());
    }
    let (used, defined) = recording_rules(
        "- record: cdb_rollback:a\n  expr: x\nexpr: cdb_rollback:b > 0 and cdb_rollback:a\n",
    );
    assert_eq!(
        used,
        ["cdb_rollback:a", "cdb_rollback:b"]
            .map(String::from)
            .into()
    );
    assert_eq!(defined, ["cdb_rollback:a".to_string()].into());
}

/// The design notes under `docs/` name metrics too: a renamed family must not leave them
/// naming one the exporter no longer writes.
#[test]
fn docs_name_only_exposed_metrics() {
    let exposed = exposed();
    let docs = files("docs", "md");
    assert!(docs.iter().any(|p| !used_in(p).is_empty()));
    for path in &docs {
        let unknown: Vec<_> = used_in(path).difference(&exposed).cloned().collect();
        assert!(
            unknown.is_empty(),
            "{} names metrics the exporter does not expose: {unknown:?}",
            path.display()
        );
    }
}

#[test]
fn the_scanner_catches_a_renamed_metric() {
    let dir = std::env::temp_dir().join(format!("cdb-contract-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("rules.yml");
    std::fs::write(
        &path,
        "expr: cdb_rollback_job_stat == 1 and cdb_rollback:recorded > 0 # cdb_rollback_job_state\n",
    )
    .unwrap();
    let used = used_in(&path);
    assert_eq!(
        used,
        ["cdb_rollback_job_stat", "cdb_rollback_job_state"]
            .map(String::from)
            .into()
    );
    assert!(!exposed().contains("cdb_rollback_job_stat"));
    let _ = std::fs::remove_dir_all(dir);
}

/// The exposition writes exactly the declared families: a declared family that never
/// renders, or a rendered one without a declaration, fails.
#[test]
fn the_exposition_writes_exactly_the_declared_families() {
    let histogram_parts = ["_bucket", "_sum", "_count"];
    let exposed: BTreeSet<String> = exposed()
        .into_iter()
        .filter(|n| {
            n.starts_with("cdb_rollback_") && !histogram_parts.iter().any(|s| n.ends_with(s))
        })
        .collect();
    let declared: BTreeSet<String> = contract::names().into_iter().map(String::from).collect();
    assert_eq!(declared, exposed);
}

/// `.ci/metrics-contract.txt` (read by the `.ci` checks of a live scrape and of the rules)
/// and the metric tables of docs/metrics.md are what the declarations generate;
/// `UPDATE_GOLDEN=1` rewrites them.
#[test]
fn the_contract_file_and_metric_tables_are_generated() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    check_file(
        &root.join(".ci/metrics-contract.txt"),
        &contract::contract(),
    );
    let path = root.join("docs/metrics.md");
    let page = std::fs::read_to_string(&path).unwrap();
    let generated = contract::splice_tables(&page).expect(
        "docs/metrics.md marks its tables with <!-- metrics:begin … --> and <!-- metrics:end -->",
    );
    check_file(&path, &generated);
}
