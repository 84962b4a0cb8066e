//! The whole daemon carrying 10,000 jobs: memory, and /metrics latency over HTTP while
//! polling goes on, plain and gzip, and the throughput of repeated scrapes next to a static
//! server (nginx if installed, else python3 -m http.server) serving the same bytes from
//! files. Runs a small answering API on 127.0.0.1; prints its figures.
//!
//! `SCALE_BASELINE=/path/to/cdb-rollback-exporter` measures another build (say the
//! previous commit's) the same way first, and prints them side by side; several builds
//! are given as a path list (`/a/exporter:/b/exporter`), measured in that order. The run fails
//! when this build's resident memory is over [`RSS_TARGET_MIB`], right after the scrapes or
//! after any round of the steady phase that follows ([`STEADY_ROUNDS`], about 2 minutes).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Query;
use axum::routing::get;

const JOBS: u64 = 10_000;
/// The most resident memory the daemon may use with JOBS jobs.
const RSS_TARGET_MIB: f64 = 80.0;

async fn answer(Query(q): Query<HashMap<String, String>>) -> String {
    let id = q.get("jobId").cloned().unwrap_or_default();
    let n: u64 = id.parse().unwrap_or(0);
    let (status, end) = if n % 3 == 0 {
        ("1", "0000-00-00 00:00:00")
    } else {
        ("2", "2026-11-27 10:30:00")
    };
    format!(
        r#"{{"code":"0","message":"","data":{{"jobInfo":{{"jobId":"{id}","type":"10","status":"{status}","progress":"{p}","code":"0","message":"","starttime":"2026-11-27 10:00:00","endtime":"{end}","detail":[]}},
        "taskDetail":[{{"taskInfo":{{"instanceid":"cdb-{i:08}","instancename":"db-{i}","strategy":"table","rollbacktime":"2026-11-26 10:00:00","type":"nopriv","operator":"100001","dbs":[{{"dbname":"a","newname":"a_bak"}}]}},
        "taskid":"{id}0","workid":"{id}1","status":"{status}","progress":"{p}","code":"0","message":"","starttime":"2026-11-27 10:00:00","endtime":"{end}"}}]}}}}"#,
        p = n % 101,
        i = n % 97
    )
}

/// A memory figure of /proc/PID/status in MiB: `VmRSS:` now, `VmHWM:` at its peak.
fn memory_mib(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

/// User and system CPU seconds the process `pid` has used (/proc/PID/stat, in ticks of
/// 1/100 s, the Linux default).
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15, 11 and 12 after the state (field 3).
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
    ticks(11)
        .zip(ticks(12))
        .map_or(0.0, |(u, s)| (u + s) / 100.0)
}

/// Connections and duration of the throughput runs.
const CONNECTIONS: usize = 4;
const THROUGHPUT_SECS: f64 = 5.0;

/// 30 scrapes 100 ms apart, asking for `encoding`: sorted times in ms, and the last body.
async fn latencies(http: &reqwest::Client, url: &str, encoding: &str) -> (Vec<f64>, bytes::Bytes) {
    let mut times = Vec::new();
    let mut body = bytes::Bytes::new();
    for _ in 0..30 {
        let t = Instant::now();
        let r = http
            .get(url)
            .header("accept-encoding", encoding)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        body = r.bytes().await.unwrap();
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    times.sort_by(f64::total_cmp);
    (times, body)
}

/// Requests per second and MB per second of back-to-back GETs on a few connections.
async fn throughput(http: &reqwest::Client, url: &str, encoding: &'static str) -> (f64, f64) {
    let until = Instant::now() + Duration::from_secs_f64(THROUGHPUT_SECS);
    let started = Instant::now();
    let tasks: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let (http, url) = (http.clone(), url.to_string());
            tokio::spawn(async move {
                let (mut n, mut bytes) = (0u64, 0usize);
                while Instant::now() < until {
                    let r = http
                        .get(&url)
                        .header("accept-encoding", encoding)
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status(), 200);
                    bytes += r.bytes().await.unwrap().len();
                    n += 1;
                }
                (n, bytes)
            })
        })
        .collect();
    let (mut n, mut bytes) = (0, 0);
    for t in tasks {
        let (tn, tb) = t.await.unwrap();
        n += tn;
        bytes += tb;
    }
    let secs = started.elapsed().as_secs_f64();
    (n as f64 / secs, bytes as f64 / 1e6 / secs)
}

/// A static file server over `dir`/www, to compare with: nginx (two workers) with
/// sendfile (the kernel sends the file's pages without a copy) or without (it copies the
/// bytes through user space, as the exporter does), or python3 -m http.server.
struct StaticServer {
    child: std::process::Child,
    base: String,
}

impl StaticServer {
    fn start(dir: &std::path::Path, name: &'static str) -> Option<StaticServer> {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let mut command = if name == "python3 http.server" {
            let mut c = std::process::Command::new("python3");
            c.args([
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                &port.to_string(),
            ]);
            c.arg("--directory").arg(dir.join("www"));
            c
        } else {
            let sendfile = if name.contains("without") {
                "off"
            } else {
                "on"
            };
            let conf = dir.join(format!("nginx-{sendfile}.conf"));
            std::fs::write(
                &conf,
                format!(
                    "worker_processes 2;\ndaemon off;\npid {d}/nginx-{sendfile}.pid;\nerror_log {d}/nginx-error.log;\nevents {{ worker_connections 64; }}\nhttp {{\n  access_log off;\n  sendfile {sendfile};\n  keepalive_requests 1000000;\n  types {{ text/plain txt; application/gzip gz; }}\n  server {{ listen 127.0.0.1:{port}; root {d}/www; }}\n}}\n",
                    d = dir.display()
                ),
            )
            .unwrap();
            let mut c = std::process::Command::new("nginx");
            c.arg("-c").arg(&conf).arg("-p").arg(dir);
            c
        };
        let child = command
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .ok()?;
        let base = format!("http://127.0.0.1:{port}");
        Some(StaticServer { child, base })
    }

    fn stop(mut self) {
        // SIGTERM, so that nginx's master stops its workers too.
        let _ = std::process::Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

/// What one build of the exporter did in one run.
struct Figures {
    rss: f64,
    /// The most RSS after each round of the steady phase.
    steady: f64,
    peak: f64,
    /// Requests and MB per second of repeated scrapes: plain, then gzip.
    rates: [(f64, f64); 2],
    /// The exporter's CPU time per scrape in those runs, background renders included:
    /// steadier than the rates while other work shares the cores.
    cpu_ms: [f64; 2],
}

/// The bench's run of one build: started, scraped, measured, stopped.
async fn measure(
    binary: &std::path::Path,
    api_addr: std::net::SocketAddr,
    interval: &str,
    dir: &std::path::Path,
) -> (Figures, Vec<bytes::Bytes>) {
    std::fs::create_dir_all(dir).unwrap();
    let (mut daemon, base) = start_exporter(binary, dir, api_addr, interval);
    let http = reqwest::Client::new();
    wait_ready(&http, &mut daemon, &base).await;
    // Scrape while the polls go on.
    let url = format!("{base}/metrics");
    let bodies = scrape_latencies(&http, &url).await;
    let tracked = format!("\ncdb_rollback_tracked_jobs {JOBS}\n");
    assert!(
        String::from_utf8_lossy(&bodies[0]).contains(&tracked),
        "the exporter does not track the {JOBS} jobs; see {}",
        dir.join("exporter.log").display()
    );
    let mut rates = [(0.0, 0.0); 2];
    let mut cpu_ms = [0.0; 2];
    for ((rate, cpu), encoding) in rates.iter_mut().zip(&mut cpu_ms).zip(["identity", "gzip"]) {
        let (cpu_before, started) = (cpu_secs(daemon.id()), Instant::now());
        *rate = throughput(&http, &url, encoding).await;
        let scrapes = rate.0 * started.elapsed().as_secs_f64();
        *cpu = (cpu_secs(daemon.id()) - cpu_before) * 1000.0 / scrapes;
        println!(
            "repeated scrapes, {encoding}, {CONNECTIONS} connections for {THROUGHPUT_SECS} s: exporter {:.1} req/s ({:.0} MB/s), {cpu:.1} ms of its CPU a scrape (renders included)",
            rate.0, rate.1
        );
    }
    let rss = memory_mib(daemon.id(), "VmRSS:");
    println!("exporter RSS with {JOBS} jobs: {rss:.1} MiB");
    let steady = steady_rss(&http, &url, daemon.id()).await;
    report_renders(&dir.join("exporter.log"));
    let peak = memory_mib(daemon.id(), "VmHWM:");
    println!("exporter peak RSS: {peak:.1} MiB");
    let _ = daemon.kill();
    let _ = daemon.wait();
    (
        Figures {
            rss,
            steady,
            peak,
            rates,
            cpu_ms,
        },
        bodies,
    )
}

/// Rounds of the steady phase (`SCALE_STEADY_ROUNDS`), each 5 s of plain and 10 s of gzip
/// scrapes on CONNECTIONS connections, then 10 s of polls alone.
const STEADY_ROUNDS: u32 = 4;

/// The most resident memory seen after each round of the steady phase: an allocator
/// keeps what it was given, and the first figure alone showed 69 MiB for a build that
/// stepped to 78-87 MiB within minutes.
async fn steady_rss(http: &reqwest::Client, url: &str, pid: u32) -> f64 {
    let rounds = std::env::var("SCALE_STEADY_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(STEADY_ROUNDS);
    let mut most: f64 = 0.0;
    for round in 1..=rounds {
        for encoding in ["identity", "gzip", "gzip"] {
            throughput(http, url, encoding).await;
        }
        tokio::time::sleep(Duration::from_secs(10)).await;
        let rss = memory_mib(pid, "VmRSS:");
        most = most.max(rss);
        println!("steady round {round}/{rounds}: RSS {rss:.1} MiB");
    }
    most
}

/// One scrape at a time, plain then gzip: the latencies printed, the bodies returned.
async fn scrape_latencies(http: &reqwest::Client, url: &str) -> Vec<bytes::Bytes> {
    let mut bodies = Vec::new();
    for encoding in ["identity", "gzip"] {
        let (times, body) = latencies(http, url, encoding).await;
        println!(
            "scrape of {JOBS} jobs over HTTP, {encoding} ({:.1} MB): min {:.1} ms, median {:.1} ms, p90 {:.1} ms, max {:.1} ms",
            body.len() as f64 / 1e6,
            times[0],
            times[times.len() / 2],
            times[times.len() * 9 / 10],
            times[times.len() - 1]
        );
        bodies.push(body);
    }
    bodies
}

/// Waits until the daemon at `base` says it is ready: every job polled once.
async fn wait_ready(http: &reqwest::Client, daemon: &mut std::process::Child, base: &str) {
    let started = Instant::now();
    while http
        .get(format!("{base}/-/ready"))
        .send()
        .await
        .map(|r| r.status() != 200)
        .unwrap_or(true)
    {
        if let Ok(Some(status)) = daemon.try_wait() {
            panic!("the exporter exited: {status}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!(
        "all {JOBS} jobs polled once after {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// Static servers serving the exporter's bytes, next to its figures `ours`.
async fn compare_with_static(dir: &std::path::Path, bodies: &[bytes::Bytes], ours: &Figures) {
    let http = &reqwest::Client::new();
    let www = dir.join("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("metrics.txt"), &bodies[0]).unwrap();
    std::fs::write(www.join("metrics.txt.gz"), &bodies[1]).unwrap();
    let files = [("identity", "metrics.txt"), ("gzip", "metrics.txt.gz")];
    for ((encoding, file), ours) in files.into_iter().zip(ours.rates) {
        println!("repeated scrapes, {encoding}, of the same bytes from files:");
        for name in [
            "nginx with sendfile",
            "nginx without sendfile",
            "python3 http.server",
        ] {
            let Some(server) = StaticServer::start(dir, name) else {
                println!("  {name}: not installed");
                continue;
            };
            let file_url = format!("{}/{file}", server.base);
            wait_for(http, &file_url).await;
            let theirs = throughput(http, &file_url, encoding).await;
            println!(
                "  {name}: {:.1} req/s ({:.0} MB/s); the exporter does {:.0} % of it",
                theirs.0,
                theirs.1,
                ours.0 / theirs.0 * 100.0
            );
            server.stop();
        }
    }
}

/// How long the exporter's background renders took, from its debug log.
fn report_renders(log: &std::path::Path) {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut ms: Vec<f64> = text
        .lines()
        .filter(|l| l.contains("rendered the metrics"))
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()?["ms"].as_f64())
        .collect();
    ms.sort_by(f64::total_cmp);
    if ms.is_empty() {
        println!("no render found in the exporter's log");
        return;
    }
    println!(
        "{} renders in the background: median {:.1} ms, max {:.1} ms",
        ms.len(),
        ms[ms.len() / 2],
        ms[ms.len() - 1]
    );
}

/// The bench's answering API on 127.0.0.1.
async fn start_api() -> std::net::SocketAddr {
    let api = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api_addr = api.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(api, Router::new().route("/v2/index.php", get(answer))).await
    });
    api_addr
}

/// The exporter as its own process (so its memory is measured alone), tracking JOBS jobs.
fn start_exporter(
    binary: &std::path::Path,
    dir: &std::path::Path,
    api_addr: std::net::SocketAddr,
    interval: &str,
) -> (std::process::Child, String) {
    let mut yaml = format!(
        "api:\n  version: 2\n  endpoint: http://{api_addr}/v2/index.php\n  max_requests_per_second: 1000\npoll:\n  interval: {interval}\n  finished_interval: {interval}\n  concurrency: 32\njobs:\n"
    );
    for id in 1..=JOBS {
        yaml.push_str(&format!(
            "  - id: {id}\n    labels: {{ team: team-{} }}\n",
            id % 7
        ));
    }
    let config = dir.join("config.yml");
    std::fs::write(&config, yaml).unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let daemon = std::process::Command::new(binary)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--log.level=debug")
        .arg("--log.format=json")
        .stderr(std::fs::File::create(dir.join("exporter.log")).unwrap())
        .env("TENCENTCLOUD_SECRET_ID", "bench")
        .env("TENCENTCLOUD_SECRET_KEY", "bench")
        .spawn()
        .unwrap();
    (daemon, format!("http://127.0.0.1:{port}"))
}

async fn wait_for(http: &reqwest::Client, url: &str) {
    for _ in 0..100 {
        if http.get(url).send().await.is_ok_and(|r| r.status() == 200) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{url} did not answer");
}

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let api_addr = start_api().await;
    // 10s asks for 1,000 polls a second, the most the budget may be set to;
    // SCALE_POLL_INTERVAL=10m is closer to a real deployment (about 17 a second).
    let interval = std::env::var("SCALE_POLL_INTERVAL").unwrap_or_else(|_| "10s".into());
    println!("poll interval {interval}");
    let dir = std::env::temp_dir().join(format!("cdb-scale-{}", std::process::id()));
    let mut builds = Vec::new();
    let baselines = std::env::var_os("SCALE_BASELINE").unwrap_or_default();
    // An unset SCALE_BASELINE splits into one empty path: no baseline, not a missing one.
    let paths = std::env::split_paths(&baselines).filter(|p| !p.as_os_str().is_empty());
    for (i, path) in paths.enumerate() {
        println!("baseline: {}", path.display());
        let (f, _) = measure(
            &path,
            api_addr,
            &interval,
            &dir.join(format!("baseline-{i}")),
        )
        .await;
        builds.push((path.display().to_string(), f));
    }
    println!("this build:");
    let this = std::path::Path::new(env!("CARGO_BIN_EXE_cdb-rollback-exporter"));
    let (f, bodies) = measure(this, api_addr, &interval, &dir.join("this")).await;
    compare_with_static(&dir, &bodies, &f).await;
    builds.push(("this build".into(), f));
    println!(
        "\n| {JOBS} jobs | RSS | RSS, steady | peak RSS | plain req/s | gzip req/s | CPU ms a scrape: plain, gzip |\n|---|---|---|---|---|---|---|"
    );
    for (name, f) in &builds {
        println!(
            "| {name} | {:.1} MiB | {:.1} MiB | {:.1} MiB | {:.1} | {:.1} | {:.1}, {:.2} |",
            f.rss, f.steady, f.peak, f.rates[0].0, f.rates[1].0, f.cpu_ms[0], f.cpu_ms[1]
        );
    }
    let _ = std::fs::remove_dir_all(dir);
    let f = &builds[builds.len() - 1].1;
    let rss = f.rss.max(f.steady);
    assert!(
        rss <= RSS_TARGET_MIB,
        "resident memory {rss:.1} MiB with {JOBS} jobs, over the {RSS_TARGET_MIB} MiB target"
    );
}
