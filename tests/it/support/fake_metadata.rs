//! A fake CVM metadata server on 127.0.0.1: the role name, then the role's temporary
//! credentials, issued into a keyring that the fake CDB API checks against.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use super::clock::now;
use super::serve;
use super::tc3_check::Keyring;

pub const ROLE: &str = "cdb-reader";

pub struct MetaState {
    pub issued: Keyring,
    /// Seconds each set of credentials lives.
    pub lifetime: i64,
    /// Credentials requests (1-based) to answer with HTTP 500.
    pub fail: Vec<usize>,
    pub requests: usize,
    /// When the failed requests were answered, Unix seconds.
    pub failed_at: Vec<i64>,
}

pub struct FakeMetadata {
    pub endpoint: String,
    pub state: Arc<Mutex<MetaState>>,
}

impl FakeMetadata {
    pub async fn start(issued: Keyring, lifetime: i64) -> FakeMetadata {
        let state = Arc::new(Mutex::new(MetaState {
            issued,
            lifetime,
            fail: Vec::new(),
            requests: 0,
            failed_at: Vec::new(),
        }));
        let app = Router::new()
            .route(
                "/latest/meta-data/cam/security-credentials/",
                get(|| async { ROLE }),
            )
            .route(
                "/latest/meta-data/cam/security-credentials/{role}",
                get(credentials),
            )
            .with_state(Arc::clone(&state));
        let addr = serve(app).await;
        FakeMetadata {
            endpoint: format!("http://{addr}"),
            state,
        }
    }
}

async fn credentials(
    State(state): State<Arc<Mutex<MetaState>>>,
    Path(role): Path<String>,
) -> Response {
    if role != ROLE {
        return StatusCode::NOT_FOUND.into_response();
    }
    let mut s = state.lock().unwrap();
    s.requests += 1;
    if s.fail.contains(&s.requests) {
        s.failed_at.push(now());
        return (StatusCode::INTERNAL_SERVER_ERROR, "busy").into_response();
    }
    let (id, known) = s.issued.issue("AKIDcvm", s.lifetime);
    let expires = known.expires.unwrap();
    json!({
        "TmpSecretId": id,
        "TmpSecretKey": known.key,
        "Token": known.token,
        "ExpiredTime": expires,
        "Expiration": "2099-01-01T00:00:00Z",
        "Code": "Success",
    })
    .to_string()
    .into_response()
}
