//! A minimal fake CDB API 3.0 for the credential tests: it checks each request's TC3
//! signature, token and expiry against a keyring, answers DescribeTasks with one running
//! job and its detail (and an empty inventory), and records who signed each request.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use serde_json::json;

use super::clock::now;
use super::serve;
use super::tc3_check::{Keyring, error_answer, verify};

#[derive(Clone, Debug)]
pub struct Seen {
    pub at: i64,
    pub secret_id: String,
    pub token: Option<String>,
    /// Why it was refused, if it was.
    pub refused: Option<String>,
}

pub struct FakeCdb {
    pub endpoint: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl FakeCdb {
    pub async fn start(keys: Keyring) -> FakeCdb {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let app = Router::new()
            .route("/", post(handle))
            .with_state((keys, Arc::clone(&seen)));
        let addr = serve(app).await;
        FakeCdb {
            endpoint: format!("http://{addr}/"),
            seen,
        }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// The SecretIds of accepted requests, each once, in the order first seen.
    pub fn accepted_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = Vec::new();
        for s in self.seen().into_iter().filter(|s| s.refused.is_none()) {
            if !ids.contains(&s.secret_id) {
                ids.push(s.secret_id);
            }
        }
        ids
    }
}

fn secret_id(h: &HeaderMap) -> String {
    let auth = h
        .get("authorization")
        .and_then(|a| a.to_str().ok())
        .unwrap_or("");
    auth.split("Credential=")
        .nth(1)
        .and_then(|c| c.split('/').next())
        .unwrap_or("")
        .to_string()
}

async fn handle(
    State((keys, seen)): State<(Keyring, Arc<Mutex<Vec<Seen>>>)>,
    h: HeaderMap,
    body: Bytes,
) -> String {
    let checked = verify(&h, &body, "cdb", &keys);
    seen.lock().unwrap().push(Seen {
        at: now(),
        secret_id: secret_id(&h),
        token: h
            .get("x-tc-token")
            .and_then(|t| t.to_str().ok())
            .map(str::to_string),
        refused: checked.as_ref().err().cloned(),
    });
    if let Err(e) = checked {
        return error_answer("AuthFailure.SignatureFailure", &e);
    }
    let action = h
        .get("x-tc-action")
        .and_then(|a| a.to_str().ok())
        .unwrap_or("");
    let answer = match action {
        "DescribeTasks" => json!({"Response": {"TotalCount": 1, "Items": [{
            "JobId": 7001, "TaskType": "ROLLBACK", "TaskStatus": "RUNNING", "Progress": 40,
            "StartTime": "2026-01-01 10:00:00", "InstanceIds": ["cdb-cred1"]}],
            "RequestId": "fake-cdb"}}),
        "DescribeRollbackTaskDetail" => json!({"Response": {"TotalCount": 1, "Items": [{
            "Status": "RUNNING", "Progress": 40, "StartTime": "2026-01-01 10:00:00",
            "Detail": [{"InstanceId": "cdb-cred1"}]}], "RequestId": "fake-cdb"}}),
        "DescribeDBInstances" => json!({"Response": {"TotalCount": 0, "Items": [],
            "RequestId": "fake-cdb"}}),
        other => return error_answer("InvalidAction", other),
    };
    answer.to_string()
}
