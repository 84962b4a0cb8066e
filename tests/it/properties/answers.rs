//! Answers of both API versions written from one description in each spelling the API
//! is known to use, for the property tests of the decoders.

use cdb_rollback_exporter::time::{UtcOffset, format_local};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

const CST: UtcOffset = UtcOffset::CST;

// ---- v2 answers, written from one description in each accepted spelling ----

#[derive(Clone, Debug)]
pub(super) struct Spec {
    pub(super) job_id: u64,
    pub(super) job_type: i64,
    pub(super) status: i64,
    /// Percent with at most one decimal, so that text and number read the same.
    pub(super) progress: Option<f64>,
    pub(super) code: Option<i64>,
    pub(super) start: Option<i64>,
    pub(super) end: Option<i64>,
    pub(super) instance: String,
    pub(super) tasks: Vec<TaskSpec>,
}

#[derive(Clone, Debug)]
pub(super) struct TaskSpec {
    pub(super) id: u64,
    pub(super) status: i64,
    pub(super) progress: Option<f64>,
    pub(super) start: Option<i64>,
    pub(super) end: Option<i64>,
    pub(super) rollback_time: Option<i64>,
}

/// How one answer is spelled.
#[derive(Clone, Debug)]
pub(super) struct Style {
    pub(super) numbers_as_text: bool,
    pub(super) lower_case: bool,
    /// `data`, `taskDetail` and `detail` as one object rather than a one-element array.
    pub(super) objects: bool,
    /// Unset times as `0000-00-00 00:00:00` rather than empty.
    pub(super) zero_dates: bool,
}

pub(super) fn time() -> impl Strategy<Value = Option<i64>> {
    // 2001 to 2096, at any second.
    prop::option::of(1_000_000_000i64..4_000_000_000)
}

pub(super) fn percent() -> impl Strategy<Value = Option<f64>> {
    prop::option::of((0i64..=1100).prop_map(|p| p as f64 / 10.0))
}

pub(super) fn task_spec() -> impl Strategy<Value = TaskSpec> {
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

pub(super) fn spec() -> impl Strategy<Value = Spec> {
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

pub(super) fn style() -> impl Strategy<Value = Style> {
    (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(a, b, c, d)| Style {
        numbers_as_text: a,
        lower_case: b,
        objects: c,
        zero_dates: d,
    })
}

impl Style {
    pub(super) fn canonical() -> Style {
        Style {
            numbers_as_text: false,
            lower_case: false,
            objects: false,
            zero_dates: false,
        }
    }

    pub(super) fn name(&self, camel: &str) -> String {
        if self.lower_case {
            camel.to_ascii_lowercase()
        } else {
            camel.to_string()
        }
    }

    pub(super) fn int(&self, n: i64) -> Value {
        if self.numbers_as_text {
            json!(n.to_string())
        } else {
            json!(n)
        }
    }

    pub(super) fn float(&self, f: f64) -> Value {
        if self.numbers_as_text {
            json!(f.to_string())
        } else {
            json!(f)
        }
    }

    pub(super) fn time(&self, t: Option<i64>) -> Value {
        match t {
            Some(t) => json!(format_local(t, CST)),
            None if self.zero_dates => json!("0000-00-00 00:00:00"),
            None => json!(""),
        }
    }

    /// One object, or an array of them; a single one may be written bare.
    pub(super) fn many(&self, items: Vec<Value>) -> Value {
        if self.objects && items.len() == 1 {
            items.into_iter().next().unwrap_or(Value::Null)
        } else {
            Value::Array(items)
        }
    }

    pub(super) fn put(&self, o: &mut Map<String, Value>, camel: &str, v: Value) {
        o.insert(self.name(camel), v);
    }
}

pub(super) fn v2_answer(s: &Spec, st: &Style) -> String {
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

pub(super) fn v2_page(specs: &[Spec], st: &Style) -> String {
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
pub(super) struct V3Style {
    pub(super) numbers_as_text: bool,
    /// `SUCCESS` where the canonical answer says `SUCCEED`, and the reverse.
    pub(super) other_success: bool,
    /// An empty `Items` as `null` rather than `[]`.
    pub(super) null_items: bool,
    /// `TaskType` as its number rather than its name.
    pub(super) type_number: bool,
}

pub(super) fn v3_style() -> impl Strategy<Value = V3Style> {
    (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(a, b, c, d)| V3Style {
        numbers_as_text: a,
        other_success: b,
        null_items: c,
        type_number: d,
    })
}

pub(super) const V3_NAMES: [&str; 9] = [
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
    pub(super) fn canonical() -> V3Style {
        V3Style {
            numbers_as_text: false,
            other_success: false,
            null_items: false,
            type_number: false,
        }
    }

    pub(super) fn int(&self, n: i64) -> Value {
        Style {
            numbers_as_text: self.numbers_as_text,
            ..Style::canonical()
        }
        .int(n)
    }

    pub(super) fn status(&self, code: i64, success: &str) -> Value {
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

    pub(super) fn items(&self, items: Vec<Value>) -> Value {
        if items.is_empty() && self.null_items {
            Value::Null
        } else {
            Value::Array(items)
        }
    }
}

pub(super) fn v3_tasks(specs: &[Spec], st: &V3Style) -> String {
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

pub(super) fn v3_detail(s: &Spec, st: &V3Style) -> String {
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
