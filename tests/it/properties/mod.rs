//! Property tests of the decoders of both API versions and of the config parser: any
//! input decodes or fails with a classified error, the API's other accepted spellings of
//! one answer decode to one model, and decoded values stay within their ranges up to the
//! rendered exposition.
//!
//! Cases per property: proptest's default (256), or `PROPTEST_CASES`.

use std::path::Path;

use cdb_rollback_exporter::api::v2::decode::{job_detail, job_page};
use cdb_rollback_exporter::api::v3::decode::{rollback_detail, tasks_page};
use cdb_rollback_exporter::api::v3::ranges::ranges_page;
use cdb_rollback_exporter::api::{ApiError, ErrorKind};
use cdb_rollback_exporter::config::{Config, Labels};
use cdb_rollback_exporter::metrics::Metrics;
use cdb_rollback_exporter::render::{Sources, render};
use cdb_rollback_exporter::rollback::{Job, State, duration};
use cdb_rollback_exporter::store::{JobKey, Source, Store};
use cdb_rollback_exporter::time::UtcOffset;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

use crate::support::exposition::Exposition;

mod answers;

use self::answers::{
    Style, V3Style, spec, style, time, v2_answer, v2_page, v3_detail, v3_style, v3_tasks,
};

const CST: UtcOffset = UtcOffset::CST;

/// Every decoder on one body; each answer must be a model or a classified error.
fn decode_all(body: &[u8]) {
    let kinds = [
        job_detail(body, CST, 7).err(),
        job_page(body, CST).err(),
        tasks_page(body, CST).err(),
        rollback_detail(body, CST, "cdb-1").err(),
        ranges_page(body, CST).err(),
    ];
    for e in kinds.into_iter().flatten() {
        assert_classified(&e);
    }
    if let Ok(job) = job_detail(body, CST, 7) {
        assert_job_ranges(&job);
    }
    if let Ok(page) = job_page(body, CST) {
        for s in &page.jobs {
            assert_ratio(s.progress);
            assert_ordered(s.start, s.end);
        }
    }
    if let Ok(page) = tasks_page(body, CST) {
        page.jobs.iter().for_each(assert_job_ranges);
    }
    if let Ok(page) = ranges_page(body, CST) {
        assert!(page.items.iter().all(|i| !i.instance_id.is_empty()));
    }
    if let Ok(d) = rollback_detail(body, CST, "cdb-1") {
        if let Some(t) = d.task {
            assert_ratio(t.progress);
            assert_ordered(t.start, t.end);
        }
    }
}

fn assert_classified(e: &ApiError) {
    assert!(ErrorKind::ALL.contains(&e.kind()), "{e:?}");
    assert!(!e.to_string().is_empty());
}

fn assert_ratio(p: Option<f64>) {
    if let Some(p) = p {
        assert!((0.0..=1.0).contains(&p), "progress {p} out of 0–1");
    }
}

fn assert_ordered(start: Option<i64>, end: Option<i64>) {
    if let (Some(s), Some(e)) = (start, end) {
        assert!(e >= s, "end {e} before start {s}");
    }
}

fn assert_job_ranges(job: &Job) {
    assert_ratio(job.progress);
    assert_ordered(job.start, job.end);
    for t in &job.tasks {
        assert_ratio(t.progress);
        assert_ordered(t.start, t.end);
    }
}

/// Any JSON value, a few levels deep, with the names the decoders look for among the keys.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        "[0-9 :.%-]{0,20}".prop_map(Value::String),
        Just(json!("0000-00-00 00:00:00")),
        Just(json!("2026-11-28 10:00:00")),
        Just(json!("SUCCEED")),
        Just(json!("ROLLBACK")),
        ".{0,8}".prop_map(Value::String),
    ];
    let keys = decoder_key();
    leaf.prop_recursive(5, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((keys.clone(), inner), 0..8).prop_map(|kv| {
                let mut m = Map::new();
                for (k, v) in kv {
                    m.insert(k.to_string(), v);
                }
                Value::Object(m)
            }),
        ]
    })
}

/// The names the v2 and v3 decoders look for, and one they do not.
fn decoder_key() -> impl Strategy<Value = &'static str> + Clone {
    prop_oneof![
        Just("code"),
        Just("Code"),
        Just("data"),
        Just("jobInfo"),
        Just("jobId"),
        Just("jobid"),
        Just("taskDetail"),
        Just("taskInfo"),
        Just("detail"),
        Just("dbs"),
        Just("status"),
        Just("progress"),
        Just("startTime"),
        Just("endTime"),
        Just("taskList"),
        Just("taskCount"),
        Just("Response"),
        Just("Error"),
        Just("Items"),
        Just("JobId"),
        Just("TaskType"),
        Just("TaskStatus"),
        Just("Status"),
        Just("Progress"),
        Just("StartTime"),
        Just("EndTime"),
        Just("Detail"),
        Just("Tables"),
        Just("Table"),
        Just("Databases"),
        Just("InstanceId"),
        Just("InstanceIds"),
        Just("TotalCount"),
        Just("RollbackTime"),
        Just("other"),
    ]
}

fn env(name: &str) -> Option<String> {
    match name {
        "TENCENTCLOUD_SECRET_ID" => Some("AKIDprop".into()),
        "TENCENTCLOUD_SECRET_KEY" => Some("prop-key".into()),
        _ => None,
    }
}

/// YAML built from the configuration's own keys, with values right and wrong.
fn config_text() -> impl Strategy<Value = String> {
    let value = prop_oneof![
        Just("30s".to_string()),
        Just("0s".to_string()),
        Just("1h30m".to_string()),
        Just("-5".to_string()),
        Just("5".to_string()),
        Just("1e9".to_string()),
        Just("\"+08:00\"".to_string()),
        Just("HmacSHA256".to_string()),
        Just("http://127.0.0.1:1/".to_string()),
        Just("[]".to_string()),
        Just("{}".to_string()),
        Just("~".to_string()),
        Just("\"2\"".to_string()),
        Just("3".to_string()),
        "[a-z0-9:/._ -]{0,12}",
    ];
    let key = prop_oneof![
        Just("api"),
        Just("version"),
        Just("endpoint"),
        Just("region"),
        Just("regions"),
        Just("timeout"),
        Just("max_requests_per_second"),
        Just("timezone"),
        Just("signature_method"),
        Just("method"),
        Just("poll"),
        Just("interval"),
        Just("finished_interval"),
        Just("concurrency"),
        Just("retries"),
        Just("jobs"),
        Just("id"),
        Just("labels"),
        Just("discovery"),
        Just("instances"),
        Just("max_age"),
        Just("credentials"),
        Just("secret_id"),
        Just("unknown_key"),
    ];
    prop::collection::vec((0usize..3, any::<bool>(), key, value), 0..16).prop_map(|lines| {
        lines
            .into_iter()
            .map(|(depth, item, k, v)| {
                format!(
                    "{}{}{k}: {v}\n",
                    "  ".repeat(depth),
                    if item { "- " } else { "" }
                )
            })
            .collect()
    })
}

fn assert_config_outcome(text: &str) {
    let path = Path::new("/etc/prop/config.yml");
    match Config::parse(text, path, &env) {
        Ok(c) => {
            assert!(c.poll.interval > std::time::Duration::ZERO);
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.contains("/etc/prop/config.yml"), "{msg}");
        }
    }
}

/// The exposition of one job as the exporter writes it.
fn rendered(job: Job) -> Exposition {
    let store = Store::new();
    let key = JobKey::new("ap-guangzhou", job.id);
    store.track(key.clone(), Source::Configured, Labels::default());
    store.record_success(&key, job, 2_000_000_000.0);
    let text = render(
        &store.snapshot(),
        &Sources::default(),
        &Metrics::new(),
        2_000_000_000.0,
    );
    Exposition::parse(&String::from_utf8_lossy(&text))
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..600)) {
        decode_all(&body);
    }

    #[test]
    fn arbitrary_json_never_panics(v in any_json()) {
        decode_all(v.to_string().as_bytes());
        decode_all(json!({"code": 0, "data": v}).to_string().as_bytes());
        decode_all(json!({"Response": v}).to_string().as_bytes());
    }

    #[test]
    fn damaged_answers_are_classified(s in spec(), cut in any::<prop::sample::Index>(), flip in any::<(prop::sample::Index, u8)>()) {
        for body in [v2_answer(&s, &Style::canonical()), v3_tasks(std::slice::from_ref(&s), &V3Style::canonical()), v3_detail(&s, &V3Style::canonical())] {
            let b = body.as_bytes();
            decode_all(&b[..cut.index(b.len())]);
            let mut flipped = b.to_vec();
            let i = flip.0.index(flipped.len());
            flipped[i] = flip.1;
            decode_all(&flipped);
        }
    }

    #[test]
    fn v2_detail_spellings_agree(s in spec(), st in style()) {
        let canonical = job_detail(v2_answer(&s, &Style::canonical()).as_bytes(), CST, s.job_id);
        let other = job_detail(v2_answer(&s, &st).as_bytes(), CST, s.job_id);
        let canonical = canonical.map_err(|e| e.to_string());
        prop_assert!(canonical.is_ok(), "{canonical:?}");
        prop_assert_eq!(canonical, other.map_err(|e| e.to_string()));
    }

    #[test]
    fn v2_page_spellings_agree(specs in prop::collection::vec(spec(), 0..5), st in style()) {
        let canonical = job_page(v2_page(&specs, &Style::canonical()).as_bytes(), CST).map_err(|e| e.to_string());
        prop_assert!(canonical.is_ok(), "{canonical:?}");
        let other = job_page(v2_page(&specs, &st).as_bytes(), CST).map_err(|e| e.to_string());
        prop_assert_eq!(canonical, other);
    }

    #[test]
    fn v3_tasks_spellings_agree(specs in prop::collection::vec(spec(), 0..5), st in v3_style()) {
        let canonical = tasks_page(v3_tasks(&specs, &V3Style::canonical()).as_bytes(), CST).map_err(|e| e.to_string());
        prop_assert!(canonical.is_ok(), "{canonical:?}");
        let other = tasks_page(v3_tasks(&specs, &st).as_bytes(), CST).map_err(|e| e.to_string());
        prop_assert_eq!(canonical, other);
    }

    #[test]
    fn v3_detail_spellings_agree(s in spec(), st in v3_style()) {
        let canonical = rollback_detail(v3_detail(&s, &V3Style::canonical()).as_bytes(), CST, &s.instance).map_err(|e| e.to_string());
        prop_assert!(canonical.is_ok(), "{canonical:?}");
        let other = rollback_detail(v3_detail(&s, &st).as_bytes(), CST, &s.instance).map_err(|e| e.to_string());
        prop_assert_eq!(canonical, other);
    }

    #[test]
    fn durations_are_never_negative(start in time(), end in time(), code in -1i64..8, now in 1_000_000_000i64..4_000_000_000) {
        let state = State::from_code(code);
        if let Some(d) = duration(start, end, state, now) {
            prop_assert!(d >= 0);
        }
    }

    /// Whatever the API says about a job's times, the exposition never shows an end
    /// before the start or a negative duration.
    #[test]
    fn rendered_end_is_never_before_start(s in spec()) {
        let job = job_detail(v2_answer(&s, &Style::canonical()).as_bytes(), CST, s.job_id);
        let job = job.map_err(|e| e.to_string());
        prop_assert!(job.is_ok(), "{job:?}");
        let Ok(job) = job else { unreachable!() };
        let e = rendered(job);
        let id = s.job_id.to_string();
        let labels = [("job_id", id.as_str())];
        let start = e.value("cdb_rollback_job_start_time_seconds", &labels);
        let end = e.value("cdb_rollback_job_end_time_seconds", &labels);
        if let (Some(a), Some(b)) = (start, end) {
            prop_assert!(b >= a, "end {} before start {}", b, a);
        }
        for name in ["cdb_rollback_job_duration_seconds", "cdb_rollback_task_duration_seconds", "cdb_rollback_job_progress_ratio", "cdb_rollback_task_progress_ratio"] {
            for v in e.find(name, &[]) {
                prop_assert!(v.value >= 0.0, "{} = {}", name, v.value);
            }
        }
        for v in e.find("cdb_rollback_job_progress_ratio", &[]).into_iter().chain(e.find("cdb_rollback_task_progress_ratio", &[])) {
            prop_assert!(v.value <= 1.0);
        }
    }

    #[test]
    fn config_text_never_panics(text in ".{0,200}") {
        assert_config_outcome(&text);
    }

    #[test]
    fn config_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        assert_config_outcome(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn config_from_its_own_keys_parses_or_names_the_file(text in config_text()) {
        assert_config_outcome(&text);
    }
}
