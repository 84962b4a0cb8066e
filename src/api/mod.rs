//! Talking to the CDB API: one folder per API version (sign, request, decode), over the
//! transport, budget, errors and credentials they share.

pub mod budget;
pub mod error;
pub mod json;
pub mod retry;
mod slot;
pub mod transport;
pub mod v2;
pub mod v3;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use reqwest::Url;

pub use self::budget::{Priority, RequestBudget};
pub use self::error::{ApiError, BuildError, ErrorKind, Retry};
pub use self::transport::{NoRecorder, Recorder, Transport, TransportConfig};
pub use self::v2::sign::SignatureMethod;
pub use self::v2::{HttpMethod, Options as V2Options};
pub use crate::credentials::{Credentials, CredentialsHandle, Secret};
use crate::parse_error::ParseError;
use crate::time::UtcOffset;

/// Which API the exporter speaks. 3 is the one the public cloud answers today; 2 went
/// offline there on 2023-03-31 and lives on in private deployments.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ApiVersion {
    V2,
    #[default]
    V3,
}

impl ApiVersion {
    pub fn default_endpoint(self) -> &'static str {
        match self {
            ApiVersion::V2 => v2::DEFAULT_ENDPOINT,
            ApiVersion::V3 => v3::DEFAULT_ENDPOINT,
        }
    }

    /// The actions this version calls, for the request metrics' `action` label.
    pub fn actions(self) -> &'static [&'static str] {
        match self {
            ApiVersion::V2 => &v2::ACTIONS,
            ApiVersion::V3 => &v3::ACTIONS,
        }
    }

    pub fn number(self) -> u8 {
        match self {
            ApiVersion::V2 => 2,
            ApiVersion::V3 => 3,
        }
    }
}

impl FromStr for ApiVersion {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        match s.trim() {
            "2" => Ok(ApiVersion::V2),
            "3" => Ok(ApiVersion::V3),
            other => Err(ParseError::new(other, "an API version (2 or 3)")),
        }
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.number())
    }
}

/// Everything about how to talk to the API except the credentials.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientConfig {
    pub version: ApiVersion,
    /// The account this client polls for: empty without `accounts:`.
    pub account: String,
    pub endpoint: Url,
    /// One or more; v2 takes exactly one.
    pub regions: Vec<String>,
    /// Settings only v2 has.
    pub v2: v2::Options,
    pub timezone: UtcOffset,
    pub timeout: Duration,
    pub max_requests_per_second: f64,
    /// Requests in flight at once, for the whole process.
    pub concurrency: usize,
}

impl ClientConfig {
    pub fn new(version: ApiVersion, endpoint: Url) -> Self {
        Self {
            version,
            account: String::new(),
            endpoint,
            regions: vec!["ap-guangzhou".into()],
            v2: v2::Options::default(),
            timezone: UtcOffset::CST,
            timeout: Duration::from_secs(10),
            max_requests_per_second: 5.0,
            concurrency: 4,
        }
    }

    pub fn transport(&self) -> TransportConfig {
        TransportConfig {
            endpoint: self.endpoint.clone(),
            timeout: self.timeout,
            max_requests_per_second: self.max_requests_per_second,
            concurrency: self.concurrency,
        }
    }
}
