//! A fake API 3.0 for several accounts behind one endpoint, as Tencent's is: each request
//! is checked (`tc3_check`) against the key pair of the SecretId that signed it, and
//! answered from that account's rollback jobs, instances (DescribeDBInstances) and their
//! rollback windows (DescribeRollbackRangeTime). An account can be throttled: every
//! request it signs is then refused with `RequestLimitExceeded`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use serde_json::{Value, json};

use super::clock::{cst, now};
use super::serve;
use super::tc3_check::{Keyring, error_answer, verify};

/// One account's world: its jobs (id, status, instance), its instances (id, name) and how
/// far back each can be rolled back, whether it is throttled, and when each of its signed
/// requests arrived.
#[derive(Default)]
pub struct Account {
    pub jobs: Vec<(u64, &'static str, &'static str)>,
    pub instances: Vec<(&'static str, &'static str)>,
    /// Seconds back from a minute ago that every instance can be rolled back to.
    pub window: i64,
    pub throttled: bool,
    pub arrivals: Vec<Instant>,
}

#[derive(Clone, Default)]
pub struct FakeAccounts {
    pub endpoint: String,
    keys: Keyring,
    accounts: Arc<Mutex<HashMap<String, Account>>>,
}

impl FakeAccounts {
    pub async fn start() -> FakeAccounts {
        let mut fake = FakeAccounts::default();
        let app = Router::new()
            .route("/", post(handle))
            .with_state(fake.clone());
        fake.endpoint = format!("http://{}/", serve(app).await);
        fake
    }

    /// An account known by its key pair, with `jobs`.
    pub fn add(&self, secret_id: &str, key: &str, jobs: Vec<(u64, &'static str, &'static str)>) {
        self.keys.insert(secret_id, key, None, None);
        let account = Account {
            jobs,
            ..Account::default()
        };
        self.accounts
            .lock()
            .unwrap()
            .insert(secret_id.into(), account);
    }

    pub fn with<R>(&self, secret_id: &str, f: impl FnOnce(&mut Account) -> R) -> R {
        f(self.accounts.lock().unwrap().get_mut(secret_id).unwrap())
    }

    /// Requests `secret_id` signed within the last `window`.
    pub fn recent(&self, secret_id: &str, window: std::time::Duration) -> usize {
        self.with(secret_id, |a| {
            a.arrivals.iter().filter(|t| t.elapsed() < window).count()
        })
    }
}

fn header(h: &HeaderMap, name: &str) -> String {
    let v = h.get(name).and_then(|v| v.to_str().ok());
    v.unwrap_or_default().to_string()
}

async fn handle(State(fake): State<FakeAccounts>, h: HeaderMap, body: Bytes) -> String {
    if let Err(e) = verify(&h, &body, "cdb", &fake.keys) {
        return error_answer("AuthFailure.SignatureFailure", &e);
    }
    let auth = header(&h, "authorization");
    let id = auth
        .split("Credential=")
        .nth(1)
        .and_then(|c| c.split('/').next());
    let id = id.unwrap_or_default().to_string();
    let params: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut accounts = fake.accounts.lock().unwrap();
    let Some(account) = accounts.get_mut(&id) else {
        return error_answer("AuthFailure.SecretIdNotFound", &id);
    };
    account.arrivals.push(Instant::now());
    if account.throttled {
        return error_answer("RequestLimitExceeded", "fake throttling");
    }
    let started = cst(now() - 600);
    let answer = match header(&h, "x-tc-action").as_str() {
        "DescribeTasks" => {
            let first = params["Offset"].as_u64().unwrap_or(0) == 0;
            let rows: Vec<Value> = account
                .jobs
                .iter()
                .filter(|_| first)
                .map(|(id, status, instance)| {
                    json!({"JobId": id, "AsyncRequestId": format!("async-{id}"),
                       "TaskType": "ROLLBACK", "TaskStatus": status, "Progress": 40, "Code": 0,
                       "StartTime": started, "InstanceIds": [instance]})
                })
                .collect();
            json!({"Response": {"TotalCount": account.jobs.len(), "Items": rows, "RequestId": "fake"}})
        }
        "DescribeRollbackTaskDetail" => details(account, &params, &started),
        "DescribeDBInstances" => instances(account, &params),
        "DescribeRollbackRangeTime" => ranges(account, &params),
        other => return error_answer("InvalidAction", other),
    };
    answer.to_string()
}

fn instances(account: &Account, params: &Value) -> Value {
    let first = params["Offset"].as_u64().unwrap_or(0) == 0;
    let rows: Vec<Value> = account
        .instances
        .iter()
        .filter(|_| first)
        .map(|(id, name)| json!({"InstanceId": id, "InstanceName": name, "InstanceType": 1}))
        .collect();
    json!({"Response": {"TotalCount": account.instances.len(), "Items": rows, "RequestId": "fake"}})
}

fn ranges(account: &Account, params: &Value) -> Value {
    let end = now() - 60;
    let asked = params["InstanceIds"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let items: Vec<Value> = asked
        .iter()
        .filter_map(Value::as_str)
        .map(|id| {
            let times = [json!({"Begin": cst(end - account.window), "End": cst(end)})];
            json!({"InstanceId": id, "Code": 0, "Message": "ok", "Times": times})
        })
        .collect();
    json!({"Response": {"TotalCount": items.len(), "Items": items, "RequestId": "fake"}})
}

/// The task of each job on the instance asked about, with the job's status.
fn details(account: &Account, params: &Value, started: &str) -> Value {
    let on = params["InstanceId"].as_str().unwrap_or_default();
    let items: Vec<Value> = account
        .jobs
        .iter()
        .filter(|(_, _, instance)| *instance == on)
        .map(|(_, status, instance)| {
            let status = if *status == "SUCCEED" {
                "SUCCESS"
            } else {
                status
            };
            json!({"Status": status, "Progress": 40, "StartTime": started, "EndTime": "",
                   "Info": "", "Detail": [{"InstanceId": instance, "Strategy": "table"}]})
        })
        .collect();
    json!({"Response": {"TotalCount": items.len(), "Items": items, "RequestId": "fake"}})
}
