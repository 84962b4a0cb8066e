//! Why the web config file cannot be used: the file, then the key (and the file it names)
//! with what is wrong. Hashes and key bytes are never quoted.

use std::io;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum WebConfigError {
    #[error("cannot read web config file {}: {error}", path.display())]
    Read { path: PathBuf, error: io::Error },
    /// YAML that does not parse, an unknown key or a bad value; serde names key and line.
    #[error("web config file {}: {error}", path.display())]
    Syntax {
        path: PathBuf,
        error: serde_yaml_ng::Error,
    },
    #[error("web config file {}: {problem}", path.display())]
    Invalid { path: PathBuf, problem: WebProblem },
}

/// One key of the web config that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum WebProblem {
    #[error("{key}: {problem}")]
    Key { key: String, problem: String },
    /// A file named under `tls_server_config` that does not hold what it should.
    #[error("tls_server_config.{key}: {}: {problem}", path.display())]
    File {
        key: &'static str,
        path: PathBuf,
        problem: String,
    },
}

impl WebProblem {
    pub fn key(key: impl Into<String>, problem: impl Into<String>) -> WebProblem {
        WebProblem::Key {
            key: key.into(),
            problem: problem.into(),
        }
    }

    pub fn file(key: &'static str, path: &std::path::Path, problem: impl ToString) -> WebProblem {
        WebProblem::File {
            key,
            path: path.to_path_buf(),
            problem: problem.to_string(),
        }
    }
}
