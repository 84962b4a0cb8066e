//! Rollback readiness on API 3.0: every `readiness.interval`, `DescribeRollbackRangeTime`
//! for every instance of the region's inventory, [`BATCH`] ids a request at background
//! priority. The docs give no largest batch: an `InvalidParameter*` answer halves the
//! region's batch for good and the round goes on with the smaller one.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{jitter, lock, log_error, with_backoff};
use crate::api::v3::ranges::{BATCH, RangeItem};
use crate::api::v3::{Client, RangePage};
use crate::api::{ApiError, Priority};
use crate::inventory::RegionKey;
use crate::readiness::{InstanceReadiness, RegionReadiness, Window};
use crate::store::Store;
use crate::time::unix_now;

/// The instance ids of a region's (filtered) inventory; `None` while it is not known.
pub type InstanceIds = Arc<dyn Fn(&str) -> Option<Vec<String>> + Send + Sync>;

type Answer = Pin<Box<dyn Future<Output = Result<RangePage, ApiError>> + Send>>;
/// One request: a region and the instance ids to ask about.
pub type Fetch = Arc<dyn Fn(String, Vec<String>) -> Answer + Send + Sync>;

/// The real request, through the client's budget and its own action limit.
pub fn fetch_with(client: Arc<Client>) -> Fetch {
    Arc::new(move |region, ids| {
        let client = Arc::clone(&client);
        Box::pin(async move {
            client
                .rollback_range_time(&region, &ids, Priority::Background)
                .await
        })
    })
}

/// The ids of the region's inventory, after `instances.filter`.
pub fn inventory_ids(store: Arc<Store>) -> InstanceIds {
    Arc::new(move |region| {
        let inventory = store.inventory(&store.region_key(region))?;
        Some(inventory.instances().map(|i| i.id.clone()).collect())
    })
}

/// How soon a region without an inventory yet looks again.
const WAIT_FOR_INVENTORY: Duration = Duration::from_secs(1);

pub struct Readiness {
    fetch: Fetch,
    ids: InstanceIds,
    store: Arc<Store>,
    interval: Duration,
    retries: u32,
    /// Each region's batch, once an answer has made it smaller than [`BATCH`].
    batches: Mutex<HashMap<RegionKey, usize>>,
}

/// What one round learnt: answers, and the ids whose request failed.
#[derive(Default)]
struct Round {
    answered: HashMap<String, RangeItem>,
    failed: HashSet<String>,
}

impl Readiness {
    pub fn new(
        fetch: Fetch,
        ids: InstanceIds,
        store: Arc<Store>,
        interval: Duration,
        retries: u32,
    ) -> Self {
        Self {
            fetch,
            ids,
            store,
            interval,
            retries,
            batches: Mutex::new(HashMap::new()),
        }
    }

    /// The region's batch now.
    pub fn batch(&self, key: &RegionKey) -> usize {
        lock(&self.batches).get(key).copied().unwrap_or(BATCH)
    }

    /// Requests per second one region asks for, with `instances` in its inventory.
    pub fn demand(&self, key: &RegionKey) -> f64 {
        let n = (self.ids)(&key.region).map_or(0, |ids| ids.len());
        n.div_ceil(self.batch(key)) as f64 / self.interval.as_secs_f64().max(0.001)
    }

    pub async fn run(self: Arc<Self>, key: RegionKey) {
        self.store.add_readiness_source(&key);
        loop {
            let wait = if self.round(&key).await {
                jitter(self.interval, 0.1)
            } else {
                WAIT_FOR_INVENTORY
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// Asks about every instance of the region once and records the outcome. Without an
    /// inventory yet there is nothing to ask, nothing is recorded, and it says false.
    pub async fn round(&self, key: &RegionKey) -> bool {
        let Some(mut ids) = (self.ids)(&key.region) else {
            tracing::debug!(region = key.region, "no inventory yet; readiness waits");
            return false;
        };
        ids.sort_unstable();
        ids.dedup();
        let mut round = Round::default();
        let start = self.batch(key);
        let mut left: &[String] = &ids;
        while !left.is_empty() {
            let size = self.batch(key).min(left.len());
            let (chunk, rest) = left.split_at(size);
            match self.ask(key, chunk).await {
                Ok(page) => {
                    let asked: HashSet<&String> = chunk.iter().collect();
                    let items = page
                        .items
                        .into_iter()
                        .filter(|i| asked.contains(&i.instance_id));
                    round
                        .answered
                        .extend(items.map(|i| (i.instance_id.clone(), i)));
                }
                Err(e) if refuses_batch(&e) && self.halve(key, size, start) => continue,
                Err(e) => {
                    log_error(
                        &e,
                        &key.region,
                        "asking for rollback ranges failed; keeping the last good values",
                    );
                    round.failed.extend(chunk.iter().cloned());
                }
            }
            left = rest;
        }
        self.record(key, &ids, round);
        true
    }

    /// After an `InvalidParameter*` answer to `size` ids: halves the region's batch and says
    /// true (ask again). A single id refused is that id's problem, not the batch size's: the
    /// batch goes back to what it was when the round began (`start`), and it says false.
    fn halve(&self, key: &RegionKey, size: usize, start: usize) -> bool {
        let next = if size > 1 { size / 2 } else { start };
        lock(&self.batches).insert(key.clone(), next);
        if size > 1 {
            tracing::info!(
                region = key.region,
                from = size,
                to = next,
                "the API refused a batch; asking fewer instances a request from now on"
            );
        }
        size > 1
    }

    async fn ask(&self, key: &RegionKey, chunk: &[String]) -> Result<RangePage, ApiError> {
        let cap = (self.interval / 2).max(Duration::from_secs(1));
        with_backoff(self.retries, cap, || {
            (self.fetch)(key.region.clone(), chunk.to_vec())
        })
        .await
    }

    /// The region's next state: answers replace, failed ids keep their last answer, and
    /// instances no longer inventoried (or not answered for) go.
    fn record(&self, key: &RegionKey, ids: &[String], mut round: Round) {
        let now = unix_now();
        let before = self.store.readiness(key);
        let mut next = RegionReadiness::new(key);
        let ok = round.failed.is_empty();
        next.success = Some(ok);
        next.last_success = if ok {
            Some(now)
        } else {
            before.as_ref().and_then(|b| b.last_success)
        };
        for id in ids {
            let kept = || {
                let b = before.as_ref()?;
                b.instances.get(id).cloned()
            };
            let inst = match round.answered.remove(id) {
                Some(item) => Some(Arc::new(judge(key, item))),
                None if round.failed.contains(id) => kept(),
                None => {
                    tracing::debug!(
                        region = key.region,
                        instance_id = id,
                        "the answer did not list this instance"
                    );
                    None
                }
            };
            if let Some(inst) = inst {
                next.instances.insert(id.clone(), inst);
            }
        }
        self.store.record_readiness(key, next);
    }
}

/// An answer that says the request itself was wrong: too many ids, most likely.
fn refuses_batch(e: &ApiError) -> bool {
    e.api_code()
        .is_some_and(|c| c.starts_with("InvalidParameter"))
}

/// One item as the metrics show it; ranges that cannot be are logged.
fn judge(key: &RegionKey, item: RangeItem) -> InstanceReadiness {
    let mut r = InstanceReadiness::new(key, &item.instance_id, item.code, item.message);
    if item.code != 0 {
        return r;
    }
    let judged = Window::of(&item.times);
    for bad in &judged.ignored {
        tracing::warn!(
            region = key.region,
            instance_id = item.instance_id,
            begin = bad.begin,
            end = bad.end,
            "ignoring a rollback range that ends before it begins"
        );
    }
    if item.unset > 0 {
        tracing::warn!(
            region = key.region,
            instance_id = item.instance_id,
            ranges = item.unset,
            "ignoring rollback ranges without a begin or an end"
        );
    }
    r.window = Some(judged.window);
    r
}

#[cfg(test)]
mod tests;
