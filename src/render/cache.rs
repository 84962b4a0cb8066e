//! Render once, serve many: the /metrics text is rendered in the background when the store
//! changes (at most once per [`COALESCE`]) into shared gzipped bytes; scrapes clone those
//! bytes, so a scrape costs the same with 10 jobs or 10,000.
//!
//! Only the gzip is held (Prometheus asks for it): the plain text is ten times its size
//! (37 MB at 10,000 jobs), and holding both, twice while re-rendering, tripled the
//! daemon's memory. A plain-text scrape gets [`PlainText`], the gzip inflated a chunk at a
//! time as the client reads, so a slow reader holds a decoder, not a copy, and blocks no
//! one.
//!
//! Freshness: a scrape is served the latest finished render. If that began more than
//! [`MAX_AGE`] before the scrape and no render is under way (the store was quiet, so
//! nothing was rendered), the scrape wakes the renderer and waits for the new one; if a
//! render is under way, the scrape does not wait for it. So what a scrape gets began at
//! most [`MAX_AGE`] plus one render's time before the scrape.

use std::io::{Read as _, Write as _};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::buf::Reader;
use bytes::{Buf as _, Bytes};
use flate2::Compression;
use flate2::bufread::GzDecoder;
use flate2::write::GzEncoder;
use http_body::{Frame, SizeHint};
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
/// Bytes of plain text inflated at a time for a plain-text scrape.
const PLAIN_CHUNK: usize = 128 * 1024;

/// One rendering of the exposition.
pub struct Exposition {
    /// The store generation it was rendered from.
    pub generation: u64,
    /// When the render began ("now" of the running jobs' durations).
    pub rendered_at: Instant,
    /// The length of the plain text.
    pub plain_len: u64,
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
            let size = self.current.borrow().gzip.len();
            let next = render(Arc::clone(&store), Arc::clone(&metrics), size).await;
            self.current.send_replace(Arc::new(next));
            self.rendering.store(false, Ordering::Release);
        }
    }
}

/// The plain text of a rendering, inflated from its gzip as the client reads it.
pub struct PlainText {
    decoder: GzDecoder<Reader<Bytes>>,
    left: u64,
}

impl PlainText {
    pub fn of(e: &Exposition) -> Self {
        Self {
            decoder: GzDecoder::new(e.gzip.clone().reader()),
            left: e.plain_len,
        }
    }
}

impl http_body::Body for PlainText {
    type Data = Bytes;
    type Error = std::io::Error;

    /// Inflates the next chunk. Hyper asks only when its write buffer has room, so a
    /// reader that does not read stops the inflating.
    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if this.left == 0 {
            return Poll::Ready(None);
        }
        let len = usize::try_from(this.left).map_or(PLAIN_CHUNK, |l| l.min(PLAIN_CHUNK));
        let mut chunk = vec![0; len];
        let read = this.decoder.read_exact(&mut chunk).map(|()| {
            this.left -= len as u64;
            Frame::data(Bytes::from(chunk))
        });
        Poll::Ready(Some(read))
    }

    fn is_end_stream(&self) -> bool {
        self.left == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.left)
    }
}

/// Renders the store off the async workers. `size` is the last render's gzip: the buffer
/// is sized after it, so that it does not double past what is needed (and stay that big).
async fn render(store: Arc<Store>, metrics: Arc<Metrics>, size: usize) -> Exposition {
    let rendered_at = Instant::now();
    let generation = *store.generation().borrow();
    let entries = store.snapshot();
    let discovery = store.discovery_snapshot();
    let readiness = store.readiness_snapshot();
    let inventories = store.inventory_snapshot();
    let work = move || {
        let mut plain_len = 0;
        let mut gzip = GzEncoder::new(Vec::with_capacity(size + size / 16), Compression::fast());
        let sources = Sources {
            discovery: &discovery,
            readiness: &readiness,
            inventories: &inventories,
        };
        render_sources(&entries, &sources, &metrics, unix_now(), &mut |chunk| {
            // Writing to a Vec cannot fail.
            let _ = gzip.write_all(&chunk);
            plain_len += chunk.len() as u64;
        });
        let gzip = gzip.finish().unwrap_or_default();
        Exposition {
            generation,
            rendered_at,
            plain_len,
            gzip: Bytes::from(gzip),
            entries,
            discovery,
            inventories,
        }
    };
    match tokio::task::spawn_blocking(work).await {
        Ok(e) => {
            let ms = rendered_at.elapsed().as_secs_f64() * 1000.0;
            let (bytes, gzip) = (e.plain_len, e.gzip.len());
            tracing::debug!(bytes, gzip, ms, "rendered the metrics");
            e
        }
        Err(err) => {
            tracing::error!(error = %err, "rendering the metrics failed");
            Exposition {
                generation,
                rendered_at,
                plain_len: 0,
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
    use http_body::Body as _;

    use super::*;
    use crate::config::Labels;
    use crate::store::Source;

    fn gzipped(text: &[u8]) -> Exposition {
        let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
        gz.write_all(text).unwrap();
        Exposition {
            generation: 0,
            rendered_at: Instant::now(),
            plain_len: text.len() as u64,
            gzip: Bytes::from(gz.finish().unwrap()),
            entries: Vec::new(),
            discovery: Vec::new(),
            inventories: Vec::new(),
        }
    }

    /// Every frame of a plain-text body: the chunks, or the error that ended them.
    async fn frames(mut body: PlainText) -> Result<Vec<Bytes>, std::io::Error> {
        let mut chunks = Vec::new();
        assert_eq!(body.size_hint().exact(), Some(body.left));
        while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
        {
            chunks.push(frame?.into_data().unwrap());
        }
        assert!(body.is_end_stream());
        Ok(chunks)
    }

    #[tokio::test]
    async fn plain_text_is_the_gzip_inflated_a_chunk_at_a_time() {
        let text: Vec<u8> = (0..40_000)
            .flat_map(|i| format!("cdb_rollback_job_status{{job_id=\"{i}\"}} 1\n").into_bytes())
            .collect();
        let e = gzipped(&text);
        assert!(e.gzip.len() * 5 < text.len());
        let chunks = frames(PlainText::of(&e)).await.unwrap();
        assert!(chunks.len() > 2 && chunks.iter().all(|c| c.len() <= PLAIN_CHUNK));
        assert_eq!(chunks.concat(), text);
        // A gzip cut short ends the body with an error, not with a short text.
        let mut cut = gzipped(&text);
        cut.gzip.truncate(cut.gzip.len() / 2);
        assert!(frames(PlainText::of(&cut)).await.is_err());
        assert!(
            frames(PlainText::of(&gzipped(b"")))
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn changes_are_rendered_and_only_the_gzip_is_held() {
        let store = Arc::new(Store::new());
        let (cache, task) = ExpositionCache::start(Arc::clone(&store), Arc::default()).await;
        let first = cache.latest();
        let plain = frames(PlainText::of(&first)).await.unwrap().concat();
        assert_eq!(plain.len() as u64, first.plain_len);
        assert!(plain.ends_with(b"\n"));
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
