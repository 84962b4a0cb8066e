//! Reloading the configuration: POST /-/reload and SIGHUP read the file again; kept jobs
//! keep their state, removed ones go, new ones are polled, a bad file changes nothing.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::support::clock::{cst, now};
use crate::support::exposition::Exposition;
use crate::support::fake_v2::{FakeV2, V2Job, V2Task};
use crate::support::fake_v3::{FakeJob, FakeV3};
use crate::support::process::{self, BIN};
use crate::support::scrape;
use crate::support::{Daemon, SECRET_ID, SECRET_KEY, config};

const OK: &str = "cdb_rollback_config_last_reload_successful";
const AT: &str = "cdb_rollback_config_last_reload_success_timestamp_seconds";
const LAST_SUCCESS: &str = "cdb_rollback_job_last_success_time_seconds";

/// A config file of its own for each test.
fn file(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cdb-reload-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("config.yml")
}

fn v2_yaml(endpoint: &str, jobs: &str) -> String {
    format!(
        "api:\n  version: 2\n  endpoint: {endpoint}\n  max_requests_per_second: 50\n  timeout: 2s\n\
         poll:\n  interval: 1s\n  finished_interval: 1s\n  retries: 0\njobs:\n{jobs}"
    )
}

fn running(api: &FakeV2, id: u64) {
    let s = cst(now() - 600);
    let task = V2Task::new("7", "cdb-a", &s).at(1, 40);
    api.set_job(id, V2Job::new(id, &s).at(1, 40).task(task).reply());
}

fn polled(m: &Exposition, id: &str) -> bool {
    m.value("cdb_rollback_job_poll_success", &[("job_id", id)]) == Some(1.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_reload_adds_drops_and_relabels_jobs_keeping_their_state() {
    let api = FakeV2::start().await;
    for id in [2001, 2002, 2003] {
        running(&api, id);
    }
    let path = file("v2");
    let jobs = "  - id: 2001\n    labels: { team: a }\n  - id: 2002\n";
    std::fs::write(&path, v2_yaml(&api.endpoint, jobs)).unwrap();
    let daemon = Daemon::start_file(&path, true).await;
    let m = daemon
        .scrape_until(Duration::from_secs(10), "both jobs polled", |m| {
            polled(m, "2001") && polled(m, "2002")
        })
        .await;
    assert_eq!(m.value(OK, &[]), Some(1.0));
    let started_at = m.value(AT, &[]).unwrap();
    let before = m.value(LAST_SUCCESS, &[("job_id", "2001")]).unwrap();
    let reloaded_at =
        relabel_kept_drop_removed_add_new(&daemon, &api, &path, started_at, before).await;
    a_broken_file_changes_nothing(&daemon, &path, reloaded_at).await;

    // Fixed again: back to 1, and the time moves.
    std::fs::write(&path, v2_yaml(&api.endpoint, "  - id: 2003\n")).unwrap();
    assert_eq!(daemon.post("/-/reload").await.status(), 200);
    let m = daemon
        .scrape_until(Duration::from_secs(5), "the fixed reload", |m| {
            m.value(OK, &[]) == Some(1.0)
        })
        .await;
    assert!(m.value(AT, &[]).unwrap() > reloaded_at);
    assert!(
        m.find("cdb_rollback_job_status", &[("job_id", "2001")])
            .is_empty()
    );
    assert!(polled(&m, "2003"));
    daemon.stop().await;
}

/// Reloads with 2001 relabelled, 2002 removed and 2003 added. The kept job carries its
/// new label with its data, the removed one is gone (the served metrics follow within
/// the render's coalescing delay; the reload's timestamp is set just after the store
/// changed, so a render may fall between the two), the new one is polled. Returns the
/// reload's time.
async fn relabel_kept_drop_removed_add_new(
    daemon: &Daemon,
    api: &FakeV2,
    path: &Path,
    started_at: f64,
    before: f64,
) -> f64 {
    let jobs = "  - id: 2001\n    labels: { team: b }\n  - id: 2003\n";
    std::fs::write(path, v2_yaml(&api.endpoint, jobs)).unwrap();
    let resp = daemon.post("/-/reload").await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let b = [("job_id", "2001"), ("team", "b")];
    let m = daemon
        .scrape_until(Duration::from_secs(5), "the new label", |m| {
            m.value("cdb_rollback_job_poll_success", &b).is_some()
                && m.value(AT, &[]).is_some_and(|at| at > started_at)
        })
        .await;
    assert_eq!(m.value("cdb_rollback_job_poll_success", &b), Some(1.0));
    assert_eq!(m.value("cdb_rollback_job_progress_ratio", &b), Some(0.4));
    assert!(m.value(LAST_SUCCESS, &b).unwrap() >= before);
    assert_eq!(m.find("cdb_rollback_task_state", &b).len(), 9);
    assert!(
        m.find("cdb_rollback_job_status", &[("team", "a")])
            .is_empty()
    );
    assert!(
        !m.text.contains("job_id=\"2002\""),
        "a removed job's series stay:\n{}",
        m.text
    );
    assert_eq!(m.value(OK, &[]), Some(1.0));
    let reloaded_at = m.value(AT, &[]).unwrap();
    assert!(reloaded_at > started_at);
    daemon
        .scrape_until(Duration::from_secs(10), "the new job polled", |m| {
            polled(m, "2003")
        })
        .await;
    daemon.wait_ready(Duration::from_secs(1)).await;
    reloaded_at
}

/// A broken file: 500 with the reason, the running configuration keeps polling.
async fn a_broken_file_changes_nothing(daemon: &Daemon, path: &Path, reloaded_at: f64) {
    std::fs::write(path, "jobs:\n  - id: 2001\n    lables: { team: c }\n").unwrap();
    let resp = daemon.post("/-/reload").await;
    assert_eq!(resp.status(), 500);
    let why = resp.text().await.unwrap();
    assert!(
        why.contains("config.yml") && why.contains("lables") && why.contains("line 3"),
        "{why}"
    );
    let m = daemon
        .scrape_until(Duration::from_secs(5), "the failed reload", |m| {
            m.value(OK, &[]) == Some(0.0)
        })
        .await;
    assert_eq!(m.value(AT, &[]), Some(reloaded_at));
    let last = m.value(LAST_SUCCESS, &[("job_id", "2003")]).unwrap();
    daemon
        .scrape_until(Duration::from_secs(5), "polls go on", |m| {
            m.value(LAST_SUCCESS, &[("job_id", "2003")]) > Some(last)
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v3_reload_drops_a_removed_region_and_lists_an_added_one() {
    let api = FakeV3::start().await;
    let t = now();
    api.add(
        "ap-guangzhou",
        FakeJob::new(1000, "RUNNING", t - 600, "cdb-g"),
    );
    api.add(
        "ap-shanghai",
        FakeJob::new(5000, "RUNNING", t - 60, "cdb-s"),
    );
    let yaml = |regions: &str| {
        format!(
            "api:\n  endpoint: {}\n  regions: [{regions}]\n  max_requests_per_second: 500\n  timeout: 2s\n\
             poll:\n  interval: 300ms\n  finished_interval: 1s\n  retries: 0\n",
            api.endpoint
        )
    };
    let path = file("v3");
    std::fs::write(&path, yaml("ap-guangzhou")).unwrap();
    let daemon = Daemon::start_file(&path, true).await;
    daemon
        .scrape_until(Duration::from_secs(10), "the Guangzhou job", |m| {
            polled(m, "1000")
        })
        .await;

    std::fs::write(&path, yaml("ap-shanghai")).unwrap();
    assert_eq!(daemon.post("/-/reload").await.status(), 200);
    let m = daemon
        .scrape_until(Duration::from_secs(5), "Guangzhou gone", |m| {
            m.find("cdb_rollback_job_status", &[("job_id", "1000")])
                .is_empty()
        })
        .await;
    let gz = [("region", "ap-guangzhou")];
    assert!(m.find("cdb_rollback_discovery_jobs", &gz).is_empty());
    let landing = daemon.get("/").await.text().await.unwrap();
    assert!(
        landing.contains("region ap-shanghai,"),
        "the landing page follows the reload"
    );
    let m = daemon
        .scrape_until(Duration::from_secs(10), "the Shanghai job", |m| {
            polled(m, "5000")
        })
        .await;
    assert_eq!(
        m.value(
            "cdb_rollback_discovery_success",
            &[("region", "ap-shanghai")]
        ),
        Some(1.0)
    );
    the_removed_region_is_no_longer_listed(&api).await;
    daemon.stop().await;
}

/// No request goes to the removed region over 700 ms, two poll intervals and more.
async fn the_removed_region_is_no_longer_listed(api: &FakeV3) {
    let listed = || {
        api.log()
            .iter()
            .filter(|l| l.region == "ap-guangzhou")
            .count()
    };
    let listed_gz = listed();
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(listed(), listed_gz, "the removed region is still listed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_endpoint_needs_the_lifecycle_flag_and_a_file() {
    let api = FakeV2::start().await;
    running(&api, 2001);
    let path = file("flag");
    std::fs::write(&path, v2_yaml(&api.endpoint, "  - id: 2001\n")).unwrap();
    let daemon = Daemon::start_file(&path, false).await;
    assert_eq!(daemon.post("/-/reload").await.status(), 403);
    assert_eq!(daemon.get("/-/reload").await.status(), 405);
    daemon.stop().await;

    let options = cdb_rollback_exporter::reload::Options {
        lifecycle: true,
        ..Default::default()
    };
    let cfg = config(&v2_yaml(&api.endpoint, "  - id: 2001\n"));
    let daemon = Daemon::start_with(cfg, options).await;
    let resp = daemon.post("/-/reload").await;
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("nothing to reload"));
    assert_eq!(daemon.scrape().await.value(OK, &[]), Some(1.0));
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_switches_credentials_when_their_section_changes() {
    let api = FakeV2::start().await;
    running(&api, 2001);
    let path = file("creds");
    let plain = v2_yaml(&api.endpoint, "  - id: 2001\n");
    std::fs::write(&path, &plain).unwrap();
    let daemon = Daemon::start_file(&path, true).await;
    daemon
        .scrape_until(Duration::from_secs(10), "polled", |m| polled(m, "2001"))
        .await;

    let key = path.with_file_name("secret_key");
    std::fs::write(&key, "not-the-key\n").unwrap();
    let section = format!(
        "credentials:\n  secret_id: AKIDother\n  secret_key_file: {}\n",
        key.display()
    );
    std::fs::write(&path, format!("{plain}{section}")).unwrap();
    assert_eq!(daemon.post("/-/reload").await.status(), 200);
    daemon
        .scrape_until(
            Duration::from_secs(5),
            "polls signed with the new key fail",
            |m| m.value("cdb_rollback_job_poll_success", &[("job_id", "2001")]) == Some(0.0),
        )
        .await;
    let ids = |api: &FakeV2| api.log().last().map(|l| l.params["SecretId"].clone());
    assert_eq!(ids(&api).as_deref(), Some("AKIDother"));

    std::fs::write(&path, &plain).unwrap();
    assert_eq!(daemon.post("/-/reload").await.status(), 200);
    daemon
        .scrape_until(Duration::from_secs(5), "back to the environment's", |m| {
            polled(m, "2001")
        })
        .await;
    assert_eq!(ids(&api).as_deref(), Some(SECRET_ID));
    daemon.stop().await;
}

async fn scrape_until(base: &str, what: &str, check: impl Fn(&Exposition) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if scrape(base).await.is_some_and(|m| check(&m)) {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "not seen: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The daemon, killed should the test fail before it stops it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_binary() {
    let api = FakeV2::start().await;
    running(&api, 2001);
    running(&api, 2003);
    let path = file("sighup");
    std::fs::write(&path, v2_yaml(&api.endpoint, "  - id: 2001\n")).unwrap();
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("HOME", path.parent().unwrap())
        .env("TENCENTCLOUD_SECRET_ID", SECRET_ID)
        .env("TENCENTCLOUD_SECRET_KEY", SECRET_KEY)
        .arg("--config.file")
        .arg(&path);
    let mut child = process::spawn(cmd);
    let base = format!("http://127.0.0.1:{}", child.port);
    scrape_until(&base, "job 2001 polled", |m| polled(m, "2001")).await;

    std::fs::write(&path, v2_yaml(&api.endpoint, "  - id: 2003\n")).unwrap();
    child.signal("-HUP");
    scrape_until(&base, "job 2003 instead of 2001", |m| {
        polled(m, "2003")
            && m.find("cdb_rollback_job_status", &[("job_id", "2001")])
                .is_empty()
    })
    .await;
    std::fs::write(&path, "jobs: [\n").unwrap();
    child.signal("-HUP");
    scrape_until(&base, "the failed reload", |m| {
        m.value(OK, &[]) == Some(0.0)
    })
    .await;
    assert!(scrape(&base).await.is_some_and(|m| polled(&m, "2003")));

    child.signal("-TERM");
    let (status, _, log) = child.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "{log}");
    assert!(
        log.contains("SIGHUP received")
            && log.contains("configuration reloaded")
            && log.contains("ERROR")
            && log.contains("reloading the configuration failed"),
        "{log}"
    );
}
