//! What every request shares, whichever API version it speaks: the HTTP client, the
//! requests-per-second budget, the concurrency cap, the current credentials, and the
//! record of every request's outcome.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Url;

use super::budget::{Priority, RequestBudget};
use super::error::{self, ApiError, BuildError, ErrorKind, Retry};
use super::slot;
use crate::credentials::{Credentials, CredentialsHandle};
use crate::net::{USER_AGENT, host_header, with_causes};

/// Answers larger than this are refused rather than buffered.
const MAX_BODY: usize = 8 << 20;

/// Where the API layer reports what it did; the exporter's metrics implement it, so the
/// API layer needs to know nothing of them.
pub trait Recorder: Send + Sync {
    /// One request: its action, region, result (`success` or an error kind) and duration.
    fn request(&self, action: &'static str, region: &str, result: &'static str, seconds: f64);
    /// The request rate the budget allows now, after throttling or recovery.
    fn budget(&self, requests_per_second: f64);
}

/// A recorder that forgets everything, for tools and tests that need none.
pub struct NoRecorder;

impl Recorder for NoRecorder {
    fn request(&self, _: &'static str, _: &str, _: &'static str, _: f64) {}
    fn budget(&self, _: f64) {}
}

/// How to reach the API, apart from the credentials.
#[derive(Clone, Debug)]
pub struct TransportConfig {
    pub endpoint: Url,
    pub timeout: Duration,
    pub max_requests_per_second: f64,
    /// Requests in flight at once, for the whole process.
    pub concurrency: usize,
}

/// What the transport needs to know of one request besides its body: the action and
/// region (for metrics and logs) and its priority in the request budget. The signed
/// request itself is made by the `build` closure handed to [`Transport::call`].
pub struct Call<'a> {
    pub action: &'static str,
    pub region: &'a str,
    pub priority: Priority,
}

pub struct Transport {
    http: reqwest::Client,
    endpoint: Url,
    /// The host exactly as sent in the Host header, for the string to sign.
    host: String,
    timeout: Duration,
    budget: RequestBudget,
    in_flight: tokio::sync::Semaphore,
    creds: CredentialsHandle,
    recorder: Arc<dyn Recorder>,
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("endpoint", &self.endpoint.as_str())
            .field("credentials", &self.creds)
            .finish_non_exhaustive()
    }
}

impl Transport {
    pub fn new(
        cfg: &TransportConfig,
        creds: CredentialsHandle,
        recorder: Arc<dyn Recorder>,
    ) -> Result<Self, BuildError> {
        // reqwest is built without a TLS provider so that aws-lc stays out of the build.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let host = host_header(&cfg.endpoint)
            .ok_or_else(|| BuildError::NoHost(cfg.endpoint.to_string()))?;
        let http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout.min(Duration::from_secs(5)))
            .pool_idle_timeout(Duration::from_secs(60))
            // A redirect would carry the signed request (token, signature) to another host.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(BuildError::Http)?;
        recorder.budget(cfg.max_requests_per_second);
        Ok(Self {
            http,
            endpoint: cfg.endpoint.clone(),
            host,
            timeout: cfg.timeout,
            budget: RequestBudget::per_second(cfg.max_requests_per_second),
            in_flight: tokio::sync::Semaphore::new(cfg.concurrency.clamp(1, 1024)),
            creds,
            recorder,
        })
    }

    pub fn endpoint(&self) -> &Url {
        &self.endpoint
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    /// One call, with the single immediate retry that a replay (v2 4500) or an expired
    /// signature (v3) allows. Back-off retries belong to the caller, which knows its
    /// schedule. `build` makes the signed request from the credentials and a timestamp.
    pub async fn call<T>(
        &self,
        call: Call<'_>,
        build: impl Fn(&reqwest::Client, &Credentials, u64) -> reqwest::RequestBuilder,
        decode: impl Fn(&[u8]) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let mut immediate_left = true;
        loop {
            let _permit = slot::take(&self.budget, &self.in_flight, call.priority).await;
            let started = Instant::now();
            let creds = self.creds.current();
            let timestamp = crate::time::unix_now() as u64;
            let result = match self.send(build(&self.http, &creds, timestamp)).await {
                Ok(body) => decode(&body),
                Err(e) => Err(e),
            };
            let outcome = match &result {
                Ok(_) => "success",
                Err(e) => e.kind().as_str(),
            };
            self.recorder.request(
                call.action,
                call.region,
                outcome,
                started.elapsed().as_secs_f64(),
            );
            self.adapt(&result);
            match result {
                Err(e) if e.retry() == Retry::Immediate && immediate_left => {
                    immediate_left = false;
                    tracing::warn!(
                        action = call.action,
                        region = call.region,
                        api_code = e.api_code().unwrap_or(""),
                        request_id = e.request_id().unwrap_or(""),
                        "the API refused the request's timestamp or nonce; retrying once at once. \
                         If this repeats, the clock of this host is more than 5 minutes off"
                    );
                }
                other => return other,
            }
        }
    }

    /// Throttling halves the budget; quiet success wins it back.
    fn adapt<T>(&self, result: &Result<T, ApiError>) {
        let changed = match result {
            Err(e) if e.kind() == ErrorKind::Throttled => {
                let rate = self.budget.throttled();
                tracing::warn!(
                    rate = format!("{rate:.2}"),
                    request_id = e.request_id().unwrap_or(""),
                    "the API throttled a request; slowing down"
                );
                Some(rate)
            }
            Ok(_) => self.budget.succeeded(),
            Err(_) => None,
        };
        if let Some(rate) = changed {
            self.recorder.budget(rate);
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Vec<u8>, ApiError> {
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

    /// reqwest's messages name the URL, whose query may hold a signature: strip it.
    fn transport(&self, e: reqwest::Error) -> ApiError {
        if e.is_timeout() {
            return ApiError::Timeout(self.timeout);
        }
        let message = with_causes(&e.without_url());
        ApiError::Transport(format!(
            "{message} (endpoint {}://{})",
            self.endpoint.scheme(),
            self.host
        ))
    }
}
