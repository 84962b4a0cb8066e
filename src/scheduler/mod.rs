//! Drives the polls in the background, so that a scrape never waits on the API.
//!
//! Two pollers, one per API version: [`v2`] polls each job on its own loop and lists
//! configured instances; [`v3`] lists each region's jobs 100 at a time and asks each
//! instance for its part. Both write to the store.

pub(crate) mod poller;
mod reconcile;
pub mod v2;
pub mod v3;

pub use self::poller::{Poller, Version};

use std::sync::Arc;
use std::time::Duration;

pub use crate::api::retry::with_backoff;
use crate::api::{ApiVersion, BuildError, CredentialsHandle, Recorder};
use crate::config::{Config, PollConfig};
use crate::store::{JobKey, Store};
pub use crate::time::jitter;

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

/// The one place that picks the API version's policy and poller.
fn version(config: &Config) -> &'static dyn Version {
    match config.client.version {
        ApiVersion::V2 => &v2::policy::V2,
        ApiVersion::V3 => &v3::policy::V3,
    }
}

/// Starts the poller of the configured API version.
pub fn start(
    config: &Config,
    store: Arc<Store>,
    creds: CredentialsHandle,
    recorder: Arc<dyn Recorder>,
) -> Result<Arc<dyn Poller>, BuildError> {
    version(config).start(config, store, creds, recorder)
}

/// The jobs that must have been polled once before the exporter is ready.
pub fn ready_keys(config: &Config) -> Vec<JobKey> {
    version(config).ready_keys(config)
}

/// Drops the jobs and discovery sources `config` does not want and relabels the others,
/// in place, so that a scrape never sees the store emptied. Returns (kept, dropped).
pub fn reconcile(store: &Store, config: &Config) -> (usize, usize) {
    reconcile::reconcile(version(config), store, config)
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
