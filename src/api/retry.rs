//! Trying again: exponential back-off for the errors whose policy ([`Retry`]) allows it.

use std::future::Future;
use std::time::Duration;

use super::error::{ApiError, Retry};

/// Runs `call` again after retryable failures, with exponential back-off: each wait is
/// drawn between half the ceiling and the ceiling ("equal jitter"), so that retries
/// started together spread out yet none comes back at once.
pub async fn with_backoff<T, F, Fut>(
    retries: u32,
    cap: Duration,
    mut call: F,
) -> Result<T, ApiError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    let mut attempt = 0u32;
    loop {
        match call().await {
            Err(e) if e.retry() == Retry::Backoff && attempt < retries => {
                let ceiling = Duration::from_secs(1u64 << attempt.min(6)).min(cap);
                let wait = ceiling.mul_f64(0.5 + fastrand::f64() / 2.0);
                tracing::debug!(error = %e, attempt, wait_ms = wait.as_millis() as u64, "retrying after back-off");
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}
