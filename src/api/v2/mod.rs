//! The legacy v2 API (`GetCdbRollbackJobTask`, `GetCdbRollbackJob`), signed with
//! HmacSHA1/HmacSHA256 over the sorted query. Offline on the public cloud since
//! 2023-03-31; kept for private deployments.

pub mod codes;
pub mod decode;
pub mod sign;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use self::sign::SignatureMethod;
use super::transport::Call;
use super::{
    ApiError, BuildError, ClientConfig, Credentials, CredentialsHandle, Priority, Recorder,
    Transport,
};
use crate::rollback::{Job, JobPage};
use crate::time::UtcOffset;

pub const DEFAULT_ENDPOINT: &str = "https://cdb.api.qcloud.com/v2/index.php";
pub const ACTIONS: [&str; 2] = ["GetCdbRollbackJobTask", "GetCdbRollbackJob"];

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
    pub fn name(&self) -> &'static str {
        match self {
            Action::GetCdbRollbackJobTask { .. } => ACTIONS[0],
            Action::GetCdbRollbackJob { .. } => ACTIONS[1],
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

/// Settings only v2 has: v3 always signs with TC3-HMAC-SHA256 and POSTs JSON.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    pub signature_method: SignatureMethod,
    pub http_method: HttpMethod,
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

/// The signed v2 client for one region. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Client {
    transport: Transport,
    region: String,
    signature_method: SignatureMethod,
    http_method: HttpMethod,
    timezone: UtcOffset,
}

impl Client {
    pub fn new(
        cfg: &ClientConfig,
        creds: CredentialsHandle,
        recorder: Arc<dyn Recorder>,
    ) -> Result<Self, BuildError> {
        let region = match cfg.regions.as_slice() {
            [one] => one.clone(),
            other => return Err(BuildError::Regions(other.len())),
        };
        Ok(Self {
            transport: Transport::new(&cfg.transport(), creds, recorder)?,
            region,
            signature_method: cfg.v2.signature_method,
            http_method: cfg.v2.http_method,
            timezone: cfg.timezone,
        })
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    /// The detail of one rollback job, at the given priority for the request budget.
    pub async fn get_rollback_job_task(
        &self,
        job_id: u64,
        priority: Priority,
    ) -> Result<Job, ApiError> {
        let tz = self.timezone;
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
        let tz = self.timezone;
        let action = Action::GetCdbRollbackJob {
            instance_id: instance_id.to_string(),
            offset,
            limit,
        };
        self.call(&action, Priority::Normal, |b| decode::job_page(b, tz))
            .await
    }

    async fn call<T>(
        &self,
        action: &Action,
        priority: Priority,
        decode: impl Fn(&[u8]) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let call = Call {
            action: action.name(),
            region: &self.region,
            priority,
        };
        let build = |http: &reqwest::Client, creds: &Credentials, timestamp: u64| {
            let params = self.signed_params(creds, action, timestamp, next_nonce());
            let endpoint = self.transport.endpoint().clone();
            match self.http_method {
                HttpMethod::Get => {
                    let mut url = endpoint;
                    url.query_pairs_mut().extend_pairs(&params);
                    http.get(url)
                }
                HttpMethod::Post => {
                    let body = form_urlencoded::Serializer::new(String::new())
                        .extend_pairs(&params)
                        .finish();
                    http.post(endpoint)
                        .header(
                            reqwest::header::CONTENT_TYPE,
                            "application/x-www-form-urlencoded",
                        )
                        .body(body)
                }
            }
        };
        self.transport.call(call, build, decode).await
    }

    /// The signed parameters of one request, `Signature` last.
    pub fn signed_params(
        &self,
        creds: &Credentials,
        action: &Action,
        timestamp: u64,
        nonce: u32,
    ) -> Vec<(String, String)> {
        let mut params: Vec<(String, String)> = vec![
            ("Action".into(), action.name().into()),
            ("Region".into(), self.region.clone()),
            ("Timestamp".into(), timestamp.to_string()),
            ("Nonce".into(), nonce.to_string()),
            ("SecretId".into(), creds.secret_id.clone()),
            (
                "SignatureMethod".into(),
                self.signature_method.as_str().into(),
            ),
        ];
        if let Some(token) = &creds.token {
            params.push(("Token".into(), token.expose().to_string()));
        }
        params.extend(
            action
                .params()
                .into_iter()
                .map(|(k, v)| (sign::normalize_name(&k), v)),
        );
        let message = sign::string_to_sign(
            self.http_method.as_str(),
            self.transport.host(),
            self.transport.endpoint().path(),
            &params,
        );
        let signature = sign::signature(
            self.signature_method,
            creds.secret_key.expose().as_bytes(),
            &message,
        );
        params.push(("Signature".into(), signature));
        params
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ApiVersion, NoRecorder, Secret};

    fn creds() -> Credentials {
        Credentials {
            secret_id: "AKIDexample".into(),
            secret_key: Secret::new("very-secret-key"),
            token: Some(Secret::new("very-secret-token")),
        }
    }

    fn client(endpoint: &str) -> Client {
        let cfg = ClientConfig::new(ApiVersion::V2, endpoint.parse().unwrap());
        Client::new(&cfg, CredentialsHandle::new(creds()), Arc::new(NoRecorder)).unwrap()
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
            client("http://127.0.0.1:8080/v2/index.php")
                .transport
                .host(),
            "127.0.0.1:8080"
        );
        assert_eq!(
            client("https://cdb.api.qcloud.com:443/v2/index.php")
                .transport
                .host(),
            "cdb.api.qcloud.com"
        );
    }

    #[test]
    fn debug_output_hides_secrets() {
        let c = client("http://127.0.0.1:1/v2/index.php");
        let text = format!("{c:?} {:?}", creds());
        assert!(text.contains("AKIDexample"));
        assert!(!text.contains("very-secret"), "{text}");
    }

    #[test]
    fn params_are_signed_and_normalized() {
        let c = client("http://127.0.0.1:8080/v2/index.php");
        let p = c.signed_params(
            &creds(),
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
