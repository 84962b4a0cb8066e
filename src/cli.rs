//! Command line: flags after Prometheus's conventions, each with an environment twin.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::builder::BoolishValueParser;
use clap::error::ErrorKind;
use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use reqwest::Url;

use crate::config::{Config, Overrides};
use crate::credentials::Resolved;
use crate::supervisor::ApplyError;
use crate::web::routes::{BadTelemetryPath, TelemetryPath};

const NO_CONFIG: &str = "\
cdb-rollback-exporter needs credentials or a config file.
It looked for credentials in the environment, the profile file ~/.tencentcloud/credentials,
TKE pod identity and the CVM instance role (README.md, section Credentials).

  Try it now, with a built-in simulated CDB API and no credentials:
      cdb-rollback-exporter --demo
  then open http://127.0.0.1:9867/

  Or watch every rollback job of a region of Tencent Cloud (API 3.0), no file needed:
      TENCENTCLOUD_SECRET_ID=AKID... TENCENTCLOUD_SECRET_KEY=... \\
          cdb-rollback-exporter --api.region=ap-guangzhou

  Or write a config file (more regions, instances, labels, intervals):
      cdb-rollback-exporter --config.file=config.yml
  e.g.
      api:
        regions: [ap-guangzhou, ap-shanghai]
      discovery:
        instances:
          - id: cdb-c1nl9rpv
            labels: { team: payments }
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
    /// Address to serve HTTP on: the metrics, the landing and job pages, health and readiness.
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
        default_value = "/metrics",
        value_parser = telemetry_path
    )]
    pub telemetry_path: TelemetryPath,
    /// Path of the web configuration file (TLS, basic auth, headers), in
    /// exporter-toolkit's format.
    #[arg(
        long = "web.config.file",
        env = "CDB_ROLLBACK_EXPORTER_WEB_CONFIG_FILE",
        value_name = "PATH"
    )]
    pub web_config_file: Option<PathBuf>,
    /// Only log messages of this level or higher.
    #[arg(
        long = "log.level",
        env = "CDB_ROLLBACK_EXPORTER_LOG_LEVEL",
        default_value = "info",
        global = true
    )]
    pub log_level: LogLevel,
    /// Log as human-readable text or as JSON lines.
    #[arg(
        long = "log.format",
        env = "CDB_ROLLBACK_EXPORTER_LOG_FORMAT",
        default_value = "text",
        global = true
    )]
    pub log_format: LogFormat,
    /// The region to watch (API 3.0: one region; use api.regions in the file for more).
    /// Wins over the file and over TENCENTCLOUD_REGION.
    #[arg(
        long = "api.region",
        env = "CDB_ROLLBACK_EXPORTER_API_REGION",
        value_name = "REGION",
        value_parser = crate::config::region,
        global = true
    )]
    pub api_region: Option<String>,
    /// The API endpoint, e.g. https://cdb.internal.tencentcloudapi.com/ from inside a VPC.
    /// Wins over the file.
    #[arg(
        long = "api.endpoint",
        env = "CDB_ROLLBACK_EXPORTER_API_ENDPOINT",
        value_name = "URL",
        value_parser = crate::config::http_url,
        global = true
    )]
    pub api_endpoint: Option<Url>,
    /// The CVM metadata server the credential chain asks for an instance role.
    /// Wins over the file.
    #[arg(
        long = "credentials.metadata-endpoint",
        env = "CDB_ROLLBACK_EXPORTER_CREDENTIALS_METADATA_ENDPOINT",
        value_name = "URL",
        value_parser = crate::config::http_url,
        global = true
    )]
    pub metadata_endpoint: Option<Url>,
    /// Run against a built-in simulated CDB API on 127.0.0.1 (no credentials needed).
    #[arg(
        long,
        env = "CDB_ROLLBACK_EXPORTER_DEMO",
        value_parser = BoolishValueParser::new()
    )]
    pub demo: bool,
    /// Enable POST /-/reload (reload the config file, as SIGHUP does).
    #[arg(
        long = "web.enable-lifecycle",
        env = "CDB_ROLLBACK_EXPORTER_WEB_ENABLE_LIFECYCLE",
        value_parser = BoolishValueParser::new()
    )]
    pub enable_lifecycle: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    fn level(self) -> tracing::Level {
        match self {
            LogLevel::Error => tracing::Level::ERROR,
            LogLevel::Warn => tracing::Level::WARN,
            LogLevel::Info => tracing::Level::INFO,
            LogLevel::Debug => tracing::Level::DEBUG,
            LogLevel::Trace => tracing::Level::TRACE,
        }
    }
}

/// `logfmt` is accepted for the Prometheus exporters' sake, and written as text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Logfmt,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Validate the configuration file and exit 0 (valid) or 1 (with the reason).
    CheckConfig,
    /// Run only the simulated CDB API (v3 at /, v2 at /v2/index.php), for docker-compose
    /// or for testing against it.
    DemoApi {
        /// Address for the simulated API.
        #[arg(long, default_value = "127.0.0.1:9868")]
        listen: SocketAddr,
    },
}

fn init_logging(cli: &Cli) {
    let builder = tracing_subscriber::fmt()
        .with_max_level(cli.log_level.level())
        .with_writer(std::io::stderr)
        .with_target(false);
    if cli.log_format == LogFormat::Json {
        builder.json().flatten_event(true).init();
    } else {
        builder.with_ansi(false).init();
    }
}

/// The telemetry path, checked once, when the flags are read.
fn telemetry_path(path: &str) -> Result<TelemetryPath, BadTelemetryPath> {
    TelemetryPath::new(path)
}

fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

impl Cli {
    fn overrides(&self) -> Overrides {
        Overrides {
            region: self.api_region.clone(),
            endpoint: self.api_endpoint.clone(),
            metadata_endpoint: self.metadata_endpoint.clone(),
        }
    }

    /// The configuration: the file when given, else flags, environment and the chain.
    fn load(&self) -> Result<Config, crate::config::ConfigError> {
        match &self.config_file {
            Some(path) => Config::load_with(path, &env_var, &self.overrides()),
            None => Config::without_file(&env_var, &self.overrides()),
        }
    }

    /// The credentials the config names. Without a file, finding none means the user has
    /// not set anything up yet: say how to begin, with what each source lacked.
    async fn credentials(&self, config: &Config) -> Option<Vec<Resolved>> {
        match crate::supervisor::resolve(config).await {
            Ok(r) => Some(r),
            Err(e @ ApplyError::Credentials { .. })
                if self.config_file.is_none() && e.is_not_found() =>
            {
                eprintln!("{NO_CONFIG}\n\n{e}");
                None
            }
            Err(e) => {
                tracing::error!("{e}");
                None
            }
        }
    }
}

/// How the daemon reloads: the file with the same overrides, unless it started without
/// one or with --demo (then a reload only says there is nothing to reload).
fn reload_options(cli: &Cli, hangups: Option<crate::reload::Hangups>) -> crate::reload::Options {
    let source = match (&cli.config_file, cli.demo) {
        (Some(path), false) => Some(crate::reload::ConfigSource {
            path: path.clone(),
            overrides: cli.overrides(),
            env: std::sync::Arc::new(env_var),
        }),
        _ => None,
    };
    crate::reload::Options {
        source,
        lifecycle: cli.enable_lifecycle,
        hangups,
    }
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
    // Not clap's conflicts_with: it counts CDB_ROLLBACK_EXPORTER_DEMO=false as --demo given.
    if cli.demo && cli.config_file.is_some() {
        let why = "--demo cannot be used with --config.file: the demo brings its own configuration";
        Cli::command()
            .error(ErrorKind::ArgumentConflict, why)
            .exit();
    }
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
        Some(Command::CheckConfig) => runtime.block_on(check_config(&cli)),
        Some(Command::DemoApi { listen }) => runtime.block_on(demo_api(*listen)),
        None => runtime.block_on(daemon(&cli)),
    };
    // Do not wait on tasks still parked in the runtime (connection pools, idle threads).
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    code
}

async fn check_config(cli: &Cli) -> ExitCode {
    let Some(path) = &cli.config_file else {
        eprintln!("check-config needs --config.file=PATH");
        return ExitCode::FAILURE;
    };
    let config = Config::load_with(path, &env_var, &cli.overrides());
    let creds = match &config {
        Ok(c) => Some(crate::supervisor::resolve(c).await),
        Err(_) => None,
    };
    match (config, creds) {
        (Ok(_), Some(Err(e))) => {
            eprintln!("config file {}: {e}", path.display());
            ExitCode::FAILURE
        }
        (Ok(c), creds) => {
            let sources: Vec<String> = creds
                .and_then(Result::ok)
                .unwrap_or_default()
                .iter()
                .map(|r| r.provider.describe())
                .collect();
            let source = sources.join("; ");
            println!(
                "config file {} is valid: API {}, region(s) {}, {} job(s), {} discovery instance(s), endpoint {}, credentials from {source}",
                path.display(),
                c.client.version,
                c.client.regions.join(","),
                c.jobs.len(),
                c.discovery.instances.len(),
                c.client.endpoint
            );
            ExitCode::SUCCESS
        }
        (Err(e), _) => {
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
    let hangups = crate::reload::Hangups::install();
    let config = if cli.demo {
        match crate::demo::start().await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!("cannot start the demo API: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        match cli.load() {
            Ok(c) => c,
            Err(e) => {
                tracing::error!("{e}");
                return ExitCode::FAILURE;
            }
        }
    };
    let Some(creds) = cli.credentials(&config).await else {
        return ExitCode::FAILURE;
    };
    let listener = match tokio::net::TcpListener::bind(cli.listen_address).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("cannot listen on {}: {e}", cli.listen_address);
            return ExitCode::FAILURE;
        }
    };
    let options = crate::app::Options {
        reload: reload_options(cli, hangups),
        web_config: cli.web_config_file.clone(),
        telemetry_path: cli.telemetry_path.clone(),
    };
    match crate::app::run(config, creds, listener, shutdown, options).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}
