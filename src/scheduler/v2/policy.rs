//! What v2 tracks: the jobs under `jobs:`, and those found on `discovery.instances`.

use std::collections::HashMap;
use std::sync::Arc;

use super::Poller;
use crate::api::{self, BuildError, CredentialsHandle, Recorder};
use crate::config::{Config, Labels};
use crate::scheduler::poller::{self, Version};
use crate::store::{Entry, JobKey, Source, Store};

pub struct V2;

impl Version for V2 {
    fn start(
        &self,
        config: &Config,
        store: Arc<Store>,
        creds: CredentialsHandle,
        recorder: Arc<dyn Recorder>,
    ) -> Result<Arc<dyn poller::Poller>, BuildError> {
        let client = Arc::new(api::v2::Client::new(&config.client, creds, recorder)?);
        Ok(Poller::start(client, store, config))
    }

    fn wanted(
        &self,
        e: &Entry,
        config: &Config,
        jobs: &HashMap<u64, Labels>,
    ) -> Option<(Source, Labels)> {
        if let Some(labels) = jobs.get(&e.key.id) {
            return Some((Source::Configured, labels.clone()));
        }
        // Jobs listed by region (v3) are found again by discovery if they are wanted.
        let Source::Discovered { instance_id } = &e.source else {
            return None;
        };
        let instance = config
            .discovery
            .instances
            .iter()
            .find(|i| &i.id == instance_id);
        instance.map(|i| (e.source.clone(), i.labels.clone()))
    }

    fn keeps_discovery(&self, instance_id: Option<&str>, config: &Config) -> bool {
        let instances = &config.discovery.instances;
        instance_id.is_some_and(|id| instances.iter().any(|i| i.id == id))
    }

    /// Each configured job is polled by its id, in the one region v2 allows.
    fn ready_keys(&self, config: &Config) -> Vec<JobKey> {
        let region = config.client.regions.first().cloned().unwrap_or_default();
        let key = |id| JobKey::new(region.clone(), id);
        config.jobs.iter().map(|j| key(j.id)).collect()
    }
}
