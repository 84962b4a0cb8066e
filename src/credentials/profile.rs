//! The profile file of Tencent's tools: INI, `[section]` per profile, keys `secret_id`,
//! `secret_key` and optional `token`. Read with a small reader of its own: the format
//! needs no more, and its errors name the file and line without echoing a value.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{Credentials, Secret};
use super::{Env, Lack};

pub const ENV_CREDENTIALS_FILE: &str = "TENCENTCLOUD_CREDENTIALS_FILE";
pub const ENV_HOME: &str = "HOME";
pub const DEFAULT_PROFILE: &str = "default";

/// Sections, each a map of keys to values.
pub type Ini = BTreeMap<String, BTreeMap<String, String>>;

/// The profile that was read.
#[derive(Debug)]
pub struct Found {
    pub path: PathBuf,
    pub section: String,
    pub creds: Credentials,
}

/// A line of the profile file that is not INI; the line is named, never quoted.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{} line {line}: {problem}", path.display())]
pub struct IniError {
    pub path: PathBuf,
    pub line: usize,
    pub problem: &'static str,
}

/// Parses INI text; `path` is only for the errors. Values are never quoted back.
pub fn parse_ini(text: &str, path: &Path) -> Result<Ini, IniError> {
    let mut ini = Ini::new();
    let mut section: Option<String> = None;
    for (i, line) in text.lines().enumerate() {
        let at = |problem| IniError {
            path: path.to_path_buf(),
            line: i + 1,
            problem,
        };
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(rest) = line.strip_prefix('[') {
            let name = rest
                .strip_suffix(']')
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .ok_or_else(|| at("a section header must read [name]"))?;
            ini.entry(name.to_string()).or_default();
            section = Some(name.to_string());
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(at("expected `key = value` or [section]"));
        };
        let Some(name) = &section else {
            return Err(at("a key before the first [section]"));
        };
        let key = key.trim();
        if key.is_empty() {
            return Err(at("a value without a key"));
        }
        ini.entry(name.clone())
            .or_default()
            .insert(key.to_string(), value.trim().to_string());
    }
    Ok(ini)
}

/// The file: TENCENTCLOUD_CREDENTIALS_FILE (which must exist), else ~/.tencentcloud/credentials.
fn path(env: &Env) -> Result<(PathBuf, bool), Lack> {
    if let Some(p) = env.get(ENV_CREDENTIALS_FILE) {
        return Ok((PathBuf::from(p), true));
    }
    match env.get(ENV_HOME) {
        Some(home) => Ok((Path::new(home).join(".tencentcloud/credentials"), false)),
        None => Err(Lack::Absent(format!(
            "neither {ENV_CREDENTIALS_FILE} nor HOME is set"
        ))),
    }
}

/// The profile's credentials. A missing file or `[default]` section is an absence; a
/// file or profile asked for by name that is not there, or a bad file, is an error.
pub fn find(env: &Env, profile: Option<&str>) -> Result<Found, Lack> {
    let (path, named) = path(env)?;
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !named => {
            return Err(Lack::Absent(format!("{} not found", path.display())));
        }
        Err(e) => {
            return Err(Lack::Misconfigured(format!(
                "cannot read {}: {e}",
                path.display()
            )));
        }
    };
    let ini = parse_ini(&text, &path).map_err(|e| Lack::Misconfigured(e.to_string()))?;
    let section = profile.unwrap_or(DEFAULT_PROFILE);
    let Some(keys) = ini.get(section) else {
        let why = format!("{} has no [{section}] profile", path.display());
        return Err(match profile {
            Some(_) => Lack::Misconfigured(format!("credentials.profile: {why}")),
            None => Lack::Absent(why),
        });
    };
    let get = |key: &str| {
        keys.get(key).filter(|v| !v.is_empty()).ok_or_else(|| {
            Lack::Misconfigured(format!("{} [{section}]: {key} is missing", path.display()))
        })
    };
    let creds = Credentials {
        secret_id: get("secret_id")?.clone(),
        secret_key: Secret::new(get("secret_key")?.as_str()),
        token: keys
            .get("token")
            .filter(|t| !t.is_empty())
            .map(|t| Secret::new(t.as_str())),
    };
    Ok(Found {
        path,
        section: section.to_string(),
        creds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_sections_and_names_file_and_line() {
        let p = Path::new("/h/.tencentcloud/credentials");
        let ini = parse_ini(
            "# comment\n[default]\nsecret_id = AKID1\nsecret_key=k1\n\n; other\n[ci]\nsecret_id=AKID2\n",
            p,
        )
        .unwrap();
        assert_eq!(ini["default"]["secret_key"], "k1");
        assert_eq!(ini["ci"]["secret_id"], "AKID2");
        for (text, line) in [
            ("[default\nsecret_id=a\n", 1),
            ("[default]\nsecret_key super-secret\n", 2),
            ("secret_key=super-secret\n", 1),
            ("[a]\n= super-secret\n", 2),
        ] {
            let err = parse_ini(text, p).unwrap_err();
            assert_eq!((err.path.as_path(), err.line), (p, line), "{err}");
            assert!(!err.to_string().contains("super-secret"), "{err}");
        }
    }
}
