//! How late the test runtime's timers fire: the time a busy machine kept the tests, and
//! the in-process daemon on the same runtime, from running. A bound the exporter
//! promises is extended by that, and by nothing else: a daemon that idles past its
//! schedule leaves the timers on time, and still fails the bound.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// How often the probe asks to wake.
const TICK: Duration = Duration::from_millis(20);
/// Lateness a timer has on an idle machine (its 1 ms resolution, a wake-up), not counted.
const ON_TIME: Duration = Duration::from_millis(2);

/// The lateness summed since [`Lateness::start`], until dropped.
pub struct Lateness {
    micros: Arc<AtomicU64>,
    probe: tokio::task::JoinHandle<()>,
}

impl Lateness {
    pub fn start() -> Lateness {
        let micros = Arc::new(AtomicU64::new(0));
        let sum = Arc::clone(&micros);
        let probe = tokio::spawn(async move {
            loop {
                let asked = Instant::now() + TICK;
                tokio::time::sleep_until(asked).await;
                let late = asked.elapsed().saturating_sub(ON_TIME);
                sum.fetch_add(late.as_micros() as u64, Ordering::Relaxed);
            }
        });
        Lateness { micros, probe }
    }

    pub fn so_far(&self) -> Duration {
        Duration::from_micros(self.micros.load(Ordering::Relaxed))
    }
}

impl Drop for Lateness {
    fn drop(&mut self) {
        self.probe.abort();
    }
}
