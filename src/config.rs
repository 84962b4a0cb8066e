//! The YAML configuration: parsing with line numbers, defaults, validation, credentials.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use reqwest::Url;
use serde::{Deserialize, Deserializer};

use crate::api::{ApiVersion, ClientConfig, HttpMethod, SignatureMethod};
use crate::credentials::{
    self, Env, Origin, RoleSpec, SecretValue, SourceKind, Spec, StaticSpec, static_files::Static,
};
use crate::rollback::time::UtcOffset;

/// A configuration problem, with the file and the key or line it concerns.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// Labels the exporter writes itself; a configured label may not take their names.
pub const RESERVED_LABELS: &[&str] = &[
    "job_id",
    "region",
    "task_id",
    "async_request_id",
    "instance_id",
    "state",
    "type",
    "work_id",
    "instance_name",
    "strategy",
    "operator",
    "action",
    "result",
    "version",
    "revision",
    "le",
    "quantile",
    // Prometheus's own target labels: a clash would be renamed to exported_*.
    "job",
    "instance",
];

/// A duration written like `30s`, `10m`, `24h`, `1h30m` or `500ms`; never zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interval(pub Duration);

impl FromStr for Interval {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}` is not a duration (write e.g. 30s, 10m, 24h, 1h30m)");
        let mut rest = s.trim();
        if rest.is_empty() {
            return Err(bad());
        }
        let mut total = Duration::ZERO;
        while !rest.is_empty() {
            let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
            if digits == 0 {
                return Err(bad());
            }
            let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
            rest = &rest[digits..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(rest.len());
            let unit = match &rest[..unit_len] {
                "ms" => Duration::from_millis(1),
                "s" => Duration::from_secs(1),
                "m" => Duration::from_secs(60),
                "h" => Duration::from_secs(3600),
                "d" => Duration::from_secs(86_400),
                "w" => Duration::from_secs(7 * 86_400),
                _ => return Err(bad()),
            };
            rest = &rest[unit_len..];
            let part = u32::try_from(n)
                .ok()
                .and_then(|n| unit.checked_mul(n))
                .ok_or_else(bad)?;
            total = total.checked_add(part).ok_or_else(bad)?;
        }
        if total.is_zero() {
            return Err(format!("`{s}` is zero; it must be positive"));
        }
        Ok(Interval(total))
    }
}

/// Extra labels from the configuration, checked as they are read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Labels(pub BTreeMap<String, String>);

impl Labels {
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Labels {
        Labels(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }
}

pub fn check_label_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let valid = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(format!(
            "`{name}` is not a valid Prometheus label name (letters, digits and _, not starting with a digit)"
        ));
    }
    if name.starts_with("__") {
        return Err(format!(
            "`{name}`: label names starting with __ are reserved by Prometheus"
        ));
    }
    if RESERVED_LABELS.contains(&name) {
        return Err(format!(
            "`{name}` clashes with a label the exporter or Prometheus sets itself"
        ));
    }
    Ok(())
}

impl<'de> Deserialize<'de> for Labels {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let map = BTreeMap::<String, String>::deserialize(d)?;
        for name in map.keys() {
            check_label_name(name).map_err(serde::de::Error::custom)?;
        }
        Ok(Labels(map))
    }
}

fn parsed<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr<Err = String>,
{
    Option::<String>::deserialize(d)?
        .map(|s| s.parse::<T>().map_err(serde::de::Error::custom))
        .transpose()
}

/// Like [`parsed`], for a value YAML may write as a number (`version: 3`).
fn parsed_any<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr<Err = String>,
{
    let v = Option::<serde_yaml_ng::Value>::deserialize(d)?;
    let text = match v {
        None | Some(serde_yaml_ng::Value::Null) => return Ok(None),
        Some(serde_yaml_ng::Value::Number(n)) => n.to_string(),
        Some(serde_yaml_ng::Value::String(s)) => s,
        Some(other) => format!("{other:?}"),
    };
    text.parse::<T>()
        .map(Some)
        .map_err(serde::de::Error::custom)
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawConfig {
    api: RawApi,
    credentials: RawCredentials,
    poll: RawPoll,
    jobs: Vec<RawJob>,
    discovery: Option<RawDiscovery>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawApi {
    #[serde(deserialize_with = "parsed_any")]
    version: Option<ApiVersion>,
    endpoint: Option<String>,
    region: Option<String>,
    regions: Option<Vec<String>>,
    #[serde(deserialize_with = "parsed")]
    signature_method: Option<SignatureMethod>,
    method: Option<String>,
    #[serde(deserialize_with = "parsed")]
    timezone: Option<UtcOffset>,
    #[serde(deserialize_with = "parsed")]
    timeout: Option<Interval>,
    max_requests_per_second: Option<f64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawCredentials {
    secret_id: Option<String>,
    secret_key_file: Option<PathBuf>,
    session_token_file: Option<PathBuf>,
    #[serde(deserialize_with = "parsed")]
    source: Option<SourceKind>,
    profile: Option<String>,
    role_arn: Option<String>,
    role_session_name: Option<String>,
    #[serde(deserialize_with = "parsed")]
    duration: Option<Interval>,
    metadata_endpoint: Option<String>,
    sts_endpoint: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawPoll {
    #[serde(deserialize_with = "parsed")]
    interval: Option<Interval>,
    #[serde(deserialize_with = "parsed")]
    finished_interval: Option<Interval>,
    concurrency: Option<usize>,
    retries: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJob {
    id: u64,
    #[serde(default)]
    labels: Labels,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawDiscovery {
    #[serde(deserialize_with = "parsed")]
    interval: Option<Interval>,
    #[serde(deserialize_with = "parsed")]
    max_age: Option<Interval>,
    instances: Vec<RawInstance>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInstance {
    id: String,
    #[serde(default)]
    labels: Labels,
}

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

fn http_url(key: &str, text: &str) -> Result<Url, String> {
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

/// SecretId and key from the file, else from the environment; the files are read once
/// here so that a wrong path is found by check-config.
fn static_spec(raw: &RawCredentials, env: &Env) -> Result<StaticSpec, String> {
    let secret_id = raw
        .secret_id
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .or_else(|| env.get(ENV_SECRET_ID))
        .ok_or_else(|| format!("missing SecretId: set credentials.secret_id or the environment variable {ENV_SECRET_ID}"))?;
    let secret_key = match (&raw.secret_key_file, env.get(ENV_SECRET_KEY)) {
        (Some(path), _) => SecretValue::File(path.clone()),
        (None, Some(key)) => SecretValue::Given(crate::api::Secret::new(key)),
        (None, None) => {
            return Err(format!(
                "missing secret key: set credentials.secret_key_file or the environment variable {ENV_SECRET_KEY}"
            ));
        }
    };
    let token = match &raw.session_token_file {
        Some(path) => Some(SecretValue::File(path.clone())),
        None => credentials::env::token(env).map(SecretValue::Given),
    };
    let spec = StaticSpec {
        secret_id: secret_id.to_string(),
        secret_key,
        token,
    };
    Static::new(spec.clone()).load()?;
    Ok(spec)
}

fn origin(raw: &RawCredentials, env: &Env) -> Result<Origin, String> {
    let named_static = raw.secret_id.is_some()
        || raw.secret_key_file.is_some()
        || raw.session_token_file.is_some();
    let origin = match raw.source {
        Some(SourceKind::Static) => Origin::Static(static_spec(raw, env)?),
        None if named_static => Origin::Static(static_spec(raw, env)?),
        Some(kind) if named_static => {
            return Err(format!(
                "credentials.source: `{kind}` does not read secret_id, secret_key_file or session_token_file; remove them or use source: static"
            ));
        }
        Some(kind) => Origin::Only(kind),
        None => Origin::Chain,
    };
    if let Some(p) = &raw.profile {
        if !matches!(origin, Origin::Chain | Origin::Only(SourceKind::Profile)) {
            return Err(format!(
                "credentials.profile: `{p}` is read only by the profile source, which this configuration does not use"
            ));
        }
    }
    Ok(origin)
}

fn role(raw: &RawCredentials) -> Result<Option<RoleSpec>, String> {
    let Some(arn) = raw.role_arn.as_deref().map(str::trim) else {
        if raw.duration.is_some() || raw.role_session_name.is_some() {
            return Err(
                "credentials.duration and credentials.role_session_name need credentials.role_arn"
                    .into(),
            );
        }
        return Ok(None);
    };
    if arn.is_empty() || arn.contains(char::is_whitespace) {
        return Err(format!(
            "credentials.role_arn: `{arn}` is not a role ARN (e.g. qcs::cam::uin/100000000001:roleName/cdb-reader)"
        ));
    }
    let session_name = raw
        .role_session_name
        .clone()
        .unwrap_or_else(|| credentials::DEFAULT_SESSION_NAME.into());
    let plain = session_name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"_=,.@-".contains(&b));
    if !(2..=128).contains(&session_name.len()) || !plain {
        return Err(format!(
            "credentials.role_session_name: `{session_name}` must be 2 to 128 letters, digits or _=,.@-"
        ));
    }
    let duration = raw
        .duration
        .map_or(credentials::DEFAULT_ROLE_DURATION, |d| d.0);
    if duration > credentials::MAX_ROLE_DURATION || duration.as_secs() == 0 {
        return Err(format!(
            "credentials.duration: `{}s` must be from 1s to 12h",
            duration.as_secs()
        ));
    }
    Ok(Some(RoleSpec {
        arn: arn.to_string(),
        session_name,
        duration,
    }))
}

fn credentials_spec(
    raw: RawCredentials,
    env: &dyn Fn(&str) -> Option<String>,
    flags: &Overrides,
    region: String,
) -> Result<Spec, String> {
    let env = Env::capture(env);
    let mut spec = Spec::chain(env);
    spec.origin = origin(&raw, &spec.env)?;
    spec.role = role(&raw)?;
    spec.profile = raw.profile.map(|p| p.trim().to_string());
    if let Some(text) = &flags.metadata_endpoint {
        spec.metadata_endpoint = http_url("--credentials.metadata-endpoint", text)?;
    } else if let Some(text) = &raw.metadata_endpoint {
        spec.metadata_endpoint = http_url("credentials.metadata_endpoint", text)?;
    }
    if let Some(text) = &raw.sts_endpoint {
        spec.sts_endpoint = http_url("credentials.sts_endpoint", text)?;
    }
    spec.region = region;
    Ok(spec)
}

impl fmt::Display for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{k}={v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn creds_env(name: &str) -> Option<String> {
        match name {
            ENV_SECRET_ID => Some("AKIDenv".into()),
            ENV_SECRET_KEY => Some("key-from-env".into()),
            _ => None,
        }
    }

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(text, Path::new("/etc/x/config.yml"), &creds_env).map_err(|e| e.0)
    }

    #[test]
    fn minimal_config_gets_defaults() {
        let c = parse("jobs:\n  - id: 12782\n").unwrap();
        assert_eq!(c.client.version, ApiVersion::V3);
        assert_eq!(
            c.client.endpoint.as_str(),
            "https://cdb.tencentcloudapi.com/"
        );
        assert_eq!(c.client.regions, ["ap-guangzhou"]);
        assert_eq!(c.client.signature_method, SignatureMethod::HmacSha1);
        assert_eq!(c.client.timezone, UtcOffset::CST);
        assert_eq!(c.client.timeout, Duration::from_secs(10));
        assert_eq!(c.client.max_requests_per_second, 5.0);
        assert_eq!(c.poll, PollConfig::default());
        assert_eq!(
            c.jobs,
            vec![JobConfig {
                id: 12782,
                labels: Labels::default()
            }]
        );
        assert!(matches!(c.credentials.origin, Origin::Chain));
        assert_eq!(c.credentials.env.get(ENV_SECRET_ID), Some("AKIDenv"));
        assert_eq!(
            c.credentials.metadata_endpoint.as_str(),
            "http://metadata.tencentyun.com/"
        );
        assert_eq!(
            c.credentials.sts_endpoint.as_str(),
            "https://sts.tencentcloudapi.com/"
        );
        assert_eq!(c.credentials.role, None);
    }

    fn static_creds(c: &Config) -> crate::api::Credentials {
        let Origin::Static(s) = &c.credentials.origin else {
            panic!("not static: {:?}", c.credentials.origin);
        };
        Static::new(s.clone()).load().unwrap()
    }

    #[test]
    fn full_example_parses() {
        let dir = std::env::temp_dir().join(format!("cdbcfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (key, token) = (dir.join("key"), dir.join("token"));
        std::fs::write(&key, "file-key\n").unwrap();
        std::fs::write(&token, "file-token\n").unwrap();
        // Every value differs from its default, so a key that were ignored would show.
        let text = format!(
            r#"
api:
  version: 2
  endpoint: http://127.0.0.1:9999/v2/index.php
  region: ap-shanghai
  signature_method: HmacSHA256
  method: POST
  timezone: "+09:00"
  timeout: 3s
  max_requests_per_second: 2.5
credentials:
  secret_id: AKIDfile
  secret_key_file: {}
  session_token_file: {}
poll:
  interval: 1m30s
  finished_interval: 1h
  concurrency: 2
  retries: 5
jobs:
  - id: 12782
    labels: {{ team: dba }}
discovery:
  interval: 90s
  max_age: 12h
  instances:
    - id: cdb-c1nl9rpv
      labels: {{ team: payments }}
    - id: cdb-3kwa9xvs
"#,
            key.display(),
            token.display()
        );
        let c = parse(&text).unwrap();
        assert_eq!(
            c.client.endpoint.as_str(),
            "http://127.0.0.1:9999/v2/index.php"
        );
        assert_eq!(c.client.version, ApiVersion::V2);
        assert_eq!(c.client.regions, ["ap-shanghai"]);
        assert_eq!(c.client.signature_method, SignatureMethod::HmacSha256);
        assert_eq!(c.client.http_method, HttpMethod::Post);
        assert_eq!(c.client.timezone.seconds(), 9 * 3600);
        assert_eq!(c.client.timeout, Duration::from_secs(3));
        assert_eq!(c.client.max_requests_per_second, 2.5);
        assert_eq!(c.client.concurrency, 2);
        assert_eq!(
            c.poll,
            PollConfig {
                interval: Duration::from_secs(90),
                finished_interval: Duration::from_secs(3600),
                concurrency: 2,
                retries: 5,
            }
        );
        let creds = static_creds(&c);
        assert_eq!(creds.secret_id, "AKIDfile");
        assert_eq!(creds.secret_key.expose(), "file-key");
        assert_eq!(
            creds.token.as_ref().map(crate::api::Secret::expose),
            Some("file-token")
        );
        let debug = format!("{c:?}");
        assert!(
            !debug.contains("file-key")
                && !debug.contains("file-token")
                && !debug.contains("key-from-env"),
            "{debug}"
        );
        assert_eq!(
            c.jobs,
            vec![JobConfig {
                id: 12782,
                labels: Labels::from_pairs(&[("team", "dba")])
            }]
        );
        assert_eq!(c.discovery.interval, Duration::from_secs(90));
        assert_eq!(c.discovery.max_age, Duration::from_secs(12 * 3600));
        assert_eq!(
            c.discovery.instances,
            vec![
                InstanceConfig {
                    id: "cdb-c1nl9rpv".into(),
                    labels: Labels::from_pairs(&[("team", "payments")])
                },
                InstanceConfig {
                    id: "cdb-3kwa9xvs".into(),
                    labels: Labels::default()
                },
            ]
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn unknown_key_names_key_and_line() {
        let err = parse("jobs:\n  - id: 1\npoll:\n  intervall: 30s\n").unwrap_err();
        assert!(err.contains("intervall"), "{err}");
        assert!(err.contains("line 4"), "{err}");
        assert!(err.contains("/etc/x/config.yml"), "{err}");
    }

    #[test]
    fn bad_label_names_are_named() {
        for (name, why) in [
            ("1team", "not a valid"),
            ("job_id", "clashes"),
            ("__x", "reserved"),
            ("team-a", "not a valid"),
        ] {
            let err =
                parse(&format!("jobs:\n  - id: 1\n    labels: {{ {name}: x }}\n")).unwrap_err();
            assert!(err.contains(name) && err.contains(why), "{name}: {err}");
            assert!(err.contains("jobs[0]") && err.contains("line 2"), "{err}");
        }
    }

    #[test]
    fn bad_values_are_named() {
        let cases = [
            ("poll:\n  interval: 0s\n", "`0s` is zero"),
            ("poll:\n  interval: soon\n", "`soon` is not a duration"),
            ("api:\n  signature_method: MD5\n", "`MD5`"),
            ("api:\n  timezone: CST\n", "`CST`"),
            (
                "api:\n  max_requests_per_second: 0\n",
                "max_requests_per_second",
            ),
            ("api:\n  endpoint: ftp://x/y\n", "ftp://x/y"),
            ("poll:\n  concurrency: 0\n", "poll.concurrency"),
            ("  - id: 2\n", "listed twice"),
        ];
        for (extra, expected) in cases {
            let err = parse(&format!("jobs:\n  - id: 2\n{extra}")).unwrap_err();
            assert!(err.contains(expected), "{extra:?}: {err}");
        }
    }

    #[test]
    fn missing_secrets_are_named() {
        let static_file = "jobs:\n  - id: 1\ncredentials:\n  source: static\n";
        let err = Config::parse(static_file, Path::new("c.yml"), &no_env)
            .unwrap_err()
            .0;
        assert!(
            err.contains("SecretId") && err.contains(ENV_SECRET_ID),
            "{err}"
        );
        let only_id = |n: &str| (n == ENV_SECRET_ID).then(|| "AKID".to_string());
        let err = Config::parse(static_file, Path::new("c.yml"), &only_id)
            .unwrap_err()
            .0;
        assert!(
            err.contains("secret key") && err.contains(ENV_SECRET_KEY),
            "{err}"
        );
        // Without credentials keys the chain decides, at start.
        let c = Config::parse("jobs:\n  - id: 1\n", Path::new("c.yml"), &no_env).unwrap();
        assert!(matches!(c.credentials.origin, Origin::Chain));
        let err = parse("jobs:\n  - id: 1\ncredentials:\n  secret_key_file: /nonexistent/key\n")
            .unwrap_err();
        assert!(err.contains("/nonexistent/key"), "{err}");
    }

    #[test]
    fn nothing_to_watch_is_an_error_on_v2_only() {
        let err = parse("api:\n  version: 2\n  region: ap-guangzhou\n").unwrap_err();
        assert!(err.contains("nothing to watch"), "{err}");
        assert!(parse("").unwrap_err().contains("empty"));
        let c = parse("api:\n  region: ap-guangzhou\n").unwrap();
        assert!(c.jobs.is_empty() && c.discovery.instances.is_empty());
    }

    #[test]
    fn versions_and_default_endpoints() {
        let v2 = parse("api:\n  version: 2\njobs:\n  - id: 1\n").unwrap();
        assert_eq!(
            v2.client.endpoint.as_str(),
            "https://cdb.api.qcloud.com/v2/index.php"
        );
        let v3 = parse("api:\n  version: \"3\"\n").unwrap();
        assert_eq!(
            v3.client.endpoint.as_str(),
            "https://cdb.tencentcloudapi.com/"
        );
        let err = parse("api:\n  version: 4\n").unwrap_err();
        assert!(
            err.contains("`4` is not an API version") && err.contains("line 2"),
            "{err}"
        );
    }

    #[test]
    fn regions() {
        let c = parse("api:\n  regions: [ap-guangzhou, ap-shanghai]\n").unwrap();
        assert_eq!(c.client.regions, ["ap-guangzhou", "ap-shanghai"]);
        for (text, expected) in [
            ("api:\n  region: a\n  regions: [b]\n", "both set"),
            ("api:\n  regions: []\n", "at least one region"),
            (
                "api:\n  regions: [ap-x, ap-x]\n",
                "api.regions[1]: `ap-x` is listed twice",
            ),
            (
                "api:\n  region: \"ap guangzhou\"\n",
                "`ap guangzhou` is not a region",
            ),
            (
                "api:\n  version: 2\n  regions: [a, b]\njobs:\n  - id: 1\n",
                "the v2 API takes one region",
            ),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.contains(expected), "{text:?}: {err}");
        }
    }

    #[test]
    fn zero_configuration_start_and_flags() {
        let env = |name: &str| match name {
            ENV_REGION => Some("ap-beijing".to_string()),
            other => creds_env(other),
        };
        let c = Config::without_file(&env, &Overrides::default()).unwrap();
        assert_eq!(c.client.version, ApiVersion::V3);
        assert_eq!(c.client.regions, ["ap-beijing"], "TENCENTCLOUD_REGION");
        assert!(matches!(c.credentials.origin, Origin::Chain));
        assert_eq!(c.credentials.region, "ap-beijing");
        let flags = Overrides {
            region: Some("ap-chengdu".into()),
            endpoint: Some("https://cdb.internal.tencentcloudapi.com/".into()),
            metadata_endpoint: Some("http://127.0.0.1:1/".into()),
        };
        let c = Config::without_file(&env, &flags).unwrap();
        assert_eq!(c.client.regions, ["ap-chengdu"], "the flag wins");
        assert_eq!(
            c.client.endpoint.host_str(),
            Some("cdb.internal.tencentcloudapi.com")
        );
        assert_eq!(
            c.credentials.metadata_endpoint.as_str(),
            "http://127.0.0.1:1/"
        );
        let c = Config::parse_with(
            "api:\n  regions: [a, b]\n",
            Path::new("c.yml"),
            &env,
            &flags,
        )
        .unwrap();
        assert_eq!(
            c.client.regions,
            ["ap-chengdu"],
            "the flag wins over the file"
        );
        let bad = Overrides {
            endpoint: Some("nope".into()),
            ..Overrides::default()
        };
        let err = Config::without_file(&env, &bad).unwrap_err().0;
        assert!(
            err.contains("--api.endpoint") && err.contains("nope"),
            "{err}"
        );
        let c = Config::without_file(&no_env, &Overrides::default()).unwrap();
        assert!(matches!(c.credentials.origin, Origin::Chain));
    }

    #[test]
    fn credentials_keys() {
        let text = "credentials:\n  source: cvm_role\n  role_arn: qcs::cam::uin/1:roleName/r\n  \
                    role_session_name: exporter-1\n  duration: 2h\n  \
                    metadata_endpoint: http://127.0.0.1:8080\n  sts_endpoint: https://sts.internal.tencentcloudapi.com/\n";
        let c = parse(text).unwrap();
        assert!(matches!(
            c.credentials.origin,
            Origin::Only(SourceKind::CvmRole)
        ));
        assert_eq!(
            c.credentials.role,
            Some(RoleSpec {
                arn: "qcs::cam::uin/1:roleName/r".into(),
                session_name: "exporter-1".into(),
                duration: Duration::from_secs(7200),
            })
        );
        assert_eq!(
            c.credentials.metadata_endpoint.as_str(),
            "http://127.0.0.1:8080/"
        );
        assert_eq!(
            c.credentials.sts_endpoint.host_str(),
            Some("sts.internal.tencentcloudapi.com")
        );
        let c =
            parse("credentials:\n  profile: ci\n  role_arn: qcs::cam::uin/1:roleName/r\n").unwrap();
        assert_eq!(c.credentials.profile.as_deref(), Some("ci"));
        let role = c.credentials.role.unwrap();
        assert_eq!(role.session_name, "cdb-rollback-exporter");
        assert_eq!(role.duration, Duration::from_secs(3600));
        for (text, expected) in [
            ("credentials:\n  source: vault\n", "`vault` is not a source"),
            (
                "credentials:\n  source: env\n  secret_id: AKID\n",
                "source: static",
            ),
            (
                "credentials:\n  source: env\n  profile: ci\n",
                "credentials.profile: `ci`",
            ),
            (
                "credentials:\n  role_arn: r\n  duration: 13h\n",
                "credentials.duration",
            ),
            (
                "credentials:\n  duration: 1h\n",
                "need credentials.role_arn",
            ),
            (
                "credentials:\n  role_arn: r\n  role_session_name: a b\n",
                "`a b`",
            ),
            (
                "credentials:\n  metadata_endpoint: nope\n",
                "credentials.metadata_endpoint: `nope`",
            ),
            (
                "credentials:\n  sts_endpoint: ftp://x\n",
                "credentials.sts_endpoint: `ftp://x`",
            ),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.contains(expected), "{text:?}: {err}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!("30s".parse(), Ok(Interval(Duration::from_secs(30))));
        assert_eq!("1h30m".parse(), Ok(Interval(Duration::from_secs(5400))));
        assert_eq!("250ms".parse(), Ok(Interval(Duration::from_millis(250))));
        assert!("30".parse::<Interval>().is_err());
        assert!("s".parse::<Interval>().is_err());
        assert!("3x".parse::<Interval>().is_err());
    }
}
