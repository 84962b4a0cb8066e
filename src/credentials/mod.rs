//! Where the API credentials come from. Either a fixed set from the config (`static`), or
//! the chain env → profile file → TKE pod identity (`oidc`) → CVM instance role, tried in
//! that order; whatever was found may then assume a CAM role. The config holds only the
//! [`Spec`]; [`resolve`] runs at start, and [`refresh`] keeps temporary credentials fresh.

pub mod assume_role;
pub mod cvm_role;
pub mod env;
mod error;
pub mod handle;
pub mod ini;
pub mod oidc;
pub mod profile;
pub mod refresh;
pub mod static_files;
pub mod sts;
pub mod tccli;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use reqwest::Url;

use crate::parse_error::ParseError;

pub use self::error::{FetchError, Lack, ResolveError, ServiceProblem};
pub use self::handle::{Credentials, CredentialsHandle, Secret};

pub const DEFAULT_METADATA_ENDPOINT: &str = "http://metadata.tencentyun.com";
pub const DEFAULT_STS_ENDPOINT: &str = "https://sts.tencentcloudapi.com/";
pub const DEFAULT_SESSION_NAME: &str = "cdb-rollback-exporter";
pub const DEFAULT_ROLE_DURATION: Duration = Duration::from_secs(3600);
/// STS's limit for `DurationSeconds`.
pub const MAX_ROLE_DURATION: Duration = Duration::from_secs(12 * 3600);

/// A source that `credentials.source` can name, in the chain's order after `Static`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceKind {
    Static,
    Env,
    Profile,
    Oidc,
    CvmRole,
}

impl SourceKind {
    /// Pod identity comes before the instance role on purpose: in TKE every pod reaches the
    /// node's metadata server, and a pod must not silently borrow the node's role.
    pub const CHAIN: [SourceKind; 4] = [Self::Env, Self::Profile, Self::Oidc, Self::CvmRole];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Static => "static",
            Self::Env => "env",
            Self::Profile => "profile",
            Self::Oidc => "oidc",
            Self::CvmRole => "cvm_role",
        }
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SourceKind {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        [
            Self::Static,
            Self::Env,
            Self::Profile,
            Self::Oidc,
            Self::CvmRole,
        ]
        .into_iter()
        .find(|k| k.as_str() == s.trim())
        .ok_or_else(|| ParseError::new(s, "a source (static, env, profile, oidc or cvm_role)"))
    }
}

/// The `source` label values of the credentials metrics.
pub const SOURCE_LABELS: [&str; 6] = [
    "static",
    "env",
    "profile",
    "oidc",
    "cvm_role",
    assume_role::LABEL,
];

/// The environment variables the chain reads, captured when the config is built, so that
/// tests inject them and nothing reads the process environment later. `Debug` shows names.
#[derive(Clone, Default, PartialEq)]
pub struct Env(BTreeMap<&'static str, Secret>);

impl Env {
    pub const NAMES: [&'static str; 11] = [
        env::ENV_SECRET_ID,
        env::ENV_SECRET_KEY,
        env::ENV_SESSION_TOKEN,
        env::ENV_SECURITY_TOKEN,
        env::ENV_TOKEN,
        profile::ENV_CREDENTIALS_FILE,
        profile::ENV_HOME,
        oidc::ENV_ROLE_ARN,
        oidc::ENV_PROVIDER_ID,
        oidc::ENV_TOKEN_FILE,
        oidc::ENV_REGION,
    ];

    pub fn capture(env: &dyn Fn(&str) -> Option<String>) -> Env {
        Env(Self::NAMES
            .iter()
            .filter_map(|&n| env(n).map(|v| (n, Secret::new(v))))
            .collect())
    }

    /// The variable's value, trimmed; `None` when unset or blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(|v| v.expose().trim())
            .filter(|v| !v.is_empty())
    }
}

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

/// A secret given as a file (re-read when it changes) or as a value.
#[derive(Clone, Debug, PartialEq)]
pub enum SecretValue {
    File(PathBuf),
    Given(Secret),
}

/// Credentials named by the config (or the demo): SecretId, key, optional token.
#[derive(Clone, Debug, PartialEq)]
pub struct StaticSpec {
    pub secret_id: String,
    pub secret_key: SecretValue,
    pub token: Option<SecretValue>,
}

/// A role to assume with the credentials found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleSpec {
    pub arn: String,
    pub session_name: String,
    pub duration: Duration,
    /// Sent as `ExternalId`: required by roles whose trust policy names one.
    pub external_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Origin {
    Static(StaticSpec),
    /// env → profile → oidc → cvm_role.
    Chain,
    /// One source of the chain, forced by `credentials.source`.
    Only(SourceKind),
}

/// What the config says about credentials; resolved at start by [`resolve`]. Compared
/// on a reload, to resolve again only when it changed.
#[derive(Clone, Debug, PartialEq)]
pub struct Spec {
    pub origin: Origin,
    /// The profile file's section; `None`: `default`, and a file without it is skipped.
    pub profile: Option<String>,
    pub role: Option<RoleSpec>,
    pub metadata_endpoint: Url,
    pub sts_endpoint: Url,
    /// The region STS requests name (TKE_REGION wins for pod identity).
    pub region: String,
    pub env: Env,
    /// The SDK's system-wide profile file: a field so that tests never read the machine's.
    pub system_profile: PathBuf,
}

impl Spec {
    /// The chain, with default endpoints, reading `env`.
    pub fn chain(env: Env) -> Spec {
        Spec {
            origin: Origin::Chain,
            profile: None,
            role: None,
            metadata_endpoint: Url::parse(DEFAULT_METADATA_ENDPOINT)
                .unwrap_or_else(|e| unreachable!("static URL: {e}")),
            sts_endpoint: Url::parse(DEFAULT_STS_ENDPOINT)
                .unwrap_or_else(|e| unreachable!("static URL: {e}")),
            region: "ap-guangzhou".into(),
            env,
            system_profile: PathBuf::from(profile::SYSTEM_FILE),
        }
    }
}

/// Fixed credentials, as the demo and tests use them.
impl From<Credentials> for Spec {
    fn from(c: Credentials) -> Spec {
        let mut spec = Spec::chain(Env::default());
        spec.origin = Origin::Static(StaticSpec {
            secret_id: c.secret_id,
            secret_key: SecretValue::Given(c.secret_key),
            token: c.token.map(SecretValue::Given),
        });
        spec
    }
}

/// Credentials as a source hands them out; `expires` (Unix seconds) for temporary ones.
#[derive(Clone, Debug)]
pub struct Fetched {
    pub creds: Credentials,
    pub expires: Option<i64>,
}

impl Fetched {
    pub fn lasting(creds: Credentials) -> Fetched {
        Fetched {
            creds,
            expires: None,
        }
    }
}

/// A source as found, able to fetch its credentials again.
#[derive(Debug)]
pub enum Base {
    Static(static_files::Static),
    Env(Credentials),
    Profile(profile::Found),
    Oidc(oidc::Oidc),
    CvmRole(cvm_role::CvmRole),
}

impl Base {
    pub fn kind(&self) -> SourceKind {
        match self {
            Base::Static(_) => SourceKind::Static,
            Base::Env(_) => SourceKind::Env,
            Base::Profile(_) => SourceKind::Profile,
            Base::Oidc(_) => SourceKind::Oidc,
            Base::CvmRole(_) => SourceKind::CvmRole,
        }
    }

    async fn fetch(&self) -> Result<Fetched, FetchError> {
        match self {
            Base::Static(s) => s.load().map(Fetched::lasting),
            Base::Env(c) => Ok(Fetched::lasting(c.clone())),
            Base::Profile(p) => Ok(Fetched::lasting(p.creds.clone())),
            Base::Oidc(o) => o.fetch().await,
            Base::CvmRole(c) => c.fetch().await,
        }
    }

    fn describe(&self) -> String {
        match self {
            Base::Profile(p) => p.describe(),
            Base::Oidc(o) => format!("oidc (role {})", o.role_arn()),
            Base::CvmRole(c) => format!("cvm_role (role {})", c.role()),
            other => other.kind().to_string(),
        }
    }
}

/// The source in use: a base, and maybe a role assumed with it.
#[derive(Debug)]
pub struct Provider {
    pub base: Base,
    pub role: Option<assume_role::AssumeRole>,
}

impl Provider {
    /// Fresh credentials: the base's, or a role assumed with the base's.
    pub async fn fetch(&self) -> Result<Fetched, FetchError> {
        let base = self.base.fetch().await?;
        match &self.role {
            Some(role) => role.assume(&base.creds).await,
            None => Ok(base),
        }
    }

    /// The `source` label of the metrics.
    pub fn label(&self) -> &'static str {
        match self.role {
            Some(_) => assume_role::LABEL,
            None => self.base.kind().as_str(),
        }
    }

    /// For the log and the landing page; no secret in it.
    pub fn describe(&self) -> String {
        match &self.role {
            Some(r) => format!(
                "assume_role (role {}, with {})",
                r.role_arn(),
                self.base.describe()
            ),
            None => self.base.describe(),
        }
    }
}

/// The source found at start and its first credentials.
#[derive(Debug)]
pub struct Resolved {
    pub provider: Provider,
    pub first: Fetched,
}

/// Finds the credentials the spec asks for: the static ones, one forced source, or the
/// first source of the chain that is set up.
pub async fn resolve(spec: &Spec) -> Result<Resolved, ResolveError> {
    let kinds: Vec<SourceKind> = match &spec.origin {
        Origin::Static(_) => vec![SourceKind::Static],
        Origin::Chain => SourceKind::CHAIN.to_vec(),
        Origin::Only(kind) => vec![*kind],
    };
    let mut tried: Vec<(SourceKind, String)> = Vec::new();
    for kind in kinds {
        match find(kind, spec).await {
            Ok((base, fetched)) => return with_role(spec, base, fetched).await,
            Err(Lack::Absent(why)) => tried.push((kind, why)),
            Err(lack) => return Err(ResolveError::Failed { kind, lack, tried }),
        }
    }
    Err(ResolveError::NotFound { tried })
}

async fn find(kind: SourceKind, spec: &Spec) -> Result<(Base, Fetched), Lack> {
    let lasting = |base: Base, creds: &Credentials| (base, Fetched::lasting(creds.clone()));
    match kind {
        SourceKind::Static => {
            let Origin::Static(s) = &spec.origin else {
                return Err(Lack::Absent("credentials.secret_id not set".into()));
            };
            let s = static_files::Static::new(s.clone());
            let creds = s.load()?;
            Ok(lasting(Base::Static(s), &creds))
        }
        SourceKind::Env => {
            let creds = env::find(&spec.env)?;
            Ok(lasting(Base::Env(creds.clone()), &creds))
        }
        SourceKind::Profile => {
            let found = profile::find(&spec.env, &spec.system_profile, spec.profile.as_deref())?;
            let creds = found.creds.clone();
            Ok(lasting(Base::Profile(found), &creds))
        }
        SourceKind::Oidc => {
            let oidc = oidc::Oidc::from_env(spec)?;
            let fetched = oidc.fetch().await?;
            Ok((Base::Oidc(oidc), fetched))
        }
        SourceKind::CvmRole => {
            let (role, fetched) = cvm_role::CvmRole::find(&spec.metadata_endpoint).await?;
            Ok((Base::CvmRole(role), fetched))
        }
    }
}

async fn with_role(spec: &Spec, base: Base, fetched: Fetched) -> Result<Resolved, ResolveError> {
    let kind = base.kind();
    let Some(role) = &spec.role else {
        return Ok(Resolved {
            provider: Provider { base, role: None },
            first: fetched,
        });
    };
    let fail = |error: FetchError| ResolveError::AssumeRole { kind, error };
    let role = assume_role::AssumeRole::new(spec, role).map_err(fail)?;
    let first = role.assume(&fetched.creds).await.map_err(fail)?;
    Ok(Resolved {
        provider: Provider {
            base,
            role: Some(role),
        },
        first,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn no_secret_in_debug_display_or_errors() {
        let env = Env::capture(&|n: &str| match n {
            env::ENV_SECRET_ID => Some("AKIDvisible".into()),
            env::ENV_SECRET_KEY => Some("secret-key-value".into()),
            env::ENV_SECURITY_TOKEN => Some("token-value".into()),
            _ => None,
        });
        let mut spec = Spec::chain(env);
        let r = resolve(&spec).await.unwrap();
        assert_eq!(r.first.creds.secret_key.expose(), "secret-key-value");
        spec.origin = Origin::Static(StaticSpec {
            secret_id: "AKIDvisible".into(),
            secret_key: SecretValue::Given(Secret::new("secret-key-value")),
            token: Some(SecretValue::Given(Secret::new("token-value"))),
        });
        let text = format!(
            "{spec:?} {r:?} {} {}",
            r.provider.describe(),
            r.provider.label()
        );
        assert!(text.contains("AKIDvisible") && text.contains("TENCENTCLOUD_SECRET_KEY"));
        assert!(
            !text.contains("secret-key-value") && !text.contains("token-value"),
            "{text}"
        );
        // A web identity token file that cannot be read is named, its content never is.
        let env = Env::capture(&|n: &str| match n {
            oidc::ENV_ROLE_ARN => Some("qcs::cam::uin/1:roleName/r".into()),
            oidc::ENV_PROVIDER_ID => Some("p".into()),
            oidc::ENV_TOKEN_FILE => Some("/nonexistent/token".into()),
            _ => None,
        });
        let mut spec = Spec::chain(env);
        spec.system_profile = PathBuf::from("/nonexistent/tencentcloud/credentials");
        let err = resolve(&spec).await.unwrap_err().to_string();
        assert!(
            err.contains("credentials from oidc") && err.contains("/nonexistent/token"),
            "{err}"
        );
        assert!(err.contains("env: TENCENTCLOUD_SECRET_ID not set"), "{err}");
    }
}
