//! What v3 tracks: every job the region listings show, narrowed by
//! `discovery.instances` when it names any, labelled from `jobs:` and the instances.

use std::collections::HashMap;
use std::sync::Arc;

use super::{Poller, listed_as};
use crate::api::{self, BuildError, CredentialsHandle, Recorder};
use crate::config::{Config, Labels};
use crate::scheduler::poller::{self, Version};
use crate::store::{Entry, JobKey, Source, Store};

pub struct V3;

impl Version for V3 {
    fn start(
        &self,
        config: &Config,
        store: Arc<Store>,
        creds: CredentialsHandle,
        recorder: Arc<dyn Recorder>,
    ) -> Result<Arc<dyn poller::Poller>, BuildError> {
        let client = Arc::new(api::v3::Client::new(&config.client, creds, recorder)?);
        Ok(Poller::start(client, store, config))
    }

    fn wanted(
        &self,
        e: &Entry,
        config: &Config,
        jobs: &HashMap<u64, Labels>,
    ) -> Option<(Source, Labels)> {
        // Jobs polled by id or by instance (v2) are found again in the listings if wanted.
        let Source::Listed { .. } = &e.source else {
            return None;
        };
        match &e.data {
            Some(d) => listed_as(&d.job, &config.discovery, jobs),
            None => Some((
                e.source.clone(),
                jobs.get(&e.key.id).cloned().unwrap_or_default(),
            )),
        }
    }

    /// Discovery is the region's listing, not an instance's.
    fn keeps_discovery(&self, instance_id: Option<&str>, _: &Config) -> bool {
        instance_id.is_none()
    }

    /// `jobs:` only labels what the listings find: no job is polled by its id.
    fn ready_keys(&self, _: &Config) -> Vec<JobKey> {
        Vec::new()
    }
}

impl poller::Poller for Poller {
    fn demand(&self) -> f64 {
        Poller::demand(self)
    }

    fn stop(&self) {
        Poller::stop(self);
    }
}
