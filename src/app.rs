//! Wires the rooms together: config → client → scheduler/discovery → store → HTTP.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::api::Client;
use crate::config::Config;
use crate::discovery::Discovery;
use crate::exposition_cache::ExpositionCache;
use crate::http::{AppState, router};
use crate::metrics::Metrics;
use crate::scheduler::Scheduler;
use crate::store::{Source, Store};
use crate::web::WebConfig;

/// How long in-flight scrapes may take to finish once shutdown has begun.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// How often the request demand is compared with the budget.
const DEMAND_CHECK: Duration = Duration::from_secs(15);

/// Checks a telemetry path before the router is built with it.
pub fn check_telemetry_path(path: &str) -> Result<(), String> {
    let plain = path
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'.'));
    if !path.starts_with('/') || path == "/" || path.starts_with("/-/") || !plain {
        return Err(format!(
            "--web.telemetry-path: `{path}` must start with /, use only letters, digits and / _ - ., \
             and be neither / nor under /-/"
        ));
    }
    Ok(())
}

/// Keeps `cdb_rollback_poll_demand_requests_per_second` current, and says once in the
/// log when the configured intervals ask for more requests than the budget allows.
async fn watch_demand(scheduler: Arc<Scheduler>, metrics: Arc<Metrics>, config: Config) {
    let budget = config.client.max_requests_per_second;
    let discovery = config.discovery.instances.len() as f64
        / config.discovery.interval.as_secs_f64().max(0.001);
    let mut over = false;
    loop {
        let demand = scheduler.demand() + discovery;
        metrics.demand.set(demand);
        if demand > budget && !over {
            tracing::warn!(
                demand = format!("{demand:.2}"),
                budget,
                "the poll intervals ask for more requests than api.max_requests_per_second allows: \
                 polls will run late, finished jobs first; raise the budget or the intervals"
            );
        }
        over = demand > budget;
        tokio::time::sleep(DEMAND_CHECK).await;
    }
}

/// Runs the exporter on `listener` until `shutdown` completes.
pub async fn run(
    config: Config,
    listener: TcpListener,
    telemetry_path: &str,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    run_with_web(config, listener, telemetry_path, None, shutdown).await
}

/// [`run`], with TLS and basic auth from an exporter-toolkit web config file.
pub async fn run_with_web(
    config: Config,
    listener: TcpListener,
    telemetry_path: &str,
    web_config: Option<&Path>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    check_telemetry_path(telemetry_path)?;
    let web = web_config.map(WebConfig::load).transpose()?.map(Arc::new);
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let metrics = Arc::new(Metrics::new());
    metrics.budget.set(config.client.max_requests_per_second);
    let store = Arc::new(Store::new());
    let client = Arc::new(Client::new(
        config.client.clone(),
        config.credentials.clone(),
        Arc::clone(&metrics),
    )?);
    let scheduler = Scheduler::new(client, Arc::clone(&store), config.poll.clone());
    for job in &config.jobs {
        scheduler.track(job.id, Source::Configured, job.labels.clone());
    }
    let discovery = Discovery::new(
        Arc::clone(&scheduler),
        Arc::clone(&store),
        config.discovery.clone(),
        config.poll.retries,
    );
    let (exposition, rendering) =
        ExpositionCache::start(Arc::clone(&store), Arc::clone(&metrics)).await;
    let background = [
        rendering,
        tokio::spawn(discovery.run()),
        tokio::spawn(watch_demand(
            Arc::clone(&scheduler),
            Arc::clone(&metrics),
            config.clone(),
        )),
    ];

    let state = Arc::new(AppState {
        store,
        metrics,
        telemetry_path: telemetry_path.to_string(),
        configured_jobs: config.jobs.iter().map(|j| j.id).collect(),
        exposition,
        ready: Default::default(),
    });
    let tls = web.as_ref().is_some_and(|w| w.current().tls.is_some());
    let basic_auth = web.as_ref().is_some_and(|w| !w.current().users.is_empty());
    tracing::info!(
        %addr,
        telemetry_path,
        jobs = config.jobs.len(),
        instances = config.discovery.instances.len(),
        endpoint = %config.client.endpoint,
        tls,
        basic_auth,
        "exporter listening"
    );

    let app = crate::web::protect(router(state), web.clone());
    let result = crate::web::serve(listener, app, web, shutdown, SHUTDOWN_GRACE).await;
    // Discovery first, and wait for it: a round in progress could otherwise track new jobs
    // after the poll loops have been stopped.
    for task in background {
        task.abort();
        let _ = task.await;
    }
    scheduler.stop();
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
            assert!(err.contains(bad), "{err}");
        }
    }
}
