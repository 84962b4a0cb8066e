//! The YAML configuration: parsing with line numbers, defaults, validation, credentials.

mod credentials_section;
mod raw;
#[cfg(test)]
mod tests;
mod values;

use std::path::Path;
use std::time::Duration;

use reqwest::Url;

use crate::api::{ApiVersion, ClientConfig, HttpMethod};
use crate::credentials::Spec;

use self::credentials_section::credentials_spec;
use self::raw::{RawApi, RawConfig, RawDiscovery, RawPoll};
pub use self::values::{Interval, Labels, RESERVED_LABELS, check_label_name};

/// A configuration problem, with the file and the key or line it concerns.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// Labels the exporter writes itself; a configured label may not take their names.
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
#[derive(Clone, Debug)]
pub struct Config {
    pub client: ClientConfig,
    /// Where the credentials come from; resolved at start (`credentials::resolve`).
    pub credentials: Spec,
    pub poll: PollConfig,
    pub jobs: Vec<JobConfig>,
    pub discovery: DiscoveryConfig,
}

/// Values given on the command line, which win over the file.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub region: Option<String>,
    pub endpoint: Option<String>,
    pub metadata_endpoint: Option<String>,
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
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("cannot read config file {}: {e}", path.display())))?;
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
        let at = path.display();
        let fail = |msg: String| ConfigError(format!("config file {at}: {msg}"));
        if text.trim().is_empty() {
            return Err(fail(
                "the file is empty; leave out --config.file to watch every rollback of the region, \
                 or write at least `api:`, `jobs:` or `discovery:`"
                    .into(),
            ));
        }
        let raw: RawConfig = serde_yaml_ng::from_str(text).map_err(|e| fail(e.to_string()))?;
        build(raw, env, flags).map_err(fail)
    }

    /// The configuration of a start without a file: API 3.0, every rollback job of the
    /// region, region from the environment and the flags, credentials from the chain.
    pub fn without_file(
        env: &dyn Fn(&str) -> Option<String>,
        flags: &Overrides,
    ) -> Result<Config, ConfigError> {
        build(RawConfig::default(), env, flags)
            .map_err(|e| ConfigError(format!("without a config file: {e}")))
    }
}

/// The endpoint: the flag, else the file, else the version's default.
fn endpoint(version: ApiVersion, raw: Option<&str>, flags: &Overrides) -> Result<Url, String> {
    let (key, text) = match (flags.endpoint.as_deref(), raw) {
        (Some(f), _) => ("--api.endpoint", f),
        (None, Some(r)) => ("api.endpoint", r),
        (None, None) => ("api.endpoint", version.default_endpoint()),
    };
    http_url(key, text)
}

pub(super) fn http_url(key: &str, text: &str) -> Result<Url, String> {
    let url = Url::parse(text).map_err(|e| format!("{key}: `{text}` is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!(
            "{key}: `{text}` must be an http(s) URL with a host"
        ));
    }
    Ok(url)
}

/// The regions: the flag, else `api.region` or `api.regions`, else TENCENTCLOUD_REGION,
/// else ap-guangzhou.
fn regions(
    raw: &RawApi,
    env: &dyn Fn(&str) -> Option<String>,
    flags: &Overrides,
) -> Result<Vec<String>, String> {
    if raw.region.is_some() && raw.regions.is_some() {
        return Err("api.region and api.regions are both set; keep one".into());
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
        return Err(format!("{key}: name at least one region"));
    }
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for (i, r) in list.iter().enumerate() {
        let r = r.trim();
        let plain = r.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if r.is_empty() || !plain {
            return Err(format!(
                "{key}[{i}]: `{r}` is not a region (e.g. ap-guangzhou)"
            ));
        }
        if out.iter().any(|o| o == r) {
            return Err(format!("{key}[{i}]: `{r}` is listed twice"));
        }
        out.push(r.to_string());
    }
    Ok(out)
}

fn client_config(
    raw: RawApi,
    env: &dyn Fn(&str) -> Option<String>,
    flags: &Overrides,
) -> Result<ClientConfig, String> {
    let version = raw.version.unwrap_or_default();
    let mut client = ClientConfig::new(version, endpoint(version, raw.endpoint.as_deref(), flags)?);
    client.regions = regions(&raw, env, flags)?;
    if version == ApiVersion::V2 && client.regions.len() > 1 {
        return Err(
            "api.regions: the v2 API takes one region; use api.version: 3 for several".into(),
        );
    }
    if let Some(m) = raw.signature_method {
        client.signature_method = m;
    }
    client.http_method = match raw.method.as_deref() {
        None | Some("GET") => HttpMethod::Get,
        Some("POST") => HttpMethod::Post,
        Some(other) => return Err(format!("api.method: `{other}` is not GET or POST")),
    };
    if let Some(tz) = raw.timezone {
        client.timezone = tz;
    }
    if let Some(t) = raw.timeout {
        client.timeout = t.0;
    }
    if let Some(rps) = raw.max_requests_per_second {
        if !(0.01..=1000.0).contains(&rps) {
            return Err(format!(
                "api.max_requests_per_second: `{rps}` must be from 0.01 to 1000"
            ));
        }
        client.max_requests_per_second = rps;
    }
    Ok(client)
}

fn poll_config(raw: RawPoll) -> Result<PollConfig, String> {
    let mut poll = PollConfig::default();
    if let Some(i) = raw.interval {
        poll.interval = i.0;
    }
    if let Some(i) = raw.finished_interval {
        poll.finished_interval = i.0;
    }
    if let Some(c) = raw.concurrency {
        if !(1..=256).contains(&c) {
            return Err(format!("poll.concurrency: `{c}` must be from 1 to 256"));
        }
        poll.concurrency = c;
    }
    if let Some(r) = raw.retries {
        poll.retries = r;
    }
    Ok(poll)
}

fn discovery_config(raw: Option<RawDiscovery>) -> Result<DiscoveryConfig, String> {
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
        if inst.id.trim().is_empty() {
            return Err(format!("discovery.instances[{i}].id: must not be empty"));
        }
        if discovery.instances.iter().any(|k| k.id == inst.id) {
            return Err(format!(
                "discovery.instances[{i}].id: `{}` is listed twice",
                inst.id
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
) -> Result<Config, String> {
    let mut client = client_config(raw.api, env, flags)?;
    let poll = poll_config(raw.poll)?;
    client.concurrency = poll.concurrency;
    let mut jobs: Vec<JobConfig> = Vec::with_capacity(raw.jobs.len());
    for (i, j) in raw.jobs.into_iter().enumerate() {
        if jobs.iter().any(|k| k.id == j.id) {
            return Err(format!("jobs[{i}].id: job {} is listed twice", j.id));
        }
        jobs.push(JobConfig {
            id: j.id,
            labels: j.labels,
        });
    }
    let discovery = discovery_config(raw.discovery)?;
    // v3 lists whole regions; v2 can only poll what it is told about.
    if client.version == ApiVersion::V2 && jobs.is_empty() && discovery.instances.is_empty() {
        return Err(
            "nothing to watch: the v2 API needs job ids under `jobs:` or instances under `discovery.instances:`".into(),
        );
    }
    let region = client.regions.first().cloned().unwrap_or_default();
    let credentials = credentials_spec(raw.credentials, env, flags, region)?;
    if client.endpoint.scheme() == "http" && !is_loopback(&client.endpoint) {
        tracing::warn!(endpoint = %client.endpoint, "api.endpoint uses plain http: requests and answers can be read on the way");
    }
    Ok(Config {
        client,
        credentials,
        poll,
        jobs,
        discovery,
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
