//! Tencent Cloud STS (API 3.0, version 2018-08-13): the calls that hand out temporary
//! credentials, and the HTTP clients the credential sources share.

use std::time::Duration;

use reqwest::Url;
use serde::Deserialize;
use serde_json::Value;

use super::{Credentials, Secret};
use super::{FetchError, Fetched, ServiceProblem};
use crate::net::tc3::{self, Target};
use crate::net::{USER_AGENT, host_header};

pub const VERSION: &str = "2018-08-13";
const TIMEOUT: Duration = Duration::from_secs(10);

/// An HTTP client that follows no redirect: a signed request or a token must not go to
/// another host.
pub fn http_client(timeout: Duration) -> Result<reqwest::Client, FetchError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(FetchError::Client)
}

/// Temporary credentials as STS and the metadata server write them.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TmpCredentials {
    pub tmp_secret_id: String,
    pub tmp_secret_key: String,
    pub token: String,
}

impl TmpCredentials {
    pub fn into_fetched(self, expires: i64) -> Fetched {
        Fetched {
            creds: Credentials {
                secret_id: self.tmp_secret_id,
                secret_key: Secret::new(self.tmp_secret_key),
                token: Some(Secret::new(self.token)),
            },
            expires: Some(expires),
        }
    }
}

#[derive(Deserialize)]
struct Answer {
    #[serde(rename = "Response")]
    response: Response,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Response {
    credentials: Option<TmpCredentials>,
    expired_time: Option<i64>,
    error: Option<ApiError>,
    request_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ApiError {
    code: String,
    message: String,
}

/// Where STS is, and the region its requests name.
#[derive(Debug)]
pub struct Sts {
    http: reqwest::Client,
    url: Url,
    host: String,
    region: String,
}

impl Sts {
    pub fn new(url: &Url, region: &str) -> Result<Sts, FetchError> {
        let host = host_header(url).ok_or_else(|| FetchError::NoHost(url.to_string()))?;
        Ok(Sts {
            http: http_client(TIMEOUT)?,
            url: url.clone(),
            host,
            region: region.to_string(),
        })
    }

    /// One call; `creds` signs it, or it goes unsigned (`Authorization: SKIP`).
    pub async fn call(
        &self,
        action: &str,
        body: &Value,
        creds: Option<&Credentials>,
    ) -> Result<Fetched, FetchError> {
        let target = Target {
            service: "sts",
            version: VERSION,
            host: &self.host,
        };
        let timestamp = crate::time::unix_now() as u64;
        let body = body.to_string().into_bytes();
        let req = tc3::request(
            &self.http,
            self.url.clone(),
            target,
            action,
            &self.region,
            body,
            creds.map(Credentials::keys),
            timestamp,
        );
        let fail = |problem| FetchError::Service {
            at: format!("STS {action} at {}", self.url),
            problem,
        };
        let unreachable =
            |e: reqwest::Error| fail(ServiceProblem::transport(&e, TIMEOUT.as_secs()));
        let resp = req.send().await.map_err(|e| unreachable(e.without_url()))?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.map_err(unreachable)?;
        decode(&bytes, status).map_err(fail)
    }
}

/// The answer's credentials, or its error code and message (which hold no secret).
fn decode(body: &[u8], status: u16) -> Result<Fetched, ServiceProblem> {
    let answer: Answer =
        serde_json::from_slice(body).map_err(|error| ServiceProblem::Undecodable {
            status,
            expected: "an STS answer",
            error,
        })?;
    let r = answer.response;
    let request_id = r.request_id.unwrap_or_default();
    if let Some(e) = r.error {
        return Err(ServiceProblem::Refused {
            code: e.code,
            message: e.message,
            request_id,
        });
    }
    match (r.credentials, r.expired_time) {
        (Some(c), Some(t)) => Ok(c.into_fetched(t)),
        _ => Err(ServiceProblem::Incomplete(request_id)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers() {
        let ok = br#"{"Response":{"Credentials":{"TmpSecretId":"AKIDt","TmpSecretKey":"sk-x","Token":"tok-x"},
            "ExpiredTime":1800000000,"Expiration":"2027-01-15T08:00:00Z","RequestId":"r1"}}"#;
        let f = decode(ok, 200).unwrap();
        assert_eq!(
            (f.creds.secret_id.as_str(), f.expires),
            ("AKIDt", Some(1_800_000_000))
        );
        let text = format!("{f:?}");
        assert!(!text.contains("sk-x") && !text.contains("tok-x"), "{text}");
        let err = decode(br#"{"Response":{"Error":{"Code":"InvalidParameter.WebIdentityTokenError","Message":"bad token"},"RequestId":"r2"}}"#, 400).unwrap_err();
        assert!(
            matches!(&err, ServiceProblem::Refused { code, request_id, .. }
                if code == "InvalidParameter.WebIdentityTokenError" && request_id == "r2"),
            "{err}"
        );
        let err = decode(b"<html>", 502).unwrap_err();
        assert!(
            matches!(
                err,
                ServiceProblem::Undecodable {
                    status: 502,
                    expected: "an STS answer",
                    ..
                }
            ),
            "{err}"
        );
    }
}
