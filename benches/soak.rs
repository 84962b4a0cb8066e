//! The long soak: the release binary, as its own process, polls SOAK_JOBS jobs (default
//! 1,000) of the fault fake (tests/it/support/faults.rs, v2 world, served in this
//! process) for SOAK_SECONDS (default 600) while faults of every kind are drawn with a
//! fixed seed, and is scraped once a second. Then the faults stop and every job must be
//! fresh within two poll intervals.
//!
//! Prints: resident memory over time (VmRSS samples, VmHWM peak; first vs last minute),
//! scrape latency (p50/p99/max), request rate, the worst one-second window of requests
//! against the budget, and the invariant checks (values against the fake's answers).
//!
//! `SOAK_SECONDS=60 SOAK_JOBS=200 cargo bench --bench soak` runs it short.

use std::time::{Duration, Instant};

use cdb_rollback_exporter::time::unix_now;

// The integration tests' fake and exposition reader, shared rather than copied.
#[allow(dead_code)]
#[path = "../tests/it/support/exposition.rs"]
mod exposition;
#[allow(dead_code)]
#[path = "../tests/it/support/faults/mod.rs"]
mod faults;

use exposition::Exposition;
use faults::{FaultApi, World, check_jobs};

const BIN: &str = env!("CARGO_BIN_EXE_cdb-rollback-exporter");
const BUDGET: f64 = 50.0;
const INTERVAL: u64 = 30;
const FINISHED_INTERVAL: u64 = 60;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// VmRSS and VmHWM of a process, in MiB.
fn memory(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    };
    (kb("VmRSS:"), kb("VmHWM:"))
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

async fn scrape(http: &reqwest::Client, url: &str) -> Result<(Duration, String), String> {
    let t = Instant::now();
    let resp = http.get(url).send().await.map_err(|e| e.to_string())?;
    if resp.status() != 200 {
        return Err(format!("status {}", resp.status()));
    }
    let text = resp.text().await.map_err(|e| e.to_string())?;
    Ok((t.elapsed(), text))
}

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let seconds = env_u64("SOAK_SECONDS", 600);
    let jobs = env_u64("SOAK_JOBS", 1000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run(seconds, jobs));
}

async fn run(seconds: u64, jobs: u64) {
    let world = World {
        jobs,
        first_id: 100_000,
        t0: unix_now() as i64,
        // Jobs finish between one minute in and about when the run ends.
        base: 60,
        spread: (seconds as i64 - 60).max(1),
    };
    let api = FaultApi::start(Some(world.clone()), Duration::from_secs(2), 42).await;
    let dir = std::env::temp_dir().join(format!("cdb-soak-{}", std::process::id()));
    let (mut child, port) = start_exporter(&api, &world, &dir);
    let pid = child.id();
    let http = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/metrics");
    let started = Instant::now();
    println!("soak: {jobs} jobs, {seconds} s of faults, budget {BUDGET}/s, exporter pid {pid}");
    let mut seen = scrape_under_faults(&api, &http, &url, pid, started, seconds).await;
    let fault_secs = started.elapsed().as_secs_f64();
    let traffic = traffic_under_faults(&api);

    api.set_faults(false);
    let fresh_after = fresh_after_faults(&http, &url, jobs).await;
    let (rss_end, hwm) = memory(pid);
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let status = child.wait().unwrap();

    seen.latencies.sort_by(f64::total_cmp);
    println!("---- soak report");
    print_traffic(jobs, fault_secs, &traffic);
    print_scrapes_and_memory(&seen, fault_secs, rss_end, hwm);
    match fresh_after {
        Some(s) => println!(
            "after the faults stopped, every job fresh in {s:.1} s (bound {} s)",
            2 * FINISHED_INTERVAL
        ),
        None => println!(
            "after the faults stopped, NOT every job fresh within {} s",
            2 * FINISHED_INTERVAL
        ),
    }
    println!("exporter exit after SIGTERM: {status}");
    let ok = seen.failures == 0
        && seen.problems == 0
        && traffic.worst as f64 <= BUDGET + 1.0
        && fresh_after.is_some()
        && status.success();
    println!("soak {}", if ok { "PASSED" } else { "FAILED" });
    let _ = std::fs::remove_dir_all(&dir);
    if !ok {
        std::process::exit(1);
    }
}

/// Writes the config for `world` into `dir` and starts the exporter on a free port.
fn start_exporter(
    api: &FaultApi,
    world: &World,
    dir: &std::path::Path,
) -> (std::process::Child, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::create_dir_all(dir).unwrap();
    let file = dir.join("config.yml");
    let ids: String = world.ids().map(|id| format!("  - id: {id}\n")).collect();
    std::fs::write(
        &file,
        format!(
            "api:\n  version: 2\n  endpoint: {}\n  timeout: 2s\n  max_requests_per_second: {BUDGET}\n\
             poll:\n  interval: {INTERVAL}s\n  finished_interval: {FINISHED_INTERVAL}s\n  concurrency: 4\n  retries: 2\n\
             jobs:\n{ids}",
            api.endpoint_v2()
        ),
    )
    .unwrap();
    let child = std::process::Command::new(BIN)
        .arg(format!("--config.file={}", file.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--log.level=error")
        .env("TENCENTCLOUD_SECRET_ID", "AKIDsoak")
        .env("TENCENTCLOUD_SECRET_KEY", "soak-key")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    (child, port)
}

/// What the scrapes saw while faults were drawn.
#[derive(Default)]
struct Observed {
    latencies: Vec<f64>,
    failures: usize,
    problems: usize,
    checked: usize,
    /// (seconds since the start, VmRSS MiB)
    samples: Vec<(f64, f64)>,
}

/// Scrapes once a second until `seconds` after `started`: latency of each, the
/// invariant checks every tenth, memory every fifth, a progress line every minute.
async fn scrape_under_faults(
    api: &FaultApi,
    http: &reqwest::Client,
    url: &str,
    pid: u32,
    started: Instant,
    seconds: u64,
) -> Observed {
    let until = started + Duration::from_secs(seconds);
    let mut seen = Observed::default();
    let mut tick = 0u64;
    while Instant::now() < until {
        let at = unix_now();
        match scrape(http, url).await {
            Ok((took, text)) => {
                seen.latencies.push(took.as_secs_f64());
                if tick % 10 == 0 {
                    let e = Exposition::parse(&text);
                    let found = api.with(|log| check_jobs(&e, log, at));
                    if let Some(p) = found.first() {
                        eprintln!(
                            "t={:.0}s: {} problems, e.g. {p}",
                            started.elapsed().as_secs_f64(),
                            found.len()
                        );
                    }
                    seen.problems += found.len();
                    seen.checked += 1;
                }
            }
            Err(e) if started.elapsed() > Duration::from_secs(5) => {
                seen.failures += 1;
                eprintln!("scrape failed: {e}");
            }
            Err(_) => {}
        }
        if tick % 5 == 0 {
            let (rss, _) = memory(pid);
            seen.samples.push((started.elapsed().as_secs_f64(), rss));
        }
        if tick % 60 == 0 {
            let (rss, hwm) = memory(pid);
            println!(
                "t={:>4.0}s rss {rss:.1} MiB, peak {hwm:.1} MiB, {} requests so far",
                started.elapsed().as_secs_f64(),
                api.with(|l| l.arrivals.len())
            );
        }
        tick += 1;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    seen
}

/// The requests the fake received while faults were drawn.
struct Traffic {
    requests: usize,
    faulted: usize,
    /// The most in any one-second window.
    worst: usize,
    /// Arrivals whose trailing one-second window holds more than the budget + 1.
    over: usize,
}

fn traffic_under_faults(api: &FaultApi) -> Traffic {
    api.with(|log| {
        let faulted = log.arrivals.iter().filter(|a| !a.fault.served()).count();
        let at: Vec<Instant> = log.arrivals.iter().map(|a| a.at).collect();
        let mut over = 0;
        let mut lo = 0;
        for hi in 0..at.len() {
            while at[hi].duration_since(at[lo]) >= Duration::from_secs(1) {
                lo += 1;
            }
            if (hi - lo + 1) as f64 > BUDGET + 1.0 {
                over += 1;
            }
        }
        Traffic {
            requests: log.arrivals.len(),
            faulted,
            worst: log.max_in_window(Duration::from_secs(1)),
            over,
        }
    })
}

/// Seconds after the faults stopped until every job had succeeded since; None if that
/// took longer than two finished-job intervals.
async fn fresh_after_faults(http: &reqwest::Client, url: &str, jobs: u64) -> Option<f64> {
    let off = unix_now();
    let fresh_by = Instant::now() + Duration::from_secs(2 * FINISHED_INTERVAL);
    loop {
        let ok = match scrape(http, url).await {
            Ok((_, text)) => {
                let e = Exposition::parse(&text);
                let fresh = e
                    .find("cdb_rollback_job_last_success_time_seconds", &[])
                    .iter()
                    .filter(|s| s.value >= off)
                    .count();
                fresh as u64 == jobs
            }
            Err(_) => false,
        };
        if ok {
            return Some(unix_now() - off);
        }
        if Instant::now() > fresh_by {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn print_traffic(jobs: u64, fault_secs: f64, t: &Traffic) {
    println!(
        "jobs {jobs}, faults for {fault_secs:.0} s, budget {BUDGET}/s, poll {INTERVAL}s / finished {FINISHED_INTERVAL}s"
    );
    println!(
        "requests {} ({:.1}/s), {} faulted ({:.0} %)",
        t.requests,
        t.requests as f64 / fault_secs,
        t.faulted,
        100.0 * t.faulted as f64 / t.requests.max(1) as f64
    );
    println!(
        "worst one-second window {} requests (budget + 1 = {}); arrivals over it: {}",
        t.worst,
        BUDGET + 1.0,
        t.over
    );
}

/// Scrape latency (of sorted latencies), memory in the first and last minute of
/// faults, and the invariant checks.
fn print_scrapes_and_memory(seen: &Observed, fault_secs: f64, rss_end: f64, hwm: f64) {
    let minute = |from: f64, to: f64| {
        let v: Vec<f64> = seen
            .samples
            .iter()
            .filter(|(t, _)| *t >= from && *t < to)
            .map(|(_, r)| *r)
            .collect();
        let mean = v.iter().sum::<f64>() / v.len().max(1) as f64;
        let max = v.iter().copied().fold(0.0, f64::max);
        (mean, max)
    };
    let (first_mean, first_max) = minute(0.0, 60.0);
    let (last_mean, last_max) = minute(fault_secs - 60.0, fault_secs);
    let latencies = &seen.latencies;
    println!(
        "scrapes {} (failed {}): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        latencies.len(),
        seen.failures,
        quantile(latencies, 0.5) * 1e3,
        quantile(latencies, 0.99) * 1e3,
        latencies.last().copied().unwrap_or(f64::NAN) * 1e3
    );
    println!(
        "rss first minute mean {first_mean:.1} / max {first_max:.1} MiB, last minute mean {last_mean:.1} / max {last_max:.1} MiB, at the end {rss_end:.1} MiB, peak (VmHWM) {hwm:.1} MiB"
    );
    println!(
        "invariant checks: {} scrapes checked, {} problems",
        seen.checked, seen.problems
    );
}
