//! The seam between the API versions and the rest: a running poller, and the policy of a
//! version (how its jobs are found, which of them a configuration wants).

use std::collections::HashMap;
use std::sync::Arc;

use crate::api::{BuildError, CredentialsHandle, Recorder};
use crate::config::{Config, Labels};
use crate::store::{Entry, JobKey, Source, Store};

/// The background polling of one API version.
pub trait Poller: Send + Sync {
    /// Requests per second the configured intervals ask for.
    fn demand(&self) -> f64;
    /// Stops every loop; what is stored stays.
    fn stop(&self);
}

/// What differs between the API versions above the client: how jobs are found and
/// polled, which of them a configuration wants, and which must answer before /-/ready.
pub trait Version: Sync {
    /// Starts this version's poller over `store`.
    fn start(
        &self,
        config: &Config,
        store: Arc<Store>,
        creds: CredentialsHandle,
        recorder: Arc<dyn Recorder>,
    ) -> Result<Arc<dyn Poller>, BuildError>;
    /// The source and labels a tracked job has under `config`; `None` to drop it.
    fn wanted(
        &self,
        e: &Entry,
        config: &Config,
        jobs: &HashMap<u64, Labels>,
    ) -> Option<(Source, Labels)>;
    /// Whether the status of a discovery source (an instance, or `None` for a region's
    /// listing) is still wanted under `config`.
    fn keeps_discovery(&self, instance_id: Option<&str>, config: &Config) -> bool;
    /// The jobs that must have been polled once before the exporter is ready.
    fn ready_keys(&self, config: &Config) -> Vec<JobKey>;
}
