//! The YAML configuration: parsing with line numbers, defaults, validation, credentials.

mod accounts;
mod credentials_section;
mod inventory;
mod raw;
mod readiness;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_inventory;
mod values;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::Url;

use crate::api::{ApiVersion, ClientConfig, HttpMethod, V2Options};
use crate::credentials::{FetchError, Spec};
use crate::parse_error::ParseError;

pub use self::accounts::AccountConfig;
use self::credentials_section::credentials_spec;
use self::inventory::inventory_config;
pub use self::inventory::{ExportedTag, INFO_LABELS, InventoryConfig, InventoryFilter, tag_label};
use self::raw::{RawApi, RawConfig, RawDiscovery, RawPoll};
pub use self::readiness::ReadinessConfig;
use self::readiness::readiness_config;
pub use self::values::{Interval, Labels, RESERVED_LABELS, check_label_name, http_url, region};

/// A configuration problem, with the file and the key or line it concerns.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {}: {error}", path.display())]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(
        "config file {}: the file is empty; leave out --config.file to watch every rollback \
         of the region, or write at least `api:`, `jobs:` or `discovery:`",
        path.display()
    )]
    Empty { path: PathBuf },
    /// YAML that does not parse, an unknown key or a value of the wrong form; serde's
    /// message names the key, line and column.
    #[error("config file {}: {error}", path.display())]
    Syntax {
        path: PathBuf,
        error: serde_yaml_ng::Error,
    },
    #[error("config file {}: {problem}", path.display())]
    Invalid { path: PathBuf, problem: Invalid },
    #[error("without a config file: {0}")]
    WithoutFile(Invalid),
}

/// A value or a combination of keys the configuration does not accept.
#[derive(Debug, thiserror::Error)]
pub enum Invalid {
    /// A key's value of the wrong form or out of range.
    #[error("{key}: `{value}` {problem}")]
    Value {
        key: String,
        value: String,
        problem: String,
    },
    /// A key's value that does not parse.
    #[error("{key}: {error}")]
    Parse { key: String, error: ParseError },
    /// Keys that do not go together, or one that is needed.
    #[error("{key}: {problem}")]
    Rule { key: String, problem: String },
    #[error("missing {what}: set {key} or the environment variable {env}")]
    Missing {
        what: &'static str,
        key: &'static str,
        env: &'static str,
    },
    /// A secret file named in the config that cannot be read.
    #[error(transparent)]
    Credentials(#[from] FetchError),
}

impl Invalid {
    pub fn value(
        key: impl Into<String>,
        value: impl fmt::Display,
        problem: impl Into<String>,
    ) -> Invalid {
        Invalid::Value {
            key: key.into(),
            value: value.to_string(),
            problem: problem.into(),
        }
    }

    pub fn parse(key: impl Into<String>, error: ParseError) -> Invalid {
        Invalid::Parse {
            key: key.into(),
            error,
        }
    }

    pub fn rule(key: impl Into<String>, problem: impl Into<String>) -> Invalid {
        Invalid::Rule {
            key: key.into(),
            problem: problem.into(),
        }
    }
}

/// How often and how hard jobs are polled (`poll:`).
#[derive(Clone, Debug, PartialEq)]
pub struct PollConfig {
    pub interval: Duration,
    pub finished_interval: Duration,
    pub concurrency: usize,
    /// Back-off retries after a retryable failure, within one poll.
    pub retries: u32,
}

impl Default for PollConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(30),
            finished_interval: Duration::from_secs(600),
            concurrency: 4,
            retries: 2,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct JobConfig {
    pub id: u64,
    /// The account the job belongs to; `None`: any account that lists it.
    pub account: Option<String>,
    pub labels: Labels,
}

#[derive(Clone, Debug, PartialEq)]
pub struct InstanceConfig {
    pub id: String,
    pub labels: Labels,
}

#[derive(Clone, Debug, PartialEq)]
pub struct DiscoveryConfig {
    pub interval: Duration,
    pub max_age: Duration,
    pub instances: Vec<InstanceConfig>,
}

impl Default for DiscoveryConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(120),
            max_age: Duration::from_secs(86_400),
            instances: Vec::new(),
        }
    }
}

/// A validated configuration, ready to run.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub client: ClientConfig,
    /// Where the credentials come from; resolved at start (`credentials::resolve`). With
    /// `accounts:`, each account's are in `accounts`.
    pub credentials: Spec,
    /// `accounts:`; empty without it.
    pub accounts: Vec<AccountConfig>,
    pub poll: PollConfig,
    pub jobs: Vec<JobConfig>,
    pub discovery: DiscoveryConfig,
    /// `readiness:`: each instance's recoverable window (API 3.0).
    pub readiness: ReadinessConfig,
    /// `instances:`: the instance inventory (API 3.0).
    pub instances: InventoryConfig,
}

/// Values given on the command line, which win over the file; checked by clap as the
/// flags are read ([`region`], [`http_url`]).
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub region: Option<String>,
    pub endpoint: Option<Url>,
    pub metadata_endpoint: Option<Url>,
}

pub const ENV_REGION: &str = "TENCENTCLOUD_REGION";
pub use crate::credentials::env::{ENV_SECRET_ID, ENV_SECRET_KEY, ENV_SESSION_TOKEN as ENV_TOKEN};

impl Config {
    /// Reads and validates `path`; credentials missing from the file come from `env`.
    pub fn load(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        Self::load_with(path, env, &Overrides::default())
    }

    pub fn load_with(
        path: &Path,
        env: &dyn Fn(&str) -> Option<String>,
        flags: &Overrides,
    ) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
            path: path.to_path_buf(),
            error,
        })?;
        Self::parse_with(&text, path, env, flags)
    }

    /// Validates `text` as if read from `path` (which error messages name).
    pub fn parse(
        text: &str,
        path: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        Self::parse_with(text, path, env, &Overrides::default())
    }

    pub fn parse_with(
        text: &str,
        path: &Path,
        env: &dyn Fn(&str) -> Option<String>,
        flags: &Overrides,
    ) -> Result<Config, ConfigError> {
        let path = path.to_path_buf();
        if text.trim().is_empty() {
            return Err(ConfigError::Empty { path });
        }
        let raw: RawConfig = match serde_yaml_ng::from_str(text) {
            Ok(raw) => raw,
            Err(error) => return Err(ConfigError::Syntax { path, error }),
        };
        build(raw, env, flags).map_err(|problem| ConfigError::Invalid { path, problem })
    }

    /// The configuration of a start without a file: API 3.0, every rollback job of the
    /// region, region from the environment and the flags, credentials from the chain.
    pub fn without_file(
        env: &dyn Fn(&str) -> Option<String>,
        flags: &Overrides,
    ) -> Result<Config, ConfigError> {
        build(RawConfig::default(), env, flags).map_err(ConfigError::WithoutFile)
    }
}

/// The endpoint: the flag, else the file, else the version's default.
fn endpoint(version: ApiVersion, raw: Option<&str>, flags: &Overrides) -> Result<Url, Invalid> {
    if let Some(url) = &flags.endpoint {
        return Ok(url.clone());
    }
    url_key("api.endpoint", raw.unwrap_or(version.default_endpoint()))
}

/// The URL of a file key.
pub(super) fn url_key(key: &str, text: &str) -> Result<Url, Invalid> {
    http_url(text).map_err(|e| Invalid::parse(key, e))
}

/// The regions: the flag, else `api.region` or `api.regions`, else TENCENTCLOUD_REGION,
/// else ap-guangzhou.
fn regions(
    raw: &RawApi,
    env: &dyn Fn(&str) -> Option<String>,
    flags: &Overrides,
) -> Result<Vec<String>, Invalid> {
    if raw.region.is_some() && raw.regions.is_some() {
        return Err(Invalid::rule(
            "api.regions",
            "api.region is set too; keep one",
        ));
    }
    let (key, list) = if let Some(r) = &flags.region {
        ("--api.region", vec![r.clone()])
    } else if let Some(r) = &raw.region {
        ("api.region", vec![r.clone()])
    } else if let Some(list) = &raw.regions {
        ("api.regions", list.clone())
    } else if let Some(r) = env(ENV_REGION).filter(|r| !r.trim().is_empty()) {
        (ENV_REGION, vec![r])
    } else {
        ("api.region", vec!["ap-guangzhou".to_string()])
    };
    if list.is_empty() {
        return Err(Invalid::rule(key, "name at least one region"));
    }
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for (i, r) in list.iter().enumerate() {
        let r = region(r).map_err(|e| Invalid::parse(format!("{key}[{i}]"), e))?;
        if out.contains(&r) {
            return Err(Invalid::value(format!("{key}[{i}]"), r, "is listed twice"));
        }
        out.push(r);
    }
    Ok(out)
}

fn client_config(
    raw: RawApi,
    env: &dyn Fn(&str) -> Option<String>,
    flags: &Overrides,
) -> Result<ClientConfig, Invalid> {
    let version = raw.version.unwrap_or_default();
    let mut client = ClientConfig::new(version, endpoint(version, raw.endpoint.as_deref(), flags)?);
    client.regions = regions(&raw, env, flags)?;
    if version == ApiVersion::V2 && client.regions.len() > 1 {
        return Err(Invalid::rule(
            "api.regions",
            "the v2 API takes one region; use api.version: 3 for several",
        ));
    }
    client.v2 = v2_options(&raw, version)?;
    if let Some(tz) = raw.timezone {
        client.timezone = tz;
    }
    if let Some(t) = raw.timeout {
        client.timeout = t.0;
    }
    if let Some(rps) = raw.max_requests_per_second {
        if !(0.01..=1000.0).contains(&rps) {
            return Err(Invalid::value(
                "api.max_requests_per_second",
                rps,
                "must be from 0.01 to 1000",
            ));
        }
        client.max_requests_per_second = rps;
    }
    Ok(client)
}

/// `api.signature_method` and `api.method`: v2 only, so an error under v3 rather than
/// a setting that silently does nothing.
fn v2_options(raw: &RawApi, version: ApiVersion) -> Result<V2Options, Invalid> {
    if version != ApiVersion::V2 {
        let v3 = "is a v2 setting: API 3.0 always signs with TC3-HMAC-SHA256 and sends POST \
                  with JSON; remove it, or set api.version: 2";
        if raw.signature_method.is_some() {
            return Err(Invalid::rule("api.signature_method", v3));
        }
        if raw.method.is_some() {
            return Err(Invalid::rule("api.method", v3));
        }
    }
    let http_method = match raw.method.as_deref() {
        None | Some("GET") => HttpMethod::Get,
        Some("POST") => HttpMethod::Post,
        Some(other) => return Err(Invalid::value("api.method", other, "is not GET or POST")),
    };
    Ok(V2Options {
        signature_method: raw.signature_method.unwrap_or_default(),
        http_method,
    })
}

fn poll_config(raw: RawPoll) -> Result<PollConfig, Invalid> {
    let mut poll = PollConfig::default();
    if let Some(i) = raw.interval {
        poll.interval = i.0;
    }
    if let Some(i) = raw.finished_interval {
        poll.finished_interval = i.0;
    }
    if let Some(c) = raw.concurrency {
        if !(1..=256).contains(&c) {
            return Err(Invalid::value(
                "poll.concurrency",
                c,
                "must be from 1 to 256",
            ));
        }
        poll.concurrency = c;
    }
    if let Some(r) = raw.retries {
        poll.retries = r;
    }
    Ok(poll)
}

fn discovery_config(raw: Option<RawDiscovery>) -> Result<DiscoveryConfig, Invalid> {
    let mut discovery = DiscoveryConfig::default();
    let Some(d) = raw else {
        return Ok(discovery);
    };
    if let Some(i) = d.interval {
        discovery.interval = i.0;
    }
    if let Some(a) = d.max_age {
        discovery.max_age = a.0;
    }
    for (i, inst) in d.instances.into_iter().enumerate() {
        // An id with a space or a stray character never matches an instance: say so now.
        let plain = inst
            .id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if inst.id.is_empty() || !plain {
            return Err(Invalid::value(
                format!("discovery.instances[{i}].id"),
                &inst.id,
                "is not an instance id (e.g. cdb-c1nl9rpv)",
            ));
        }
        if discovery.instances.iter().any(|k| k.id == inst.id) {
            return Err(Invalid::value(
                format!("discovery.instances[{i}].id"),
                &inst.id,
                "is listed twice",
            ));
        }
        discovery.instances.push(InstanceConfig {
            id: inst.id,
            labels: inst.labels,
        });
    }
    Ok(discovery)
}

fn build(
    raw: RawConfig,
    env: &dyn Fn(&str) -> Option<String>,
    flags: &Overrides,
) -> Result<Config, Invalid> {
    let mut client = client_config(raw.api, env, flags)?;
    let poll = poll_config(raw.poll)?;
    client.concurrency = poll.concurrency;
    let top_credentials = raw.credentials.is_some();
    let accounts = accounts::accounts(raw.accounts, top_credentials, &client, env, flags)?;
    let jobs = accounts::jobs(raw.jobs, &accounts)?;
    let discovery = discovery_config(raw.discovery)?;
    // v3 lists whole regions; v2 can only poll what it is told about.
    if client.version == ApiVersion::V2 && jobs.is_empty() && discovery.instances.is_empty() {
        return Err(Invalid::rule(
            "jobs",
            "nothing to watch: the v2 API needs job ids under `jobs:` or instances under `discovery.instances:`",
        ));
    }
    let instances = inventory_config(raw.instances, client.version == ApiVersion::V3)?;
    let v3 = client.version == ApiVersion::V3;
    let readiness = readiness_config(raw.readiness, v3, instances.enabled)?;
    let region = client.regions.first().cloned().unwrap_or_default();
    let raw_credentials = raw.credentials.unwrap_or_default();
    let credentials = credentials_spec(raw_credentials, env, flags, region)?;
    if client.endpoint.scheme() == "http" && !is_loopback(&client.endpoint) {
        tracing::warn!(endpoint = %client.endpoint, "api.endpoint uses plain http: requests and answers can be read on the way");
    }
    Ok(Config {
        client,
        credentials,
        accounts,
        poll,
        jobs,
        discovery,
        readiness,
        instances,
    })
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    }
}
