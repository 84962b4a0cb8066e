//! Wires the rooms together: config → client → poller → store → HTTP.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::api::BuildError;
use crate::config::Config;
use crate::credentials::Resolved;
use crate::metrics::Metrics;
use crate::reload::{self, Reloader};
use crate::render::cache::ExpositionCache;
use crate::scheduler::Poller;
use crate::store::Store;
use crate::supervisor::Supervisor;
use crate::web::routes::{AppState, TelemetryPath, router};
use crate::web::{WebConfig, WebConfigError};

/// How long in-flight scrapes may take to finish once shutdown has begun.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// How often the request demand is compared with the budget.
const DEMAND_CHECK: Duration = Duration::from_secs(15);

/// Why the exporter could not start or stopped serving; each layer's own error, named.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    WebConfig(#[from] WebConfigError),
    #[error("cannot start the poller: {0}")]
    Poller(#[from] BuildError),
    #[error("cannot read the listening address: {0}")]
    Listener(std::io::Error),
    #[error("HTTP server failed: {0}")]
    Serve(std::io::Error),
}

/// Keeps `cdb_rollback_poll_demand_requests_per_second` current, and says once in the
/// log when the configured intervals ask for more requests than the budget allows.
async fn watch_demand(live: Arc<Supervisor>, metrics: Arc<Metrics>) {
    let mut over = false;
    loop {
        let (demand, budget) = (live.demand(), live.budget());
        metrics.demand.set(demand);
        if demand > budget && !over {
            tracing::warn!(
                demand = format!("{demand:.2}"),
                budget,
                "the poll intervals ask for more requests than api.max_requests_per_second allows: \
                 polls will run late, finished jobs and task details first; raise the budget or the intervals"
            );
        }
        over = demand > budget;
        tokio::time::sleep(DEMAND_CHECK).await;
    }
}

/// How the daemon runs beyond its configuration: reloads, the web config file, and where
/// the metrics are served.
#[derive(Default)]
pub struct Options {
    pub reload: reload::Options,
    /// exporter-toolkit's `--web.config.file`: TLS, basic auth, headers.
    pub web_config: Option<PathBuf>,
    pub telemetry_path: TelemetryPath,
}

fn log_listening(addr: std::net::SocketAddr, path: &str, config: &Config, web: Option<&WebConfig>) {
    let tls = web.is_some_and(|w| w.current().tls.is_some());
    let basic_auth = web.is_some_and(|w| !w.current().users.is_empty());
    tracing::info!(
        %addr,
        telemetry_path = path,
        api_version = config.client.version.number(),
        regions = config.client.regions.join(","),
        jobs = config.jobs.len(),
        instances = config.discovery.instances.len(),
        endpoint = %config.client.endpoint,
        tls,
        basic_auth,
        "exporter listening"
    );
}

/// Runs the exporter on `listener` until `shutdown` completes, with credentials already
/// resolved (so that the caller can tell a start without any from other failures): one
/// set per account, in [`Config::per_account`]'s order ([`crate::supervisor::resolve`]).
pub async fn run(
    config: Config,
    creds: Vec<Resolved>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    options: Options,
) -> Result<(), StartError> {
    let telemetry_path = options.telemetry_path.as_str();
    let web = options.web_config.as_deref().map(WebConfig::load);
    let web = web.transpose()?.map(Arc::new);
    let addr = listener.local_addr().map_err(StartError::Listener)?;
    let metrics = Arc::new(Metrics::with_accounts(!config.accounts.is_empty()));
    let store = Arc::new(Store::with_outcomes(metrics.clone()));
    let reload = options.reload;
    let live = Supervisor::start(config.clone(), Arc::clone(&store), creds, metrics.clone())?;
    let reloader = Reloader::new(Arc::clone(&live), metrics.clone(), reload.source);
    let poller: Arc<dyn Poller> = live.clone();
    let demand = tokio::spawn(watch_demand(Arc::clone(&live), Arc::clone(&metrics)));
    let api = {
        let live = Arc::clone(&live);
        Arc::new(move || live.describe_api())
    };
    let (exposition, rendering) =
        ExpositionCache::start(Arc::clone(&store), Arc::clone(&metrics)).await;
    let state = Arc::new(AppState {
        store,
        metrics,
        telemetry_path: telemetry_path.to_string(),
        api,
        configured_jobs: crate::scheduler::ready_keys(&config),
        exposition,
        ready: Default::default(),
    });
    log_listening(addr, telemetry_path, &config, web.as_deref());
    let hangups = reload::on_hangups(Arc::clone(&reloader), reload.hangups);
    let app = router(state).merge(reload::router(reloader, reload.lifecycle));
    let app = crate::web::protect(app, web.clone());
    let result = crate::web::serve(listener, app, web, shutdown, SHUTDOWN_GRACE).await;
    let result = result.map_err(StartError::Serve);
    let tasks = [Some(demand), Some(rendering), hangups];
    tasks.into_iter().flatten().for_each(|t| t.abort());
    poller.stop();
    tracing::info!("exporter stopped");
    result
}
