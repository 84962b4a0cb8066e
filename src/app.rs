//! Wires the rooms together: config → client → scheduler/discovery → store → HTTP.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::api::Client;
use crate::config::Config;
use crate::discovery::Discovery;
use crate::http::{AppState, router};
use crate::metrics::Metrics;
use crate::scheduler::Scheduler;
use crate::store::{Source, Store};

/// How long in-flight scrapes may take to finish once shutdown has begun.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Checks a telemetry path before the router is built with it.
pub fn check_telemetry_path(path: &str) -> Result<(), String> {
    if !path.starts_with('/') || path == "/" || path.starts_with("/-/") {
        return Err(format!(
            "--web.telemetry-path: `{path}` must start with / and be neither / nor under /-/"
        ));
    }
    Ok(())
}

/// Runs the exporter on `listener` until `shutdown` completes.
pub async fn run(
    config: Config,
    listener: TcpListener,
    telemetry_path: &str,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    check_telemetry_path(telemetry_path)?;
    let metrics = Arc::new(Metrics::new());
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
    let discovery_task = tokio::spawn(discovery.run());

    let state = Arc::new(AppState {
        store,
        metrics,
        telemetry_path: telemetry_path.to_string(),
        configured_jobs: config.jobs.iter().map(|j| j.id).collect(),
        scrapes: Arc::new(tokio::sync::Semaphore::new(
            crate::http::MAX_CONCURRENT_SCRAPES,
        )),
    });
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(
        %addr,
        telemetry_path,
        jobs = config.jobs.len(),
        instances = config.discovery.instances.len(),
        endpoint = %config.client.endpoint,
        "exporter listening"
    );

    let stop = Arc::new(tokio::sync::Notify::new());
    let notify = Arc::clone(&stop);
    let server = axum::serve(listener, router(state)).with_graceful_shutdown(async move {
        shutdown.await;
        notify.notify_one();
    });
    let result = tokio::select! {
        r = server => r.map_err(|e| format!("HTTP server failed: {e}")),
        _ = async { stop.notified().await; tokio::time::sleep(SHUTDOWN_GRACE).await } => {
            tracing::warn!("scrapes still open after the grace period; closing them");
            Ok(())
        }
    };
    discovery_task.abort();
    scheduler.stop();
    tracing::info!("exporter stopped");
    result
}
