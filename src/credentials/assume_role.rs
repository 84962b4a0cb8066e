//! STS `AssumeRole`, signed (TC3) with whatever credentials the chain found.

use serde_json::json;

use super::Credentials;
use super::sts::Sts;
use super::{FetchError, Fetched, RoleSpec, Spec};

/// The `source` label of assumed-role credentials.
pub const LABEL: &str = "assume_role";

#[derive(Debug)]
pub struct AssumeRole {
    sts: Sts,
    role: RoleSpec,
}

impl AssumeRole {
    pub fn new(spec: &Spec, role: &RoleSpec) -> Result<AssumeRole, FetchError> {
        Ok(AssumeRole {
            sts: Sts::new(&spec.sts_endpoint, &spec.region)?,
            role: role.clone(),
        })
    }

    pub fn role_arn(&self) -> &str {
        &self.role.arn
    }

    pub async fn assume(&self, base: &Credentials) -> Result<Fetched, FetchError> {
        let mut body = json!({
            "RoleArn": self.role.arn,
            "RoleSessionName": self.role.session_name,
            "DurationSeconds": self.role.duration.as_secs(),
        });
        if let Some(id) = &self.role.external_id {
            body["ExternalId"] = json!(id);
        }
        self.sts.call("AssumeRole", &body, Some(base)).await
    }
}
