//! The binary stopped and started again: SIGTERM while polls hang and while a large
//! scrape is read slowly ends it cleanly within the documented bound, and a restart
//! rebuilds the same jobs and states from the API alone.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cdb_rollback_exporter::time::unix_now;

use crate::support::exposition::Exposition;
use crate::support::faults::{FaultApi, Mode, World};
use crate::support::process::{self, BIN, Spawned};
use crate::support::{SECRET_ID, SECRET_KEY, SLACK};

/// `SHUTDOWN_GRACE` in src/app.rs (2 s for open scrapes), the runtime's 200 ms, and slack
/// for a loaded machine: the bound README states.
const STOP_BOUND: Duration = Duration::from_secs(3);

struct Exporter(Spawned);

impl Exporter {
    fn start(endpoint: &str, world: &World, extra: &str) -> Exporter {
        Self::start_labelled(endpoint, world, extra, "{}")
    }

    /// Each job gets `labels` (a YAML map).
    fn start_labelled(endpoint: &str, world: &World, extra: &str, labels: &str) -> Exporter {
        let jobs: String = world
            .ids()
            .map(|id| format!("  - id: {id}\n    labels: {labels}\n"))
            .collect();
        let dir = std::env::temp_dir().join(format!(
            "cdb-restart-{}-{}",
            std::process::id(),
            world.first_id
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join(format!("config-{}.yml", unix_now()));
        std::fs::write(
            &file,
            format!("api:\n  version: 2\n  endpoint: {endpoint}\n{extra}jobs:\n{jobs}"),
        )
        .unwrap();
        let mut cmd = Command::new(BIN);
        cmd.arg(format!("--config.file={}", file.display()))
            .env("TENCENTCLOUD_SECRET_ID", SECRET_ID)
            .env("TENCENTCLOUD_SECRET_KEY", SECRET_KEY)
            .stdout(Stdio::null());
        Exporter(process::spawn(cmd))
    }

    fn scrape(&self) -> Exposition {
        let mut s = TcpStream::connect(("127.0.0.1", self.0.port)).unwrap();
        // HTTP/1.0, so that the body comes whole (not chunked) and ends with the connection.
        write!(s, "GET /metrics HTTP/1.0\r\n\r\n").unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(
            head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"),
            "{head}"
        );
        Exposition::parse(body)
    }

    fn scrape_until(
        &self,
        within: Duration,
        what: &str,
        check: impl Fn(&Exposition) -> bool,
    ) -> Exposition {
        let within = within * SLACK;
        let deadline = Instant::now() + within;
        loop {
            let e = self.scrape();
            if check(&e) {
                return e;
            }
            assert!(
                Instant::now() < deadline,
                "not seen within {within:?}: {what}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGTERM, then the exit status, the time it took and the log.
    fn terminate(mut self) -> (std::process::ExitStatus, Duration, String) {
        self.0.signal("-TERM");
        self.0.wait_exit(STOP_BOUND * 3)
    }
}

fn assert_clean_stop(status: std::process::ExitStatus, took: Duration, log: &str) {
    assert!(status.success(), "{status:?}\n{log}");
    assert!(log.contains("exporter stopped"), "{log}");
    assert!(took <= STOP_BOUND, "took {took:?} to stop\n{log}");
}

fn polled(e: &Exposition, jobs: usize) -> bool {
    e.find("cdb_rollback_job_poll_success", &[])
        .iter()
        .filter(|s| s.value == 1.0)
        .count()
        == jobs
}

fn world(jobs: u64, ago: i64) -> World {
    World {
        jobs,
        first_id: 7000,
        t0: unix_now() as i64 - ago,
        base: 60,
        spread: 200,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_while_polls_hang_stops_cleanly() {
    let w = world(20, 0);
    let api = FaultApi::start(Some(w.clone()), Duration::from_secs(10), 1).await;
    api.set_mode(Mode::Hang);
    let ex = tokio::task::spawn_blocking(move || {
        let ex = Exporter::start(
            &api.endpoint_v2(),
            &w,
            "  timeout: 10s\npoll:\n  concurrency: 4\n",
        );
        // Wait until requests are in flight (and hanging) before the signal.
        let deadline = Instant::now() + Duration::from_secs(10);
        while api.with(|l| l.arrivals.len()) < 4 {
            assert!(Instant::now() < deadline, "no poll reached the fake");
            std::thread::sleep(Duration::from_millis(20));
        }
        let out = ex.terminate();
        drop(api);
        out
    });
    let (status, took, log) = ex.await.unwrap();
    assert_clean_stop(status, took, &log);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_slow_scrape_stops_cleanly() {
    // A long label makes the exposition large with few jobs, so that polling is quick.
    let w = world(400, 10_000);
    let api = FaultApi::start(Some(w.clone()), Duration::from_secs(5), 2).await;
    api.set_faults(false);
    let (status, took, log) = tokio::task::spawn_blocking(move || {
        let ex = Exporter::start_labelled(
            &api.endpoint_v2(),
            &w,
            "  max_requests_per_second: 1000\npoll:\n  concurrency: 16\n",
            &format!("{{ note: {} }}", "x".repeat(600)),
        );
        let e = ex.scrape_until(Duration::from_secs(30), "every job polled", |e| {
            polled(e, 400)
        });
        assert!(
            e.text.len() > 8 << 20,
            "exposition of {} bytes only",
            e.text.len()
        );
        // Open a scrape, read its first bytes, then stop reading: the server blocks on a
        // full socket with most of the exposition unsent.
        let mut s = TcpStream::connect(("127.0.0.1", ex.0.port)).unwrap();
        write!(s, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut first = [0u8; 4096];
        s.read_exact(&mut first).unwrap();
        assert!(first.starts_with(b"HTTP/1.1 200"));
        let out = ex.terminate();
        drop(s);
        drop(api);
        out
    })
    .await
    .unwrap();
    assert_clean_stop(status, took, &log);
    assert!(
        log.contains("scrapes still open after the grace period"),
        "the scrape should still have been open\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_rebuilds_the_same_jobs_and_states_from_the_api() {
    // Every job has finished long ago, so that states hold still across the restart.
    let w = world(12, 10_000);
    let api = FaultApi::start(Some(w.clone()), Duration::from_secs(5), 3).await;
    api.set_faults(false);
    tokio::task::spawn_blocking(move || {
        let seen = |ex: &Exporter| {
            let e = ex.scrape_until(Duration::from_secs(20), "every job polled", |e| {
                polled(e, 12)
            });
            let mut rows: Vec<(String, String, Vec<u64>)> = e
                .find("cdb_rollback_job_status", &[])
                .iter()
                .map(|s| {
                    let l = [("job_id", s.labels["job_id"].as_str())];
                    let times = [
                        "cdb_rollback_job_start_time_seconds",
                        "cdb_rollback_job_end_time_seconds",
                        "cdb_rollback_job_progress_ratio",
                    ]
                    .iter()
                    .map(|m| e.value(m, &l).map_or(u64::MAX, |v| (v * 100.0) as u64))
                    .collect();
                    (
                        s.labels["job_id"].clone(),
                        e.states("cdb_rollback_job_state", &l).join(","),
                        times,
                    )
                })
                .collect();
            rows.sort();
            rows
        };
        let extra = "  max_requests_per_second: 100\npoll:\n  interval: 1s\n";
        let first = Exporter::start(&api.endpoint_v2(), &w, extra);
        let before = seen(&first);
        let (status, took, log) = first.terminate();
        assert_clean_stop(status, took, &log);
        let second = Exporter::start(&api.endpoint_v2(), &w, extra);
        let after = seen(&second);
        let (status, took, log) = second.terminate();
        assert_clean_stop(status, took, &log);
        assert_eq!(before.len(), 12);
        assert!(before.iter().any(|r| r.1 == "failed") && before.iter().any(|r| r.1 == "success"));
        assert_eq!(before, after);
    })
    .await
    .unwrap();
}
