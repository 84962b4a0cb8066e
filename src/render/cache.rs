//! Render once, serve many: the /metrics text is rendered in the background when the store
//! changes (at most once per [`COALESCE`]) into shared gzipped bytes; scrapes clone those
//! bytes, so a scrape costs the same with 10 jobs or 10,000.
//!
//! The plain text is not held as it is: it is ten times the gzip's size (44 MB at 10,000
//! jobs), and holding both, twice while re-rendering, tripled the daemon's memory. It is
//! held LZ4-compressed, in independent blocks (1.5-2 times the gzip's size), because they
//! decompress about twice as fast as the gzip inflates, and plain-text scrapes pay that
//! on every byte. A plain-text scrape gets [`PlainText`], a block decompressed at a time
//! as the client reads, so a slow reader holds a block, not a copy, and blocks no one.
//!
//! Freshness: a scrape is served the latest finished render. If that began more than
//! [`MAX_AGE`] before the scrape and no render is under way (the store was quiet, so
//! nothing was rendered), the scrape wakes the renderer and waits for the new one; if a
//! render is under way, the scrape does not wait for it. So what a scrape gets began at
//! most [`MAX_AGE`] plus one render's time before the scrape.

use std::io::Write as _;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;
use http_body::{Frame, SizeHint};
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use crate::inventory::{InventoryStatus, RegionKey};
use crate::metrics::Metrics;
use crate::render::{Sources, render_to};
use crate::store::{DiscoveryStatus, Entry, Store};
use crate::time::unix_now;

/// The least time between the starts of two renders.
pub const COALESCE: Duration = Duration::from_secs(1);
/// The oldest render a scrape is served; older ones are rendered again first.
pub const MAX_AGE: Duration = Duration::from_secs(2);
/// Bytes of plain text in one LZ4 block, decompressed at a time for a plain-text scrape.
const PLAIN_CHUNK: usize = 256 * 1024;
/// Deflate's level 2 (`deflate_fast`) makes a gzip 40 % smaller than level 1
/// (`deflate_quick`'s fixed codes) at about 1.2 times the time: 1.7 against 2.8 MB for
/// 10,000 jobs, so gzip scrapes send less and the cache holds less.
const GZIP_LEVEL: Compression = Compression::new(2);

/// One rendering of the exposition.
pub struct Exposition {
    /// The store generation it was rendered from.
    pub generation: u64,
    /// When the render began ("now" of the running jobs' durations).
    pub rendered_at: Instant,
    /// The length of the plain text.
    pub plain_len: u64,
    pub gzip: Bytes,
    /// The plain text in blocks, see [`PlainText`].
    pub plain: Arc<[Bytes]>,
    /// The snapshot rendered, by job id: readiness is judged on what is served.
    pub entries: Vec<Arc<Entry>>,
    pub discovery: Vec<DiscoveryStatus>,
    pub inventories: Vec<(RegionKey, InventoryStatus)>,
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

/// The plain text of a rendering, its LZ4 blocks decompressed one at a time as the client
/// reads.
pub struct PlainText {
    blocks: Arc<[Bytes]>,
    next: usize,
    left: u64,
}

impl PlainText {
    pub fn of(e: &Exposition) -> Self {
        Self {
            blocks: Arc::clone(&e.plain),
            next: 0,
            left: e.plain_len,
        }
    }

    /// The next [`PLAIN_CHUNK`] bytes of text (fewer at the end), or an error if the
    /// blocks do not hold the text.
    fn next_chunk(&mut self) -> std::io::Result<Bytes> {
        let broken = |why: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, why);
        let len = usize::try_from(self.left).map_or(PLAIN_CHUNK, |l| l.min(PLAIN_CHUNK));
        let block = self
            .blocks
            .get(self.next)
            .ok_or_else(|| broken("the blocks end before the text"))?;
        let chunk =
            lz4_flex::block::decompress(block, len).map_err(|_| broken("a block is corrupt"))?;
        if chunk.len() != len {
            return Err(broken("a block does not hold its text"));
        }
        self.next += 1;
        self.left -= len as u64;
        Ok(Bytes::from(chunk))
    }
}

/// The plain text cut into [`PLAIN_CHUNK`]s, each LZ4-compressed on its own.
struct Blocks {
    pending: Vec<u8>,
    /// Each block is compressed here, then copied out at its size: a block compressed
    /// into its own worst-case-sized allocation and shrunk leaves a hole after it, and
    /// the holes of every render piled up in the resident memory (69.7 to 85.3 MiB in
    /// four minutes of scrapes at 10,000 jobs).
    scratch: Vec<u8>,
    table: lz4_flex::block::CompressTable,
    done: Vec<Bytes>,
    /// The length of the text pushed.
    len: u64,
}

impl Default for Blocks {
    fn default() -> Self {
        Self {
            pending: Vec::with_capacity(PLAIN_CHUNK),
            scratch: vec![0; lz4_flex::block::get_maximum_output_size(PLAIN_CHUNK)],
            table: lz4_flex::block::CompressTable::large(),
            done: Vec::new(),
            len: 0,
        }
    }
}

impl Blocks {
    fn push(&mut self, mut text: &[u8]) {
        self.len += text.len() as u64;
        while !text.is_empty() {
            let take = text.len().min(PLAIN_CHUNK - self.pending.len());
            self.pending.extend_from_slice(&text[..take]);
            text = &text[take..];
            if self.pending.len() == PLAIN_CHUNK {
                self.seal();
            }
        }
    }

    fn seal(&mut self) {
        let (text, out) = (&self.pending, &mut self.scratch);
        let block = match lz4_flex::block::compress_into_with_table(text, out, &mut self.table) {
            Ok(n) => Bytes::copy_from_slice(&out[..n]),
            // Cannot happen (the scratch fits the worst case); compressing on its own is
            // as good, only with the hole.
            Err(_) => Bytes::from(lz4_flex::block::compress(text)),
        };
        self.done.push(block);
        self.pending.clear();
    }

    /// The blocks and the length of the text they hold.
    fn finish(mut self) -> (Arc<[Bytes]>, u64) {
        if !self.pending.is_empty() {
            self.seal();
        }
        (self.done.into(), self.len)
    }
}

impl http_body::Body for PlainText {
    type Data = Bytes;
    type Error = std::io::Error;

    /// Decompresses the next block. Hyper asks only when its write buffer has room, so a
    /// reader that does not read stops the decompressing.
    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if this.left == 0 {
            return Poll::Ready(None);
        }
        Poll::Ready(Some(this.next_chunk().map(Frame::data)))
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
        let mut plain = Blocks::default();
        let mut gzip = GzEncoder::new(Vec::with_capacity(size + size / 16), GZIP_LEVEL);
        let sources = Sources {
            discovery: &discovery,
            readiness: &readiness,
            inventories: &inventories,
        };
        render_to(&entries, &sources, &metrics, unix_now(), &mut |chunk| {
            // Writing to a Vec cannot fail.
            let _ = gzip.write_all(&chunk);
            plain.push(&chunk);
        });
        let gzip = gzip.finish().unwrap_or_default();
        let (plain, plain_len) = plain.finish();
        Exposition {
            generation,
            rendered_at,
            plain_len,
            gzip: Bytes::from(gzip),
            plain,
            entries,
            discovery,
            inventories,
        }
    };
    match tokio::task::spawn_blocking(work).await {
        Ok(e) => {
            let ms = rendered_at.elapsed().as_secs_f64() * 1000.0;
            let (bytes, gzip) = (e.plain_len, e.gzip.len());
            let lz4: usize = e.plain.iter().map(Bytes::len).sum();
            tracing::debug!(bytes, gzip, lz4, ms, "rendered the metrics");
            e
        }
        Err(err) => {
            tracing::error!(error = %err, "rendering the metrics failed");
            Exposition {
                generation,
                rendered_at,
                plain_len: 0,
                gzip: Bytes::new(),
                plain: Arc::new([]),
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

    fn exposition(text: &[u8]) -> Exposition {
        let mut gz = GzEncoder::new(Vec::new(), GZIP_LEVEL);
        gz.write_all(text).unwrap();
        // Pieces of another size than the blocks', as the renderer's chunks are.
        let mut plain = Blocks::default();
        text.chunks(1000).for_each(|piece| plain.push(piece));
        let (plain, plain_len) = plain.finish();
        Exposition {
            generation: 0,
            rendered_at: Instant::now(),
            plain_len,
            gzip: Bytes::from(gz.finish().unwrap()),
            plain,
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
    async fn plain_text_is_decompressed_a_block_at_a_time() {
        let text: Vec<u8> = (0..40_000)
            .flat_map(|i| format!("cdb_rollback_job_status{{job_id=\"{i}\"}} 1\n").into_bytes())
            .collect();
        let e = exposition(&text);
        assert!(
            e.plain.len() > 2 && e.plain.iter().map(Bytes::len).sum::<usize>() * 3 < text.len()
        );
        let chunks = frames(PlainText::of(&e)).await.unwrap();
        assert!(chunks.iter().all(|c| c.len() <= PLAIN_CHUNK));
        assert_eq!(chunks.concat(), text);
        // Blocks that do not hold the text end the body with an error, not a short text.
        let mut cut = exposition(&text);
        cut.plain = cut.plain[..cut.plain.len() - 1].into();
        assert!(frames(PlainText::of(&cut)).await.is_err());
        let mut corrupt = exposition(&text);
        let mut blocks = corrupt.plain.to_vec();
        let half = blocks[1].len() / 2;
        blocks[1].truncate(half);
        corrupt.plain = blocks.into();
        assert!(frames(PlainText::of(&corrupt)).await.is_err());
        assert!(
            frames(PlainText::of(&exposition(b"")))
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn changes_are_rendered_and_the_plain_text_held_compressed() {
        let store = Arc::new(Store::new());
        let (cache, task) = ExpositionCache::start(Arc::clone(&store), Arc::default()).await;
        let first = cache.latest();
        let plain = frames(PlainText::of(&first)).await.unwrap().concat();
        assert_eq!(plain.len() as u64, first.plain_len);
        assert!(first.plain.iter().map(Bytes::len).sum::<usize>() < plain.len() / 2);
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
