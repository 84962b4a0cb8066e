//! The built-in demo: a simulated CDB API (3.0, and the legacy v2) on 127.0.0.1 that the
//! exporter reaches through its production client, so that a first run shows live
//! rollbacks.

pub mod inventory;
pub mod ranges;
pub mod server;
pub mod story;
pub mod v3;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;

use crate::api::{ApiVersion, ClientConfig, Credentials, Secret};
use crate::config::{
    Config, DiscoveryConfig, ExportedTag, InstanceConfig, InventoryConfig, JobConfig, Labels,
    PollConfig, ReadinessConfig, tag_label,
};
use crate::time::unix_now;
pub use server::Simulator;
pub use story::{DEMO_SECRET_ID, DEMO_SECRET_KEY, INSTANCES};

/// The exporter's configuration for the demo, on API 3.0: every rollback of the demo
/// region (narrowed to the simulated instances, for their labels), polled often so that
/// progress visibly moves.
pub fn exporter_config(base: &Url) -> Config {
    let endpoint = base.join("/").unwrap_or_else(|_| base.clone());
    let mut config = config_for(ApiVersion::V3, endpoint);
    config.client.regions = vec![story::REGION.to_string()];
    config.jobs = vec![JobConfig {
        account: None,
        id: 30004,
        labels: Labels::from_pairs(&[("team", "dba")]),
    }];
    config
}

/// The same on the legacy v2 API: the reference's job by id, and every simulated instance
/// through discovery.
pub fn exporter_config_v2(base: &Url) -> Config {
    let endpoint = base.join(server::PATH).unwrap_or_else(|_| base.clone());
    let mut config = config_for(ApiVersion::V2, endpoint);
    config.jobs = vec![JobConfig {
        account: None,
        id: story::SEED_JOB_ID,
        labels: Labels::from_pairs(&[("team", "dba")]),
    }];
    config
}

fn config_for(version: ApiVersion, endpoint: Url) -> Config {
    let mut client = ClientConfig::new(version, endpoint);
    client.timeout = Duration::from_secs(5);
    client.max_requests_per_second = 10.0;
    Config {
        client,
        credentials: Credentials {
            secret_id: DEMO_SECRET_ID.into(),
            secret_key: Secret::new(DEMO_SECRET_KEY),
            token: None,
        }
        .into(),
        accounts: Vec::new(),
        poll: PollConfig {
            interval: Duration::from_secs(2),
            finished_interval: Duration::from_secs(60),
            concurrency: 4,
            retries: 2,
        },
        jobs: Vec::new(),
        discovery: DiscoveryConfig {
            interval: Duration::from_secs(5),
            // A new rollback every minute: three hours keep the tracked set (and the
            // request demand) bounded however long the demo runs.
            max_age: Duration::from_secs(3 * 3600),
            instances: INSTANCES
                .iter()
                .map(|i| InstanceConfig {
                    id: i.id.into(),
                    labels: Labels::from_pairs(&[("service", i.name.trim_end_matches("-db"))]),
                })
                .collect(),
        },
        readiness: ReadinessConfig {
            enabled: version == ApiVersion::V3,
            interval: Duration::from_secs(10),
        },
        instances: InventoryConfig {
            enabled: version == ApiVersion::V3,
            // Often, so that a renamed instance shows soon; it costs one request.
            interval: Duration::from_secs(60),
            exported_tags: ["team", "cost-center"]
                .map(|key| ExportedTag {
                    key: key.into(),
                    label: tag_label(key),
                })
                .into(),
            ..InventoryConfig::default()
        },
    }
}

/// Why the simulator could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("cannot listen on {addr}: {error}")]
    Listen {
        addr: SocketAddr,
        error: std::io::Error,
    },
    #[error("demo API failed: {0}")]
    Serve(std::io::Error),
    #[error("no URL for the simulator: {0}")]
    Url(url::ParseError),
}

async fn bind(addr: SocketAddr) -> Result<(tokio::net::TcpListener, SocketAddr), DemoError> {
    let listen = |error| DemoError::Listen { addr, error };
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(listen)?;
    let local = listener.local_addr().map_err(listen)?;
    Ok((listener, local))
}

/// The simulator's base URL: v3 answers at `/`, v2 at [`server::PATH`].
fn endpoint(addr: SocketAddr) -> Result<Url, DemoError> {
    Url::parse(&format!("http://{addr}/")).map_err(DemoError::Url)
}

/// Starts the simulator in this process on a free loopback port; returns the exporter's config.
pub async fn start() -> Result<Config, DemoError> {
    let (listener, addr) = bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let sim = Arc::new(Simulator::new(unix_now() as i64));
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, server::router(sim)).await {
            tracing::error!("demo API stopped: {e}");
        }
    });
    let url = endpoint(addr)?;
    tracing::info!(endpoint = %url, "demo mode: simulated CDB API started; no real credentials are used");
    Ok(exporter_config(&url))
}

/// Runs the simulator alone until `shutdown`.
pub async fn serve(
    addr: SocketAddr,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), DemoError> {
    let (listener, local) = bind(addr).await?;
    let sim = Arc::new(Simulator::new(unix_now() as i64));
    tracing::info!(
        endpoint = %endpoint(local)?,
        secret_id = DEMO_SECRET_ID,
        v2_endpoint = %endpoint(local)?.join(server::PATH).map_err(DemoError::Url)?,
        "simulated CDB API listening: API 3.0 at /, v2 at /v2/index.php (the demo SecretKey is in README.md)"
    );
    axum::serve(listener, server::router(sim))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(DemoError::Serve)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::v2::sign::{SignatureMethod, signature, string_to_sign};

    fn signed(params: &[(&str, &str)], key: &str, now: i64) -> Vec<(String, String)> {
        let mut p: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        p.push(("Timestamp".into(), now.to_string()));
        p.push(("Nonce".into(), "4242".into()));
        p.push(("SecretId".into(), DEMO_SECRET_ID.into()));
        p.push(("Region".into(), "ap-guangzhou".into()));
        let s = signature(
            SignatureMethod::HmacSha1,
            key.as_bytes(),
            &string_to_sign("GET", "127.0.0.1:1", "/v2/index.php", &p),
        );
        p.push(("Signature".into(), s));
        p
    }

    #[test]
    fn simulator_checks_signatures_and_replays() {
        let now = 2_000_000_000;
        let sim = Simulator::new(now);
        let good = signed(
            &[("Action", "GetCdbRollbackJobTask"), ("jobId", "30003")],
            DEMO_SECRET_KEY,
            now,
        );
        let answer = sim.answer("GET", "127.0.0.1:1", "/v2/index.php", &good, now);
        assert_eq!(answer["code"], 0, "odd jobs answer with numbers: {answer}");
        let job = crate::api::v2::decode::job_detail(
            answer.to_string().as_bytes(),
            crate::time::UtcOffset::CST,
            30003,
        )
        .unwrap();
        assert_eq!(job.id, 30003);
        let replay = sim.answer("GET", "127.0.0.1:1", "/v2/index.php", &good, now);
        assert_eq!(replay["code"], 4500);
        let bad = signed(
            &[("Action", "GetCdbRollbackJobTask"), ("jobId", "30003")],
            "wrong key",
            now,
        );
        assert_eq!(
            sim.answer("GET", "127.0.0.1:1", "/v2/index.php", &bad, now)["code"],
            4100
        );
    }
}
