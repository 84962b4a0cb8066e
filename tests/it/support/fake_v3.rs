//! A fake Tencent Cloud API 3.0 for CDB on 127.0.0.1. It checks every request's
//! TC3-HMAC-SHA256 signature with the tests' own checker (`tc3_check`, written apart from
//! the exporter's) and answers `AuthFailure.SignatureFailure` on a mismatch. It lists other task types too,
//! whatever `TaskTypes` asks, so that the exporter's own filter is what keeps them out.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

use super::clock::cst;
use super::fake_v2::Reply;
use super::tc3_check::Keyring;
use super::{SECRET_ID, SECRET_KEY};

/// One job as DescribeTasks lists it, with its parts per instance.
#[derive(Clone, Debug)]
pub struct FakeJob {
    pub id: u64,
    pub task_type: &'static str,
    pub status: &'static str,
    pub progress: i64,
    pub start: i64,
    pub end: Option<i64>,
    pub instances: Vec<&'static str>,
    /// Per instance: (Status, Progress, Info).
    pub parts: HashMap<&'static str, (&'static str, i64, &'static str)>,
}

impl FakeJob {
    /// A single-instance rollback in `status`, started `start`.
    pub fn new(id: u64, status: &'static str, start: i64, instance: &'static str) -> FakeJob {
        FakeJob {
            id,
            task_type: "ROLLBACK",
            status,
            progress: if status == "SUCCEED" { 100 } else { 40 },
            start,
            end: matches!(status, "SUCCEED" | "FAILED" | "KILLED" | "REMOVED")
                .then_some(start + 90),
            instances: vec![instance],
            parts: HashMap::new(),
        }
    }

    pub fn async_id(&self) -> String {
        format!("async-{}", self.id)
    }

    fn row(&self) -> Value {
        json!({"JobId": self.id, "AsyncRequestId": self.async_id(), "TaskType": self.task_type,
               "TaskStatus": self.status, "Progress": self.progress, "Code": 0, "Message": "",
               "StartTime": cst(self.start),
               "EndTime": self.end.map_or_else(|| "0000-00-00 00:00:00".to_string(), cst),
               "InstanceIds": self.instances, "TaskAttachInfo": []})
    }

    fn detail(&self, instance: &str) -> Value {
        let (status, progress, info) = self.parts.get(instance).copied().unwrap_or((
            if self.status == "SUCCEED" {
                "SUCCESS"
            } else {
                self.status
            },
            self.progress,
            "",
        ));
        let detail: Vec<Value> = self
            .instances
            .iter()
            .map(|i| {
                json!({"InstanceId": i, "Strategy": "table", "RollbackTime": cst(self.start - 3600),
                       "Databases": [{"DatabaseName": "db1", "NewDatabaseName": "db1_bak"}],
                       "Tables": [{"Database": "db1", "Table": [{"TableName": "t1", "NewTableName": "t1_bak"},
                                                                {"TableName": "t2", "NewTableName": "t2_bak"}]}]})
            })
            .collect();
        json!({"Status": status, "Progress": progress, "StartTime": cst(self.start),
               "EndTime": self.end.map_or_else(String::new, cst), "Info": info, "Detail": detail})
    }
}

#[derive(Clone, Debug)]
pub struct LoggedV3 {
    pub at: Instant,
    pub action: String,
    pub region: String,
    pub secret_id: String,
    pub token: Option<String>,
    pub body: Value,
    /// Answered with a fault from [`FakeV3State::faults`].
    pub queued_fault: bool,
}

#[derive(Default)]
pub struct FakeV3State {
    /// Jobs by region.
    pub regions: HashMap<String, Vec<FakeJob>>,
    /// Other task types, listed in every region whatever `TaskTypes` says.
    pub others: Vec<Value>,
    /// Answers served before any other, in order, whatever was asked.
    pub faults: VecDeque<Reply>,
    /// Every request for a region gets this, while set.
    pub region_faults: HashMap<String, Reply>,
    /// Every `DescribeTasks` page at this `Offset` gets this, while set.
    pub page_faults: HashMap<u64, Reply>,
    /// Every `DescribeTasks` page at this `Offset` is answered this late, while set.
    pub page_delays: HashMap<u64, Duration>,
    pub log: Vec<LoggedV3>,
    pub rejected_signatures: usize,
    /// DescribeDBInstances items by region (`InstanceInfo` objects).
    pub instances: HashMap<String, Vec<Value>>,
    /// Every request for an action gets this, while set.
    pub action_faults: HashMap<String, Reply>,
    /// DescribeRollbackRangeTime: `InvalidParameterValue` for more ids than this.
    pub range_batch_limit: Option<usize>,
    /// DescribeRollbackRangeTime items by instance id; others get one range of a day.
    pub ranges: HashMap<String, Value>,
}

pub struct FakeV3 {
    pub endpoint: String,
    pub state: Arc<Mutex<FakeV3State>>,
}

impl FakeV3 {
    pub async fn start() -> FakeV3 {
        let state = Arc::new(Mutex::new(FakeV3State::default()));
        let app = Router::new()
            .route("/", post(handle))
            .with_state(Arc::clone(&state));
        let addr = super::serve(app).await;
        FakeV3 {
            endpoint: format!("http://{addr}/"),
            state,
        }
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut FakeV3State) -> R) -> R {
        f(&mut self.state.lock().unwrap())
    }

    pub fn add(&self, region: &str, job: FakeJob) {
        self.with(|s| s.regions.entry(region.to_string()).or_default().push(job));
    }

    pub fn update(&self, region: &str, id: u64, f: impl FnOnce(&mut FakeJob)) {
        self.with(|s| {
            let job = s
                .regions
                .get_mut(region)
                .and_then(|jobs| jobs.iter_mut().find(|j| j.id == id));
            f(job.unwrap());
        });
    }

    pub fn log(&self) -> Vec<LoggedV3> {
        self.with(|s| s.log.clone())
    }
}

pub fn api_error(code: &str) -> Reply {
    Reply::Json(
        json!({"Response": {"Error": {"Code": code, "Message": "fake"}, "RequestId": "fake-req"}})
            .to_string(),
    )
}

async fn handle(
    State(state): State<Arc<Mutex<FakeV3State>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let page = (header(&headers, "x-tc-action") == "DescribeTasks")
        .then(|| params["Offset"].as_u64().unwrap_or(0));
    let (reply, delay) = {
        let mut s = state.lock().unwrap();
        s.log.push(logged(&headers, &params));
        let reply = reply(&mut s, &headers, &body, &params, page);
        let delay = page.and_then(|p| s.page_delays.get(&p).copied());
        (reply, delay)
    };
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    match reply {
        Reply::Json(body) => (StatusCode::OK, body).into_response(),
        Reply::Http(code, body) => (StatusCode::from_u16(code).unwrap(), body).into_response(),
        Reply::Hang(d) => {
            tokio::time::sleep(d).await;
            (StatusCode::OK, "{}").into_response()
        }
    }
}

fn header(headers: &HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// What the log keeps of a request.
fn logged(headers: &HeaderMap, params: &Value) -> LoggedV3 {
    let auth = header(headers, "authorization");
    let secret_id = auth
        .split("Credential=")
        .nth(1)
        .and_then(|c| c.split('/').next())
        .unwrap_or("")
        .to_string();
    LoggedV3 {
        at: Instant::now(),
        action: header(headers, "x-tc-action"),
        region: header(headers, "x-tc-region"),
        secret_id,
        token: headers
            .get("x-tc-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        body: params.clone(),
        queued_fault: false,
    }
}

/// A bad signature first, then the faults (by region, by action, queued, by page), then
/// the world's answer.
fn reply(
    s: &mut FakeV3State,
    headers: &HeaderMap,
    body: &[u8],
    params: &Value,
    page: Option<u64>,
) -> Reply {
    let h = |n: &str| header(headers, n);
    let keys = Keyring::default();
    keys.insert(SECRET_ID, SECRET_KEY, None, None);
    let signed = super::tc3_check::verify(headers, body, "cdb", &keys).is_ok();
    if !signed || h("x-tc-version") != "2017-03-20" {
        s.rejected_signatures += 1;
        api_error("AuthFailure.SignatureFailure")
    } else if let Some(fault) = s.region_faults.get(&h("x-tc-region")) {
        fault.clone()
    } else if let Some(fault) = s.action_faults.get(&h("x-tc-action")) {
        fault.clone()
    } else if let Some(fault) = s.faults.pop_front() {
        if let Some(l) = s.log.last_mut() {
            l.queued_fault = true;
        }
        fault
    } else if let Some(fault) = page.and_then(|p| s.page_faults.get(&p)) {
        fault.clone()
    } else {
        route(s, &h("x-tc-action"), &h("x-tc-region"), params)
    }
}

fn status_number(name: &str) -> i64 {
    match name {
        "INITIAL" => 0,
        "RUNNING" => 1,
        "SUCCEED" => 2,
        "FAILED" => 3,
        "KILLED" => 4,
        "REMOVED" => 5,
        "PAUSED" => 6,
        _ => -1,
    }
}

fn answer(v: Value) -> Reply {
    let mut v = v;
    v["RequestId"] = json!("fake-req");
    Reply::Json(json!({ "Response": v }).to_string())
}

fn route(s: &FakeV3State, action: &str, region: &str, p: &Value) -> Reply {
    let jobs = s.regions.get(region).cloned().unwrap_or_default();
    let offset = p["Offset"].as_u64().unwrap_or(0) as usize;
    let limit = p["Limit"].as_u64().unwrap_or(20) as usize;
    if action == "DescribeDBInstances" {
        return instances(s, region, offset, limit);
    }
    if action == "DescribeRollbackRangeTime" {
        return ranges(s, p);
    }
    if limit > 100 {
        return api_error("InvalidParameterValue");
    }
    match action {
        "DescribeTasks" => {
            let mut rows = task_rows(&jobs, p);
            if p["AsyncRequestId"].is_null() && p["InstanceId"].is_null() {
                rows.extend(s.others.iter().cloned());
            }
            let total = rows.len();
            let items: Vec<Value> = rows.into_iter().skip(offset).take(limit).collect();
            answer(json!({"TotalCount": total, "Items": items}))
        }
        "DescribeRollbackTaskDetail" => rollback_detail(&jobs, p),
        _ => api_error("InvalidAction"),
    }
}

/// The DescribeTasks rows of the world's jobs that match the request's filters.
fn task_rows(jobs: &[FakeJob], p: &Value) -> Vec<Value> {
    let statuses: Option<Vec<i64>> = p["TaskStatus"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_i64).collect());
    let since = p["StartTimeBegin"].as_str().map(str::to_string);
    jobs.iter()
        .filter(|j| {
            p["InstanceId"]
                .as_str()
                .is_none_or(|i| j.instances.contains(&i))
        })
        .filter(|j| asked_for(p, j))
        .filter(|j| {
            statuses
                .as_ref()
                .is_none_or(|s| s.contains(&status_number(j.status)))
        })
        // The same fixed-width format sorts as text in time order.
        .filter(|j| since.as_ref().is_none_or(|t| cst(j.start) >= *t))
        .map(FakeJob::row)
        .collect()
}

/// No `AsyncRequestId` in the request, or the job's.
fn asked_for(p: &Value, j: &FakeJob) -> bool {
    p["AsyncRequestId"]
        .as_str()
        .is_none_or(|a| a == j.async_id())
}

fn rollback_detail(jobs: &[FakeJob], p: &Value) -> Reply {
    let Some(instance) = p["InstanceId"].as_str() else {
        return api_error("MissingParameter");
    };
    let items: Vec<Value> = jobs
        .iter()
        .filter(|j| j.instances.contains(&instance))
        .filter(|j| asked_for(p, j))
        .map(|j| j.detail(instance))
        .collect();
    let total = items.len();
    let items = if items.is_empty() {
        Value::Null
    } else {
        Value::Array(items)
    };
    answer(json!({"TotalCount": total, "Items": items}))
}

/// A DescribeDBInstances row, as the API writes it.
pub fn instance(id: &str, name: &str, kind: i64, tags: &[(&str, &str)]) -> Value {
    let tags: Vec<Value> = tags
        .iter()
        .map(|(k, v)| json!({"TagKey": k, "TagValue": v}))
        .collect();
    json!({"InstanceId": id, "InstanceName": name, "Zone": "ap-guangzhou-3", "InstanceType": kind,
           "EngineVersion": "8.0", "ProjectId": 0, "Status": 1, "TaskStatus": 0, "TagList": tags})
}

fn instances(s: &FakeV3State, region: &str, offset: usize, limit: usize) -> Reply {
    if !(1..=2000).contains(&limit) {
        return api_error("InvalidParameterValue");
    }
    let all = s.instances.get(region).cloned().unwrap_or_default();
    let items: Vec<Value> = all.iter().skip(offset).take(limit).cloned().collect();
    answer(json!({"TotalCount": all.len(), "Items": items}))
}

/// One DescribeRollbackRangeTime item: `times` as (begin, end) Unix seconds.
pub fn range_item(id: &str, code: i64, times: &[(i64, i64)]) -> Value {
    let times: Vec<Value> = times
        .iter()
        .map(|&(b, e)| json!({"Begin": cst(b), "End": cst(e)}))
        .collect();
    json!({"InstanceId": id, "Code": code, "Message": if code == 0 { "ok" } else { "fake" }, "Times": times})
}

fn ranges(s: &FakeV3State, p: &Value) -> Reply {
    let Some(ids) = p["InstanceIds"].as_array().filter(|a| !a.is_empty()) else {
        return api_error("MissingParameter");
    };
    if s.range_batch_limit.is_some_and(|max| ids.len() > max) {
        return api_error("InvalidParameterValue");
    }
    let now = super::clock::now();
    let items: Vec<Value> = ids
        .iter()
        .filter_map(Value::as_str)
        .map(|id| {
            s.ranges
                .get(id)
                .cloned()
                .unwrap_or_else(|| range_item(id, 0, &[(now - 86_400, now - 60)]))
        })
        .collect();
    answer(json!({"TotalCount": items.len(), "Items": items}))
}
