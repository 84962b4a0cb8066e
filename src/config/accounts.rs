//! `accounts:`: several Tencent Cloud accounts in one exporter, each with its own
//! credentials and regions (and so its own request budget: Tencent's limits are per
//! account). Without it there is one account, named "", and no `account` label.

use super::credentials_section::credentials_spec;
use super::raw::{RawAccount, RawJob};
use super::{Invalid, JobConfig, Overrides, region};
use crate::api::{ApiVersion, ClientConfig};
use crate::credentials::Spec;

#[derive(Clone, Debug, PartialEq)]
pub struct AccountConfig {
    /// `[a-z0-9_-]+`, the value of the `account` label.
    pub name: String,
    pub credentials: Spec,
    pub regions: Vec<String>,
}

/// The accounts of `accounts:`; none without it.
pub(super) fn accounts(
    raw: Option<Vec<RawAccount>>,
    top_credentials: bool,
    client: &ClientConfig,
    env: &dyn Fn(&str) -> Option<String>,
    flags: &Overrides,
) -> Result<Vec<AccountConfig>, Invalid> {
    let Some(raw) = raw else {
        return Ok(Vec::new());
    };
    if top_credentials {
        return Err(Invalid::rule(
            "accounts",
            "a top-level credentials: section is set too; with accounts:, each account has \
             its own (move it under accounts[].credentials)",
        ));
    }
    if client.version != ApiVersion::V3 {
        return Err(Invalid::rule(
            "accounts",
            "needs api.version: 3 (the v2 API polls one region with one set of credentials)",
        ));
    }
    if raw.is_empty() {
        return Err(Invalid::rule(
            "accounts",
            "name at least one account, or remove accounts:",
        ));
    }
    let mut out: Vec<AccountConfig> = Vec::with_capacity(raw.len());
    for (i, a) in raw.into_iter().enumerate() {
        let key = format!("accounts[{i}]");
        let plain = a
            .name
            .bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-'));
        if a.name.is_empty() || !plain {
            let why = "is not an account name: lower-case letters, digits, _ and -";
            return Err(Invalid::value(format!("{key}.name"), &a.name, why));
        }
        if out.iter().any(|o| o.name == a.name) {
            return Err(Invalid::value(
                format!("{key}.name"),
                &a.name,
                "is listed twice",
            ));
        }
        let regions = account_regions(&key, a.regions, client)?;
        let first = regions.first().cloned().unwrap_or_default();
        let credentials = credentials_spec(a.credentials, env, flags, first)
            .map_err(|e| Invalid::rule(format!("{key}.credentials ({})", a.name), e.to_string()))?;
        out.push(AccountConfig {
            name: a.name,
            credentials,
            regions,
        });
    }
    Ok(out)
}

/// An account's regions: its own, else `api.regions`.
fn account_regions(
    key: &str,
    raw: Option<Vec<String>>,
    client: &ClientConfig,
) -> Result<Vec<String>, Invalid> {
    let Some(list) = raw else {
        return Ok(client.regions.clone());
    };
    if list.is_empty() {
        return Err(Invalid::rule(
            format!("{key}.regions"),
            "name at least one region",
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for (i, r) in list.iter().enumerate() {
        let r = region(r).map_err(|e| Invalid::parse(format!("{key}.regions[{i}]"), e))?;
        if out.contains(&r) {
            return Err(Invalid::value(
                format!("{key}.regions[{i}]"),
                r,
                "is listed twice",
            ));
        }
        out.push(r);
    }
    Ok(out)
}

/// `jobs:`, each id once per account; an entry's `account` must be one of `accounts:`.
pub(super) fn jobs(
    raw: Vec<RawJob>,
    accounts: &[AccountConfig],
) -> Result<Vec<JobConfig>, Invalid> {
    let mut jobs: Vec<JobConfig> = Vec::with_capacity(raw.len());
    for (i, j) in raw.into_iter().enumerate() {
        if let Some(name) = &j.account {
            if !accounts.iter().any(|a| &a.name == name) {
                let why = if accounts.is_empty() {
                    "names an account, but there is no accounts: section"
                } else {
                    "is not the name of one of accounts:"
                };
                return Err(Invalid::value(format!("jobs[{i}].account"), name, why));
            }
        }
        if jobs.iter().any(|k| k.id == j.id && k.account == j.account) {
            return Err(Invalid::value(
                format!("jobs[{i}].id"),
                j.id,
                "is listed twice",
            ));
        }
        jobs.push(JobConfig {
            id: j.id,
            account: j.account,
            labels: j.labels,
        });
    }
    Ok(jobs)
}

impl super::Config {
    /// One configuration per account, as that account's poller and credentials see it:
    /// its regions, its credentials, its jobs (and those naming no account). Without
    /// `accounts:`, the configuration itself, as the account "".
    pub fn per_account(&self) -> Vec<super::Config> {
        if self.accounts.is_empty() {
            return vec![self.clone()];
        }
        let slice = |a: &AccountConfig| {
            let mut c = self.clone();
            c.accounts = Vec::new();
            c.client.account = a.name.clone();
            c.client.regions = a.regions.clone();
            c.credentials = a.credentials.clone();
            c.jobs
                .retain(|j| j.account.as_ref().is_none_or(|n| n == &a.name));
            c
        };
        self.accounts.iter().map(slice).collect()
    }
}
