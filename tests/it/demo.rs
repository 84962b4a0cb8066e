//! The binary in demo mode, end to end, and the simulator on its own.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::exposition::Exposition;
use crate::support::process::{self, BIN};
use crate::support::{http_client, scrape};
use cdb_rollback_exporter::api::v2::Client;
use cdb_rollback_exporter::api::{
    ApiVersion, ClientConfig, Credentials, CredentialsHandle, ErrorKind, Priority, Secret,
};
use cdb_rollback_exporter::demo::{DEMO_SECRET_ID, DEMO_SECRET_KEY};
use cdb_rollback_exporter::metrics::Metrics;

fn states(m: &Exposition) -> Vec<String> {
    let mut s: Vec<String> = m
        .find("cdb_rollback_job_state", &[])
        .iter()
        .filter(|s| s.value == 1.0)
        .map(|s| s.labels["state"].clone())
        .collect();
    s.sort();
    s.dedup();
    s
}

const RUNNING: [(&str, &str); 1] = [("job_id", "30003")];
const BATCH: [(&str, &str); 1] = [("job_id", "30004")];
/// The batch's instance whose part succeeds; cdb-demo0003's fails.
const OTHER_TASK: [(&str, &str); 2] = [("job_id", "30004"), ("instance_id", "cdb-demo0002")];

/// What the demo has shown so far, scrape after scrape.
#[derive(Default)]
struct Watch {
    /// How long the first rollback series took to show.
    first_data: Option<Duration>,
    /// The first scrape with the running job's progress.
    first: Option<Exposition>,
    progress_moved: bool,
}

impl Watch {
    /// Takes one scrape; gives it back once the running job's progress has moved and it
    /// shows everything else the test waits for.
    fn take(&mut self, m: Exposition, elapsed: Duration) -> Option<Exposition> {
        if self.first_data.is_none() && !m.find("cdb_rollback_job_state", &[]).is_empty() {
            self.first_data = Some(elapsed);
        }
        let progress = "cdb_rollback_job_progress_ratio";
        match (&self.first, m.value(progress, &RUNNING)) {
            (Some(f), Some(now)) => {
                let before = f.value(progress, &RUNNING).unwrap_or(now);
                self.progress_moved |= now > before;
            }
            (None, Some(_)) => {
                self.first = Some(m);
                return None;
            }
            _ => {}
        }
        (self.progress_moved && shows_every_outcome(&m)).then_some(m)
    }
}

/// Running, success and failed all show, and the batch's two parts: one failed.
fn shows_every_outcome(m: &Exposition) -> bool {
    let s = states(m);
    let all = ["failed", "running", "success"]
        .iter()
        .all(|w| s.iter().any(|x| x == w));
    let task_failed = m.value(
        "cdb_rollback_task_state",
        &[
            ("job_id", "30004"),
            ("instance_id", "cdb-demo0003"),
            ("state", "failed"),
        ],
    ) == Some(1.0);
    // The two instances' details come in separate requests: wait for both.
    let both_tasks = !m.find("cdb_rollback_task_state", &OTHER_TASK).is_empty();
    all && task_failed && both_tasks
}

#[tokio::test]
async fn demo_shows_live_rollbacks() {
    let started = Instant::now();
    let started_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let demo = process::spawn({
        let mut cmd = Command::new(BIN);
        cmd.arg("--demo").stdout(Stdio::null());
        cmd
    });
    let base = format!("http://127.0.0.1:{}", demo.port);
    let mut watch = Watch::default();
    let m = loop {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "demo did not show running, success and failed jobs with moving progress"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        let Some(m) = scrape(&base).await else {
            continue;
        };
        if let Some(m) = watch.take(m, started.elapsed()) {
            break m;
        }
    };
    the_batch_failed_on_one_instance(&m, started_unix);
    let first = watch.first_data.unwrap();
    assert!(
        first < Duration::from_secs(10),
        "first rollback series after {first:?}"
    );
    every_listing_page_and_request_succeeded(&m);
}

/// The batch job failed, on one of its two instances, while the demo ran; labels from
/// `jobs:`.
fn the_batch_failed_on_one_instance(m: &Exposition, started_unix: f64) {
    assert_eq!(m.states("cdb_rollback_job_state", &BATCH), ["failed"]);
    assert_eq!(
        m.states("cdb_rollback_task_state", &OTHER_TASK),
        ["success"]
    );
    let info = m.find("cdb_rollback_job_info", &BATCH);
    assert_eq!(info[0].labels["type"], "10");
    assert_eq!(info[0].labels["team"], "dba");
    assert_eq!(info[0].labels["region"], "ap-guangzhou");
    assert!(info[0].labels["async_request_id"].contains("demo"));
    // The failure happened while the demo ran, not before it started.
    let failed_at = m
        .value("cdb_rollback_job_end_time_seconds", &BATCH)
        .unwrap();
    assert!(failed_at > started_unix, "{failed_at} <= {started_unix}");
}

/// The listing pages past 100 and leaves the other task types out; every poll and request
/// succeeded, none refused.
fn every_listing_page_and_request_succeeded(m: &Exposition) {
    let tracked = m.value("cdb_rollback_tracked_jobs", &[]).unwrap();
    assert!(tracked > 100.0, "{tracked}");
    assert!(
        m.find("cdb_rollback_job_state", &[("job_id", "90001")])
            .is_empty()
    );
    assert!(
        m.find("cdb_rollback_job_poll_success", &[])
            .iter()
            .all(|s| s.value == 1.0)
    );
    assert_eq!(
        m.value(
            "cdb_rollback_discovery_success",
            &[("region", "ap-guangzhou")]
        ),
        Some(1.0)
    );
    for action in ["DescribeTasks", "DescribeRollbackTaskDetail"] {
        assert_eq!(
            m.value(
                "cdb_rollback_api_requests_total",
                &[("action", action), ("result", "auth")]
            ),
            Some(0.0)
        );
        assert!(
            m.value(
                "cdb_rollback_api_requests_total",
                &[("action", action), ("result", "success")]
            )
            .unwrap()
                > 0.0
        );
    }
}

#[tokio::test]
async fn simulator_refuses_a_wrongly_signed_request() {
    let api = process::spawn_demo_api();
    let port = api.port;
    // demo-api serves both versions: v2 here; the v3 signature checks are unit tests.
    let endpoint = format!("http://127.0.0.1:{port}/v2/index.php");
    let client = |key: &str| {
        let mut cfg = ClientConfig::new(ApiVersion::V2, endpoint.parse().unwrap());
        cfg.max_requests_per_second = 50.0;
        let creds = Credentials {
            secret_id: DEMO_SECRET_ID.into(),
            secret_key: Secret::new(key),
            token: None,
        };
        Client::new(
            &cfg,
            CredentialsHandle::new(creds),
            Arc::new(Metrics::new()),
        )
        .unwrap()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let good = client(DEMO_SECRET_KEY);
    let job = loop {
        match good.get_rollback_job_task(30003, Priority::Normal).await {
            Ok(job) => break job,
            Err(e) if e.kind() == ErrorKind::Transport && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("correctly signed request failed: {e}"),
        }
    };
    assert_eq!(job.status.state().as_str(), "running");
    let err = client("a-wrong-secret-key")
        .get_rollback_job_task(30003, Priority::Normal)
        .await
        .unwrap_err();
    assert_eq!(err.api_code(), Some("4100"), "{err}");
    assert_eq!(err.kind(), ErrorKind::Auth);
    // A raw request with a made-up signature is refused the same way.
    let body = http_client()
        .get(format!("{endpoint}?Action=GetCdbRollbackJobTask&jobId=30003&Region=gz&Timestamp=1&Nonce=1&SecretId={DEMO_SECRET_ID}&Signature=bm90LWEtc2lnbmF0dXJl"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains("4100"), "{body}");
}
