//! Tencent Cloud STS (API 3.0, version 2018-08-13): the calls that hand out temporary
//! credentials, and the HTTP clients the credential sources share.

use std::time::Duration;

use reqwest::Url;
use serde::Deserialize;
use serde_json::Value;

use super::Fetched;
use crate::api::transport::host_header;
use crate::api::v3::{self, Target};
use crate::api::{Credentials, Secret, USER_AGENT};

pub const VERSION: &str = "2018-08-13";
const TIMEOUT: Duration = Duration::from_secs(10);

/// An HTTP client that follows no redirect: a signed request or a token must not go to
/// another host.
pub fn http_client(timeout: Duration) -> Result<reqwest::Client, String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
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
    pub fn new(url: &Url, region: &str) -> Result<Sts, String> {
        let host = host_header(url).ok_or_else(|| format!("STS endpoint `{url}` has no host"))?;
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
    ) -> Result<Fetched, String> {
        let target = Target {
            service: "sts",
            version: VERSION,
            host: &self.host,
        };
        let timestamp = crate::rollback::time::unix_now() as u64;
        let body = body.to_string().into_bytes();
        let req = v3::request(
            &self.http,
            self.url.clone(),
            target,
            action,
            &self.region,
            body,
            creds,
            timestamp,
        );
        let fail = |what: String| format!("STS {action} at {}: {what}", self.url);
        let resp = req
            .send()
            .await
            .map_err(|e| fail(e.without_url().to_string()))?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| fail(e.to_string()))?;
        decode(&bytes).map_err(|e| fail(format!("HTTP {}: {e}", status.as_u16())))
    }
}

/// The answer's credentials, or its error code and message (which hold no secret).
fn decode(body: &[u8]) -> Result<Fetched, String> {
    let answer: Answer =
        serde_json::from_slice(body).map_err(|e| format!("not an STS answer ({e})"))?;
    let r = answer.response;
    let id = r.request_id.unwrap_or_default();
    if let Some(e) = r.error {
        return Err(format!("{}: {} (RequestId {id})", e.code, e.message));
    }
    match (r.credentials, r.expired_time) {
        (Some(c), Some(t)) => Ok(c.into_fetched(t)),
        _ => Err(format!(
            "the answer has no Credentials or ExpiredTime (RequestId {id})"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers() {
        let ok = br#"{"Response":{"Credentials":{"TmpSecretId":"AKIDt","TmpSecretKey":"sk-x","Token":"tok-x"},
            "ExpiredTime":1800000000,"Expiration":"2027-01-15T08:00:00Z","RequestId":"r1"}}"#;
        let f = decode(ok).unwrap();
        assert_eq!(
            (f.creds.secret_id.as_str(), f.expires),
            ("AKIDt", Some(1_800_000_000))
        );
        let text = format!("{f:?}");
        assert!(!text.contains("sk-x") && !text.contains("tok-x"), "{text}");
        let err = decode(br#"{"Response":{"Error":{"Code":"InvalidParameter.WebIdentityTokenError","Message":"bad token"},"RequestId":"r2"}}"#).unwrap_err();
        assert!(
            err.contains("WebIdentityTokenError") && err.contains("r2"),
            "{err}"
        );
        assert!(decode(b"<html>").unwrap_err().contains("not an STS answer"));
    }
}
