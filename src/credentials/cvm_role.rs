//! The CAM role bound to a CVM instance, from the instance's metadata server. Its short
//! timeout makes a start outside Tencent Cloud fail fast rather than hang.

use std::time::Duration;

use reqwest::Url;

use super::sts::{TmpCredentials, http_client};
use super::{FetchError, Fetched, Lack, ServiceProblem};

pub const TIMEOUT: Duration = Duration::from_secs(1);
const PATH: &str = "/latest/meta-data/cam/security-credentials/";

#[derive(Debug)]
pub struct CvmRole {
    http: reqwest::Client,
    base: String,
    role: String,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Answer {
    #[serde(flatten)]
    creds: TmpCredentials,
    expired_time: i64,
    code: Option<String>,
}

impl CvmRole {
    /// Asks the metadata server for the role's name, then its credentials. No answer or
    /// no role bound is an absence; a role whose credentials cannot be had is an error.
    pub async fn find(endpoint: &Url) -> Result<(CvmRole, Fetched), Lack> {
        let base = format!("{}{PATH}", endpoint.as_str().trim_end_matches('/'));
        let http = http_client(TIMEOUT)?;
        let absent = |why: String| Lack::Absent(format!("metadata server {endpoint} {why}"));
        let unreachable = |e: reqwest::Error| absent(transport(&e).to_string());
        let resp = http.get(&base).send().await.map_err(unreachable)?;
        if !resp.status().is_success() {
            return Err(absent(format!(
                "answered HTTP {}: no CAM role is bound to this instance",
                resp.status().as_u16()
            )));
        }
        let text = resp.text().await.map_err(unreachable)?;
        let role = text.lines().next().unwrap_or("").trim().to_string();
        let plain = role
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-+=,.@".contains(&b));
        if role.is_empty() || !plain {
            return Err(absent("named no usable role".into()));
        }
        let found = CvmRole { http, base, role };
        let fetched = found.fetch().await?;
        Ok((found, fetched))
    }

    pub fn role(&self) -> &str {
        &self.role
    }

    pub async fn fetch(&self) -> Result<Fetched, FetchError> {
        let url = format!("{}{}", self.base, self.role);
        let fail = |problem| FetchError::Service {
            at: format!("metadata server {url}"),
            problem,
        };
        let resp = self.http.get(&url).send().await;
        let resp = resp.map_err(|e| fail(transport(&e)))?;
        let status = resp.status().as_u16();
        if !resp.status().is_success() {
            return Err(fail(ServiceProblem::Status(status)));
        }
        let body = resp.bytes().await.map_err(|e| fail(transport(&e)))?;
        let a: Answer = serde_json::from_slice(&body).map_err(|error| {
            fail(ServiceProblem::Undecodable {
                status,
                expected: "the credentials of a role",
                error,
            })
        })?;
        match a.code.as_deref() {
            None | Some("Success") => Ok(a.creds.into_fetched(a.expired_time)),
            Some(code) => Err(fail(ServiceProblem::Code(code.to_string()))),
        }
    }
}

fn transport(e: &reqwest::Error) -> ServiceProblem {
    ServiceProblem::transport(e, TIMEOUT.as_secs())
}
