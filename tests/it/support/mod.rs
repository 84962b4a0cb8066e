//! Test fixtures: a fake CDB API on 127.0.0.1 with its own, separately written signature
//! check, an in-process daemon, and a small parser for the text exposition.

pub mod clock;
pub mod exposition;
pub mod fake_accounts;
pub mod fake_cdb_v3_min;
pub mod fake_metadata;
pub mod fake_sts;
pub mod fake_v2;
pub mod fake_v3;
pub mod faults;
pub mod html;
pub mod lateness;
pub mod process;
pub mod tc3_check;
pub mod web;

use std::path::Path;
use std::time::Duration;

use cdb_rollback_exporter::config::Config;
use cdb_rollback_exporter::reload;
use tokio::sync::oneshot;

/// Deadlines only catch what never happens; the tests run many at once on few cores, so a
/// wait is given this many times the time it names before it fails.
pub const SLACK: u32 = 3;

/// Serves `app` on a free loopback port: every fake API starts this way.
pub async fn serve(app: axum::Router) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

pub const SECRET_ID: &str = "AKIDtest0000000000000000000000000000";
pub const SECRET_KEY: &str = "test-secret-key-0123456789";

/// The environment of the tests: their credentials, nothing else.
pub fn env(name: &str) -> Option<String> {
    match name {
        "TENCENTCLOUD_SECRET_ID" => Some(SECRET_ID.to_string()),
        "TENCENTCLOUD_SECRET_KEY" => Some(SECRET_KEY.to_string()),
        _ => None,
    }
}

/// Parses a YAML config with the test credentials in the environment.
pub fn config(yaml: &str) -> Config {
    match Config::parse(yaml, Path::new("test.yml"), &env) {
        Ok(c) => c,
        Err(e) => panic!("test config is invalid: {e}"),
    }
}

/// The exporter running in this process on a free loopback port.
pub struct Daemon {
    pub base: String,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), cdb_rollback_exporter::app::StartError>>,
    http: reqwest::Client,
}

/// One scrape of an exporter running at `base` (its own process), if it answers.
pub async fn scrape(base: &str) -> Option<exposition::Exposition> {
    let resp = http_client()
        .get(format!("{base}/metrics"))
        .send()
        .await
        .ok()?;
    Some(exposition::Exposition::parse(&resp.text().await.ok()?))
}

/// A plain HTTP client for tests; reqwest needs a TLS provider even for http://.
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

impl Daemon {
    pub async fn start(config: Config) -> Daemon {
        Self::start_with(config, reload::Options::default()).await
    }

    /// Started from the config file at `path`, reloadable (POST /-/reload when
    /// `lifecycle`).
    pub async fn start_file(path: &Path, lifecycle: bool) -> Daemon {
        let source = reload::ConfigSource {
            path: path.to_path_buf(),
            overrides: Default::default(),
            env: std::sync::Arc::new(env),
        };
        let config = Config::load_with(path, &env, &source.overrides).unwrap();
        let options = reload::Options {
            source: Some(source),
            lifecycle,
            hangups: None,
        };
        Self::start_with(config, options).await
    }

    pub async fn start_with(config: Config, options: reload::Options) -> Daemon {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let creds = cdb_rollback_exporter::supervisor::resolve(&config).await;
        let options = cdb_rollback_exporter::app::Options {
            reload: options,
            ..Default::default()
        };
        let task = tokio::spawn(cdb_rollback_exporter::app::run(
            config,
            creds.expect("the test's credentials resolve"),
            listener,
            async move {
                let _ = rx.await;
            },
            options,
        ));
        Daemon {
            base: format!("http://{addr}"),
            stop: Some(tx),
            task,
            http: http_client(),
        }
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
    }

    pub async fn post(&self, path: &str) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
    }

    pub async fn scrape(&self) -> exposition::Exposition {
        let resp = self.get("/metrics").await;
        assert_eq!(resp.status(), 200);
        assert_eq!(
            resp.headers()["content-type"],
            "text/plain; version=0.0.4; charset=utf-8"
        );
        exposition::Exposition::parse(&resp.text().await.unwrap())
    }

    pub async fn wait_ready(&self, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        while self.get("/-/ready").await.status() != 200 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "daemon not ready within {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Scrapes until `check` holds, or fails after `within` times [`SLACK`].
    pub async fn scrape_until(
        &self,
        within: Duration,
        what: &str,
        check: impl Fn(&exposition::Exposition) -> bool,
    ) -> exposition::Exposition {
        self.scrape_within(within * SLACK, what, check).await
    }

    /// Scrapes until `check` holds, or fails after exactly `within`: for a bound the
    /// exporter promises, not a guard against a hang.
    pub async fn scrape_within(
        &self,
        within: Duration,
        what: &str,
        check: impl Fn(&exposition::Exposition) -> bool,
    ) -> exposition::Exposition {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let e = self.scrape().await;
            if check(&e) {
                return e;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "not seen within {within:?}: {what}\n{}",
                e.text
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let r = tokio::time::timeout(Duration::from_secs(5), &mut self.task).await;
        assert!(
            matches!(r, Ok(Ok(Ok(())))),
            "daemon did not stop cleanly: {r:?}"
        );
    }
}
