//! A request's turn to leave: a slot of the requests-per-second budget, then one of the
//! in-flight cap.

use tokio::sync::{Semaphore, SemaphorePermit};

use super::budget::{Priority, RequestBudget};

/// Waits for a budget slot, then for an in-flight slot. When none is free, the request
/// waits for one to free, lets go of it, and starts over with a fresh budget slot: its
/// first one has passed, and requests released together by a freed slot must not leave
/// together. Holding the freed slot while waiting for the budget instead stopped every
/// other request meanwhile and queued them for it first come first served, whatever
/// their priority: under a backlog that queue never drained, and requests left at half
/// the budget's pace with listings waiting behind task details (the v3 soak).
pub async fn take<'a>(
    budget: &RequestBudget,
    in_flight: &'a Semaphore,
    priority: Priority,
) -> SemaphorePermit<'a> {
    loop {
        budget.acquire(priority).await;
        if let Ok(p) = in_flight.try_acquire() {
            return p;
        }
        let freed = in_flight
            .acquire()
            .await
            .unwrap_or_else(|_| unreachable!("the semaphore is never closed"));
        drop(freed);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use tokio::time::Instant;

    use super::*;

    struct Gate {
        budget: RequestBudget,
        in_flight: Semaphore,
        sent: AtomicUsize,
    }

    impl Gate {
        /// One request: its turn, then `busy` in flight; how long the turn took.
        async fn request(&self, priority: Priority, busy: Duration) -> Duration {
            let asked = Instant::now();
            let _permit = take(&self.budget, &self.in_flight, priority).await;
            let waited = asked.elapsed();
            self.sent.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(busy).await;
            waited
        }
    }

    /// One request slot, a backlog of background requests (task details asked for faster
    /// than the budget allows), and one request that hangs for a second: once it ends,
    /// requests leave at the budget's pace again, and normal ones go first.
    #[tokio::test(start_paused = true)]
    async fn a_hung_request_leaves_no_queue_behind_it() {
        let gate = Arc::new(Gate {
            budget: RequestBudget::per_second(10.0),
            in_flight: Semaphore::new(1),
            sent: AtomicUsize::new(0),
        });
        let t0 = Instant::now();
        let end = t0 + Duration::from_secs(8);
        for _ in 0..4 {
            let g = Arc::clone(&gate);
            tokio::spawn(async move {
                while Instant::now() < end {
                    g.request(Priority::Background, Duration::from_millis(2))
                        .await;
                }
            });
        }
        let g = Arc::clone(&gate);
        tokio::spawn(async move { g.request(Priority::Normal, Duration::from_secs(1)).await });
        tokio::time::sleep_until(t0 + Duration::from_secs(3)).await;
        let before = gate.sent.load(Ordering::SeqCst);
        let mut waits = Vec::new();
        for _ in 0..10 {
            waits.push(
                gate.request(Priority::Normal, Duration::from_millis(2))
                    .await,
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let sent = gate.sent.load(Ordering::SeqCst) - before;
        let took = (Instant::now() - t0 - Duration::from_secs(3)).as_secs_f64();
        // Background requests only reserve a slot or two ahead: a normal one waits for
        // those and the one in flight at most.
        let worst = waits.iter().max().copied().unwrap_or_default();
        assert!(worst <= Duration::from_millis(400), "{waits:?}");
        assert!(
            sent as f64 >= 0.9 * 10.0 * took,
            "{sent} requests in {took:.1} s at 10/s"
        );
    }
}
