//! The web configuration file in exporter-toolkit's format: parsing and validation.
//! Unknown keys and bad values are errors that name the file and the key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use axum::http::{HeaderName, HeaderValue};
use serde::Deserialize;

use super::{WebConfigError, WebProblem};

/// Headers exporter-toolkit lets a user add, with the values it allows (none: any value).
const ALLOWED_HEADERS: &[(&str, &[&str])] = &[
    ("Strict-Transport-Security", &[]),
    ("X-Content-Type-Options", &["nosniff"]),
    ("X-Frame-Options", &["deny", "sameorigin"]),
    ("X-XSS-Protection", &[]),
    ("Content-Security-Policy", &[]),
];

#[derive(Deserialize, Default)]
#[serde(
    deny_unknown_fields,
    default,
    expecting = "a mapping of tls_server_config, http_server_config, basic_auth_users"
)]
struct RawWebConfig {
    tls_server_config: RawTls,
    http_server_config: RawHttp,
    basic_auth_users: BTreeMap<String, String>,
}

#[derive(Deserialize, Default)]
#[serde(
    deny_unknown_fields,
    default,
    expecting = "tls_server_config, a mapping (cert_file, key_file, client_auth_type, …)"
)]
struct RawTls {
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
    client_auth_type: Option<ClientAuth>,
    client_ca_file: Option<PathBuf>,
    min_version: Option<TlsVersion>,
    max_version: Option<TlsVersion>,
}

#[derive(Deserialize, Default)]
#[serde(
    deny_unknown_fields,
    default,
    expecting = "http_server_config, a mapping (headers, http2)"
)]
struct RawHttp {
    headers: BTreeMap<String, String>,
    /// Accepted for compatibility; this server speaks HTTP/1.1 only.
    http2: Option<bool>,
}

/// exporter-toolkit's `client_auth_type` values.
#[derive(Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ClientAuth {
    #[default]
    NoClientCert,
    RequestClientCert,
    RequireAnyClientCert,
    VerifyClientCertIfGiven,
    RequireAndVerifyClientCert,
}

impl ClientAuth {
    /// Whether the client's certificate is checked against `client_ca_file`.
    pub fn verifies(self) -> bool {
        matches!(
            self,
            Self::VerifyClientCertIfGiven | Self::RequireAndVerifyClientCert
        )
    }
}

/// TLS versions rustls speaks (exporter-toolkit's TLS10 and TLS11 are not offered).
#[derive(Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    TLS12,
    TLS13,
}

/// What the TLS listener is built from; paths are resolved against the file's directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsSettings {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    pub client_auth: ClientAuth,
    pub client_ca_file: Option<PathBuf>,
    pub min_version: TlsVersion,
    pub max_version: TlsVersion,
}

/// A validated web configuration, before any certificate is read.
pub struct Parsed {
    pub tls: Option<TlsSettings>,
    /// User name to bcrypt hash.
    pub users: BTreeMap<String, String>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl Parsed {
    /// The files besides the web config itself whose change means a reload.
    pub fn files(&self) -> Vec<PathBuf> {
        self.tls
            .iter()
            .flat_map(|t| {
                [
                    Some(&t.cert_file),
                    Some(&t.key_file),
                    t.client_ca_file.as_ref(),
                ]
                .into_iter()
                .flatten()
                .cloned()
            })
            .collect()
    }
}

/// Parses and validates the text of the web config file at `path`.
pub fn parse(text: &str, path: &Path) -> Result<Parsed, WebConfigError> {
    let fail = |problem| WebConfigError::Invalid {
        path: path.to_path_buf(),
        problem,
    };
    let raw: RawWebConfig = if text.trim().is_empty() {
        RawWebConfig::default()
    } else {
        serde_yaml_ng::from_str(text).map_err(|error| WebConfigError::Syntax {
            path: path.to_path_buf(),
            error,
        })?
    };
    let dir = path.parent().unwrap_or(Path::new(""));
    let tls = tls_settings(raw.tls_server_config, dir).map_err(fail)?;
    for (user, hash) in &raw.basic_auth_users {
        // The hash itself is never shown: it is a secret.
        if hash.parse::<bcrypt::HashParts>().is_err() {
            return Err(fail(WebProblem::key(
                format!("basic_auth_users.{user}"),
                "not a bcrypt hash (it must start with $2a$, $2b$ or $2y$)",
            )));
        }
    }
    let headers = headers(&raw.http_server_config.headers).map_err(fail)?;
    if raw.http_server_config.http2 == Some(true) {
        tracing::info!("http_server_config.http2: this exporter serves HTTP/1.1 only");
    }
    Ok(Parsed {
        tls,
        users: raw.basic_auth_users,
        headers,
    })
}

fn tls_settings(raw: RawTls, dir: &Path) -> Result<Option<TlsSettings>, WebProblem> {
    let enabled = raw.cert_file.is_some()
        || raw.key_file.is_some()
        || raw.client_ca_file.is_some()
        || raw.client_auth_type.is_some();
    if !enabled {
        return Ok(None);
    }
    let file = |p: Option<PathBuf>, key: &str| match p {
        Some(p) if !p.as_os_str().is_empty() => Ok(dir.join(p)),
        _ => Err(WebProblem::key(
            format!("tls_server_config.{key}"),
            "missing",
        )),
    };
    let client_auth = raw.client_auth_type.unwrap_or_default();
    let client_ca_file = raw.client_ca_file.map(|p| dir.join(p));
    if client_ca_file.is_some() && client_auth == ClientAuth::NoClientCert {
        return Err(WebProblem::key(
            "tls_server_config.client_ca_file",
            "set without a client_auth_type that asks for a certificate",
        ));
    }
    if client_auth.verifies() && client_ca_file.is_none() {
        return Err(WebProblem::key(
            "tls_server_config.client_auth_type",
            format!("{client_auth:?} needs client_ca_file"),
        ));
    }
    let min_version = raw.min_version.unwrap_or(TlsVersion::TLS12);
    let max_version = raw.max_version.unwrap_or(TlsVersion::TLS13);
    if min_version > max_version {
        return Err(WebProblem::key(
            "tls_server_config.min_version",
            "above max_version",
        ));
    }
    Ok(Some(TlsSettings {
        cert_file: file(raw.cert_file, "cert_file")?,
        key_file: file(raw.key_file, "key_file")?,
        client_auth,
        client_ca_file,
        min_version,
        max_version,
    }))
}

fn headers(raw: &BTreeMap<String, String>) -> Result<Vec<(HeaderName, HeaderValue)>, WebProblem> {
    let mut out = Vec::with_capacity(raw.len());
    for (name, value) in raw {
        let key = format!("http_server_config.headers.{name}");
        let Some((_, allowed)) = ALLOWED_HEADERS.iter().find(|(n, _)| n == name) else {
            let problem = format!(
                "this header can not be configured (allowed: {})",
                allowed_names()
            );
            return Err(WebProblem::key(key, problem));
        };
        if !allowed.is_empty() && !allowed.contains(&value.as_str()) {
            let problem = format!("`{value}` is not one of {allowed:?}");
            return Err(WebProblem::key(key, problem));
        }
        let name = HeaderName::from_bytes(name.as_bytes());
        let name = name.map_err(|e| WebProblem::key(&key, e.to_string()))?;
        let value =
            HeaderValue::from_str(value).map_err(|e| WebProblem::key(&key, e.to_string()))?;
        out.push((name, value));
    }
    Ok(out)
}

fn allowed_names() -> String {
    let names: Vec<&str> = ALLOWED_HEADERS.iter().map(|(n, _)| *n).collect();
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "$2y$04$lXBYMDpJ1uYEl7xzqPbRBe4t3QdqxHRvsuVW4Zt/8y9dfFkvwSOQy";

    fn err(text: &str) -> String {
        match parse(text, Path::new("/etc/web.yml")) {
            Ok(_) => panic!("accepted: {text}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_full_file_is_read_with_paths_relative_to_it() {
        let p = parse(
            &format!(
                "tls_server_config:\n  cert_file: tls.crt\n  key_file: /k/tls.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n  min_version: TLS13\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\nbasic_auth_users:\n  alice: {HASH}\n"
            ),
            Path::new("/etc/exporter/web.yml"),
        )
        .unwrap();
        let t = p.tls.as_ref().unwrap();
        assert_eq!(t.cert_file, Path::new("/etc/exporter/tls.crt"));
        assert_eq!(t.key_file, Path::new("/k/tls.key"));
        assert_eq!(t.min_version, TlsVersion::TLS13);
        assert_eq!(p.files().len(), 3);
        assert_eq!(p.headers[0].0, "x-frame-options");
        assert!(p.users.contains_key("alice"));
        assert!(parse("", Path::new("w.yml")).unwrap().tls.is_none());
    }

    #[test]
    fn bad_keys_and_values_are_named_and_hashes_are_not_shown() {
        for (text, named) in [
            ("tls_server_config:\n  cert_fil: x\n", "cert_fil"),
            ("basic_auth_user:\n  a: b\n", "basic_auth_user"),
            (
                "tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS10\n",
                "min_version",
            ),
            (
                "tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: Maybe\n",
                "client_auth_type",
            ),
            (
                "tls_server_config:\n  cert_file: a\n",
                "tls_server_config.key_file",
            ),
            (
                "tls_server_config:\n  cert_file: a\n  key_file: b\n  client_ca_file: c\n",
                "client_ca_file",
            ),
            (
                "tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: RequireAndVerifyClientCert\n",
                "client_auth_type",
            ),
            (
                "tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS13\n  max_version: TLS12\n",
                "min_version",
            ),
            (
                "http_server_config:\n  headers:\n    Content-Type: text/html\n",
                "headers.Content-Type",
            ),
            (
                "http_server_config:\n  headers:\n    Authorization: x\n",
                "headers.Authorization",
            ),
            (
                "http_server_config:\n  headers:\n    X-Frame-Options: allow\n",
                "headers.X-Frame-Options",
            ),
            (
                "basic_auth_users:\n  bob: not-a-secret-hash\n",
                "basic_auth_users.bob",
            ),
        ] {
            let e = err(text);
            assert!(
                e.contains("/etc/web.yml") && e.contains(named),
                "{named}: {e}"
            );
            assert!(!e.contains("not-a-secret-hash"), "{e}");
        }
        assert!(err("tls_server_config:\n  cert_fil: x\n").contains("line 2"));
        // A section of the wrong shape says what it should be, not the parser's type name.
        let e = err("tls_server_config: tls.crt\n");
        assert!(
            e.contains("expected tls_server_config, a mapping") && !e.contains("Raw"),
            "{e}"
        );
    }
}
