//! A fake CDB v2 API on 127.0.0.1. It checks every request's signature with its own code
//! (written apart from the exporter's) and refuses a mismatch with code 4100.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};

use super::SECRET_KEY;

#[derive(Clone, Debug)]
pub enum Reply {
    /// HTTP 200 with this body.
    Json(String),
    /// Another HTTP status with this body.
    Http(u16, String),
    /// No answer for this long.
    Hang(Duration),
}

#[derive(Clone, Debug)]
pub struct Logged {
    pub at: Instant,
    pub method: String,
    pub user_agent: String,
    pub params: BTreeMap<String, String>,
}

impl Logged {
    pub fn action(&self) -> &str {
        self.params.get("Action").map(String::as_str).unwrap_or("")
    }
}

#[derive(Default)]
pub struct FakeState {
    pub jobs: HashMap<u64, Reply>,
    pub lists: HashMap<String, Vec<Value>>,
    pub list_failures: HashMap<String, Reply>,
    /// When set, every request gets this.
    pub all_fail: Option<Reply>,
    /// Jobs whose next request is refused once as a replay (4500).
    pub replay_once: HashSet<u64>,
    pub log: Vec<Logged>,
    pub rejected_signatures: usize,
}

pub struct FakeV2 {
    pub endpoint: String,
    pub state: Arc<Mutex<FakeState>>,
}

impl FakeV2 {
    pub async fn start() -> FakeV2 {
        let state = Arc::new(Mutex::new(FakeState::default()));
        let app = Router::new()
            .route("/v2/index.php", any(handle))
            .with_state(Arc::clone(&state));
        let addr = super::serve(app).await;
        FakeV2 {
            endpoint: format!("http://{addr}/v2/index.php"),
            state,
        }
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut FakeState) -> R) -> R {
        f(&mut self.state.lock().unwrap())
    }

    pub fn set_job(&self, id: u64, reply: Reply) {
        self.with(|s| s.jobs.insert(id, reply));
    }

    pub fn log(&self) -> Vec<Logged> {
        self.with(|s| s.log.clone())
    }
}

/// Recomputes the signature from what arrived, as Tencent's documentation describes it.
pub fn expected_signature(
    method: &str,
    host: &str,
    path: &str,
    params: &BTreeMap<String, String>,
) -> String {
    let query: Vec<String> = params
        .iter()
        .filter(|(k, _)| k.as_str() != "Signature")
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let text = format!("{method}{host}{path}?{}", query.join("&"));
    let b64 = base64::engine::general_purpose::STANDARD;
    if params.get("SignatureMethod").map(String::as_str) == Some("HmacSHA256") {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET_KEY.as_bytes()).unwrap();
        mac.update(text.as_bytes());
        b64.encode(mac.finalize().into_bytes())
    } else {
        let mut mac = Hmac::<sha1::Sha1>::new_from_slice(SECRET_KEY.as_bytes()).unwrap();
        mac.update(text.as_bytes());
        b64.encode(mac.finalize().into_bytes())
    }
}

fn json_reply(v: Value) -> Reply {
    Reply::Json(v.to_string())
}

async fn handle(
    State(state): State<Arc<Mutex<FakeState>>>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> Response {
    let raw = if method == Method::POST {
        body.to_vec()
    } else {
        uri.query().unwrap_or("").as_bytes().to_vec()
    };
    let params: BTreeMap<String, String> = url::form_urlencoded::parse(&raw).into_owned().collect();
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let user_agent = headers
        .get("user-agent")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let reply = {
        let mut s = state.lock().unwrap();
        s.log.push(Logged {
            at: Instant::now(),
            method: method.to_string(),
            user_agent: user_agent.to_string(),
            params: params.clone(),
        });
        let signed_ok = params.get("Signature")
            == Some(&expected_signature(
                method.as_str(),
                host,
                uri.path(),
                &params,
            ));
        if !signed_ok {
            s.rejected_signatures += 1;
            json_reply(
                json!({"code": 4100, "message": "signature mismatch", "codeDesc": "AuthFailure"}),
            )
        } else if let Some(r) = &s.all_fail {
            r.clone()
        } else {
            route(&mut s, &params)
        }
    };
    match reply {
        Reply::Json(body) => (StatusCode::OK, body).into_response(),
        Reply::Http(code, body) => (StatusCode::from_u16(code).unwrap(), body).into_response(),
        Reply::Hang(d) => {
            tokio::time::sleep(d).await;
            (StatusCode::OK, "{}").into_response()
        }
    }
}

fn route(s: &mut FakeState, params: &BTreeMap<String, String>) -> Reply {
    match params.get("Action").map(String::as_str) {
        Some("GetCdbRollbackJobTask") => {
            let id: u64 = params
                .get("jobId")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            if s.replay_once.remove(&id) {
                return json_reply(json!({"code": 4500, "message": "replay"}));
            }
            s.jobs.get(&id).cloned().unwrap_or_else(|| {
                json_reply(json!({"code": 5000, "message": "job does not exist"}))
            })
        }
        Some("GetCdbRollbackJob") => {
            let instance = params.get("cdbInstanceId").cloned().unwrap_or_default();
            if let Some(r) = s.list_failures.get(&instance) {
                return r.clone();
            }
            let offset: usize = params
                .get("offset")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let limit: usize = params
                .get("limit")
                .and_then(|v| v.parse().ok())
                .unwrap_or(50);
            assert!(limit <= 100, "limit {limit} is over the API's maximum");
            let Some(rows) = s.lists.get(&instance) else {
                return json_reply(json!({"code": 9003, "message": "instance does not exist"}));
            };
            let page: Vec<Value> = rows.iter().skip(offset).take(limit).cloned().collect();
            json_reply(
                json!({"code": "0", "message": "", "data": {"taskCount": rows.len().to_string(), "taskList": page}}),
            )
        }
        _ => json_reply(json!({"code": 4000, "message": "unknown action"})),
    }
}

/// A v2 job as `GetCdbRollbackJobTask` answers it: running at 0 % with no task and no end
/// until told otherwise, so that a scenario names only what matters to it.
#[derive(Clone)]
pub struct V2Job {
    id: u64,
    status: i64,
    progress: i64,
    code: i64,
    start: String,
    end: String,
    tasks: Vec<V2Task>,
}

/// One task (instance) of a [`V2Job`]; its error code is 9006 when it failed.
#[derive(Clone)]
pub struct V2Task {
    id: String,
    instance: String,
    status: i64,
    progress: i64,
    start: String,
    end: String,
}

impl V2Job {
    pub fn new(id: u64, start: &str) -> V2Job {
        V2Job {
            id,
            status: 1,
            progress: 0,
            code: 0,
            start: start.into(),
            end: String::new(),
            tasks: Vec::new(),
        }
    }

    /// Status number (2 success, 3 failed, ...) and progress in percent.
    pub fn at(mut self, status: i64, progress: i64) -> V2Job {
        (self.status, self.progress) = (status, progress);
        self
    }

    pub fn code(mut self, code: i64) -> V2Job {
        self.code = code;
        self
    }

    pub fn ended(mut self, end: &str) -> V2Job {
        self.end = end.into();
        self
    }

    pub fn task(mut self, task: V2Task) -> V2Job {
        self.tasks.push(task);
        self
    }

    /// The answer in the Chinese page's spelling, numbers as strings.
    pub fn reply(&self) -> Reply {
        let task_detail: Vec<Value> = self.tasks.iter().map(V2Task::json).collect();
        json_reply(json!({"code": "0", "message": "", "data": {
            "jobInfo": {"jobId": self.id.to_string(), "type": "10", "status": self.status.to_string(),
                "progress": self.progress.to_string(), "code": self.code.to_string(), "message": "",
                "starttime": self.start, "endtime": self.end, "detail": []},
            "taskDetail": task_detail}}))
    }
}

impl V2Task {
    pub fn new(id: &str, instance: &str, start: &str) -> V2Task {
        V2Task {
            id: id.into(),
            instance: instance.into(),
            status: 1,
            progress: 0,
            start: start.into(),
            end: String::new(),
        }
    }

    pub fn at(mut self, status: i64, progress: i64) -> V2Task {
        (self.status, self.progress) = (status, progress);
        self
    }

    pub fn ended(mut self, end: &str) -> V2Task {
        self.end = end.into();
        self
    }

    fn json(&self) -> Value {
        let code = if self.status == 3 { 9006 } else { 0 };
        json!({
            "taskInfo": {"instanceid": self.instance, "instancename": format!("name-{}", self.instance),
                "strategy": "table", "rollbacktime": "2026-11-27 08:00:00", "type": "nopriv",
                "operator": "100001", "dbs": [{"dbname": "a", "newname": "a_bak"}, {"dbname": "b", "newname": "b_bak"}]},
            "taskid": self.id, "workid": format!("w{}", self.id), "status": self.status.to_string(),
            "progress": self.progress.to_string(), "code": code.to_string(), "message": "",
            "starttime": self.start, "endtime": self.end,
        })
    }
}

/// One row of a `GetCdbRollbackJob` answer.
pub fn list_row(id: u64, status: i64, start: &str, end: &str) -> Value {
    json!({"jobId": id.to_string(), "type": "1", "status": status.to_string(), "progress": "50",
           "startTime": start, "endTime": end, "taskStatus": status.to_string(), "taskProgress": "50",
           "taskMessage": "", "taskContext": {"data": {"operator": "1", "uInstanceId": "u", "strategy": "db",
           "rollbackTime": start, "dbs": [], "tables": []}}})
}
