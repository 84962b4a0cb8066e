//! The runtime supervisor: runs, per account, the poller and the credentials refresher of
//! the configuration in force ([`account`]), and applies a new configuration account by
//! account: an account added is started, one removed is stopped and its series go, one
//! whose credentials changed signs with the new ones, one whose polling changed is polled
//! again over the same store (jobs still wanted keep their values and poll health). An
//! account nothing changed for keeps running as it was, request budget included.

mod account;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use self::account::Account;
use crate::api::BuildError;
use crate::config::Config;
use crate::credentials::{self, ResolveError, Resolved};
use crate::metrics::Metrics;
use crate::scheduler::Poller;
use crate::store::Store;

/// Why a new configuration was not applied. No variant holds a secret.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("{}{error}", account_prefix(.account))]
    Credentials {
        account: String,
        error: Box<ResolveError>,
    },
    /// No HTTP client could be built for the new configuration.
    #[error("cannot start the poller: {0}")]
    Poller(#[from] BuildError),
    #[error(
        "accounts: cannot be added or removed by a reload, nor a top-level credentials: \
         section replace them (the account label is fixed at start); restart the exporter"
    )]
    AccountsMode,
}

impl ApplyError {
    /// No credentials were found at all (rather than found and refused).
    pub fn is_not_found(&self) -> bool {
        matches!(self, ApplyError::Credentials { error, .. } if matches!(**error, ResolveError::NotFound { .. }))
    }
}

fn account_prefix(account: &str) -> String {
    if account.is_empty() {
        String::new()
    } else {
        format!("account {account}: ")
    }
}

/// The accounts running now, by name.
struct Running {
    config: Config,
    accounts: BTreeMap<String, Account>,
}

/// The running configuration. As a [`Poller`] it stands for every account's poller.
pub struct Supervisor {
    store: Arc<Store>,
    metrics: Arc<Metrics>,
    running: Mutex<Running>,
    api_line: Mutex<String>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Resolves the credentials of each account of `config`, in [`Config::per_account`]'s
/// order.
pub async fn resolve(config: &Config) -> Result<Vec<Resolved>, ApplyError> {
    let mut out = Vec::new();
    for slice in config.per_account() {
        let resolved = credentials::resolve(&slice.credentials).await;
        out.push(resolved.map_err(|error| ApplyError::Credentials {
            account: slice.client.account.clone(),
            error: Box::new(error),
        })?);
    }
    Ok(out)
}

impl Supervisor {
    /// Starts the poller and the credentials refresher of each account of `config`, with
    /// `creds` in [`Config::per_account`]'s order.
    pub fn start(
        config: Config,
        store: Arc<Store>,
        creds: Vec<Resolved>,
        metrics: Arc<Metrics>,
    ) -> Result<Arc<Supervisor>, BuildError> {
        let mut accounts = BTreeMap::new();
        for (slice, creds) in config.per_account().into_iter().zip(creds) {
            let account = Account::start(slice, &store, creds, &metrics)?;
            accounts.insert(account.name().to_string(), account);
        }
        let live = Supervisor {
            store,
            metrics,
            running: Mutex::new(Running { config, accounts }),
            api_line: Mutex::default(),
        };
        live.update_api_line();
        Ok(Arc::new(live))
    }

    /// What the landing page says of the API in use: version, endpoint, regions, credentials.
    /// Kept apart from `running`, which a reload holds while it builds the new clients.
    pub fn describe_api(&self) -> String {
        lock(&self.api_line).clone()
    }

    /// Writes the landing page's API line from the configuration in force.
    fn update_api_line(&self) {
        let line = {
            let running = lock(&self.running);
            let client = &running.config.client;
            let accounts: Vec<String> = running
                .accounts
                .values()
                .map(|a| {
                    let regions = a.config.client.regions.join(", ");
                    let named = account_prefix(a.name());
                    format!(
                        "{named}region {regions}, credentials from {}",
                        a.credentials
                    )
                })
                .collect();
            let v = client.version.number();
            format!("API {v}.0 at {}, {}", client.endpoint, accounts.join("; "))
        };
        *lock(&self.api_line) = line;
    }

    /// The request budget in force: each account has its own.
    pub fn budget(&self) -> f64 {
        let running = lock(&self.running);
        running.config.client.max_requests_per_second * running.accounts.len() as f64
    }

    /// Applies `config` account by account; an account whose credentials do not resolve
    /// stops the whole reload before anything changed.
    pub async fn apply(&self, config: Config) -> Result<(), ApplyError> {
        if config.accounts.is_empty() != lock(&self.running).config.accounts.is_empty() {
            return Err(ApplyError::AccountsMode);
        }
        let mut fresh: BTreeMap<String, Resolved> = BTreeMap::new();
        for slice in config.per_account() {
            let name = &slice.client.account;
            let known = lock(&self.running)
                .accounts
                .get(name)
                .map(|a| a.config.credentials.clone());
            if known.as_ref() != Some(&slice.credentials) {
                let resolved = credentials::resolve(&slice.credentials).await;
                let resolved = resolved.map_err(|error| ApplyError::Credentials {
                    account: name.clone(),
                    error: Box::new(error),
                })?;
                fresh.insert(name.clone(), resolved);
            }
        }
        self.stop_refreshers(&fresh).await;
        let applied = self.switch(config, fresh);
        self.update_api_line();
        applied
    }

    /// Stops the refreshers of the accounts whose credentials change, and waits for them.
    async fn stop_refreshers(&self, fresh: &BTreeMap<String, Resolved>) {
        let old: Vec<_> = {
            let mut running = lock(&self.running);
            let changing = running
                .accounts
                .values_mut()
                .filter(|a| fresh.contains_key(a.name()));
            changing.filter_map(Account::take_refresher).collect()
        };
        for r in old {
            r.abort();
            let _ = r.await;
        }
    }

    /// Starts, stops, re-credentials and re-polls the accounts `config` changes.
    fn switch(
        &self,
        config: Config,
        mut fresh: BTreeMap<String, Resolved>,
    ) -> Result<(), ApplyError> {
        let mut running = lock(&self.running);
        let slices = config.per_account();
        let gone: Vec<String> = running
            .accounts
            .keys()
            .filter(|n| !slices.iter().any(|s| &s.client.account == *n))
            .cloned()
            .collect();
        for name in gone {
            if let Some(a) = running.accounts.remove(&name) {
                tracing::info!(account = %name, "account removed");
                a.remove();
            }
        }
        let mut result = Ok(());
        for slice in slices {
            let name = slice.client.account.clone();
            let creds = fresh.remove(&name);
            if let Err(e) = self.switch_account(&mut running.accounts, slice, creds) {
                result = Err(e);
            }
        }
        running.config = config;
        result
    }

    fn switch_account(
        &self,
        accounts: &mut BTreeMap<String, Account>,
        slice: Config,
        creds: Option<Resolved>,
    ) -> Result<(), ApplyError> {
        let name = slice.client.account.clone();
        let Some(account) = accounts.get_mut(&name) else {
            let creds = creds.ok_or(ApplyError::AccountsMode)?;
            let account = Account::start(slice, &self.store, creds, &self.metrics)?;
            tracing::info!(account = %name, "account added");
            accounts.insert(name, account);
            return Ok(());
        };
        if let Some(creds) = creds {
            account.use_credentials(slice.credentials.clone(), creds);
        }
        if account.config == slice {
            return Ok(());
        }
        let (kept, dropped) = account.repoll(slice)?;
        let c = &account.config;
        tracing::info!(account = %name, api_version = c.client.version.number(),
            regions = c.client.regions.join(","), jobs = c.jobs.len(),
            instances = c.discovery.instances.len(), kept, dropped, "configuration reloaded");
        Ok(())
    }
}

impl Poller for Supervisor {
    fn demand(&self) -> f64 {
        lock(&self.running)
            .accounts
            .values()
            .map(Account::demand)
            .sum()
    }

    fn stop(&self) {
        lock(&self.running)
            .accounts
            .values_mut()
            .for_each(Account::stop);
    }
}
