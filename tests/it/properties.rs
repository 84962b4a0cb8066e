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
use cdb_rollback_exporter::render::render;
use cdb_rollback_exporter::rollback::time::{UtcOffset, format_local};
use cdb_rollback_exporter::rollback::{Job, State, duration};
use cdb_rollback_exporter::store::{JobKey, Source, Store};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

use crate::support::exposition::Exposition;

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
    let keys = prop_oneof![
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
    ];
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

// ---- v2 answers, written from one description in each accepted spelling ----

#[derive(Clone, Debug)]
struct Spec {
    job_id: u64,
    job_type: i64,
    status: i64,
    /// Percent with at most one decimal, so that text and number read the same.
    progress: Option<f64>,
    code: Option<i64>,
    start: Option<i64>,
    end: Option<i64>,
    instance: String,
    tasks: Vec<TaskSpec>,
}

#[derive(Clone, Debug)]
struct TaskSpec {
    id: u64,
    status: i64,
    progress: Option<f64>,
    start: Option<i64>,
    end: Option<i64>,
    rollback_time: Option<i64>,
}

/// How one answer is spelled.
#[derive(Clone, Debug)]
struct Style {
    numbers_as_text: bool,
    lower_case: bool,
    /// `data`, `taskDetail` and `detail` as one object rather than a one-element array.
    objects: bool,
    /// Unset times as `0000-00-00 00:00:00` rather than empty.
    zero_dates: bool,
}

fn time() -> impl Strategy<Value = Option<i64>> {
    // 2001 to 2096, at any second.
    prop::option::of(1_000_000_000i64..4_000_000_000)
}

fn percent() -> impl Strategy<Value = Option<f64>> {
    prop::option::of((0i64..=1100).prop_map(|p| p as f64 / 10.0))
}

fn task_spec() -> impl Strategy<Value = TaskSpec> {
    (1u64..1_000_000, -1i64..8, percent(), time(), time(), time()).prop_map(
        |(id, status, progress, start, end, rollback_time)| TaskSpec {
            id,
            status,
            progress,
            start,
            end,
            rollback_time,
        },
    )
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        (
            1u64..1u64 << 40,
            prop_oneof![Just(1i64), Just(10)],
            -1i64..8,
        ),
        (percent(), prop::option::of(0i64..10_000), time(), time()),
        "cdb-[a-z0-9]{8}",
        prop::collection::vec(task_spec(), 0..4),
    )
        .prop_map(
            |((job_id, job_type, status), (progress, code, start, end), instance, tasks)| Spec {
                job_id,
                job_type,
                status,
                progress,
                code,
                start,
                end,
                instance,
                tasks,
            },
        )
}

fn style() -> impl Strategy<Value = Style> {
    (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(a, b, c, d)| Style {
        numbers_as_text: a,
        lower_case: b,
        objects: c,
        zero_dates: d,
    })
}

impl Style {
    fn canonical() -> Style {
        Style {
            numbers_as_text: false,
            lower_case: false,
            objects: false,
            zero_dates: false,
        }
    }

    fn name(&self, camel: &str) -> String {
        if self.lower_case {
            camel.to_ascii_lowercase()
        } else {
            camel.to_string()
        }
    }

    fn int(&self, n: i64) -> Value {
        if self.numbers_as_text {
            json!(n.to_string())
        } else {
            json!(n)
        }
    }

    fn float(&self, f: f64) -> Value {
        if self.numbers_as_text {
            json!(f.to_string())
        } else {
            json!(f)
        }
    }

    fn time(&self, t: Option<i64>) -> Value {
        match t {
            Some(t) => json!(format_local(t, CST)),
            None if self.zero_dates => json!("0000-00-00 00:00:00"),
            None => json!(""),
        }
    }

    /// One object, or an array of them; a single one may be written bare.
    fn many(&self, items: Vec<Value>) -> Value {
        if self.objects && items.len() == 1 {
            items.into_iter().next().unwrap_or(Value::Null)
        } else {
            Value::Array(items)
        }
    }

    fn put(&self, o: &mut Map<String, Value>, camel: &str, v: Value) {
        o.insert(self.name(camel), v);
    }
}

fn v2_answer(s: &Spec, st: &Style) -> String {
    let mut info = Map::new();
    st.put(&mut info, "jobId", st.int(s.job_id as i64));
    st.put(&mut info, "type", st.int(s.job_type));
    st.put(&mut info, "status", st.int(s.status));
    if let Some(p) = s.progress {
        st.put(&mut info, "progress", st.float(p));
    }
    if let Some(c) = s.code {
        st.put(&mut info, "code", st.int(c));
    }
    st.put(&mut info, "startTime", st.time(s.start));
    st.put(&mut info, "endTime", st.time(s.end));
    let mut detail = Map::new();
    // `cdbInstanceId` has no lower-case spelling; `instanceId` has.
    st.put(&mut detail, "instanceId", json!(s.instance));
    st.put(&mut detail, "strategy", json!("table"));
    info.insert("detail".into(), st.many(vec![Value::Object(detail)]));
    let tasks: Vec<Value> = s
        .tasks
        .iter()
        .map(|t| {
            let mut o = Map::new();
            st.put(&mut o, "taskId", st.int(t.id as i64));
            st.put(&mut o, "status", st.int(t.status));
            if let Some(p) = t.progress {
                st.put(&mut o, "progress", st.float(p));
            }
            st.put(&mut o, "startTime", st.time(t.start));
            st.put(&mut o, "endTime", st.time(t.end));
            let mut ti = Map::new();
            st.put(&mut ti, "instanceId", json!(s.instance));
            st.put(&mut ti, "rollbackTime", st.time(t.rollback_time));
            st.put(&mut o, "taskInfo", Value::Object(ti));
            Value::Object(o)
        })
        .collect();
    let mut data = Map::new();
    st.put(&mut data, "jobInfo", Value::Object(info));
    data.insert("taskDetail".into(), st.many(tasks));
    json!({"code": st.int(0), "message": "", "data": st.many(vec![Value::Object(data)])})
        .to_string()
}

fn v2_page(specs: &[Spec], st: &Style) -> String {
    let rows: Vec<Value> = specs
        .iter()
        .map(|s| {
            let mut o = Map::new();
            st.put(&mut o, "jobId", st.int(s.job_id as i64));
            st.put(&mut o, "type", st.int(s.job_type));
            st.put(&mut o, "status", st.int(s.status));
            if let Some(p) = s.progress {
                st.put(&mut o, "progress", st.float(p));
            }
            st.put(&mut o, "startTime", st.time(s.start));
            st.put(&mut o, "endTime", st.time(s.end));
            Value::Object(o)
        })
        .collect();
    let mut data = Map::new();
    st.put(&mut data, "taskCount", st.int(specs.len() as i64));
    st.put(&mut data, "taskList", Value::Array(rows));
    json!({"code": st.int(0), "data": st.many(vec![Value::Object(data)])}).to_string()
}

// ---- v3 answers ----

#[derive(Clone, Debug)]
struct V3Style {
    numbers_as_text: bool,
    /// `SUCCESS` where the canonical answer says `SUCCEED`, and the reverse.
    other_success: bool,
    /// An empty `Items` as `null` rather than `[]`.
    null_items: bool,
    /// `TaskType` as its number rather than its name.
    type_number: bool,
}

fn v3_style() -> impl Strategy<Value = V3Style> {
    (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(a, b, c, d)| V3Style {
        numbers_as_text: a,
        other_success: b,
        null_items: c,
        type_number: d,
    })
}

const V3_NAMES: [&str; 9] = [
    "UNDEFINED",
    "INITIAL",
    "RUNNING",
    "SUCCEED",
    "FAILED",
    "KILLED",
    "REMOVED",
    "PAUSED",
    "WAITING",
];

impl V3Style {
    fn canonical() -> V3Style {
        V3Style {
            numbers_as_text: false,
            other_success: false,
            null_items: false,
            type_number: false,
        }
    }

    fn int(&self, n: i64) -> Value {
        Style {
            numbers_as_text: self.numbers_as_text,
            ..Style::canonical()
        }
        .int(n)
    }

    fn status(&self, code: i64, success: &str) -> Value {
        let name = V3_NAMES[(code + 1).clamp(0, 8) as usize];
        match (name, self.other_success) {
            ("SUCCEED", false) => json!(success),
            ("SUCCEED", true) => json!(if success == "SUCCEED" {
                "SUCCESS"
            } else {
                "SUCCEED"
            }),
            _ => json!(name),
        }
    }

    fn items(&self, items: Vec<Value>) -> Value {
        if items.is_empty() && self.null_items {
            Value::Null
        } else {
            Value::Array(items)
        }
    }
}

fn v3_tasks(specs: &[Spec], st: &V3Style) -> String {
    let items: Vec<Value> = specs
        .iter()
        .map(|s| {
            let kind = match (s.job_type, st.type_number) {
                (n, true) => st.int(n),
                (1, false) => json!("ROLLBACK"),
                (_, false) => json!("BATCH ROLLBACK"),
            };
            let mut o = json!({
                "JobId": st.int(s.job_id as i64),
                "AsyncRequestId": format!("req-{}", s.job_id),
                "TaskType": kind,
                "TaskStatus": st.status(s.status, "SUCCEED"),
                "StartTime": Style::canonical().time(s.start),
                "EndTime": Style { zero_dates: true, ..Style::canonical() }.time(s.end),
                "InstanceIds": [s.instance],
            });
            if let Some(p) = s.progress {
                o["Progress"] = if st.numbers_as_text {
                    json!(p.to_string())
                } else {
                    json!(p)
                };
            }
            if let Some(c) = s.code {
                o["Code"] = st.int(c);
            }
            o
        })
        .collect();
    json!({"Response": {"TotalCount": st.int(specs.len() as i64), "Items": st.items(items), "RequestId": "r"}})
        .to_string()
}

fn v3_detail(s: &Spec, st: &V3Style) -> String {
    let items: Vec<Value> = s
        .tasks
        .iter()
        .map(|t| {
            let mut o = json!({
                "Status": st.status(t.status, "SUCCESS"),
                "StartTime": Style::canonical().time(t.start),
                "EndTime": Style::canonical().time(t.end),
                "Info": "",
                "Detail": [{"InstanceId": s.instance, "Strategy": "full",
                    "RollbackTime": Style::canonical().time(t.rollback_time),
                    "Databases": [], "Tables": []}],
            });
            if let Some(p) = t.progress {
                o["Progress"] = if st.numbers_as_text {
                    json!(p.to_string())
                } else {
                    json!(p)
                };
            }
            o
        })
        .collect();
    json!({"Response": {"TotalCount": st.int(s.tasks.len() as i64), "Items": st.items(items), "RequestId": "r"}})
        .to_string()
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
    let text = render(&store.snapshot(), &[], &Metrics::new(), 2_000_000_000.0);
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
