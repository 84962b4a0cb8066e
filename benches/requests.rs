//! The request cost of polling 1,000 running rollback jobs in one region, v3 beside v2,
//! and of the v3 instance inventory of 5,000 instances (DescribeDBInstances) and their
//! rollback readiness (DescribeRollbackRangeTime):
//! the daemon runs in this process against a small answering API on 127.0.0.1 (no
//! signature checks: this counts requests, the tests check signatures), for a few poll
//! intervals, and the requests per interval are counted by action.
//!
//! Then the cost of one and of two replicas (high availability: both poll) at 100 and
//! 1,000 running jobs with the default budget and interval, in requests per minute.
//!
//! `cargo bench --bench requests`; `REQUESTS_JOBS`, `REQUESTS_INSTANCES` and
//! `REQUESTS_INTERVALS` tune the first part, `REQUESTS_HA_MINUTES` (default 2, 0: skip)
//! the second.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use cdb_rollback_exporter::config::Config;
use cdb_rollback_exporter::time::{UtcOffset, format_local, unix_now};
use serde_json::{Value, json};

type Log = Arc<Mutex<Vec<(Instant, String)>>>;

const INTERVAL: Duration = Duration::from_secs(2);
/// Long enough that a round of 50 requests under the action's 18/s is well apart from the next.
const READINESS_INTERVAL: Duration = Duration::from_secs(6);

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn time(t: i64) -> String {
    format_local(t, UtcOffset::CST)
}

/// Instances DescribeDBInstances lists (the bench sets it before the daemon starts).
static INSTANCES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(5000);

fn instances_page(p: &Value) -> Value {
    let n = INSTANCES.load(std::sync::atomic::Ordering::Relaxed);
    let offset = p["Offset"].as_u64().unwrap_or(0);
    let limit = p["Limit"].as_u64().unwrap_or(20).min(2000);
    let items: Vec<Value> = (offset..n.min(offset + limit))
        .map(|k| {
            json!({"InstanceId": format!("cdb-{k:06}"), "InstanceName": format!("db-{k}"),
            "Zone": "ap-guangzhou-3", "InstanceType": 1, "EngineVersion": "8.0", "ProjectId": 0,
            "Status": 1, "TagList": [{"TagKey": "team", "TagValue": format!("t{}", k % 7)}]})
        })
        .collect();
    json!({"TotalCount": n, "Items": items, "RequestId": "r"})
}

/// Every instance asked about has a week to roll back to; more than `RANGE_BATCH` ids a
/// request are refused, as an undocumented limit would be.
const RANGE_BATCH: usize = 100;

fn ranges_answer(p: &Value, now: i64) -> Value {
    let ids = p["InstanceIds"].as_array().cloned().unwrap_or_default();
    if ids.len() > RANGE_BATCH {
        return json!({"Error": {"Code": "InvalidParameterValue", "Message": "too many"}, "RequestId": "r"});
    }
    let items: Vec<Value> = ids
        .iter()
        .map(|id| {
            json!({"InstanceId": id, "Code": 0, "Message": "ok",
            "Times": [{"Begin": time(now - 7 * 86_400), "End": time(now - 30)}]})
        })
        .collect();
    json!({"TotalCount": items.len(), "Items": items, "RequestId": "r"})
}

async fn v3(State((log, jobs)): State<(Log, u64)>, headers: HeaderMap, body: Bytes) -> String {
    let action = headers
        .get("x-tc-action")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    log.lock().unwrap().push((Instant::now(), action.clone()));
    let p: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let now = unix_now() as i64;
    let start = time(now - 600);
    // Every job moves on every second, so that task details are due every interval.
    let v = if action == "DescribeDBInstances" {
        instances_page(&p)
    } else if action == "DescribeRollbackRangeTime" {
        ranges_answer(&p, now)
    } else if action == "DescribeTasks" {
        let offset = p["Offset"].as_u64().unwrap_or(0);
        let items: Vec<Value> = (offset..jobs.min(offset + 100))
            .map(|k| json!({"JobId": 10_000 + k, "AsyncRequestId": format!("a-{k}"), "TaskType": "ROLLBACK",
                "TaskStatus": "RUNNING", "Progress": (k as i64 + now) % 100, "Code": 0, "Message": "", "StartTime": start,
                "EndTime": "0000-00-00 00:00:00", "InstanceIds": [format!("cdb-{k:06}")]}))
            .collect();
        json!({"TotalCount": jobs, "Items": items, "RequestId": "r"})
    } else {
        let instance = p["InstanceId"].as_str().unwrap_or("");
        json!({"TotalCount": 1, "RequestId": "r", "Items": [{"Status": "RUNNING", "Progress": 50,
            "StartTime": start, "EndTime": "", "Info": "", "Detail": [{"InstanceId": instance, "Strategy": "table",
            "RollbackTime": start, "Databases": [], "Tables": []}]}]})
    };
    json!({ "Response": v }).to_string()
}

async fn v2(
    State((log, _)): State<(Log, u64)>,
    Query(q): Query<BTreeMap<String, String>>,
) -> String {
    let action = q.get("Action").cloned().unwrap_or_default();
    log.lock().unwrap().push((Instant::now(), action));
    let id = q.get("jobId").cloned().unwrap_or_default();
    let start = time(unix_now() as i64 - 600);
    json!({"code": 0, "message": "", "data": {"jobInfo": {"jobId": id, "type": 1, "status": 1, "progress": 50,
        "code": 0, "startTime": start, "endTime": ""}, "taskDetail": [{"taskId": 1, "status": 1, "progress": 50,
        "startTime": start, "taskInfo": {"cdbInstanceId": format!("cdb-{id}")}}]}})
    .to_string()
}

/// Runs `replicas` daemons with `yaml` side by side against the same API (as replicas of
/// one Deployment do) for `intervals` poll intervals after two of warm-up, and returns
/// the requests per interval by action, all replicas together.
async fn measure(
    yaml: &str,
    log: Log,
    replicas: usize,
    interval: Duration,
    intervals: u64,
) -> BTreeMap<String, f64> {
    let env = |name: &str| match name {
        "TENCENTCLOUD_SECRET_ID" => Some("AKIDbench".to_string()),
        "TENCENTCLOUD_SECRET_KEY" => Some("bench-key".to_string()),
        _ => None,
    };
    let mut running = Vec::with_capacity(replicas);
    for _ in 0..replicas {
        let config = Config::parse(yaml, Path::new("bench.yml"), &env).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let shutdown = async move {
            let _ = rx.await;
        };
        let creds = cdb_rollback_exporter::supervisor::resolve(&config).await;
        let daemon = cdb_rollback_exporter::app::run(
            config,
            creds.unwrap(),
            listener,
            shutdown,
            Default::default(),
        );
        running.push((tx, tokio::spawn(daemon)));
    }
    tokio::time::sleep(interval * 2).await;
    let from = Instant::now();
    tokio::time::sleep(interval * intervals as u32).await;
    let to = Instant::now();
    for (tx, daemon) in running {
        let _ = tx.send(());
        let _ = daemon.await;
    }
    let mut per: BTreeMap<String, f64> = BTreeMap::new();
    for (at, action) in log.lock().unwrap().iter() {
        if *at >= from && *at < to {
            *per.entry(action.clone()).or_default() += 1.0 / intervals as f64;
        }
    }
    per
}

/// The v3 API answering for `jobs` running jobs, and the log of its requests.
async fn v3_api(jobs: u64) -> (String, Log) {
    let log: Log = Arc::default();
    let app = Router::new()
        .route("/", post(v3))
        .with_state((Arc::clone(&log), jobs));
    (serve(app).await, log)
}

/// The cost of running one and two replicas with the default budget and intervals (5
/// requests/s, poll.interval 30s), in requests per minute: what a second replica for
/// high availability adds against the account's API limits.
async fn replicas(minutes: u64) {
    println!(
        "default budget (5 requests/s) and poll.interval (30s), jobs moving every second, \
         {minutes} min measured after 1 min of warm-up, the four cases at once:"
    );
    println!(
        "  {:>6} {:>9} {:>20}   by action",
        "jobs", "replicas", "requests per minute"
    );
    let mut cases = Vec::new();
    for jobs in [100, 1000] {
        for n in [1, 2] {
            let (base, log) = v3_api(jobs).await;
            let yaml = format!("api:\n  version: 3\n  endpoint: {base}/\n");
            let run =
                async move { measure(&yaml, log, n, Duration::from_secs(30), minutes * 2).await };
            cases.push((jobs, n, tokio::spawn(run)));
        }
    }
    for (jobs, n, case) in cases {
        // Two 30 s intervals to the minute.
        let per = case.await.unwrap();
        let total: f64 = per.values().sum::<f64>() * 2.0;
        let actions: Vec<String> = per
            .iter()
            .map(|(a, v)| format!("{a} {:.1}", v * 2.0))
            .collect();
        println!("  {jobs:>6} {n:>9} {total:>20.1}   {}", actions.join(", "));
    }
}

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let jobs = env_or("REQUESTS_JOBS", 1000);
    let intervals = env_or("REQUESTS_INTERVALS", 5);
    let instances = env_or("REQUESTS_INSTANCES", 5000);
    INSTANCES.store(instances, std::sync::atomic::Ordering::Relaxed);
    let common = format!(
        "  max_requests_per_second: 1000\n  timeout: 5s\npoll:\n  interval: {}s\n  finished_interval: 10m\n  concurrency: 16\n  retries: 0\n",
        INTERVAL.as_secs()
    );
    let (per3, log3) = measure_v3(jobs, &common, intervals).await;
    let per2 = measure_v2(jobs, &common, intervals).await;

    println!(
        "{jobs} running jobs in one region, poll.interval {}s, budget 1000 requests/s, {intervals} intervals measured:",
        INTERVAL.as_secs()
    );
    println!("  {:<34} {:>22}", "action", "requests per interval");
    for (action, n) in per3.iter().chain(per2.iter()) {
        println!("  {action:<34} {n:>22.1}");
    }
    check_listing(jobs, &per3, &per2);
    check_inventory(instances, &per3);
    check_readiness(instances, &log3);
    match env_or("REQUESTS_HA_MINUTES", 2) {
        0 => {}
        minutes => replicas(minutes).await,
    }
}

/// v3's requests per interval for `jobs` running jobs, with the inventory and readiness on.
async fn measure_v3(jobs: u64, common: &str, intervals: u64) -> (BTreeMap<String, f64>, Log) {
    let (base, log3) = v3_api(jobs).await;
    // The inventory refreshed every poll interval here (10 minutes by default), readiness
    // every READINESS_INTERVAL (5 minutes by default).
    let inventory = format!(
        "instances:\n  interval: {}s\nreadiness:\n  interval: {}s\n",
        INTERVAL.as_secs(),
        READINESS_INTERVAL.as_secs()
    );
    let yaml3 = format!("api:\n  version: 3\n  endpoint: {base}/\n{common}{inventory}");
    let per3 = measure(&yaml3, Arc::clone(&log3), 1, INTERVAL, intervals).await;
    (per3, log3)
}

/// v2's requests per interval for `jobs` configured jobs.
async fn measure_v2(jobs: u64, common: &str, intervals: u64) -> BTreeMap<String, f64> {
    let log2: Log = Arc::default();
    let base = serve(
        Router::new()
            .route("/v2/index.php", get(v2))
            .with_state((Arc::clone(&log2), jobs)),
    )
    .await;
    let ids: String = (0..jobs)
        .map(|k| format!("  - id: {}\n", 10_000 + k))
        .collect();
    let yaml2 =
        format!("api:\n  version: 2\n  endpoint: {base}/v2/index.php\n{common}jobs:\n{ids}");
    measure(&yaml2, log2, 1, INTERVAL, intervals).await
}

/// v3 refreshes job states by listing pages of 100, not a request per job.
fn check_listing(jobs: u64, per3: &BTreeMap<String, f64>, per2: &BTreeMap<String, f64>) {
    let listing = per3.get("DescribeTasks").copied().unwrap_or(0.0);
    let v2_jobs = per2.get("GetCdbRollbackJobTask").copied().unwrap_or(0.0);
    println!(
        "job-level refresh: v3 {listing:.1} DescribeTasks requests per interval, v2 {v2_jobs:.1} GetCdbRollbackJobTask requests"
    );
    assert!(
        listing <= (jobs as f64 / 100.0).ceil() + 0.5,
        "v3 job-level refresh took {listing} requests per interval"
    );
}

/// The inventory pages by 2000 instances, once per instances.interval.
fn check_inventory(instances: u64, per3: &BTreeMap<String, f64>) {
    // instances.interval jitters by ±10 %: a few intervals may hold one refresh more.
    let inventory = per3.get("DescribeDBInstances").copied().unwrap_or(0.0);
    let pages = (instances as f64 / 2000.0).ceil();
    println!(
        "inventory of {instances} instances: {inventory:.1} DescribeDBInstances requests per instances.interval (ceil({instances}/2000) = {pages})"
    );
    assert!(
        (inventory - pages).abs() <= pages * 0.25 + 0.5,
        "the inventory took {inventory} requests per interval, not about {pages}"
    );
}

/// Each readiness round asks every instance once; the last round may be cut short.
fn check_readiness(instances: u64, log3: &Log) {
    let sizes = rounds(log3, "DescribeRollbackRangeTime");
    let batches = instances.div_ceil(RANGE_BATCH as u64) as usize;
    println!(
        "readiness of {instances} instances: DescribeRollbackRangeTime requests per round (one round per readiness.interval) {sizes:?}; ceil({instances}/{RANGE_BATCH}) = {batches}"
    );
    assert!(
        sizes.len() >= 2,
        "fewer than two readiness rounds: {sizes:?}"
    );
    assert!(
        sizes[..sizes.len() - 1].iter().all(|&n| n == batches),
        "readiness rounds took {sizes:?} requests, not {batches} each"
    );
}

/// Requests of `action` per round: runs of requests with less than a second between two.
fn rounds(log: &Log, action: &str) -> Vec<usize> {
    let log = log.lock().unwrap();
    let mut times = log.iter().filter(|(_, a)| a == action).map(|(t, _)| *t);
    let Some(mut last) = times.next() else {
        return Vec::new();
    };
    let mut sizes = vec![1];
    for t in times {
        if t.duration_since(last) > Duration::from_secs(1) {
            sizes.push(0);
        }
        if let Some(n) = sizes.last_mut() {
            *n += 1;
        }
        last = t;
    }
    sizes
}
