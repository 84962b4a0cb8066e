//! The exporter's own metrics (API usage, build info, process), kept in a prometheus
//! registry. The rollback series are not here: they are written straight from the store
//! by the renderer, so that a job or task that disappears leaves no stale series.

use prometheus::core::Collector;
use prometheus::{
    Encoder, Gauge, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

use crate::api::{ErrorKind, Recorder};
use crate::credentials::refresh;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const REVISION: &str = env!("CDB_EXPORTER_REVISION");

pub struct Metrics {
    registry: Registry,
    api_requests: IntCounterVec,
    api_duration: HistogramVec,
    /// What the tracked jobs' poll intervals and discovery ask for, in requests per second.
    pub demand: Gauge,
    /// The configured `api.max_requests_per_second`.
    pub budget: Gauge,
    credentials_expiry: GaugeVec,
    credentials_refreshes: IntCounterVec,
    reload: ReloadGauges,
}

/// Prometheus's own names for the outcome of configuration reloads.
struct ReloadGauges {
    successful: IntGauge,
    success_time: Gauge,
}

/// Registers `metric` on `registry` and hands it back: each metric registers itself where
/// it is declared, so adding one is one declaration.
fn registered<M: Collector + Clone + 'static>(registry: &Registry, metric: M) -> M {
    registry
        .register(Box::new(metric.clone()))
        .unwrap_or_else(|e| unreachable!("distinct metric names: {e}"));
    metric
}

fn gauge(registry: &Registry, name: &str, help: &str) -> Gauge {
    let g =
        Gauge::new(name, help).unwrap_or_else(|e| unreachable!("static metric definition: {e}"));
    registered(registry, g)
}

fn counters(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels)
        .unwrap_or_else(|e| unreachable!("static metric definition: {e}"));
    registered(registry, c)
}

fn build_info(registry: &Registry) {
    let opts = Opts::new(
        "cdb_rollback_exporter_build_info",
        "The exporter's version and source revision; the value is always 1.",
    )
    .const_label("version", VERSION)
    .const_label("revision", REVISION);
    let g =
        IntGauge::with_opts(opts).unwrap_or_else(|e| unreachable!("static metric definition: {e}"));
    registered(registry, g).set(1);
}

impl ReloadGauges {
    /// Both exist from the start: the configuration loaded at start counts as a success.
    fn new(registry: &Registry) -> Self {
        let successful = IntGauge::new(
            "cdb_rollback_config_last_reload_successful",
            "Whether the last configuration reload attempt was successful (1) or not (0).",
        )
        .unwrap_or_else(|e| unreachable!("static metric definition: {e}"));
        let success_time = gauge(
            registry,
            "cdb_rollback_config_last_reload_success_timestamp_seconds",
            "Unix time of the last successful configuration load (at start or by a reload).",
        );
        let successful = registered(registry, successful);
        successful.set(1);
        success_time.set(crate::rollback::time::unix_now());
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
        let registry = Registry::new();
        let api_requests = counters(
            &registry,
            "cdb_rollback_api_requests_total",
            "Requests made to the CDB API, by action, region and result (success, throttled or the error kind).",
            &["action", "region", "result"],
        );
        let durations = HistogramOpts::new(
            "cdb_rollback_api_request_duration_seconds",
            "Time taken by requests to the CDB API, by action.",
        )
        .buckets(vec![0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]);
        let api_duration = HistogramVec::new(durations, &["action"])
            .unwrap_or_else(|e| unreachable!("static metric definition: {e}"));
        let api_duration = registered(&registry, api_duration);
        build_info(&registry);
        let demand = gauge(
            &registry,
            "cdb_rollback_poll_demand_requests_per_second",
            "Requests per second the poll intervals ask for (listings, task details, polls, discovery); above the budget, polls run late (finished jobs and task details first).",
        );
        let budget = gauge(
            &registry,
            "cdb_rollback_api_budget_requests_per_second",
            "API requests per second the exporter allows itself now: api.max_requests_per_second, halved on throttling and won back gradually.",
        );
        let expiry = GaugeVec::new(
            Opts::new(
                "cdb_rollback_credentials_expiry_timestamp_seconds",
                "When the temporary credentials in use expire (Unix seconds), by source; absent for long-lived keys.",
            ),
            &["source"],
        )
        .unwrap_or_else(|e| unreachable!("static metric definition: {e}"));
        let credentials_expiry = registered(&registry, expiry);
        let credentials_refreshes = counters(
            &registry,
            "cdb_rollback_credentials_refreshes_total",
            "Refreshes of the credentials (temporary ones renewed, key files changed), by source and result (success or failure).",
            &["source", "result"],
        );
        let reload = ReloadGauges::new(&registry);
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
        }
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
        for result in ["success", "failure"] {
            self.credentials_refreshes
                .with_label_values(&[source, result]);
        }
    }

    /// Makes the series of every action, region and result exist from the start, so
    /// that rate() works at once.
    pub fn prepare(&self, actions: &[&str], regions: &[String]) {
        for action in actions {
            for region in regions {
                self.api_requests
                    .with_label_values(&[action, region.as_str(), "success"]);
                for kind in ErrorKind::ALL {
                    self.api_requests
                        .with_label_values(&[action, region.as_str(), kind.as_str()]);
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
        self.api_requests
            .with_label_values(&[action, region, result])
            .inc();
        self.api_duration
            .with_label_values(&[action])
            .observe(seconds);
    }

    fn budget(&self, requests_per_second: f64) {
        self.budget.set(requests_per_second);
    }
}

impl refresh::Recorder for Metrics {
    fn refreshed(&self, source: &'static str, ok: bool) {
        let result = if ok { "success" } else { "failure" };
        self.credentials_refreshes
            .with_label_values(&[source, result])
            .inc();
    }

    fn expires(&self, source: &'static str, at: i64) {
        self.credentials_expiry
            .with_label_values(&[source])
            .set(at as f64);
    }
}
