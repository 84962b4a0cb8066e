//! The configuration file as written: every key optional, unknown keys refused (with
//! their line), values parsed as they are read.

use std::path::PathBuf;

use serde::Deserialize;

use super::inventory::RawInstances;
use super::readiness::RawReadiness;
use super::values::{Interval, Labels, parsed, parsed_any};
use crate::api::{ApiVersion, SignatureMethod};
use crate::credentials::SourceKind;
use crate::time::UtcOffset;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawConfig {
    pub(super) api: RawApi,
    pub(super) credentials: Option<RawCredentials>,
    pub(super) accounts: Option<Vec<RawAccount>>,
    pub(super) poll: RawPoll,
    pub(super) jobs: Vec<RawJob>,
    pub(super) discovery: Option<RawDiscovery>,
    pub(super) readiness: Option<RawReadiness>,
    pub(super) instances: Option<RawInstances>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawApi {
    #[serde(deserialize_with = "parsed_any")]
    pub(super) version: Option<ApiVersion>,
    pub(super) endpoint: Option<String>,
    pub(super) region: Option<String>,
    pub(super) regions: Option<Vec<String>>,
    #[serde(deserialize_with = "parsed")]
    pub(super) signature_method: Option<SignatureMethod>,
    pub(super) method: Option<String>,
    #[serde(deserialize_with = "parsed")]
    pub(super) timezone: Option<UtcOffset>,
    #[serde(deserialize_with = "parsed")]
    pub(super) timeout: Option<Interval>,
    pub(super) max_requests_per_second: Option<f64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawCredentials {
    pub(super) secret_id: Option<String>,
    pub(super) secret_key_file: Option<PathBuf>,
    pub(super) session_token_file: Option<PathBuf>,
    #[serde(deserialize_with = "parsed")]
    pub(super) source: Option<SourceKind>,
    pub(super) profile: Option<String>,
    pub(super) role_arn: Option<String>,
    pub(super) role_session_name: Option<String>,
    pub(super) external_id: Option<String>,
    #[serde(deserialize_with = "parsed")]
    pub(super) duration: Option<Interval>,
    pub(super) metadata_endpoint: Option<String>,
    pub(super) sts_endpoint: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawPoll {
    #[serde(deserialize_with = "parsed")]
    pub(super) interval: Option<Interval>,
    #[serde(deserialize_with = "parsed")]
    pub(super) finished_interval: Option<Interval>,
    pub(super) concurrency: Option<usize>,
    pub(super) retries: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAccount {
    pub(super) name: String,
    #[serde(default)]
    pub(super) credentials: RawCredentials,
    pub(super) regions: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawJob {
    pub(super) id: u64,
    pub(super) account: Option<String>,
    #[serde(default)]
    pub(super) labels: Labels,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawDiscovery {
    #[serde(deserialize_with = "parsed")]
    pub(super) interval: Option<Interval>,
    #[serde(deserialize_with = "parsed")]
    pub(super) max_age: Option<Interval>,
    pub(super) instances: Vec<RawInstance>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawInstance {
    pub(super) id: String,
    #[serde(default)]
    pub(super) labels: Labels,
}
