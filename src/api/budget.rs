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
/// after the first, so no one-second window ever holds more than `rate` (+1) of them.
#[derive(Debug)]
pub struct RequestBudget {
    spacing: Duration,
    next: Mutex<Option<Instant>>,
}

impl RequestBudget {
    /// `rate` is bounded by configuration validation; out-of-range values are clamped.
    pub fn per_second(rate: f64) -> Self {
        let rate = if rate.is_finite() {
            rate.clamp(0.01, 10_000.0)
        } else {
            1.0
        };
        Self {
            spacing: Duration::from_secs_f64(1.0 / rate),
            next: Mutex::new(None),
        }
    }

    /// Waits for this request's slot.
    pub async fn acquire(&self, priority: Priority) {
        loop {
            let (at, reserved) = {
                let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
                let now = Instant::now();
                let free_at = next.map_or(now, |n| n.max(now));
                if priority == Priority::Background && free_at > now + self.spacing {
                    // A backlog is waiting: look again once it has drained.
                    (free_at, false)
                } else {
                    *next = Some(free_at + self.spacing);
                    (free_at, true)
                }
            };
            tokio::time::sleep_until(at).await;
            if reserved {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

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
