//! One account's runtime: its credentials (handle and refresher), its poller, and its
//! view of the store. Accounts start, stop and change apart from each other, so that one
//! account's reload, throttling or failures change nothing for the others.

use std::sync::Arc;

use tokio::task::JoinHandle;

use crate::api::{BuildError, CredentialsHandle};
use crate::config::Config;
use crate::credentials::{Resolved, Spec, refresh};
use crate::metrics::{self, Metrics};
use crate::scheduler::{self, Poller};
use crate::store::Store;

pub(super) struct Account {
    /// The account's part of the configuration ([`Config::per_account`]).
    pub(super) config: Config,
    handle: CredentialsHandle,
    poller: Arc<dyn Poller>,
    refresher: Option<JoinHandle<()>>,
    /// Where its credentials come from, for the landing page.
    pub(super) credentials: String,
    store: Arc<Store>,
    recorder: Arc<metrics::Account>,
}

/// Says where an account's credentials come from: in the log, and as the credentials
/// metrics' `source` label.
fn found(account: &str, creds: &Resolved, metrics: &Metrics) {
    tracing::info!(
        account = named(account),
        source = creds.provider.label(),
        detail = %creds.provider.describe(),
        secret_id = %creds.first.creds.secret_id,
        expires_at = creds.first.expires,
        "credentials found"
    );
    metrics.prepare_credentials_of(account, creds.provider.label());
}

/// An account's name for a log line: none without `accounts:` (not `account=""`).
fn named(account: &str) -> Option<&str> {
    (!account.is_empty()).then_some(account)
}

/// The span an account's poller logs in: none without `accounts:`, so that the logs of a
/// single account read as before.
fn span(account: &str) -> tracing::Span {
    if account.is_empty() {
        tracing::Span::none()
    } else {
        tracing::info_span!("account", account)
    }
}

impl Account {
    /// Starts polling for the account of `config` (one of [`Config::per_account`]).
    pub(super) fn start(
        config: Config,
        root: &Store,
        creds: Resolved,
        metrics: &Arc<Metrics>,
    ) -> Result<Account, BuildError> {
        let name = config.client.account.clone();
        found(&name, &creds, metrics);
        let recorder = Arc::new(metrics::Account {
            metrics: Arc::clone(metrics),
            name: name.clone(),
        });
        let actions = config.client.version.actions();
        metrics.prepare_of(&name, actions, &config.client.regions);
        let handle = CredentialsHandle::new(creds.first.creds.clone());
        let store = root.account(&name);
        let start = || {
            scheduler::start(
                &config,
                Arc::clone(&store),
                handle.clone(),
                recorder.clone(),
            )
        };
        let poller = span(&name).in_scope(start)?;
        let mut account = Account {
            config,
            handle,
            poller,
            refresher: None,
            credentials: creds.provider.describe(),
            store,
            recorder,
        };
        account.refresh_with(creds);
        Ok(account)
    }

    pub(super) fn name(&self) -> &str {
        &self.config.client.account
    }

    pub(super) fn demand(&self) -> f64 {
        self.poller.demand()
    }

    /// Replaces the credentials refresher with the one `creds` needs.
    fn refresh_with(&mut self, creds: Resolved) {
        let recorder: Arc<dyn refresh::Recorder> = self.recorder.clone();
        let next = refresh::spawn(
            creds.provider,
            self.handle.clone(),
            creds.first.expires,
            recorder,
        );
        if let Some(old) = std::mem::replace(&mut self.refresher, next) {
            old.abort();
        }
    }

    /// Takes the refresher out, so that it can be stopped (and awaited) before new
    /// credentials go in: it could otherwise put its own back.
    pub(super) fn take_refresher(&mut self) -> Option<JoinHandle<()>> {
        self.refresher.take()
    }

    /// Signs with `creds` from now on, under their own refresher; the poller (and its
    /// request budget) goes on.
    pub(super) fn use_credentials(&mut self, spec: Spec, creds: Resolved) {
        found(self.name(), &creds, &self.recorder.metrics);
        self.handle.replace(creds.first.creds.clone());
        self.credentials = creds.provider.describe();
        self.config.credentials = spec;
        self.refresh_with(creds);
    }

    /// Stops the poller, fits the account's jobs to `config` and starts `config`'s poller
    /// over them. If no client can be built, the previous configuration is started again.
    pub(super) fn repoll(&mut self, config: Config) -> Result<(usize, usize), BuildError> {
        self.poller.stop();
        let (kept, dropped) = scheduler::reconcile(&self.store, &config);
        let span = span(self.name());
        let (handle, recorder) = (self.handle.clone(), self.recorder.clone());
        let start =
            |c: &Config, store| scheduler::start(c, store, handle.clone(), recorder.clone());
        let store = Arc::clone(&self.store);
        match span.in_scope(|| start(&config, store)) {
            Ok(poller) => {
                self.poller = poller;
                self.config = config;
                Ok((kept, dropped))
            }
            Err(e) => {
                let store = Arc::clone(&self.store);
                match span.in_scope(|| start(&self.config, store)) {
                    Ok(poller) => self.poller = poller,
                    Err(e2) => tracing::error!(account = named(self.name()), error = %e2,
                        "cannot start the previous poller again; nothing polls until a reload succeeds"),
                }
                Err(e)
            }
        }
    }

    /// Stops polling and refreshing.
    pub(super) fn stop(&mut self) {
        self.poller.stop();
        if let Some(r) = self.refresher.take() {
            r.abort();
        }
    }

    /// Stops, and forgets the account's jobs and series: it was removed.
    pub(super) fn remove(mut self) {
        self.stop();
        self.store.clear();
        self.recorder.metrics.forget(self.name());
    }
}
