//! v2 polling: a loop per job ([`jobs`]), and discovery by instance ([`instances`]).

pub mod instances;
pub mod jobs;
pub mod policy;

use std::sync::Arc;

use tokio::task::JoinHandle;

use crate::api::v2::Client;
use crate::config::Config;
use crate::store::{Source, Store};

/// v2: a loop per job, and discovery by instance.
pub struct Poller {
    scheduler: Arc<jobs::Scheduler>,
    discovery: JoinHandle<()>,
    discovery_demand: f64,
}

impl Poller {
    /// Tracks the configured jobs and starts discovery over the configured instances.
    pub fn start(client: Arc<Client>, store: Arc<Store>, config: &Config) -> Arc<Self> {
        let polls = Arc::clone(&client);
        let scheduler = jobs::Scheduler::new(polls, Arc::clone(&store), config.poll.clone());
        for job in &config.jobs {
            scheduler.track(job.id, Source::Configured, job.labels.clone());
        }
        scheduler.resume();
        let discovery = instances::Discovery::new(
            client,
            Arc::clone(&scheduler),
            store,
            config.discovery.clone(),
            config.poll.retries,
        );
        Arc::new(Poller {
            scheduler,
            discovery: tokio::spawn(discovery.run()),
            discovery_demand: config.discovery.instances.len() as f64
                / config.discovery.interval.as_secs_f64().max(0.001),
        })
    }
}

impl crate::scheduler::poller::Poller for Poller {
    fn demand(&self) -> f64 {
        self.scheduler.demand() + self.discovery_demand
    }

    fn stop(&self) {
        // Discovery first: a round in progress could otherwise track new jobs after the
        // poll loops have been stopped.
        self.discovery.abort();
        self.scheduler.stop();
    }
}
