//! Live configuration reload: on SIGHUP, or `POST /-/reload` with `--web.enable-lifecycle`,
//! the config file is read again with the same command-line overrides. The poller is
//! stopped and started again over the same store: jobs still wanted keep their values and
//! poll health (and are relabelled), the others are dropped, new ones are tracked. A file
//! that does not load keeps the running configuration.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use tokio::task::JoinHandle;

use crate::api::{ApiVersion, BuildError, CredentialsHandle};
use crate::config::{Config, ConfigError, Labels, Overrides};
use crate::credentials::{self, ResolveError, Resolved, refresh};
use crate::metrics::Metrics;
use crate::rollback::time::unix_now;
use crate::scheduler::{self, Poller, regions};
use crate::store::{Entry, Source, Store};

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
    Credentials(#[from] ResolveError),
    /// No HTTP client could be built for the new configuration.
    #[error("cannot start the poller: {0}")]
    Poller(#[from] BuildError),
}

/// The poller and credentials refresher of the configuration in force.
struct Running {
    config: Config,
    poller: Arc<dyn Poller>,
    refresher: Option<JoinHandle<()>>,
    /// Where the credentials in use come from, for the landing page.
    credentials: String,
}

/// The running configuration, replaced whole by a reload. As a [`Poller`] it stands for
/// whichever poller runs now.
pub struct Live {
    store: Arc<Store>,
    metrics: Arc<Metrics>,
    handle: CredentialsHandle,
    source: Option<ConfigSource>,
    running: Mutex<Running>,
    api_line: Mutex<String>,
    /// One reload at a time (a SIGHUP and a POST together).
    reloads: tokio::sync::Mutex<()>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Live {
    /// Starts the poller and the credentials refresher of `config`.
    pub fn start(
        config: Config,
        store: Arc<Store>,
        creds: Resolved,
        metrics: Arc<Metrics>,
        source: Option<ConfigSource>,
    ) -> Result<Arc<Live>, BuildError> {
        let handle = CredentialsHandle::new(creds.first.creds.clone());
        let poller =
            scheduler::start(&config, Arc::clone(&store), handle.clone(), metrics.clone())?;
        let live = Live {
            store,
            metrics,
            handle,
            source,
            running: Mutex::new(Running {
                config,
                poller,
                refresher: None,
                credentials: creds.provider.describe(),
            }),
            api_line: Mutex::default(),
            reloads: tokio::sync::Mutex::new(()),
        };
        live.update_api_line();
        live.spawn_refresher(creds);
        Ok(Arc::new(live))
    }

    /// What the landing page says of the API in use: version, endpoint, regions, credentials.
    /// Kept apart from `running`, which a reload holds while it builds the new clients.
    pub fn describe_api(&self) -> String {
        lock(&self.api_line).clone()
    }

    /// Writes the landing page's API line from the configuration in force, once a start
    /// or a reload has settled.
    fn update_api_line(&self) {
        let line = {
            let running = lock(&self.running);
            let client = &running.config.client;
            format!(
                "API {}.0 at {}, region {}, credentials from {}",
                client.version.number(),
                client.endpoint,
                client.regions.join(", "),
                running.credentials
            )
        };
        *lock(&self.api_line) = line;
    }

    /// The configured request budget in force.
    pub fn budget(&self) -> f64 {
        lock(&self.running).config.client.max_requests_per_second
    }

    /// Replaces the credentials refresher with the one `creds` needs.
    fn spawn_refresher(&self, creds: Resolved) {
        let recorder: Arc<dyn refresh::Recorder> = self.metrics.clone();
        let next = refresh::spawn(
            creds.provider,
            self.handle.clone(),
            creds.first.expires,
            recorder,
        );
        if let Some(old) = std::mem::replace(&mut lock(&self.running).refresher, next) {
            old.abort();
        }
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
        let applied = self.apply(source).await;
        self.update_api_line();
        match applied {
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
        let old_spec = lock(&self.running).config.credentials.clone();
        if config.credentials != old_spec {
            let resolved = credentials::resolve(&config.credentials).await?;
            self.use_credentials(resolved).await;
        }
        Ok(self.switch(config)?)
    }

    /// Signs with `creds` from now on, under their own refresher. The old refresher is
    /// stopped first, so that it cannot put its credentials back.
    async fn use_credentials(&self, creds: Resolved) {
        let old = lock(&self.running).refresher.take();
        if let Some(old) = old {
            old.abort();
            let _ = old.await;
        }
        tracing::info!(source = creds.provider.label(), detail = %creds.provider.describe(),
            secret_id = %creds.first.creds.secret_id, "credentials found");
        self.metrics.prepare_credentials(creds.provider.label());
        self.handle.replace(creds.first.creds.clone());
        lock(&self.running).credentials = creds.provider.describe();
        self.spawn_refresher(creds);
    }

    /// Stops the running poller, fits the store to `config` and starts `config`'s poller
    /// over it. Starting fails only when no HTTP client can be built; then the previous
    /// configuration is tried again.
    fn switch(&self, config: Config) -> Result<(), BuildError> {
        let mut running = lock(&self.running);
        running.poller.stop();
        let (kept, dropped) = reconcile(&self.store, &config);
        self.metrics
            .prepare(config.client.version.actions(), &config.client.regions);
        let store = Arc::clone(&self.store);
        match scheduler::start(&config, store, self.handle.clone(), self.metrics.clone()) {
            Ok(poller) => {
                tracing::info!(
                    api_version = config.client.version.number(),
                    regions = config.client.regions.join(","),
                    jobs = config.jobs.len(),
                    instances = config.discovery.instances.len(),
                    kept,
                    dropped,
                    "configuration reloaded"
                );
                running.poller = poller;
                running.config = config;
                Ok(())
            }
            Err(e) => {
                let store = Arc::clone(&self.store);
                let again = scheduler::start(
                    &running.config,
                    store,
                    self.handle.clone(),
                    self.metrics.clone(),
                );
                match again {
                    Ok(poller) => running.poller = poller,
                    Err(e2) => tracing::error!(error = %e2,
                        "cannot start the previous poller again; nothing polls until a reload succeeds"),
                }
                Err(e)
            }
        }
    }
}

impl Poller for Live {
    fn demand(&self) -> f64 {
        lock(&self.running).poller.demand()
    }

    fn stop(&self) {
        let mut running = lock(&self.running);
        running.poller.stop();
        if let Some(r) = running.refresher.take() {
            r.abort();
        }
    }
}

/// Drops the jobs and discovery sources `config` does not want and relabels the others,
/// in place, so that a scrape never sees the store emptied. Returns (kept, dropped).
fn reconcile(store: &Store, config: &Config) -> (usize, usize) {
    let jobs: HashMap<u64, Labels> = config
        .jobs
        .iter()
        .map(|j| (j.id, j.labels.clone()))
        .collect();
    let (mut kept, mut dropped) = (0, 0);
    for e in store.snapshot() {
        let wanted = config
            .client
            .regions
            .contains(&e.key.region)
            .then(|| wanted(&e, config, &jobs))
            .flatten();
        match wanted {
            Some((source, labels)) => {
                store.relabel(&e.key, source, labels);
                kept += 1;
            }
            None => {
                store.untrack(&e.key);
                dropped += 1;
            }
        }
    }
    let v2 = config.client.version == ApiVersion::V2;
    let instances = &config.discovery.instances;
    store.retain_discovery(|d| {
        config.client.regions.contains(&d.region)
            && match &d.instance_id {
                Some(id) => v2 && instances.iter().any(|i| &i.id == id),
                None => !v2,
            }
    });
    let inventory = config.instances.enabled && !v2;
    store.retain_inventories(|k| inventory && config.client.regions.contains(&k.region));
    let readiness = config.readiness.enabled && !v2;
    store.retain_readiness(|k| readiness && config.client.regions.contains(&k.region));
    (kept, dropped)
}

/// The source and labels a tracked job has under `config`; `None` to drop it.
fn wanted(e: &Entry, config: &Config, jobs: &HashMap<u64, Labels>) -> Option<(Source, Labels)> {
    match (config.client.version, &e.source) {
        (ApiVersion::V2, _) if jobs.contains_key(&e.key.id) => {
            Some((Source::Configured, jobs.get(&e.key.id)?.clone()))
        }
        (ApiVersion::V2, Source::Discovered { instance_id }) => config
            .discovery
            .instances
            .iter()
            .find(|i| &i.id == instance_id)
            .map(|i| (e.source.clone(), i.labels.clone())),
        (ApiVersion::V3, Source::Listed { .. }) => match &e.data {
            Some(d) => regions::listed_as(&d.job, &config.discovery, jobs),
            None => Some((
                e.source.clone(),
                jobs.get(&e.key.id).cloned().unwrap_or_default(),
            )),
        },
        // Jobs of the other API version: its poller finds them again if they are wanted.
        _ => None,
    }
}

/// `POST /-/reload`, as Prometheus has it: 403 without `--web.enable-lifecycle`.
pub fn router(live: Arc<Live>, lifecycle: bool) -> Router {
    Router::new()
        .route("/-/reload", post(reload_endpoint))
        .with_state((live, lifecycle))
}

async fn reload_endpoint(
    State((live, lifecycle)): State<(Arc<Live>, bool)>,
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
pub fn on_hangups(live: Arc<Live>, hangups: Option<Hangups>) -> Option<JoinHandle<()>> {
    let mut hangups = hangups?;
    Some(tokio::spawn(async move {
        while hangups.next().await {
            tracing::info!("SIGHUP received; reloading the configuration");
            let _ = live.reload().await;
        }
    }))
}
