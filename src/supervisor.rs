//! The runtime supervisor: runs the poller and the credentials refresher of the
//! configuration in force, and swaps them when a reload hands it a new configuration. The
//! poller is stopped and started again over the same store: jobs still wanted keep their
//! values and poll health (and are relabelled), the others are dropped, new ones are
//! tracked.

use std::sync::{Arc, Mutex};

use tokio::task::JoinHandle;

use crate::api::{BuildError, CredentialsHandle};
use crate::config::Config;
use crate::credentials::{Resolved, Spec, refresh};
use crate::metrics::Metrics;
use crate::scheduler::{self, Poller};
use crate::store::Store;

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
pub struct Supervisor {
    store: Arc<Store>,
    metrics: Arc<Metrics>,
    handle: CredentialsHandle,
    running: Mutex<Running>,
    api_line: Mutex<String>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Supervisor {
    /// Starts the poller and the credentials refresher of `config`.
    pub fn start(
        config: Config,
        store: Arc<Store>,
        creds: Resolved,
        metrics: Arc<Metrics>,
    ) -> Result<Arc<Supervisor>, BuildError> {
        found(&creds, &metrics);
        let handle = CredentialsHandle::new(creds.first.creds.clone());
        let poller =
            scheduler::start(&config, Arc::clone(&store), handle.clone(), metrics.clone())?;
        let live = Supervisor {
            store,
            metrics,
            handle,
            running: Mutex::new(Running {
                config,
                poller,
                refresher: None,
                credentials: creds.provider.describe(),
            }),
            api_line: Mutex::default(),
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

    /// The credentials spec of the configuration in force.
    pub fn credentials_spec(&self) -> Spec {
        lock(&self.running).config.credentials.clone()
    }

    /// Signs with `creds` from now on, under their own refresher. The old refresher is
    /// stopped first, so that it cannot put its credentials back.
    pub async fn use_credentials(&self, creds: Resolved) {
        let old = lock(&self.running).refresher.take();
        if let Some(old) = old {
            old.abort();
            let _ = old.await;
        }
        found(&creds, &self.metrics);
        self.handle.replace(creds.first.creds.clone());
        lock(&self.running).credentials = creds.provider.describe();
        self.spawn_refresher(creds);
        self.update_api_line();
    }

    /// Stops the running poller, fits the store to `config` and starts `config`'s poller
    /// over it. Starting fails only when no HTTP client can be built; then the previous
    /// configuration is tried again.
    pub fn switch(&self, config: Config) -> Result<(), BuildError> {
        let switched = self.restart(config);
        self.update_api_line();
        switched
    }

    fn restart(&self, config: Config) -> Result<(), BuildError> {
        let mut running = lock(&self.running);
        running.poller.stop();
        let (kept, dropped) = scheduler::reconcile(&self.store, &config);
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

/// Says where the credentials in use come from: in the log, and as the credentials
/// metrics' `source` label.
fn found(creds: &Resolved, metrics: &Metrics) {
    tracing::info!(
        source = creds.provider.label(),
        detail = %creds.provider.describe(),
        secret_id = %creds.first.creds.secret_id,
        expires_at = creds.first.expires,
        "credentials found"
    );
    metrics.prepare_credentials(creds.provider.label());
}

impl Poller for Supervisor {
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
