//! The web configuration in force, picked up again when its file or the certificate, key
//! or CA files change: checked at most once per [`RECHECK`], when a connection or request
//! asks for it (exporter-toolkit re-reads at each connection). A broken change keeps the
//! last good settings and says why in the log.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use axum::http::{HeaderName, HeaderValue};
use rustls::ServerConfig;

use super::{WebConfigError, config};

/// How often the files are looked at (their metadata only, unless one changed).
pub const RECHECK: Duration = Duration::from_secs(1);

/// The settings of one reading of the web config file.
pub struct Settings {
    pub tls: Option<Arc<ServerConfig>>,
    /// User name to bcrypt hash.
    pub users: BTreeMap<String, String>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl fmt::Debug for Settings {
    // Names only: hashes and keys stay out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("tls", &self.tls.is_some())
            .field("users", &self.users.keys().collect::<Vec<_>>())
            .field("headers", &self.headers)
            .finish()
    }
}

/// What a file looked like: a change of any part means it was rewritten or replaced.
#[derive(Clone, PartialEq, Eq, Debug)]
struct Stamp(Option<(u64, SystemTime, u64)>);

fn stamp(path: &Path) -> Stamp {
    Stamp(std::fs::metadata(path).ok().map(|m| {
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(&m);
        #[cfg(not(unix))]
        let inode = 0;
        (
            m.len(),
            m.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            inode,
        )
    }))
}

struct Watched {
    checked: Instant,
    files: Vec<PathBuf>,
    stamps: Vec<Stamp>,
}

pub struct WebConfig {
    path: PathBuf,
    current: RwLock<Arc<Settings>>,
    watched: Mutex<Watched>,
}

/// Reads the file at `path` and the files it names; the stamps are taken before reading,
/// so a change made while reading is seen at the next check.
fn read(path: &Path) -> (Vec<PathBuf>, Vec<Stamp>, Result<Settings, WebConfigError>) {
    let mut stamps = vec![stamp(path)];
    let parsed = std::fs::read_to_string(path)
        .map_err(|error| WebConfigError::Read {
            path: path.to_path_buf(),
            error,
        })
        .and_then(|text| config::parse(&text, path));
    let parsed = match parsed {
        Ok(p) => p,
        Err(e) => return (Vec::new(), stamps, Err(e)),
    };
    let files = parsed.files();
    stamps.extend(files.iter().map(|f| stamp(f)));
    let tls = match &parsed.tls {
        Some(t) => {
            super::tls::server_config(t)
                .map(Some)
                .map_err(|problem| WebConfigError::Invalid {
                    path: path.to_path_buf(),
                    problem,
                })
        }
        None => Ok(None),
    };
    let settings = tls.map(|tls| Settings {
        tls,
        users: parsed.users,
        headers: parsed.headers,
    });
    (files, stamps, settings)
}

impl WebConfig {
    /// Reads and checks the web config and every file it names; any problem is an error.
    pub fn load(path: &Path) -> Result<WebConfig, WebConfigError> {
        let (files, stamps, settings) = read(path);
        Ok(WebConfig {
            path: path.to_path_buf(),
            current: RwLock::new(Arc::new(settings?)),
            watched: Mutex::new(Watched {
                checked: Instant::now(),
                files,
                stamps,
            }),
        })
    }

    /// The settings in force, after a look at the files if the last was [`RECHECK`] ago.
    pub fn current(&self) -> Arc<Settings> {
        // Whoever finds the lock taken uses the settings as they are.
        if let Ok(mut w) = self.watched.try_lock() {
            if w.checked.elapsed() >= RECHECK {
                w.checked = Instant::now();
                self.recheck(&mut w);
            }
        }
        Arc::clone(&self.current.read().unwrap_or_else(|p| p.into_inner()))
    }

    fn recheck(&self, w: &mut Watched) {
        let now = std::iter::once(stamp(&self.path)).chain(w.files.iter().map(|f| stamp(f)));
        if now.eq(w.stamps.iter().cloned()) {
            return;
        }
        let (files, stamps, settings) = read(&self.path);
        if settings.is_ok() || !files.is_empty() {
            (w.files, w.stamps) = (files, stamps);
        } else {
            // A file that does not parse names no files: keep watching the old ones.
            w.stamps = std::iter::once(stamps[0].clone())
                .chain(w.files.iter().map(|f| stamp(f)))
                .collect();
        }
        let was_tls = self
            .current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .tls
            .is_some();
        match settings {
            Ok(s) if s.tls.is_some() != was_tls => tracing::error!(
                file = %self.path.display(),
                "web config changed: turning TLS on or off needs a restart; keeping the settings in force"
            ),
            Ok(s) => {
                tracing::info!(file = %self.path.display(), tls = s.tls.is_some(), users = s.users.len(), "web config reloaded");
                *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(s);
            }
            Err(e) => tracing::error!(
                "web config changed but cannot be used; keeping the settings in force: {e}"
            ),
        }
    }
}
