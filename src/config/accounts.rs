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
                let names: Vec<&str> = accounts.iter().map(|a| a.name.as_str()).collect();
                let why = if accounts.is_empty() {
                    "names an account, but there is no accounts: section".to_string()
                } else {
                    format!("is not one of the accounts ({})", names.join(", "))
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::Config;

    fn env(name: &str) -> Option<String> {
        match name {
            "TENCENTCLOUD_SECRET_ID" => Some("AKIDenv".into()),
            "TENCENTCLOUD_SECRET_KEY" => Some("key-from-env".into()),
            _ => None,
        }
    }

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(text, Path::new("/etc/x/config.yml"), &env).map_err(|e| e.to_string())
    }

    const TWO: &str = "api:\n  regions: [ap-guangzhou, ap-shanghai]\naccounts:\n  \
        - name: prod\n    credentials: { source: env }\n  \
        - name: staging\n    credentials: { source: env }\n    regions: [ap-beijing]\n";

    #[test]
    fn each_account_polls_its_regions_with_its_credentials_and_jobs() {
        let jobs =
            "jobs:\n  - id: 1\n    account: prod\n  - id: 1\n    account: staging\n  - id: 2\n";
        let c = parse(&format!("{TWO}{jobs}")).unwrap();
        let slices = c.per_account();
        let names: Vec<&str> = slices.iter().map(|s| s.client.account.as_str()).collect();
        assert_eq!(names, ["prod", "staging"]);
        assert_eq!(slices[0].client.regions, ["ap-guangzhou", "ap-shanghai"]);
        assert_eq!(slices[1].client.regions, ["ap-beijing"]);
        let ids = |i: usize| -> Vec<(u64, Option<String>)> {
            slices[i]
                .jobs
                .iter()
                .map(|j| (j.id, j.account.clone()))
                .collect()
        };
        assert_eq!(ids(0), [(1, Some("prod".into())), (2, None)]);
        assert_eq!(ids(1), [(1, Some("staging".into())), (2, None)]);
        assert!(slices.iter().all(|s| s.accounts.is_empty()));
    }

    #[test]
    fn without_accounts_there_is_one_unnamed() {
        let c = parse("jobs:\n  - id: 1\n").unwrap();
        let slices = c.per_account();
        assert_eq!(slices.len(), 1);
        assert_eq!(slices[0], c);
        assert_eq!(slices[0].client.account, "");
    }

    #[test]
    fn bad_accounts_are_named() {
        let cases = [
            (
                format!("credentials: {{ source: env }}\n{TWO}"),
                "accounts: a top-level credentials: section is set too",
            ),
            (
                TWO.replace("name: staging", "name: prod"),
                "accounts[1].name: `prod` is listed twice",
            ),
            (
                TWO.replace("name: staging", "name: Staging"),
                "accounts[1].name: `Staging` is not an account name",
            ),
            (
                TWO.replace("name: staging", "name: \"\""),
                "accounts[1].name: `` is not an account name",
            ),
            (
                format!("{TWO}jobs:\n  - id: 1\n    account: dev\n"),
                "jobs[0].account: `dev` is not one of the accounts (prod, staging)",
            ),
            (
                "jobs:\n  - id: 1\n    account: dev\n".into(),
                "there is no accounts: section",
            ),
            (
                format!("{TWO}jobs:\n  - id: 1\n    account: prod\n  - id: 1\n    account: prod\n"),
                "jobs[1].id: `1` is listed twice",
            ),
            (
                "accounts: []\n".into(),
                "accounts: name at least one account",
            ),
            (
                TWO.replace("regions: [ap-beijing]", "regions: []"),
                "accounts[1].regions: name at least one region",
            ),
            (
                format!(
                    "api:\n  version: 2\njobs:\n  - id: 1\n{}",
                    &TWO[TWO.find("accounts").unwrap()..]
                ),
                "accounts: needs api.version: 3",
            ),
            (
                TWO.replace(
                    "{ source: env }\n    regions",
                    "{ secret_id: AKIDx, secret_key_file: /nonexistent/key }\n    regions",
                ),
                "accounts[1].credentials (staging)",
            ),
        ];
        for (text, expected) in cases {
            let err = parse(&text).unwrap_err();
            assert!(err.contains(expected), "{text}\n=> {err}");
            assert!(err.contains("/etc/x/config.yml"), "{err}");
        }
    }
}
