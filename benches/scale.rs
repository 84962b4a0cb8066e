//! The whole daemon carrying 10,000 jobs: memory, and /metrics latency over HTTP while
//! polling goes on. Runs a small answering API on 127.0.0.1; prints its figures.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Query;
use axum::routing::get;

const JOBS: u64 = 10_000;

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

fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let api = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api_addr = api.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(api, Router::new().route("/v2/index.php", get(answer))).await
    });

    // 10s asks for 1,000 polls a second, the most the budget may be set to;
    // SCALE_POLL_INTERVAL=10m is closer to a real deployment (about 17 a second).
    let interval = std::env::var("SCALE_POLL_INTERVAL").unwrap_or_else(|_| "10s".into());
    let mut yaml = format!(
        "api:\n  endpoint: http://{api_addr}/v2/index.php\n  max_requests_per_second: 1000\npoll:\n  interval: {interval}\n  finished_interval: {interval}\n  concurrency: 32\njobs:\n"
    );
    for id in 1..=JOBS {
        yaml.push_str(&format!(
            "  - id: {id}\n    labels: {{ team: team-{} }}\n",
            id % 7
        ));
    }
    // The exporter runs as its own process, so its memory is measured alone.
    let dir = std::env::temp_dir().join(format!("cdb-scale-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("config.yml");
    std::fs::write(&config, yaml).unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let base = format!("http://127.0.0.1:{port}");
    let mut daemon = std::process::Command::new(env!("CARGO_BIN_EXE_cdb-rollback-exporter"))
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--log.level=error")
        .env("TENCENTCLOUD_SECRET_ID", "bench")
        .env("TENCENTCLOUD_SECRET_KEY", "bench")
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
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

    // Scrape while the polls go on.
    println!("poll interval {interval}");
    let mut times = Vec::new();
    let mut size = 0;
    for _ in 0..30 {
        let t = Instant::now();
        let body = http
            .get(format!("{base}/metrics"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        size = body.len();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    times.sort_by(f64::total_cmp);
    println!(
        "scrape of {JOBS} jobs over HTTP ({:.1} MB): min {:.1} ms, median {:.1} ms, p90 {:.1} ms, max {:.1} ms",
        size as f64 / 1e6,
        times[0],
        times[times.len() / 2],
        times[times.len() * 9 / 10],
        times[times.len() - 1]
    );
    println!(
        "exporter RSS with {JOBS} jobs: {:.1} MiB",
        rss_mib(daemon.id())
    );
    let _ = daemon.kill();
    let _ = daemon.wait();
    let _ = std::fs::remove_dir_all(dir);
}
