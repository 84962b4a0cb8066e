//! The signed client for the legacy v2 CDB API: sign, request, decode.

pub mod budget;
pub mod decode;
pub mod error;
pub mod sign;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use reqwest::Url;

pub use self::budget::{Priority, RequestBudget};
pub use self::error::{ApiError, ErrorKind, Retry};
pub use self::sign::SignatureMethod;
use crate::metrics::Metrics;
use crate::rollback::time::UtcOffset;
use crate::rollback::{Job, JobPage};

pub const DEFAULT_ENDPOINT: &str = "https://cdb.api.qcloud.com/v2/index.php";
pub const USER_AGENT: &str = concat!("cdb-rollback-exporter/", env!("CARGO_PKG_VERSION"));
/// Answers larger than this are refused rather than buffered.
const MAX_BODY: usize = 8 << 20;

/// A secret that never shows itself in `Debug` or `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// API credentials. `Debug` shows the SecretId only.
#[derive(Clone, Debug)]
pub struct Credentials {
    pub secret_id: String,
    pub secret_key: Secret,
    pub token: Option<Secret>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HttpMethod {
    #[default]
    Get,
    Post,
}

impl HttpMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
        }
    }
}

/// Everything about how to talk to the API except the credentials.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    pub endpoint: Url,
    pub region: String,
    pub signature_method: SignatureMethod,
    pub http_method: HttpMethod,
    pub timezone: UtcOffset,
    pub timeout: Duration,
    pub max_requests_per_second: f64,
    /// Requests in flight at once, for the whole process.
    pub concurrency: usize,
}

impl ClientConfig {
    pub fn new(endpoint: Url) -> Self {
        Self {
            endpoint,
            region: "ap-guangzhou".into(),
            signature_method: SignatureMethod::HmacSha1,
            http_method: HttpMethod::Get,
            timezone: UtcOffset::CST,
            timeout: Duration::from_secs(10),
            max_requests_per_second: 5.0,
            concurrency: 4,
        }
    }
}

/// The two read-only actions this exporter calls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    GetCdbRollbackJobTask {
        job_id: u64,
    },
    GetCdbRollbackJob {
        instance_id: String,
        offset: u64,
        limit: u64,
    },
}

impl Action {
    pub const NAMES: [&'static str; 2] = ["GetCdbRollbackJobTask", "GetCdbRollbackJob"];

    pub fn name(&self) -> &'static str {
        match self {
            Action::GetCdbRollbackJobTask { .. } => Self::NAMES[0],
            Action::GetCdbRollbackJob { .. } => Self::NAMES[1],
        }
    }

    fn params(&self) -> Vec<(String, String)> {
        match self {
            Action::GetCdbRollbackJobTask { job_id } => vec![("jobId".into(), job_id.to_string())],
            Action::GetCdbRollbackJob {
                instance_id,
                offset,
                limit,
            } => vec![
                ("cdbInstanceId".into(), instance_id.clone()),
                ("offset".into(), offset.to_string()),
                ("limit".into(), limit.to_string()),
            ],
        }
    }
}

/// Nonces come from a counter started at a random point: a positive integer that does not
/// repeat within a process until 2^31 - 2 requests have been made.
fn next_nonce() -> u32 {
    const SPAN: u32 = i32::MAX as u32 - 1;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    static START: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    let start = *START.get_or_init(|| fastrand::u32(0..SPAN));
    let n = NEXT.fetch_add(1, Ordering::Relaxed) % SPAN;
    1 + (start + n) % SPAN
}

/// The signed, rate-limited client. Cheap to share behind an `Arc`.
pub struct Client {
    http: reqwest::Client,
    cfg: ClientConfig,
    creds: Credentials,
    /// The host exactly as sent in the Host header, for the string to sign.
    host: String,
    budget: RequestBudget,
    in_flight: tokio::sync::Semaphore,
    metrics: Arc<Metrics>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.cfg.endpoint.as_str())
            .field("secret_id", &self.creds.secret_id)
            .finish_non_exhaustive()
    }
}

impl Client {
    pub fn new(
        cfg: ClientConfig,
        creds: Credentials,
        metrics: Arc<Metrics>,
    ) -> Result<Self, String> {
        // reqwest is built without a TLS provider so that aws-lc stays out of the build.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let host = match (cfg.endpoint.host_str(), cfg.endpoint.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            (None, _) => return Err(format!("endpoint `{}` has no host", cfg.endpoint)),
        };
        let http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout.min(Duration::from_secs(5)))
            .pool_idle_timeout(Duration::from_secs(60))
            // A redirect would carry the signed form (Token, Signature) to another host.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Self {
            http,
            host,
            budget: RequestBudget::per_second(cfg.max_requests_per_second),
            in_flight: tokio::sync::Semaphore::new(cfg.concurrency.clamp(1, 1024)),
            cfg,
            creds,
            metrics,
        })
    }

    /// The detail of one rollback job.
    pub async fn get_rollback_job_task(&self, job_id: u64) -> Result<Job, ApiError> {
        self.get_rollback_job_task_with(job_id, Priority::Normal)
            .await
    }

    /// The detail of one rollback job, at the given priority for the request budget.
    pub async fn get_rollback_job_task_with(
        &self,
        job_id: u64,
        priority: Priority,
    ) -> Result<Job, ApiError> {
        let tz = self.cfg.timezone;
        self.call(&Action::GetCdbRollbackJobTask { job_id }, priority, |b| {
            decode::job_detail(b, tz, job_id)
        })
        .await
    }

    /// One page of an instance's rollback jobs.
    pub async fn get_rollback_jobs(
        &self,
        instance_id: &str,
        offset: u64,
        limit: u64,
    ) -> Result<JobPage, ApiError> {
        let tz = self.cfg.timezone;
        let action = Action::GetCdbRollbackJob {
            instance_id: instance_id.to_string(),
            offset,
            limit,
        };
        self.call(&action, Priority::Normal, |b| decode::job_page(b, tz))
            .await
    }

    /// One call, with the single immediate retry a replay rejection (4500) allows.
    /// Back-off retries belong to the caller, which knows its schedule.
    pub async fn call<T>(
        &self,
        action: &Action,
        priority: Priority,
        decode: impl Fn(&[u8]) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let mut fresh_nonce_left = true;
        loop {
            // The slot first: a request waiting for a quiet budget holds no connection.
            self.budget.acquire(priority).await;
            let _in_flight = self.in_flight.acquire().await;
            let started = Instant::now();
            let result = match self.send(action).await {
                Ok(body) => decode(&body),
                Err(e) => Err(e),
            };
            let outcome = match &result {
                Ok(_) => "success",
                Err(e) => e.kind().as_str(),
            };
            self.metrics
                .observe_request(action.name(), outcome, started.elapsed().as_secs_f64());
            match result {
                Err(e) if e.retry() == Retry::FreshNonce && fresh_nonce_left => {
                    fresh_nonce_left = false;
                    tracing::debug!(
                        action = action.name(),
                        "replay rejected (4500); retrying with a fresh nonce"
                    );
                }
                other => return other,
            }
        }
    }

    /// The signed parameters of one request, `Signature` last.
    pub fn signed_params(
        &self,
        action: &Action,
        timestamp: u64,
        nonce: u32,
    ) -> Vec<(String, String)> {
        let mut params: Vec<(String, String)> = vec![
            ("Action".into(), action.name().into()),
            ("Region".into(), self.cfg.region.clone()),
            ("Timestamp".into(), timestamp.to_string()),
            ("Nonce".into(), nonce.to_string()),
            ("SecretId".into(), self.creds.secret_id.clone()),
            (
                "SignatureMethod".into(),
                self.cfg.signature_method.as_str().into(),
            ),
        ];
        if let Some(token) = &self.creds.token {
            params.push(("Token".into(), token.expose().to_string()));
        }
        params.extend(
            action
                .params()
                .into_iter()
                .map(|(k, v)| (sign::normalize_name(&k), v)),
        );
        let message = sign::string_to_sign(
            self.cfg.http_method.as_str(),
            &self.host,
            self.cfg.endpoint.path(),
            &params,
        );
        let signature = sign::signature(
            self.cfg.signature_method,
            self.creds.secret_key.expose().as_bytes(),
            &message,
        );
        params.push(("Signature".into(), signature));
        params
    }

    async fn send(&self, action: &Action) -> Result<Vec<u8>, ApiError> {
        let timestamp = crate::rollback::time::unix_now() as u64;
        let params = self.signed_params(action, timestamp, next_nonce());
        let request = match self.cfg.http_method {
            HttpMethod::Get => {
                let mut url = self.cfg.endpoint.clone();
                url.query_pairs_mut().extend_pairs(&params);
                self.http.get(url)
            }
            HttpMethod::Post => {
                let body = form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(&params)
                    .finish();
                self.http
                    .post(self.cfg.endpoint.clone())
                    .header(
                        reqwest::header::CONTENT_TYPE,
                        "application/x-www-form-urlencoded",
                    )
                    .body(body)
            }
        };
        let mut resp = request.send().await.map_err(|e| self.transport(e))?;
        let status = resp.status();
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.transport(e))? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(ApiError::decode(
                    format!("the answer is larger than {MAX_BODY} bytes"),
                    &body,
                ));
            }
            body.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            return Err(ApiError::HttpStatus {
                status: status.as_u16(),
                excerpt: error::excerpt(&body),
            });
        }
        Ok(body)
    }

    /// reqwest's messages name the URL, whose query holds the signature: strip it.
    fn transport(&self, e: reqwest::Error) -> ApiError {
        if e.is_timeout() {
            return ApiError::Timeout(self.cfg.timeout);
        }
        let e = e.without_url();
        let mut message = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            message.push_str(": ");
            message.push_str(&s.to_string());
            source = s.source();
        }
        ApiError::Transport(format!(
            "{message} (endpoint {}://{})",
            self.cfg.endpoint.scheme(),
            self.host
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(endpoint: &str) -> Client {
        let cfg = ClientConfig::new(Url::parse(endpoint).unwrap());
        let creds = Credentials {
            secret_id: "AKIDexample".into(),
            secret_key: Secret::new("very-secret-key"),
            token: Some(Secret::new("very-secret-token")),
        };
        Client::new(cfg, creds, Arc::new(Metrics::new())).unwrap()
    }

    #[test]
    fn nonces_never_repeat() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..100_000 {
            let n = next_nonce();
            assert!(n > 0);
            assert!(seen.insert(n));
        }
    }

    #[test]
    fn host_keeps_a_non_default_port() {
        assert_eq!(
            client("http://127.0.0.1:8080/v2/index.php").host,
            "127.0.0.1:8080"
        );
        assert_eq!(
            client("https://cdb.api.qcloud.com:443/v2/index.php").host,
            "cdb.api.qcloud.com"
        );
    }

    #[test]
    fn debug_output_hides_secrets() {
        let c = client("http://127.0.0.1:1/v2/index.php");
        let text = format!("{c:?} {:?}", c.creds);
        assert!(text.contains("AKIDexample"));
        assert!(!text.contains("very-secret"), "{text}");
    }

    #[test]
    fn params_are_signed_and_normalized() {
        let c = client("http://127.0.0.1:8080/v2/index.php");
        let p = c.signed_params(
            &Action::GetCdbRollbackJobTask { job_id: 7 },
            1_465_185_768,
            11886,
        );
        let names: Vec<&str> = p.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "Action",
                "Region",
                "Timestamp",
                "Nonce",
                "SecretId",
                "SignatureMethod",
                "Token",
                "jobId",
                "Signature"
            ]
        );
        let unsigned = &p[..p.len() - 1];
        let expected = sign::signature(
            SignatureMethod::HmacSha1,
            b"very-secret-key",
            &sign::string_to_sign("GET", "127.0.0.1:8080", "/v2/index.php", unsigned),
        );
        assert_eq!(p[p.len() - 1].1, expected);
    }
}
