//! TKE pod identity: the pod's web identity token (a file the kubelet rotates, so it is
//! read again at each refresh) exchanged at STS `AssumeRoleWithWebIdentity`, unsigned.

use std::path::PathBuf;

use serde_json::json;

use super::sts::Sts;
use super::{DEFAULT_SESSION_NAME, Env, FetchError, Fetched, Lack, Spec};

pub const ENV_ROLE_ARN: &str = "TKE_ROLE_ARN";
pub const ENV_PROVIDER_ID: &str = "TKE_PROVIDER_ID";
pub const ENV_TOKEN_FILE: &str = "TKE_WEB_IDENTITY_TOKEN_FILE";
pub const ENV_REGION: &str = "TKE_REGION";
/// What the TKE SDKs ask for.
const DURATION_SECONDS: u64 = 7200;

#[derive(Debug)]
pub struct Oidc {
    sts: Sts,
    role_arn: String,
    provider_id: String,
    token_file: PathBuf,
    session_name: String,
}

/// The three variables, all or none.
fn vars(env: &Env) -> Result<[&str; 3], Lack> {
    let names = [ENV_ROLE_ARN, ENV_PROVIDER_ID, ENV_TOKEN_FILE];
    let values = names.map(|n| env.get(n));
    match values {
        [Some(a), Some(p), Some(f)] => Ok([a, p, f]),
        [None, None, None] => Err(Lack::Absent(format!("{ENV_ROLE_ARN} not set"))),
        _ => {
            let (set, unset): (Vec<_>, Vec<_>) =
                names.iter().zip(values).partition(|(_, v)| v.is_some());
            let list = |v: Vec<(&&str, Option<&str>)>| {
                v.iter().map(|(n, _)| **n).collect::<Vec<_>>().join(", ")
            };
            Err(Lack::Misconfigured(format!(
                "{} set but {} not",
                list(set),
                list(unset)
            )))
        }
    }
}

impl Oidc {
    pub fn from_env(spec: &Spec) -> Result<Oidc, Lack> {
        let [role_arn, provider_id, token_file] = vars(&spec.env)?;
        let region = spec.env.get(ENV_REGION).unwrap_or(&spec.region);
        Ok(Oidc {
            sts: Sts::new(&spec.sts_endpoint, region)?,
            role_arn: role_arn.to_string(),
            provider_id: provider_id.to_string(),
            token_file: PathBuf::from(token_file),
            session_name: spec
                .role
                .as_ref()
                .map_or(DEFAULT_SESSION_NAME, |r| r.session_name.as_str())
                .to_string(),
        })
    }

    pub fn role_arn(&self) -> &str {
        &self.role_arn
    }

    pub async fn fetch(&self) -> Result<Fetched, FetchError> {
        // The error names the file only: its content is a credential.
        let token =
            std::fs::read_to_string(&self.token_file).map_err(|error| FetchError::Unreadable {
                key: format!("the web identity token file ({ENV_TOKEN_FILE})"),
                path: self.token_file.clone(),
                error,
            })?;
        let body = json!({
            "ProviderId": self.provider_id,
            "WebIdentityToken": token.trim(),
            "RoleArn": self.role_arn,
            "RoleSessionName": self.session_name,
            "DurationSeconds": DURATION_SECONDS,
        });
        self.sts
            .call("AssumeRoleWithWebIdentity", &body, None)
            .await
    }
}
