//! One requests-per-second budget shared by every request the process makes.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Spaces requests evenly: the n-th request may start no earlier than n/rate seconds
/// after the first, so no one-second window ever holds more than `rate` (+1) of them.
#[derive(Debug)]
pub struct RequestBudget {
    spacing: Duration,
    next: Mutex<Option<Instant>>,
}

impl RequestBudget {
    /// `rate` must be positive; configuration validation guarantees it.
    pub fn per_second(rate: f64) -> Self {
        let rate = if rate.is_finite() && rate > 0.0 {
            rate
        } else {
            1.0
        };
        Self {
            spacing: Duration::from_secs_f64(1.0 / rate),
            next: Mutex::new(None),
        }
    }

    /// Waits for this request's slot.
    pub async fn acquire(&self) {
        let slot = {
            let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let slot = next.map_or(now, |n| n.max(now));
            *next = Some(slot + self.spacing);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn requests_are_spaced() {
        let budget = RequestBudget::per_second(10.0);
        let start = Instant::now();
        for _ in 0..21 {
            budget.acquire().await;
        }
        // 21 requests at 10/s: the last starts 2 s after the first.
        assert_eq!(start.elapsed(), Duration::from_secs(2));
    }
}
