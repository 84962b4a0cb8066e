//! Wires the rooms together: config → client → poller → store → HTTP.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::api::{ApiVersion, BuildError};
use crate::config::Config;
use crate::credentials::{self, ResolveError, Resolved};
use crate::exposition_cache::ExpositionCache;
use crate::http::{AppState, router};
use crate::metrics::Metrics;
use crate::reload;
use crate::scheduler::Poller;
use crate::store::{JobKey, Store};
use crate::web::{WebConfig, WebConfigError};

/// How long in-flight scrapes may take to finish once shutdown has begun.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// How often the request demand is compared with the budget.
const DEMAND_CHECK: Duration = Duration::from_secs(15);

/// Why the exporter could not start or stopped serving; each layer's own error, named.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    TelemetryPath(#[from] BadTelemetryPath),
    #[error(transparent)]
    Credentials(#[from] ResolveError),
    #[error(transparent)]
    WebConfig(#[from] WebConfigError),
    #[error("cannot start the poller: {0}")]
    Poller(#[from] BuildError),
    #[error("cannot read the listening address: {0}")]
    Listener(std::io::Error),
    #[error("HTTP server failed: {0}")]
    Serve(std::io::Error),
}

#[derive(Debug, thiserror::Error)]
#[error(
    "--web.telemetry-path: `{0}` must start with /, use only letters, digits and / _ - ., \
     and be neither / nor under /-/"
)]
pub struct BadTelemetryPath(pub String);

/// Checks a telemetry path before the router is built with it.
pub fn check_telemetry_path(path: &str) -> Result<(), BadTelemetryPath> {
    let plain = path
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'.'));
    if !path.starts_with('/') || path == "/" || path.starts_with("/-/") || !plain {
        return Err(BadTelemetryPath(path.to_string()));
    }
    Ok(())
}

/// Keeps `cdb_rollback_poll_demand_requests_per_second` current, and says once in the
/// log when the configured intervals ask for more requests than the budget allows.
async fn watch_demand(live: Arc<reload::Live>, metrics: Arc<Metrics>) {
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

/// Runs the exporter on `listener` until `shutdown` completes, with the credentials the
/// config's spec resolves to.
pub async fn run(
    config: Config,
    listener: TcpListener,
    telemetry_path: &str,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    run_reloadable(
        config,
        listener,
        telemetry_path,
        shutdown,
        reload::Options::default(),
    )
    .await
}

/// [`run`], reloadable as `reload` says.
pub async fn run_reloadable(
    config: Config,
    listener: TcpListener,
    telemetry_path: &str,
    shutdown: impl Future<Output = ()> + Send + 'static,
    reload: reload::Options,
) -> Result<(), StartError> {
    check_telemetry_path(telemetry_path)?;
    let creds = credentials::resolve(&config.credentials).await?;
    let options = Options {
        reload,
        web_config: None,
    };
    run_with_options(config, creds, listener, telemetry_path, shutdown, options).await
}

/// How the daemon runs beyond its configuration: reloads, and the web config file.
#[derive(Default)]
pub struct Options {
    pub reload: reload::Options,
    /// exporter-toolkit's `--web.config.file`: TLS, basic auth, headers.
    pub web_config: Option<PathBuf>,
}

fn log_credentials(creds: &Resolved) {
    tracing::info!(
        source = creds.provider.label(),
        detail = %creds.provider.describe(),
        secret_id = %creds.first.creds.secret_id,
        expires_at = creds.first.expires,
        "credentials found"
    );
}

/// v3 finds `jobs:` in the listings; v2 polls each, and is ready once each answered.
fn configured_jobs(config: &Config) -> Vec<JobKey> {
    match config.client.version {
        ApiVersion::V2 => {
            let region = config.client.regions.first().cloned().unwrap_or_default();
            let key = |id| JobKey::new(region.clone(), id);
            config.jobs.iter().map(|j| key(j.id)).collect()
        }
        ApiVersion::V3 => Vec::new(),
    }
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

/// Runs the exporter with credentials already resolved (so that the caller can tell a
/// start without any from other failures), with every option.
pub async fn run_with_options(
    config: Config,
    creds: Resolved,
    listener: TcpListener,
    telemetry_path: &str,
    shutdown: impl Future<Output = ()> + Send + 'static,
    options: Options,
) -> Result<(), StartError> {
    check_telemetry_path(telemetry_path)?;
    let web = options.web_config.as_deref().map(WebConfig::load);
    let web = web.transpose()?.map(Arc::new);
    let addr = listener.local_addr().map_err(StartError::Listener)?;
    let metrics = Arc::new(Metrics::new());
    metrics.prepare(config.client.version.actions(), &config.client.regions);
    metrics.prepare_credentials(creds.provider.label());
    log_credentials(&creds);
    let store = Arc::new(Store::with_outcomes(metrics.clone()));
    let reload = options.reload;
    let live = reload::Live::start(
        config.clone(),
        Arc::clone(&store),
        creds,
        metrics.clone(),
        reload.source,
    )?;
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
        configured_jobs: configured_jobs(&config),
        exposition,
        ready: Default::default(),
    });
    log_listening(addr, telemetry_path, &config, web.as_deref());
    let hangups = reload::on_hangups(Arc::clone(&live), reload.hangups);
    let app = router(state).merge(reload::router(live, reload.lifecycle));
    let app = crate::web::protect(app, web.clone());
    let result = crate::web::serve(listener, app, web, shutdown, SHUTDOWN_GRACE).await;
    let result = result.map_err(StartError::Serve);
    let tasks = [Some(demand), Some(rendering), hangups];
    tasks.into_iter().flatten().for_each(|t| t.abort());
    poller.stop();
    tracing::info!("exporter stopped");
    result
}

#[cfg(test)]
mod tests {
    use super::check_telemetry_path;

    #[test]
    fn telemetry_paths() {
        for ok in ["/metrics", "/cdb/metrics", "/m-1.txt"] {
            assert!(check_telemetry_path(ok).is_ok(), "{ok}");
        }
        for bad in ["metrics", "/", "/-/healthy", "/:x", "/*x", "/{x}", "/a b"] {
            let err = check_telemetry_path(bad).unwrap_err();
            assert_eq!(err.0, bad, "{err}");
        }
    }
}
