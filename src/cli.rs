//! Command line: flags after Prometheus's conventions, each with an environment twin.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Config;

const NO_CONFIG: &str = "\
cdb-rollback-exporter needs to know what to watch.

  Try it now, with a built-in simulated CDB API and no credentials:
      cdb-rollback-exporter --demo
  then open http://127.0.0.1:9867/

  Or point it at Tencent Cloud with a config file:
      cdb-rollback-exporter --config.file=config.yml
  where config.yml lists job ids and/or instances to discover, e.g.
      jobs:
        - id: 12782
      discovery:
        instances:
          - id: cdb-c1nl9rpv
  and the credentials come from TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY
  (or credentials.secret_id / credentials.secret_key_file in the file).
  See README.md for every key.";

#[derive(Parser, Debug)]
#[command(
    name = "cdb-rollback-exporter",
    version,
    about = "Prometheus exporter for Tencent Cloud CDB rollback jobs"
)]
pub struct Cli {
    /// Path of the YAML configuration file.
    #[arg(
        long = "config.file",
        env = "CDB_ROLLBACK_EXPORTER_CONFIG_FILE",
        value_name = "PATH",
        global = true
    )]
    pub config_file: Option<PathBuf>,
    /// Address to serve /metrics on.
    #[arg(
        long = "web.listen-address",
        env = "CDB_ROLLBACK_EXPORTER_WEB_LISTEN_ADDRESS",
        default_value = "0.0.0.0:9867"
    )]
    pub listen_address: SocketAddr,
    /// Path under which to expose the metrics.
    #[arg(
        long = "web.telemetry-path",
        env = "CDB_ROLLBACK_EXPORTER_WEB_TELEMETRY_PATH",
        default_value = "/metrics"
    )]
    pub telemetry_path: String,
    /// Path of the web configuration file (TLS, basic auth, headers), in
    /// exporter-toolkit's format.
    #[arg(
        long = "web.config.file",
        env = "CDB_ROLLBACK_EXPORTER_WEB_CONFIG_FILE",
        value_name = "PATH"
    )]
    pub web_config_file: Option<PathBuf>,
    /// Only log messages of this level or higher.
    #[arg(long = "log.level", env = "CDB_ROLLBACK_EXPORTER_LOG_LEVEL", default_value = "info",
          value_parser = ["error", "warn", "info", "debug", "trace"], global = true)]
    pub log_level: String,
    /// Log as human-readable text or as JSON lines.
    #[arg(long = "log.format", env = "CDB_ROLLBACK_EXPORTER_LOG_FORMAT", default_value = "text",
          value_parser = ["text", "logfmt", "json"], global = true)]
    pub log_format: String,
    /// Run against a built-in simulated CDB API on 127.0.0.1 (no credentials needed).
    #[arg(
        long,
        env = "CDB_ROLLBACK_EXPORTER_DEMO",
        conflicts_with = "config_file"
    )]
    pub demo: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Validate the configuration file and exit 0 (valid) or 1 (with the reason).
    CheckConfig,
    /// Run only the simulated CDB v2 API, for docker-compose or for testing against it.
    DemoApi {
        /// Address for the simulated API.
        #[arg(long, default_value = "127.0.0.1:9868")]
        listen: SocketAddr,
    },
}

fn init_logging(cli: &Cli) {
    let level = cli.log_level.parse().unwrap_or(tracing::Level::INFO);
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_target(false);
    if cli.log_format == "json" {
        builder.json().flatten_event(true).init();
    } else {
        builder.with_ansi(false).init();
    }
}

fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Resolves on SIGTERM or SIGINT. The handlers are installed when this is called, not
/// when the future is first polled, so a signal sent during start-up is not lost.
fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let signals = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        )
    };
    async move {
        #[cfg(unix)]
        match signals {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {},
                    _ = int.recv() => {},
                }
            }
            (Err(e), _) | (_, Err(e)) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM/SIGINT; stop the process with SIGKILL");
                std::future::pending::<()>().await;
            }
        }
        #[cfg(not(unix))]
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
        tracing::info!("shutdown signal received");
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = match &cli.command {
        Some(Command::CheckConfig) => check_config(&cli),
        Some(Command::DemoApi { listen }) => runtime.block_on(demo_api(*listen)),
        None => runtime.block_on(daemon(&cli)),
    };
    // Do not wait on tasks still parked in the runtime (connection pools, idle threads).
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    code
}

fn check_config(cli: &Cli) -> ExitCode {
    let Some(path) = &cli.config_file else {
        eprintln!("check-config needs --config.file=PATH");
        return ExitCode::FAILURE;
    };
    match Config::load(path, &env_var) {
        Ok(c) => {
            println!(
                "config file {} is valid: {} job(s), {} discovery instance(s), endpoint {}",
                path.display(),
                c.jobs.len(),
                c.discovery.instances.len(),
                c.client.endpoint
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

async fn demo_api(listen: SocketAddr) -> ExitCode {
    let shutdown = shutdown_signal();
    match crate::demo::serve(listen, shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

async fn daemon(cli: &Cli) -> ExitCode {
    let shutdown = shutdown_signal();
    if let Err(e) = crate::app::check_telemetry_path(&cli.telemetry_path) {
        eprintln!("{e}");
        return ExitCode::from(2);
    }
    let config = if cli.demo {
        match crate::demo::start().await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!("cannot start the demo API: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        let Some(path) = &cli.config_file else {
            eprintln!("{NO_CONFIG}");
            return ExitCode::from(2);
        };
        match Config::load(path, &env_var) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!("{e}");
                return ExitCode::FAILURE;
            }
        }
    };
    let listener = match tokio::net::TcpListener::bind(cli.listen_address).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("cannot listen on {}: {e}", cli.listen_address);
            return ExitCode::FAILURE;
        }
    };
    let web = cli.web_config_file.as_deref();
    match crate::app::run_with_web(config, listener, &cli.telemetry_path, web, shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}
