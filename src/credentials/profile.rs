//! The profile files of Tencent's tools, first found first used:
//! `TENCENTCLOUD_CREDENTIALS_FILE` alone when it is set; else the Python SDK's
//! `~/.tencentcloud/credentials` then `/etc/tencentcloud/credentials` (INI, `[section]` per
//! profile, keys `secret_id`, `secret_key`, optional `token`), then tccli's
//! `~/.tccli/<profile>.credential`.

use std::path::{Path, PathBuf};

use super::{Credentials, Secret};
use super::{Env, Lack, ini, tccli};

pub const ENV_CREDENTIALS_FILE: &str = "TENCENTCLOUD_CREDENTIALS_FILE";
pub const ENV_HOME: &str = "HOME";
pub const DEFAULT_PROFILE: &str = "default";
/// The SDK's system-wide file; [`super::Spec::system_profile`] holds it, for tests.
pub const SYSTEM_FILE: &str = "/etc/tencentcloud/credentials";

/// How a profile file is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Ini,
    Tccli,
}

/// The profile that was read.
#[derive(Debug)]
pub struct Found {
    pub path: PathBuf,
    pub section: String,
    pub format: Format,
    pub creds: Credentials,
}

impl Found {
    /// For the log and the landing page.
    pub fn describe(&self) -> String {
        match self.format {
            Format::Ini => format!("profile [{}] of {}", self.section, self.path.display()),
            Format::Tccli => format!("tccli profile {} ({})", self.section, self.path.display()),
        }
    }
}

/// Where to look, in order, and whether a missing file is an error.
fn candidates(env: &Env, system: &Path, section: &str) -> (Vec<(PathBuf, Format)>, bool) {
    if let Some(p) = env.get(ENV_CREDENTIALS_FILE) {
        return (vec![(PathBuf::from(p), Format::Ini)], true);
    }
    let home = env.get(ENV_HOME).map(Path::new);
    let mut files = Vec::with_capacity(3);
    if let Some(home) = home {
        files.push((home.join(".tencentcloud/credentials"), Format::Ini));
    }
    files.push((system.to_path_buf(), Format::Ini));
    if let Some(home) = home {
        let tccli = home.join(".tccli").join(format!("{section}.credential"));
        files.push((tccli, Format::Tccli));
    }
    (files, false)
}

/// The profile's credentials from the first file that has it. No file, or none with a
/// `[default]` profile, is an absence; a profile asked for by name that no file has, a
/// file named by `TENCENTCLOUD_CREDENTIALS_FILE` that is missing, or a bad file is an error.
pub fn find(env: &Env, system: &Path, profile: Option<&str>) -> Result<Found, Lack> {
    let section = profile.unwrap_or(DEFAULT_PROFILE);
    let (files, named) = candidates(env, system, section);
    let mut absent = Vec::with_capacity(files.len() + 1);
    if !named && env.get(ENV_HOME).is_none() {
        absent.push(format!("neither {ENV_CREDENTIALS_FILE} nor HOME is set"));
    }
    for (path, format) in files {
        let creds = match format {
            Format::Ini => from_ini(&path, section, named),
            Format::Tccli => tccli::read(&path),
        };
        match creds {
            Ok(creds) => {
                return Ok(Found {
                    path,
                    section: section.to_string(),
                    format,
                    creds,
                });
            }
            Err(Lack::Absent(why)) => absent.push(why),
            Err(other) => return Err(other),
        }
    }
    let why = absent.join(", ");
    Err(match profile {
        Some(_) => Lack::Misconfigured(format!("credentials.profile: no [{section}] in: {why}")),
        None => Lack::Absent(why),
    })
}

/// One INI file's profile; a missing file (unless `named`) or section is an absence.
fn from_ini(path: &Path, section: &str, named: bool) -> Result<Credentials, Lack> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !named => {
            return Err(Lack::Absent(format!("{} not found", path.display())));
        }
        Err(e) => {
            let why = format!("cannot read {}: {e}", path.display());
            return Err(Lack::Misconfigured(why));
        }
    };
    let ini = ini::parse(&text, path).map_err(|e| Lack::Misconfigured(e.to_string()))?;
    let Some(keys) = ini.get(section) else {
        let why = format!("{} has no [{section}] profile", path.display());
        return Err(Lack::Absent(why));
    };
    let value = |key: &str| keys.get(key).map(|v| v.trim()).filter(|v| !v.is_empty());
    let get = |key: &str| {
        value(key).ok_or_else(|| {
            Lack::Misconfigured(format!("{} [{section}]: {key} is missing", path.display()))
        })
    };
    Ok(Credentials {
        secret_id: get("secret_id")?.to_string(),
        secret_key: Secret::new(get("secret_key")?),
        token: value("token").map(Secret::new),
    })
}
