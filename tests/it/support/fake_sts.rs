//! A fake STS on 127.0.0.1. `AssumeRole` must carry a valid TC3 signature (checked by
//! [`super::tc3_check`]) by credentials in `base`; `AssumeRoleWithWebIdentity` must be
//! unsigned (`Authorization: SKIP`) and carry the expected web identity token. Both issue
//! temporary credentials into `issued`. With `external_id` set, `AssumeRole` must carry
//! it, as a role whose trust policy names one requires.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use serde_json::{Value, json};

use super::serve;
use super::tc3_check::{Keyring, error_answer, verify};

pub const ROLE_ARN: &str = "qcs::cam::uin/100000000001:roleName/cdb-reader";
pub const PROVIDER_ID: &str = "tke-cls-test";

#[derive(Clone, Debug)]
pub struct StsCall {
    pub action: String,
    /// The SecretId that signed it; `None` when unsigned.
    pub signed_by: Option<String>,
    pub body: Value,
    /// Why it was refused, if it was.
    pub refused: Option<String>,
}

pub struct StsState {
    pub base: Keyring,
    pub issued: Keyring,
    pub lifetime: i64,
    /// Web identity tokens accepted.
    pub web_tokens: Vec<String>,
    /// The `ExternalId` the role's trust policy requires, if any.
    pub external_id: Option<String>,
    pub calls: Vec<StsCall>,
}

pub struct FakeSts {
    pub endpoint: String,
    pub state: Arc<Mutex<StsState>>,
}

impl FakeSts {
    pub async fn start(base: Keyring, issued: Keyring, lifetime: i64) -> FakeSts {
        let state = Arc::new(Mutex::new(StsState {
            base,
            issued,
            lifetime,
            web_tokens: Vec::new(),
            external_id: None,
            calls: Vec::new(),
        }));
        let app = Router::new()
            .route("/", post(handle))
            .with_state(Arc::clone(&state));
        let addr = serve(app).await;
        FakeSts {
            endpoint: format!("http://{addr}/"),
            state,
        }
    }

    pub fn calls(&self) -> Vec<StsCall> {
        self.state.lock().unwrap().calls.clone()
    }
}

/// Checks one call; `Ok` holds the SecretId that signed it, if any.
fn check(
    s: &StsState,
    action: &str,
    h: &HeaderMap,
    body: &[u8],
    v: &Value,
) -> Result<Option<String>, String> {
    if h.get("x-tc-version").and_then(|v| v.to_str().ok()) != Some("2018-08-13") {
        return Err("X-TC-Version is not 2018-08-13".into());
    }
    match action {
        "AssumeRole" => {
            if v["RoleArn"] != ROLE_ARN || !v["RoleSessionName"].is_string() {
                return Err(format!("bad AssumeRole parameters {v}"));
            }
            if let Some(id) = &s.external_id {
                if v["ExternalId"] != id.as_str() {
                    return Err(format!("the role requires ExternalId {id}"));
                }
            }
            verify(h, body, "sts", &s.base).map(Some)
        }
        "AssumeRoleWithWebIdentity" => {
            if h.get("authorization").and_then(|a| a.to_str().ok()) != Some("SKIP") {
                return Err(
                    "AssumeRoleWithWebIdentity must be sent with Authorization: SKIP".into(),
                );
            }
            let token = v["WebIdentityToken"].as_str().unwrap_or("");
            if !s.web_tokens.iter().any(|t| t == token) {
                return Err("unknown web identity token".into());
            }
            if v["ProviderId"] != PROVIDER_ID || v["RoleArn"] != ROLE_ARN {
                return Err(format!("bad ProviderId or RoleArn in {v}"));
            }
            Ok(None)
        }
        other => Err(format!("unknown action {other}")),
    }
}

async fn handle(State(state): State<Arc<Mutex<StsState>>>, h: HeaderMap, body: Bytes) -> String {
    let action = h
        .get("x-tc-action")
        .and_then(|a| a.to_str().ok())
        .unwrap_or("")
        .to_string();
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut s = state.lock().unwrap();
    let checked = check(&s, &action, &h, &body, &v);
    s.calls.push(StsCall {
        action: action.clone(),
        signed_by: checked.as_ref().ok().cloned().flatten(),
        body: v,
        refused: checked.as_ref().err().cloned(),
    });
    if let Err(e) = checked {
        return error_answer("AuthFailure.SignatureFailure", &e);
    }
    let prefix = if action == "AssumeRole" {
        "AKIDrole"
    } else {
        "AKIDoidc"
    };
    let (id, known) = s.issued.issue(prefix, s.lifetime);
    json!({"Response": {
        "Credentials": {"TmpSecretId": id, "TmpSecretKey": known.key, "Token": known.token},
        "ExpiredTime": known.expires,
        "Expiration": "2099-01-01T00:00:00Z",
        "RequestId": "fake-sts",
    }})
    .to_string()
}
