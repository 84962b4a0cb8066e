//! Drives the polls in the background, so that a scrape never waits on the API.
//!
//! Two pollers, one per API version: v2 polls each job on its own loop and lists
//! configured instances ([`jobs`], [`instances`]); v3 lists each region's jobs 100 at a
//! time and asks each instance for its part ([`regions`]). Both write to the store.

pub mod instances;
pub mod jobs;
pub mod regions;

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

pub use crate::api::retry::{jitter, with_backoff};
use crate::api::{ApiVersion, BuildError, CredentialsHandle, Recorder, v2, v3};
use crate::config::{Config, PollConfig};
use crate::store::{Source, Store};

/// How often a job is polled: finished jobs will not change much any more.
pub fn interval(poll: &PollConfig, terminal: bool) -> Duration {
    if terminal {
        poll.finished_interval
    } else {
        poll.interval
    }
}

/// Whether a discovered job is worth tracking: not finished, or started (else ended)
/// within `max_age`. A finished job with neither time is not.
pub fn is_current(
    terminal: bool,
    start: Option<i64>,
    end: Option<i64>,
    now: f64,
    max_age: Duration,
) -> bool {
    let oldest = now - max_age.as_secs_f64();
    !terminal || start.or(end).is_some_and(|t| t as f64 >= oldest)
}

/// The background polling of one API version.
pub trait Poller: Send + Sync {
    /// Requests per second the configured intervals ask for.
    fn demand(&self) -> f64;
    /// Stops every loop; what is stored stays.
    fn stop(&self);
}

/// v2: a loop per job, and discovery by instance.
struct V2 {
    scheduler: Arc<jobs::Scheduler>,
    discovery: JoinHandle<()>,
    discovery_demand: f64,
}

impl Poller for V2 {
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

impl Poller for regions::Regions {
    fn demand(&self) -> f64 {
        regions::Regions::demand(self)
    }

    fn stop(&self) {
        regions::Regions::stop(self);
    }
}

/// Starts the poller of the configured API version.
pub fn start(
    config: &Config,
    store: Arc<Store>,
    creds: CredentialsHandle,
    recorder: Arc<dyn Recorder>,
) -> Result<Arc<dyn Poller>, BuildError> {
    match config.client.version {
        ApiVersion::V2 => {
            let client = Arc::new(v2::Client::new(&config.client, creds, recorder)?);
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
            Ok(Arc::new(V2 {
                scheduler,
                discovery: tokio::spawn(discovery.run()),
                discovery_demand: config.discovery.instances.len() as f64
                    / config.discovery.interval.as_secs_f64().max(0.001),
            }))
        }
        ApiVersion::V3 => {
            let client = Arc::new(v3::Client::new(&config.client, creds, recorder)?);
            Ok(regions::Regions::start(client, store, config))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_jobs() {
        let day = Duration::from_secs(86_400);
        let now = 1_000_000.0;
        let recent = Some(1_000_000 - 3600);
        let old = Some(1_000_000 - 2 * 86_400);
        assert!(
            is_current(false, old, None, now, day),
            "running jobs are always current"
        );
        assert!(is_current(false, None, None, now, day));
        assert!(is_current(true, recent, None, now, day));
        assert!(
            !is_current(true, old, recent, now, day),
            "judged on the start first"
        );
        assert!(is_current(true, None, recent, now, day), "else on the end");
        assert!(
            !is_current(true, None, None, now, day),
            "a finished job with no times is not tracked"
        );
    }

    #[test]
    fn intervals() {
        let poll = PollConfig::default();
        assert_eq!(interval(&poll, false), poll.interval);
        assert_eq!(interval(&poll, true), poll.finished_interval);
    }
}
