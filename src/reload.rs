//! Live configuration reload: on SIGHUP, or `POST /-/reload` with `--web.enable-lifecycle`,
//! the config file is read again with the same command-line overrides and handed to the
//! [`Supervisor`]. A file that does not load keeps the running configuration.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use tokio::task::JoinHandle;

use crate::config::{Config, ConfigError, Overrides};
use crate::metrics::Metrics;
use crate::supervisor::{ApplyError, Supervisor};
use crate::time::unix_now;

/// Reads the environment, as the loader does (tests inject theirs).
pub type EnvFn = dyn Fn(&str) -> Option<String> + Send + Sync;

/// Where a reload reads the configuration again.
#[derive(Clone)]
pub struct ConfigSource {
    pub path: PathBuf,
    pub overrides: Overrides,
    pub env: Arc<EnvFn>,
}

/// How the exporter may be reloaded; the default (no file, no endpoint, no signal) is a
/// start without a config file, or the demo.
#[derive(Default)]
pub struct Options {
    pub source: Option<ConfigSource>,
    /// `--web.enable-lifecycle`: `POST /-/reload` reloads; else it answers 403.
    pub lifecycle: bool,
    pub hangups: Option<Hangups>,
}

/// Why a reload kept the running configuration. No variant holds a secret.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("nothing to reload: the exporter started without a config file (or with --demo)")]
    NoFile,
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Apply(#[from] ApplyError),
}

/// Reads the configuration again and hands it to the supervisor, one reload at a time.
pub struct Reloader {
    supervisor: Arc<Supervisor>,
    metrics: Arc<Metrics>,
    source: Option<ConfigSource>,
    /// One reload at a time (a SIGHUP and a POST together).
    reloads: tokio::sync::Mutex<()>,
}

impl Reloader {
    pub fn new(
        supervisor: Arc<Supervisor>,
        metrics: Arc<Metrics>,
        source: Option<ConfigSource>,
    ) -> Arc<Self> {
        Arc::new(Reloader {
            supervisor,
            metrics,
            source,
            reloads: tokio::sync::Mutex::new(()),
        })
    }

    /// Reads the config file again and applies it; a failure keeps the running one.
    /// Logs and counts the outcome either way.
    pub async fn reload(&self) -> Result<(), ReloadError> {
        let Some(source) = &self.source else {
            let e = ReloadError::NoFile;
            tracing::info!("reload asked for, but {e}");
            return Err(e);
        };
        let _one = self.reloads.lock().await;
        match self.apply(source).await {
            Ok(()) => {
                self.metrics.reloaded(true, unix_now());
                Ok(())
            }
            Err(why) => {
                self.metrics.reloaded(false, unix_now());
                tracing::error!(
                    file = %source.path.display(),
                    error = %why,
                    "reloading the configuration failed; keeping the running configuration"
                );
                Err(why)
            }
        }
    }

    async fn apply(&self, source: &ConfigSource) -> Result<(), ReloadError> {
        let config = Config::load_with(&source.path, &*source.env, &source.overrides)?;
        Ok(self.supervisor.apply(config).await?)
    }
}

/// `POST /-/reload`, as Prometheus has it: 403 without `--web.enable-lifecycle`.
pub fn router(live: Arc<Reloader>, lifecycle: bool) -> Router {
    Router::new()
        .route("/-/reload", post(reload_endpoint))
        .with_state((live, lifecycle))
}

async fn reload_endpoint(
    State((live, lifecycle)): State<(Arc<Reloader>, bool)>,
) -> (StatusCode, String) {
    if !lifecycle {
        return (
            StatusCode::FORBIDDEN,
            "Lifecycle API is not enabled.\n".into(),
        );
    }
    match live.reload().await {
        Ok(()) => (StatusCode::OK, "configuration reloaded\n".into()),
        Err(e @ ReloadError::NoFile) => (StatusCode::BAD_REQUEST, format!("{e}\n")),
        Err(why) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("failed to reload the configuration: {why}\n"),
        ),
    }
}

/// SIGHUP, listened for from the moment [`Hangups::install`] is called: its default action
/// would end the process, so it is installed early in the start.
pub struct Hangups {
    #[cfg(unix)]
    signal: tokio::signal::unix::Signal,
}

impl Hangups {
    #[cfg(unix)]
    pub fn install() -> Option<Hangups> {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::hangup()) {
            Ok(signal) => Some(Hangups { signal }),
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGHUP; reload with POST /-/reload");
                None
            }
        }
    }

    #[cfg(not(unix))]
    pub fn install() -> Option<Hangups> {
        None
    }

    async fn next(&mut self) -> bool {
        #[cfg(unix)]
        return self.signal.recv().await.is_some();
        #[cfg(not(unix))]
        false
    }
}

/// Reloads on each SIGHUP until aborted.
pub fn on_hangups(live: Arc<Reloader>, hangups: Option<Hangups>) -> Option<JoinHandle<()>> {
    let mut hangups = hangups?;
    Some(tokio::spawn(async move {
        while hangups.next().await {
            tracing::info!("SIGHUP received; reloading the configuration");
            let _ = live.reload().await;
        }
    }))
}
