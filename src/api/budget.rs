//! One requests-per-second budget shared by every request the process makes.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Which requests go first when the budget is short.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Priority {
    /// Polls of jobs not finished yet, and discovery.
    Normal,
    /// Polls of finished jobs: only when no backlog of normal requests is waiting.
    Background,
}

/// Spaces requests evenly: the n-th request may start no earlier than n/rate seconds
/// after the first. Slots are reserved ahead; a stalled process (a CPU quota, a loaded
/// node) would wake several late together, so each start is also held one spacing after
/// the one before it, as it really happened.
///
/// The rate adapts to the API: throttling halves it (once a second at most: the answers
/// of one burst are one signal, not many), and each quiet second after that wins back a
/// tenth of the configured rate, up to the configured rate.
#[derive(Debug)]
pub struct RequestBudget {
    configured: f64,
    state: Mutex<BudgetState>,
}

#[derive(Debug)]
struct BudgetState {
    next: Option<Instant>,
    rate: f64,
    spacing: Duration,
    /// When the rate last changed, so that recovery is paced by time, not by requests.
    changed: Instant,
    halved: Option<Instant>,
    /// When the latest request started (or will, once its wait is over).
    last_start: Option<Instant>,
}

/// The slowest the budget backs off to, as a fraction of the configured rate.
const FLOOR: f64 = 1.0 / 32.0;
/// The share of the configured rate won back per quiet second.
const RECOVERY: f64 = 1.0 / 10.0;
/// Throttled answers within this long of a halving are part of the same signal.
const HALVING_WINDOW: Duration = Duration::from_secs(1);

fn clamp_rate(rate: f64) -> f64 {
    if rate.is_finite() {
        rate.clamp(0.01, 10_000.0)
    } else {
        1.0
    }
}

impl RequestBudget {
    /// `rate` is bounded by configuration validation; out-of-range values are clamped.
    pub fn per_second(rate: f64) -> Self {
        let rate = clamp_rate(rate);
        Self {
            configured: rate,
            state: Mutex::new(BudgetState {
                next: None,
                rate,
                spacing: Duration::from_secs_f64(1.0 / rate),
                changed: Instant::now(),
                halved: None,
                last_start: None,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BudgetState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The rate requests are spaced at now.
    pub fn rate(&self) -> f64 {
        self.lock().rate
    }

    /// The API throttled a request: halve the rate, unless it was halved within the last
    /// second. Returns the rate now.
    pub fn throttled(&self) -> f64 {
        let mut s = self.lock();
        if s.halved.is_some_and(|at| at.elapsed() < HALVING_WINDOW) {
            return s.rate;
        }
        let rate = clamp_rate((s.rate / 2.0).max(self.configured * FLOOR));
        s.set(rate);
        s.halved = Some(Instant::now());
        rate
    }

    /// A request went through: after a quiet second, win back part of the rate.
    /// Returns the new rate when it changed.
    pub fn succeeded(&self) -> Option<f64> {
        let mut s = self.lock();
        if s.rate >= self.configured || s.changed.elapsed() < Duration::from_secs(1) {
            return None;
        }
        let rate = (s.rate + self.configured * RECOVERY).min(self.configured);
        s.set(rate);
        Some(rate)
    }

    /// Waits for this request's slot.
    pub async fn acquire(&self, priority: Priority) {
        let at = loop {
            let (at, reserved) = {
                let mut s = self.lock();
                let now = Instant::now();
                let free_at = s.next.map_or(now, |n| n.max(now));
                if priority == Priority::Background && free_at > now + s.spacing {
                    // A backlog is waiting: look again once it has drained.
                    (free_at, false)
                } else {
                    s.next = Some(free_at + s.spacing);
                    (free_at, true)
                }
            };
            tokio::time::sleep_until(at).await;
            if reserved {
                break at;
            }
        };
        let start = self.lock().start(at, Instant::now());
        tokio::time::sleep_until(start).await;
    }
}

impl BudgetState {
    /// When a request reserved for `slot`, awake at `now`, starts: one spacing after the
    /// previous start at the earliest. A wake-up a little late is not carried into later
    /// slots (the rate would drift down); a stall's backlog is, so that Background requests
    /// see it.
    fn start(&mut self, slot: Instant, now: Instant) -> Instant {
        let at = self.last_start.map_or(now, |l| (l + self.spacing).max(now));
        self.last_start = Some(at);
        if at > slot + self.spacing {
            let after = at + self.spacing;
            self.next = Some(self.next.map_or(after, |n| n.max(after)));
        }
        at
    }

    fn set(&mut self, rate: f64) {
        self.rate = rate;
        self.spacing = Duration::from_secs_f64(1.0 / rate);
        self.changed = Instant::now();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn late_wakers_do_not_start_together() {
        let budget = Arc::new(RequestBudget::per_second(4.0));
        let tasks: Vec<_> = (0..12)
            .map(|_| {
                let b = Arc::clone(&budget);
                tokio::spawn(async move {
                    b.acquire(Priority::Normal).await;
                    Instant::now()
                })
            })
            .collect();
        tokio::task::yield_now().await;
        // The process stalls for 2 s: eight reserved slots pass while nobody runs.
        tokio::time::advance(Duration::from_secs(2)).await;
        let mut starts = Vec::new();
        for t in tasks {
            starts.push(t.await.unwrap());
        }
        let busiest = starts
            .iter()
            .map(|a| {
                starts
                    .iter()
                    .filter(|b| **b >= *a && **b - *a < Duration::from_secs(1))
                    .count()
            })
            .max();
        assert_eq!(busiest, Some(4), "{starts:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_fractional_rate_is_kept() {
        let budget = RequestBudget::per_second(2.5);
        let start = Instant::now();
        for _ in 0..11 {
            budget.acquire(Priority::Normal).await;
        }
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(4),
            "10 spacings of 0.4 s"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn requests_are_spaced() {
        let budget = RequestBudget::per_second(10.0);
        let start = Instant::now();
        for _ in 0..21 {
            budget.acquire(Priority::Normal).await;
        }
        // 21 requests at 10/s: the last starts 2 s after the first.
        assert_eq!(start.elapsed(), Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn throttling_halves_the_rate_and_quiet_seconds_win_it_back() {
        let budget = RequestBudget::per_second(10.0);
        assert_eq!(budget.throttled(), 5.0);
        assert_eq!(
            budget.throttled(),
            5.0,
            "one burst of throttled answers halves once"
        );
        assert_eq!(
            budget.succeeded(),
            None,
            "no recovery within the same second"
        );
        let start = Instant::now();
        for _ in 0..6 {
            budget.acquire(Priority::Normal).await;
        }
        assert_eq!(start.elapsed(), Duration::from_secs(1), "spaced at 5/s");
        assert_eq!(budget.succeeded(), Some(6.0));
        assert_eq!(budget.throttled(), 3.0);
        for _ in 0..20 {
            tokio::time::advance(Duration::from_secs(1)).await;
            assert_eq!(budget.throttled().max(10.0 * FLOOR), budget.rate());
        }
        assert_eq!(budget.rate(), 10.0 * FLOOR, "never below the floor");
        let mut rate = budget.rate();
        for _ in 0..40 {
            tokio::time::advance(Duration::from_secs(1)).await;
            if let Some(r) = budget.succeeded() {
                assert!(r > rate && r <= 10.0);
                rate = r;
            }
        }
        assert_eq!(budget.rate(), 10.0, "recovers fully, and no further");
    }

    #[tokio::test(start_paused = true)]
    async fn background_requests_wait_for_a_quiet_budget() {
        let budget = Arc::new(RequestBudget::per_second(10.0));
        let start = Instant::now();
        let normal = |b: Arc<RequestBudget>| async move { b.acquire(Priority::Normal).await };
        // A backlog of five normal requests, then a background one, then five more normal.
        let mut first: Vec<_> = (0..5)
            .map(|_| tokio::spawn(normal(Arc::clone(&budget))))
            .collect();
        tokio::task::yield_now().await;
        let b = Arc::clone(&budget);
        let background = tokio::spawn(async move {
            b.acquire(Priority::Background).await;
            Instant::now()
        });
        tokio::task::yield_now().await;
        first.extend((0..5).map(|_| tokio::spawn(normal(Arc::clone(&budget)))));
        for h in first {
            h.await.unwrap();
        }
        let normal_done = start.elapsed();
        let background_at = background.await.unwrap() - start;
        assert_eq!(normal_done, Duration::from_millis(900));
        assert!(
            background_at >= Duration::from_millis(900),
            "{background_at:?}"
        );
    }
}
