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
#[serde(
    deny_unknown_fields,
    default,
    expecting = "a mapping of the sections api, credentials, accounts, poll, jobs, discovery, readiness, instances"
)]
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
#[serde(
    deny_unknown_fields,
    default,
    expecting = "the api: section, a mapping (version, region, regions, endpoint, …)"
)]
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
#[serde(
    deny_unknown_fields,
    default,
    expecting = "a credentials mapping (secret_id, secret_key_file, source, profile, role_arn, …)"
)]
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
#[serde(
    deny_unknown_fields,
    default,
    expecting = "the poll: section, a mapping (interval, finished_interval, concurrency, retries)"
)]
pub(super) struct RawPoll {
    #[serde(deserialize_with = "parsed")]
    pub(super) interval: Option<Interval>,
    #[serde(deserialize_with = "parsed")]
    pub(super) finished_interval: Option<Interval>,
    pub(super) concurrency: Option<usize>,
    pub(super) retries: Option<u32>,
}

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "an account, a mapping: { name: prod, credentials: {…}, regions: […] }"
)]
pub(super) struct RawAccount {
    pub(super) name: String,
    #[serde(default)]
    pub(super) credentials: RawCredentials,
    pub(super) regions: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a job, a mapping: { id: 12782, labels: {…} }"
)]
pub(super) struct RawJob {
    pub(super) id: u64,
    pub(super) account: Option<String>,
    #[serde(default)]
    pub(super) labels: Labels,
}

#[derive(Deserialize, Default)]
#[serde(
    deny_unknown_fields,
    default,
    expecting = "the discovery: section, a mapping (interval, max_age, instances)"
)]
pub(super) struct RawDiscovery {
    #[serde(deserialize_with = "parsed")]
    pub(super) interval: Option<Interval>,
    #[serde(deserialize_with = "parsed")]
    pub(super) max_age: Option<Interval>,
    pub(super) instances: Vec<RawInstance>,
}

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "an instance, a mapping: { id: cdb-…, labels: {…} }"
)]
pub(super) struct RawInstance {
    pub(super) id: String,
    #[serde(default)]
    pub(super) labels: Labels,
}

#[cfg(test)]
mod tests {
    use crate::config::tests::parse;

    /// A value that does not parse is named by its full key and its own line (the last one
    /// here), not by its section and the section's first line, as it once was.
    #[test]
    fn a_bad_value_names_its_key_and_line() {
        for (text, key) in [
            ("poll:\n  retries: 1\n  interval: 10\n", "poll.interval"),
            ("api:\n  region: x\n  timeout: 5\n", "api.timeout"),
            ("api:\n  region: x\n  version: 4\n", "api.version"),
            (
                "credentials:\n  profile: p\n  source: x\n",
                "credentials.source",
            ),
            (
                "discovery:\n  instances:\n  - id: c\n    labels: {a: 1,\n      job: 2}\n",
                "discovery.instances[0].labels",
            ),
        ] {
            let text = format!("jobs:\n  - id: 2\n{text}");
            let (err, line) = (parse(&text).unwrap_err(), text.lines().count());
            let at = format!("{key}: `");
            assert!(
                err.contains(&at) && err.contains(&format!("line {line} ")),
                "{err}"
            );
        }
    }

    /// A section or entry of the wrong shape is named in the file's words, not by the
    /// parser's type names (it read `expected struct RawJob`).
    #[test]
    fn a_wrong_shape_says_what_was_expected() {
        for (text, expected) in [
            (
                "jobs:\n  - 12782\n",
                "jobs[0]: invalid type: integer `12782`, expected a job",
            ),
            (
                "api: ap-guangzhou\n",
                "api: invalid type: string \"ap-guangzhou\", expected the api:",
            ),
            (
                "discovery:\n  instances: [cdb-1]\n",
                "discovery.instances[0]: invalid type: string \"cdb-1\", expected an instance",
            ),
            (
                "accounts: [prod]\n",
                "accounts[0]: invalid type: string \"prod\", expected an account",
            ),
            (
                "instances:\n  filter: env=prod\n",
                "expected instances.filter, a mapping",
            ),
            (
                "readiness: on\n",
                "readiness: invalid type: string \"on\", expected the readiness:",
            ),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.contains(expected) && !err.contains("Raw"), "{err}");
        }
    }
}
