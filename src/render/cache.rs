//! Render once, serve many: the /metrics text is rendered in the background when the store
//! changes (at most once per [`COALESCE`]) into shared bytes, plain and gzipped; scrapes
//! clone those bytes, so a scrape costs the same with 10 jobs or 10,000.
//!
//! Freshness: a scrape is served the latest finished render. If that began more than
//! [`MAX_AGE`] before the scrape and no render is under way (the store was quiet, so
//! nothing was rendered), the scrape wakes the renderer and waits for the new one; if a
//! render is under way, the scrape does not wait for it. So what a scrape gets began at
//! most [`MAX_AGE`] plus one render's time before the scrape.

use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use crate::inventory::{InventoryKey, InventoryStatus};
use crate::metrics::Metrics;
use crate::render::{Sources, render_sources};
use crate::store::{DiscoveryStatus, Entry, Store};
use crate::time::unix_now;

/// The least time between the starts of two renders.
pub const COALESCE: Duration = Duration::from_secs(1);
/// The oldest render a scrape is served; older ones are rendered again first.
pub const MAX_AGE: Duration = Duration::from_secs(2);

/// One rendering of the exposition.
pub struct Exposition {
    /// The store generation it was rendered from.
    pub generation: u64,
    /// When the render began ("now" of the running jobs' durations).
    pub rendered_at: Instant,
    pub plain: Bytes,
    pub gzip: Bytes,
    /// The snapshot rendered, by job id: readiness is judged on what is served.
    pub entries: Vec<Arc<Entry>>,
    pub discovery: Vec<DiscoveryStatus>,
    pub inventories: Vec<(InventoryKey, InventoryStatus)>,
}

pub struct ExpositionCache {
    current: watch::Sender<Arc<Exposition>>,
    /// Scrapes that found the exposition too old ask for a render here.
    wanted: Notify,
    rendering: AtomicBool,
}

impl ExpositionCache {
    /// Renders once, then keeps rendering in the background until the task is aborted.
    pub async fn start(
        store: Arc<Store>,
        metrics: Arc<Metrics>,
    ) -> (Arc<Self>, tokio::task::JoinHandle<()>) {
        let first = render(Arc::clone(&store), Arc::clone(&metrics), 0).await;
        let cache = Arc::new(Self {
            current: watch::Sender::new(Arc::new(first)),
            wanted: Notify::new(),
            rendering: AtomicBool::new(false),
        });
        let task = tokio::spawn(Arc::clone(&cache).run(store, metrics));
        (cache, task)
    }

    /// The latest exposition, whatever its age.
    pub fn latest(&self) -> Arc<Exposition> {
        Arc::clone(&self.current.borrow())
    }

    /// An exposition begun at most [`MAX_AGE`] plus one render's time before this call.
    pub async fn fresh(&self) -> Arc<Exposition> {
        let asked = Instant::now();
        let mut rx = self.current.subscribe();
        loop {
            let e = Arc::clone(&rx.borrow_and_update());
            let rendering = self.rendering.load(Ordering::Acquire);
            if rendering || asked.saturating_duration_since(e.rendered_at) <= MAX_AGE {
                return e;
            }
            self.wanted.notify_one();
            if rx.changed().await.is_err() {
                return e;
            }
        }
    }

    async fn run(self: Arc<Self>, store: Arc<Store>, metrics: Arc<Metrics>) {
        let mut generation = store.generation();
        loop {
            let last = self.current.borrow().rendered_at;
            tokio::time::sleep_until(last + COALESCE).await;
            let rendered = self.current.borrow().generation;
            if *generation.borrow_and_update() == rendered {
                tokio::select! {
                    r = generation.changed() => if r.is_err() { return },
                    () = self.wanted.notified() => {},
                }
            }
            self.rendering.store(true, Ordering::Release);
            let size = self.current.borrow().plain.len();
            let next = render(Arc::clone(&store), Arc::clone(&metrics), size).await;
            self.current.send_replace(Arc::new(next));
            self.rendering.store(false, Ordering::Release);
        }
    }
}

/// Renders the store off the async workers. `size` is the last render's: the buffer is
/// sized after it, so that it does not double past what is needed (and stay that big).
async fn render(store: Arc<Store>, metrics: Arc<Metrics>, size: usize) -> Exposition {
    let rendered_at = Instant::now();
    let generation = *store.generation().borrow();
    let entries = store.snapshot();
    let discovery = store.discovery_snapshot();
    let readiness = store.readiness_snapshot();
    let inventories = store.inventory_snapshot();
    let work = move || {
        let mut plain = Vec::with_capacity(size + size / 16);
        let mut gzip = GzEncoder::new(Vec::with_capacity(size / 8), Compression::fast());
        let sources = Sources {
            discovery: &discovery,
            readiness: &readiness,
            inventories: &inventories,
        };
        render_sources(&entries, &sources, &metrics, unix_now(), &mut |chunk| {
            // Writing to a Vec cannot fail.
            let _ = gzip.write_all(&chunk);
            plain.extend_from_slice(&chunk);
        });
        let gzip = gzip.finish().unwrap_or_default();
        Exposition {
            generation,
            rendered_at,
            plain: Bytes::from(plain),
            gzip: Bytes::from(gzip),
            entries,
            discovery,
            inventories,
        }
    };
    match tokio::task::spawn_blocking(work).await {
        Ok(e) => {
            let ms = rendered_at.elapsed().as_secs_f64() * 1000.0;
            let (bytes, gzip) = (e.plain.len(), e.gzip.len());
            tracing::debug!(bytes, gzip, ms, "rendered the metrics");
            e
        }
        Err(err) => {
            tracing::error!(error = %err, "rendering the metrics failed");
            Exposition {
                generation,
                rendered_at,
                plain: Bytes::new(),
                gzip: Bytes::new(),
                entries: Vec::new(),
                discovery: Vec::new(),
                inventories: Vec::new(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Labels;
    use crate::store::Source;

    #[tokio::test]
    async fn gzip_is_the_plain_text_compressed_and_changes_are_rendered() {
        let store = Arc::new(Store::new());
        let (cache, task) = ExpositionCache::start(Arc::clone(&store), Arc::default()).await;
        let first = cache.latest();
        let mut text = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(&first.gzip[..]),
            &mut text,
        )
        .unwrap();
        assert_eq!(text, first.plain);
        let key = crate::store::JobKey::new("ap-guangzhou", 7);
        store.track(key, Source::Configured, Labels::default());
        let mut rx = cache.current.subscribe();
        tokio::time::timeout(Duration::from_secs(5), async {
            while rx.borrow_and_update().generation == first.generation {
                rx.changed().await.unwrap();
            }
        })
        .await
        .unwrap();
        assert!(cache.latest().rendered_at >= first.rendered_at + COALESCE);
        task.abort();
    }
}
