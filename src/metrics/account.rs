//! One account's view of the metrics, and forgetting an account's series when a reload
//! removes it.

use std::collections::HashMap;
use std::sync::Arc;

use prometheus::core::{Collector, MetricVec, MetricVecBuilder};

use super::Metrics;
use crate::api::Recorder;
use crate::credentials::refresh;

/// The metrics as one account's client and credentials refresher write them.
pub struct Account {
    pub metrics: Arc<Metrics>,
    pub name: String,
}

impl Account {
    pub(super) fn request_of(
        m: &Metrics,
        account: &str,
        action: &str,
        region: &str,
        result: &str,
        s: f64,
    ) {
        let values = m.values(account, &[action, region, result]);
        m.api_requests.with_label_values(&values).inc();
        m.api_duration.with_label_values(&[action]).observe(s);
    }

    pub(super) fn refreshed_of(m: &Metrics, account: &str, source: &str, ok: bool) {
        let result = if ok { "success" } else { "failure" };
        let values = m.values(account, &[source, result]);
        m.credentials_refreshes.with_label_values(&values).inc();
    }
}

impl Recorder for Account {
    fn request(&self, action: &'static str, region: &str, result: &'static str, seconds: f64) {
        Account::request_of(&self.metrics, &self.name, action, region, result, seconds);
    }

    fn budget(&self, requests_per_second: f64) {
        let values = self.metrics.values(&self.name, &[]);
        self.metrics
            .budget
            .with_label_values(&values)
            .set(requests_per_second);
    }
}

impl refresh::Recorder for Account {
    fn refreshed(&self, source: &'static str, ok: bool) {
        Account::refreshed_of(&self.metrics, &self.name, source, ok);
    }

    fn expires(&self, source: &'static str, at: i64) {
        let values = self.metrics.values(&self.name, &[source]);
        self.metrics
            .credentials_expiry
            .with_label_values(&values)
            .set(at as f64);
    }
}

/// Removes the series of `vec` whose `account` label is `account`.
fn drop_account<T: MetricVecBuilder>(vec: &MetricVec<T>, account: &str) {
    for family in vec.collect() {
        for m in family.get_metric() {
            let labels: HashMap<&str, &str> = m
                .get_label()
                .iter()
                .map(|l| (l.name(), l.value()))
                .collect();
            if labels.get("account") == Some(&account) {
                let _ = vec.remove(&labels);
            }
        }
    }
}

impl Metrics {
    /// Forgets an account's series (the account was removed by a reload).
    pub fn forget(&self, account: &str) {
        if !self.accounts {
            return;
        }
        drop_account(&self.budget, account);
        drop_account(&self.api_requests, account);
        drop_account(&self.credentials_refreshes, account);
        drop_account(&self.credentials_expiry, account);
        drop_account(&self.history.finished, account);
        drop_account(&self.history.durations, account);
        drop_account(&self.history.vanished, account);
    }
}
