//! The simulated CDB API: v2 at `/v2/index.php` (this file) and v3 at `/` ([`super::v3`]).
//! v2 checks signatures as Tencent describes them and answers in the real, quirky shapes
//! (numbers as strings, zero dates, both spellings of field names, `data` and
//! `taskDetail` as object or array).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri, header};
use axum::response::IntoResponse;
use axum::routing::any;
use serde_json::{Value, json};

use super::story::{
    DEMO_SECRET_ID, DEMO_SECRET_KEY, INSTANCES, MAX_SKEW, SEED_JOB_ID, SimJob, SimTask, jobs_at,
};
use crate::api::v2::sign::{SignatureMethod, signature, string_to_sign};
use crate::time::unix_now;
use crate::time::{UtcOffset, format_local};

pub const PATH: &str = "/v2/index.php";
const SEED_ANSWER: &str = include_str!("../../test-data/seed-answer.json");

pub struct Simulator {
    t0: i64,
    /// Nonce+Timestamp pairs seen recently, to refuse replays (code 4500).
    seen: Mutex<HashMap<(String, String), i64>>,
}

impl Simulator {
    pub fn new(t0: i64) -> Self {
        Self {
            t0,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Answers one request, given what arrived on the wire.
    pub fn answer(
        &self,
        method: &str,
        host: &str,
        path: &str,
        params: &[(String, String)],
        now: i64,
    ) -> Value {
        match self.verify(method, host, path, params, now) {
            Ok(()) => self.dispatch(params, now),
            Err((code, message)) => error(code, &message),
        }
    }

    fn param<'p>(params: &'p [(String, String)], name: &str) -> Option<&'p str> {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn verify(
        &self,
        method: &str,
        host: &str,
        path: &str,
        params: &[(String, String)],
        now: i64,
    ) -> Result<(), (i64, String)> {
        let get = |name: &str| Self::param(params, name);
        for required in [
            "Action",
            "Region",
            "Timestamp",
            "Nonce",
            "SecretId",
            "Signature",
        ] {
            if get(required).is_none_or(str::is_empty) {
                return Err((4000, format!("missing parameter {required}")));
            }
        }
        if get("SecretId") != Some(DEMO_SECRET_ID) {
            return Err((4104, "SecretId does not exist".into()));
        }
        let method_used = match get("SignatureMethod") {
            Some("HmacSHA256") => SignatureMethod::HmacSha256,
            _ => SignatureMethod::HmacSha1,
        };
        let expected = signature(
            method_used,
            DEMO_SECRET_KEY.as_bytes(),
            &string_to_sign(method, host, path, params),
        );
        if get("Signature") != Some(expected.as_str()) {
            return Err((4100, "authentication failed: signature mismatch".into()));
        }
        let ts = get("Timestamp").unwrap_or_default();
        match ts.parse::<i64>() {
            Ok(t) if now.abs_diff(t) <= MAX_SKEW as u64 => {}
            _ => {
                return Err((
                    4500,
                    format!("Timestamp {ts} is too far from the server's clock"),
                ));
            }
        }
        let key = (get("Nonce").unwrap_or_default().to_string(), ts.to_string());
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.retain(|_, at| now - *at <= 2 * MAX_SKEW);
        if seen.insert(key, now).is_some() {
            return Err((
                4500,
                "replayed request: Nonce and Timestamp already used".into(),
            ));
        }
        Ok(())
    }

    fn dispatch(&self, params: &[(String, String)], now: i64) -> Value {
        let get = |name: &str| Self::param(params, name);
        match get("Action") {
            Some("GetCdbRollbackJobTask") => {
                let Some(id) = get("jobId").and_then(|v| v.parse::<u64>().ok()) else {
                    return error(4000, "jobId must be an integer");
                };
                if id == SEED_JOB_ID {
                    return serde_json::from_str(SEED_ANSWER)
                        .unwrap_or_else(|_| error(6000, "internal error"));
                }
                match jobs_at(self.t0, now)
                    .iter()
                    .find(|j| j.id == id && j.view(now).start.is_some())
                {
                    Some(job) => job_detail(job, now),
                    None => error(5000, &format!("rollback job {id} does not exist")),
                }
            }
            Some("GetCdbRollbackJob") => {
                let instance = get("cdbInstanceId").unwrap_or_default();
                let Some(index) = INSTANCES.iter().position(|i| i.id == instance) else {
                    return error(5000, &format!("instance {instance} does not exist"));
                };
                let offset = get("offset").and_then(|v| v.parse().ok()).unwrap_or(0usize);
                let limit = get("limit")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(50usize)
                    .min(100);
                job_list(self.t0, index, offset, limit, now)
            }
            Some(other) => error(
                4000,
                &format!("action {other} is not supported by the simulator"),
            ),
            None => error(4000, "missing parameter Action"),
        }
    }
}

fn error(code: i64, message: &str) -> Value {
    json!({"code": code, "message": message, "codeDesc": "Failure"})
}

/// Even job ids answer like the Chinese page (strings, lower-case names, zero dates),
/// odd ones like the English page (numbers, camelCase, empty times).
fn chinese(id: u64) -> bool {
    id % 2 == 0
}

fn time(t: Option<i64>, zh: bool) -> String {
    match t {
        Some(t) => format_local(t, UtcOffset::CST),
        None if zh => "0000-00-00 00:00:00".into(),
        None => String::new(),
    }
}

fn num(v: i64, zh: bool) -> Value {
    if zh {
        Value::String(v.to_string())
    } else {
        json!(v)
    }
}

fn instance_info(task: &SimTask, zh: bool) -> Value {
    let inst = &INSTANCES[task.instance];
    let target = time(Some(task.target()), zh);
    let db = format!("{}_main", inst.name.trim_end_matches("-db"));
    if zh {
        json!({"instanceid": inst.id, "instancename": inst.name, "strategy": "table", "rollbacktime": target,
               "type": "nopriv", "operator": "100000001",
               "dbs": [{"dbname": db, "newname": format!("{db}_bak")}]})
    } else {
        json!({"cdbInstanceId": inst.id, "cdbInstanceName": inst.name, "strategy": "table", "rollbackTime": target,
               "type": "nopriv", "operator": "100000001",
               "dbs": [{"dbName": db, "newName": format!("{db}_bak")}]})
    }
}

fn job_detail(job: &SimJob, now: i64) -> Value {
    let zh = chinese(job.id);
    let v = job.view(now);
    let (start_key, end_key) = if zh {
        ("starttime", "endtime")
    } else {
        ("startTime", "endTime")
    };
    let detail: Vec<Value> = job.tasks.iter().map(|t| instance_info(t, zh)).collect();
    let tasks: Vec<Value> = job
        .tasks
        .iter()
        .map(|t| {
            let tv = t.view(now);
            let mut o = json!({
                "taskInfo": instance_info(t, zh),
                "status": num(tv.status, zh), "progress": num(tv.progress, zh),
                "code": num(tv.code, zh), "message": tv.message,
                start_key: time(tv.start, zh), end_key: time(tv.end, zh),
            });
            let (task_key, work_key) = if zh {
                ("taskid", "workid")
            } else {
                ("taskId", "workId")
            };
            o[task_key] = num(t.task_id as i64, zh);
            o[work_key] = num(t.task_id as i64 * 7 + 300_000, zh);
            o
        })
        .collect();
    let job_info = json!({
        "jobId": num(job.id as i64, zh), "type": num(10, zh), "status": num(v.status, zh),
        "progress": num(v.progress, zh), "code": num(v.code, zh), "message": v.message,
        start_key: time(v.start, zh), end_key: time(v.end, zh),
        "detail": detail,
    });
    // taskDetail: an array on the Chinese page, an object when there is one task otherwise.
    let task_detail = if !zh && tasks.len() == 1 {
        tasks[0].clone()
    } else {
        Value::Array(tasks)
    };
    let data = json!({"jobInfo": job_info, "taskDetail": task_detail});
    if zh {
        json!({"code": "0", "message": "", "data": data})
    } else {
        json!({"code": 0, "message": "", "codeDesc": "Success", "data": [data]})
    }
}

fn job_list(t0: i64, instance: usize, offset: usize, limit: usize, now: i64) -> Value {
    let mut jobs: Vec<(SimJob, i64)> = jobs_at(t0, now)
        .into_iter()
        .filter(|j| j.instances().any(|i| i == instance))
        .filter_map(|j| {
            let start = j.view(now).start?;
            Some((j, start))
        })
        .collect();
    jobs.sort_by_key(|(j, start)| (std::cmp::Reverse(*start), j.id));
    let total = jobs.len();
    let rows: Vec<Value> = jobs
        .iter()
        .skip(offset)
        .take(limit)
        .map(|(j, _)| {
            let zh = chinese(j.id);
            let v = j.view(now);
            let task = j.tasks.iter().find(|t| t.instance == instance).unwrap_or(&j.tasks[0]);
            let tv = task.view(now);
            json!({
                "jobId": num(j.id as i64, zh), "type": num(1, zh),
                "startTime": time(v.start, zh), "endTime": time(v.end, zh),
                "status": num(v.status, zh), "progress": num(v.progress, zh),
                "taskStatus": num(tv.status, zh), "taskProgress": num(tv.progress, zh), "taskMessage": tv.message,
                "taskContext": {"data": {"operator": "100000001", "uInstanceId": INSTANCES[instance].id,
                    "strategy": "table", "rollbackTime": time(Some(task.target()), zh), "dbs": [], "tables": []}},
            })
        })
        .collect();
    json!({"code": "0", "message": "", "data": {"taskCount": total.to_string(), "taskList": rows}})
}

async fn handle(
    State(sim): State<Arc<Simulator>>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> impl IntoResponse {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let raw: &[u8] = if method == Method::POST {
        &body
    } else {
        uri.query().unwrap_or_default().as_bytes()
    };
    let params: Vec<(String, String)> = form_urlencoded::parse(raw).into_owned().collect();
    let answer = sim.answer(
        method.as_str(),
        host,
        uri.path(),
        &params,
        unix_now() as i64,
    );
    (
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        answer.to_string(),
    )
}

async fn handle_v3(
    State(sim): State<Arc<Simulator>>,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let answer = super::v3::answer(sim.t0, &headers, &body, unix_now() as i64);
    (
        [(header::CONTENT_TYPE, "application/json")],
        answer.to_string(),
    )
}

pub fn router(sim: Arc<Simulator>) -> Router {
    Router::new()
        .route(PATH, any(handle))
        .route("/", axum::routing::post(handle_v3))
        .with_state(sim)
}
