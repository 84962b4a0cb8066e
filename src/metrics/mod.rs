//! The exporter's own metrics (API usage, build info, process), kept in a prometheus
//! registry. The rollback series are not here: they are written straight from the store
//! by the renderer, so that a job or task that disappears leaves no stale series.

mod account;

pub use self::account::Account;
use prometheus::core::Collector;
use prometheus::{
    Encoder, Gauge, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

use crate::api::{ErrorKind, Recorder};
use crate::credentials::refresh;
use crate::rollback::State;
use crate::store::Outcomes;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const REVISION: &str = env!("CDB_EXPORTER_REVISION");

/// A family's type in the exposition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// One of the exporter's own families, declared once: registration reads its name, help
/// and labels, and [`crate::render::contract`] writes the contract and the metric tables (docs/metrics.md) from it all.
pub struct Own {
    pub name: &'static str,
    pub help: &'static str,
    pub kind: Kind,
    pub labels: &'static [&'static str],
    /// What the metric table (docs/metrics.md) says it means.
    pub meaning: &'static str,
    /// The demo (API 3.0) need not show it: the contract's `optional`.
    pub optional: bool,
}

const API_REQUESTS: Own = Own {
    name: "cdb_rollback_api_requests_total",
    help: "Requests made to the CDB API, by action, region and result (success, throttled or the error kind).",
    kind: Kind::Counter,
    labels: &["action", "region", "result"],
    meaning: "requests by action, region and `result`: `success`, `throttled`, `transport`, `timeout`, `http_status`, `api_error`, `auth`, `decode`",
    optional: false,
};

const API_DURATION: Own = Own {
    name: "cdb_rollback_api_request_duration_seconds",
    help: "Time taken by requests to the CDB API, by action.",
    kind: Kind::Histogram,
    labels: &["action"],
    meaning: "histogram of request latency",
    optional: false,
};

const DEMAND: Own = Own {
    name: "cdb_rollback_poll_demand_requests_per_second",
    help: "Requests per second the poll intervals ask for (listings, task details, polls, discovery); above the budget, polls run late (finished jobs and task details first).",
    kind: Kind::Gauge,
    labels: &[],
    meaning: "requests per second the intervals ask for (listings, task details, polls, discovery)",
    optional: false,
};

const BUDGET: Own = Own {
    name: "cdb_rollback_api_budget_requests_per_second",
    help: "API requests per second the exporter allows itself now: api.max_requests_per_second, halved on throttling and won back gradually.",
    kind: Kind::Gauge,
    labels: &[],
    meaning: "the request rate allowed now: the configured budget, halved on throttling and won back gradually",
    optional: false,
};

const BUILD_INFO: Own = Own {
    name: "cdb_rollback_exporter_build_info",
    help: "The exporter's version and source revision; the value is always 1.",
    kind: Kind::Gauge,
    labels: &["version", "revision"],
    meaning: "1",
    optional: false,
};

const CREDENTIALS_EXPIRY: Own = Own {
    name: "cdb_rollback_credentials_expiry_timestamp_seconds",
    help: "When the temporary credentials in use expire (Unix seconds), by source; absent for long-lived keys.",
    kind: Kind::Gauge,
    labels: &["source"],
    meaning: "Unix time the temporary credentials in use expire; absent for long-lived keys",
    // The demo has no temporary credentials.
    optional: true,
};

const CREDENTIALS_REFRESHES: Own = Own {
    name: "cdb_rollback_credentials_refreshes_total",
    help: "Refreshes of the credentials (temporary ones renewed, key files changed), by source and result (success or failure).",
    kind: Kind::Counter,
    labels: &["source", "result"],
    meaning: "renewals of temporary credentials and changes of key files; `source` `static`, `env`, `profile`, `oidc`, `cvm_role` or `assume_role`, `result` `success` or `failure`",
    optional: false,
};

const RELOAD_SUCCESSFUL: Own = Own {
    name: "cdb_rollback_config_last_reload_successful",
    help: "Whether the last configuration reload attempt was successful (1) or not (0).",
    kind: Kind::Gauge,
    labels: &[],
    meaning: "1 if the latest configuration load (at start or by a reload) succeeded, else 0",
    optional: false,
};

const RELOAD_SUCCESS_TIME: Own = Own {
    name: "cdb_rollback_config_last_reload_success_timestamp_seconds",
    help: "Unix time of the last successful configuration load (at start or by a reload).",
    kind: Kind::Gauge,
    labels: &[],
    meaning: "Unix time of the latest successful configuration load",
    optional: false,
};

const JOBS_FINISHED: Own = Own {
    name: "cdb_rollback_jobs_finished_total",
    help: "Rollback jobs the exporter saw go from an unfinished state to a finished one, by region and state (success, failed, killed, removed); a job first seen finished is not counted.",
    kind: Kind::Counter,
    labels: &["region", "state"],
    meaning: "jobs seen going from an unfinished state to `state` (`success`, `failed`, `killed`, `removed`), counted once each; a job already finished when the exporter first sees it (after a restart, say) is not counted",
    optional: false,
};

const FINISHED_DURATION: Own = Own {
    name: "cdb_rollback_finished_job_duration_seconds",
    help: "Duration (end - start, as the API gives them) of the rollback jobs counted in cdb_rollback_jobs_finished_total, by region and state.",
    kind: Kind::Histogram,
    labels: &["region", "state"],
    meaning: "histogram of the API's end − start of each counted job (jobs without both times are counted but not observed); buckets 1, 5, 10, 30 min, 1, 2, 4, 8, 12, 24 h",
    optional: false,
};

const JOBS_VANISHED: Own = Own {
    name: "cdb_rollback_jobs_vanished_total",
    help: "Tracked unfinished rollback jobs that the API stopped listing and a lookup could not find, by region.",
    kind: Kind::Counter,
    labels: &["region"],
    meaning: "unfinished jobs the API stopped listing and a lookup by request id could not find (API 3.0)",
    optional: false,
};

/// Buckets of [`FINISHED_DURATION`]: a table-level rollback takes minutes, a full
/// instance of a large one hours; past a day the exact figure matters little.
pub const FINISHED_BUCKETS: [f64; 10] = [
    60.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 14_400.0, 28_800.0, 43_200.0, 86_400.0,
];

/// The states a finished job is counted under.
pub const FINISHED_STATES: [State; 4] =
    [State::Success, State::Failed, State::Killed, State::Removed];

/// Every family the registry holds but the process collector's, in the metric tables' order.
pub const OWN: [Own; 12] = [
    API_REQUESTS,
    API_DURATION,
    DEMAND,
    BUDGET,
    BUILD_INFO,
    CREDENTIALS_EXPIRY,
    CREDENTIALS_REFRESHES,
    RELOAD_SUCCESSFUL,
    RELOAD_SUCCESS_TIME,
    JOBS_FINISHED,
    FINISHED_DURATION,
    JOBS_VANISHED,
];

/// The metric table's meaning of the process collector's `process_*` families (Linux only, and
/// not part of the contract).
pub const PROCESS_MEANING: &str = "CPU, memory, file descriptors, start time";

/// The `result` label's values: `success` or the kind of error.
pub fn results() -> impl Iterator<Item = &'static str> {
    std::iter::once("success").chain(ErrorKind::ALL.map(ErrorKind::as_str))
}

pub struct Metrics {
    registry: Registry,
    api_requests: IntCounterVec,
    api_duration: HistogramVec,
    /// What the tracked jobs' poll intervals and discovery ask for, in requests per second.
    pub demand: Gauge,
    /// The request rate the budget allows now: `api.max_requests_per_second`, halved on
    /// throttling and won back gradually (per account with `accounts:`).
    budget: GaugeVec,
    credentials_expiry: GaugeVec,
    credentials_refreshes: IntCounterVec,
    reload: ReloadGauges,
    history: History,
    /// With `accounts:`, the account families carry an `account` label first.
    accounts: bool,
}

/// The ends of jobs: how many finished, how long they took, how many vanished.
struct History {
    finished: IntCounterVec,
    durations: HistogramVec,
    vanished: IntCounterVec,
}

impl History {
    fn new(registry: &Registry, accounts: bool) -> Self {
        let buckets =
            HistogramOpts::from(opts(&FINISHED_DURATION)).buckets(FINISHED_BUCKETS.into());
        let labels = labelled(&FINISHED_DURATION, accounts);
        Self {
            finished: counters(registry, &JOBS_FINISHED, accounts),
            durations: registered(registry, defined(HistogramVec::new(buckets, &labels))),
            vanished: counters(registry, &JOBS_VANISHED, accounts),
        }
    }
}

/// Prometheus's own names for the outcome of configuration reloads.
struct ReloadGauges {
    successful: IntGauge,
    success_time: Gauge,
}

/// Registers `metric` on `registry` and hands it back, so that each family is made and
/// registered in one expression.
fn registered<M: Collector + Clone + 'static>(registry: &Registry, metric: M) -> M {
    registry
        .register(Box::new(metric.clone()))
        .unwrap_or_else(|e| unreachable!("distinct metric names: {e}"));
    metric
}

fn defined<M>(metric: prometheus::Result<M>) -> M {
    metric.unwrap_or_else(|e| unreachable!("static metric definition: {e}"))
}

fn opts(f: &Own) -> Opts {
    Opts::new(f.name, f.help)
}

fn gauge(registry: &Registry, f: &Own) -> Gauge {
    registered(registry, defined(Gauge::with_opts(opts(f))))
}

/// `f`'s labels, after `account` when the exporter has `accounts:`.
fn labelled(f: &Own, accounts: bool) -> Vec<&'static str> {
    let account = accounts.then_some("account");
    account
        .into_iter()
        .chain(f.labels.iter().copied())
        .collect()
}

fn counters(registry: &Registry, f: &Own, accounts: bool) -> IntCounterVec {
    let labels = labelled(f, accounts);
    registered(registry, defined(IntCounterVec::new(opts(f), &labels)))
}

fn gauges(registry: &Registry, f: &Own, accounts: bool) -> GaugeVec {
    let labels = labelled(f, accounts);
    registered(registry, defined(GaugeVec::new(opts(f), &labels)))
}

fn build_info(registry: &Registry) {
    let mut opts = opts(&BUILD_INFO);
    for (label, value) in BUILD_INFO.labels.iter().zip([VERSION, REVISION]) {
        opts = opts.const_label(*label, value);
    }
    registered(registry, defined(IntGauge::with_opts(opts))).set(1);
}

impl ReloadGauges {
    /// Both exist from the start: the configuration loaded at start counts as a success.
    fn new(registry: &Registry) -> Self {
        let successful = registered(
            registry,
            defined(IntGauge::with_opts(opts(&RELOAD_SUCCESSFUL))),
        );
        let success_time = gauge(registry, &RELOAD_SUCCESS_TIME);
        successful.set(1);
        success_time.set(crate::time::unix_now());
        Self {
            successful,
            success_time,
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        Self::with_accounts(false)
    }

    /// With `accounts`, the families of an account carry its `account` label.
    pub fn with_accounts(accounts: bool) -> Self {
        let registry = Registry::new();
        let api_requests = counters(&registry, &API_REQUESTS, accounts);
        let durations = HistogramOpts::from(opts(&API_DURATION))
            .buckets(vec![0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]);
        let api_duration = registered(
            &registry,
            defined(HistogramVec::new(durations, API_DURATION.labels)),
        );
        build_info(&registry);
        let demand = gauge(&registry, &DEMAND);
        let budget = gauges(&registry, &BUDGET, accounts);
        if !accounts {
            // One series from the start, as without accounts there is one budget.
            budget.with_label_values::<&str>(&[]);
        }
        let credentials_expiry = gauges(&registry, &CREDENTIALS_EXPIRY, accounts);
        let credentials_refreshes = counters(&registry, &CREDENTIALS_REFRESHES, accounts);
        let reload = ReloadGauges::new(&registry);
        let history = History::new(&registry, accounts);
        #[cfg(target_os = "linux")]
        registry
            .register(Box::new(
                prometheus::process_collector::ProcessCollector::for_self(),
            ))
            .unwrap_or_else(|e| unreachable!("distinct metric names: {e}"));
        Self {
            registry,
            api_requests,
            api_duration,
            demand,
            budget,
            credentials_expiry,
            credentials_refreshes,
            reload,
            history,
            accounts,
        }
    }

    /// Whether the account families carry an `account` label.
    pub fn has_accounts(&self) -> bool {
        self.accounts
    }

    /// `values`, after `account` when the families carry it.
    fn values<'a>(&self, account: &'a str, values: &[&'a str]) -> Vec<&'a str> {
        let account = self.accounts.then_some(account);
        account.into_iter().chain(values.iter().copied()).collect()
    }

    /// The outcome of a configuration reload at Unix time `now`.
    pub fn reloaded(&self, ok: bool, now: f64) {
        self.reload.successful.set(i64::from(ok));
        if ok {
            self.reload.success_time.set(now);
        }
    }

    /// Makes the refresh counters of the credentials source in use exist from the start.
    pub fn prepare_credentials(&self, source: &str) {
        self.prepare_credentials_of("", source);
    }

    /// [`Metrics::prepare_credentials`] for one account.
    pub fn prepare_credentials_of(&self, account: &str, source: &str) {
        for result in ["success", "failure"] {
            let values = self.values(account, &[source, result]);
            self.credentials_refreshes.with_label_values(&values);
        }
    }

    /// Makes the series of every action, region and result exist from the start, so
    /// that rate() works at once.
    pub fn prepare(&self, actions: &[&str], regions: &[String]) {
        self.prepare_of("", actions, regions);
    }

    /// [`Metrics::prepare`] for one account.
    pub fn prepare_of(&self, account: &str, actions: &[&str], regions: &[String]) {
        // Zeros for every finished state, so that increase() sees the first one.
        for region in regions {
            for state in FINISHED_STATES {
                let values = self.values(account, &[region.as_str(), state.as_str()]);
                self.history.finished.with_label_values(&values);
                self.history.durations.with_label_values(&values);
            }
            let values = self.values(account, &[region.as_str()]);
            self.history.vanished.with_label_values(&values);
        }
        for action in actions {
            for region in regions {
                for result in results() {
                    let values = self.values(account, &[action, region.as_str(), result]);
                    self.api_requests.with_label_values(&values);
                }
            }
            self.api_duration.with_label_values(&[action]);
        }
    }

    /// Appends the registry's families in the text format.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let families = self.registry.gather();
        if let Err(e) = TextEncoder::new().encode(&families, out) {
            tracing::error!(error = %e, "cannot encode the exporter's own metrics");
        }
    }
}

impl Recorder for Metrics {
    fn request(&self, action: &'static str, region: &str, result: &'static str, seconds: f64) {
        Account::request_of(self, "", action, region, result, seconds);
    }

    fn budget(&self, requests_per_second: f64) {
        self.budget
            .with_label_values(&self.values("", &[]))
            .set(requests_per_second);
    }
}

impl Outcomes for Metrics {
    fn finished(&self, account: &str, region: &str, state: State, seconds: Option<f64>) {
        let labels = self.values(account, &[region, state.as_str()]);
        self.history.finished.with_label_values(&labels).inc();
        if let Some(s) = seconds {
            self.history.durations.with_label_values(&labels).observe(s);
        }
    }

    fn vanished(&self, account: &str, region: &str) {
        let labels = self.values(account, &[region]);
        self.history.vanished.with_label_values(&labels).inc();
    }
}

impl refresh::Recorder for Metrics {
    fn refreshed(&self, source: &'static str, ok: bool) {
        Account::refreshed_of(self, "", source, ok);
    }

    fn expires(&self, source: &'static str, at: i64) {
        let values = self.values("", &[source]);
        self.credentials_expiry
            .with_label_values(&values)
            .set(at as f64);
    }
}
