//! Credentials named in the config: the SecretId, and the key and token as files (re-read
//! by the refresher when they change, so a rotated Kubernetes Secret needs no restart) or
//! as values from the environment.

use std::path::Path;

use super::{Credentials, Secret};
use super::{FetchError, SecretValue, StaticSpec};

#[derive(Debug)]
pub struct Static(StaticSpec);

impl Static {
    pub fn new(spec: StaticSpec) -> Static {
        Static(spec)
    }

    /// Reads the files now.
    pub fn load(&self) -> Result<Credentials, FetchError> {
        let read = |key: &str, v: &SecretValue| match v {
            SecretValue::File(path) => read_secret_file(key, path),
            SecretValue::Given(s) => Ok(s.clone()),
        };
        Ok(Credentials {
            secret_id: self.0.secret_id.clone(),
            secret_key: read("secret_key_file", &self.0.secret_key)?,
            token: match &self.0.token {
                Some(t) => Some(read("session_token_file", t)?),
                None => None,
            },
        })
    }

    /// Whether there is a file to watch.
    pub fn has_files(&self) -> bool {
        matches!(self.0.secret_key, SecretValue::File(_))
            || matches!(self.0.token, Some(SecretValue::File(_)))
    }
}

/// A secret from a file, trimmed; `key` is the config key that named it, for the errors.
pub fn read_secret_file(key: &str, path: &Path) -> Result<Secret, FetchError> {
    let key = format!("credentials.{key}");
    let text = std::fs::read_to_string(path).map_err(|error| {
        // Without a slash the "path" may be the secret itself, pasted in by mistake.
        if path.to_string_lossy().contains('/') {
            FetchError::Unreadable {
                key: key.clone(),
                path: path.to_path_buf(),
                error,
            }
        } else {
            FetchError::NotAPath {
                key: key.clone(),
                error,
            }
        }
    })?;
    let value = text.trim();
    if value.is_empty() {
        return Err(FetchError::EmptyFile {
            key,
            path: path.to_path_buf(),
        });
    }
    Ok(Secret::new(value))
}
