//! Keeps the current credentials fresh: temporary ones are fetched again well before they
//! expire (a failure keeps the old ones and retries with back-off), and key files are
//! re-read when their content changes.

use std::sync::Arc;
use std::time::Duration;

use super::CredentialsHandle;
use super::{Base, Provider};
use crate::time::{jitter, unix_now};

/// How often key files are compared with the credentials in use. Their content is
/// compared, not only their mtime: a Kubernetes Secret update swaps a symlink.
pub const FILE_POLL: Duration = Duration::from_secs(2);
/// The API refuses a request whose timestamp is this far off: credentials are renewed at
/// least this long before they expire, when their lifetime allows.
const CLOCK_WINDOW: i64 = 300;
const FIRST_RETRY: Duration = Duration::from_secs(1);
const MAX_RETRY: Duration = Duration::from_secs(60);

/// Where the refresher reports; the exporter's metrics implement it.
pub trait Recorder: Send + Sync {
    fn refreshed(&self, source: &'static str, ok: bool);
    /// When the temporary credentials in use expire, Unix seconds.
    fn expires(&self, source: &'static str, at: i64);
}

pub struct NoRecorder;

impl Recorder for NoRecorder {
    fn refreshed(&self, _: &'static str, _: bool) {}
    fn expires(&self, _: &'static str, _: i64) {}
}

/// The wait until the next refresh of credentials that expire at `expires`: at two thirds
/// of their remaining lifetime or 5 minutes before they expire, whichever is earlier, and
/// at least a second. `now` keeps its fraction: counted from the whole second, credentials
/// fetched late in a second were refreshed up to a second late, all the margin of
/// seconds-long ones.
pub fn refresh_in(now: f64, expires: i64) -> Duration {
    let left = expires as f64 - now;
    let two_thirds = left * 2.0 / 3.0;
    let before_window = left - CLOCK_WINDOW as f64;
    let at = if before_window > 0.0 {
        two_thirds.min(before_window)
    } else {
        two_thirds
    };
    Duration::try_from_secs_f64(at.max(1.0)).unwrap_or(Duration::from_secs(1))
}

/// The wait after `failures` failed refreshes in a row: doubling from 1 s to 60 s, with
/// jitter, and no later than half the time the current credentials have left.
pub fn retry_in(failures: u32, left: i64) -> Duration {
    let doubled = FIRST_RETRY.saturating_mul(1 << failures.saturating_sub(1).min(6));
    let mut wait = jitter(doubled.min(MAX_RETRY), 0.25);
    if left > 2 {
        wait = wait.min(Duration::from_secs((left / 2) as u64));
    }
    wait.max(Duration::from_millis(200))
}

/// Starts the refresher the provider needs, if any: temporary credentials, key files.
pub fn spawn(
    provider: Provider,
    handle: CredentialsHandle,
    expires: Option<i64>,
    recorder: Arc<dyn Recorder>,
) -> Option<tokio::task::JoinHandle<()>> {
    let label = provider.label();
    match (expires, &provider.base) {
        (Some(at), _) => {
            recorder.expires(label, at);
            Some(tokio::spawn(temporary(provider, handle, at, recorder)))
        }
        (None, Base::Static(s)) if s.has_files() => {
            Some(tokio::spawn(files(provider, handle, recorder)))
        }
        (None, _) => None,
    }
}

async fn temporary(
    p: Provider,
    handle: CredentialsHandle,
    mut expires: i64,
    rec: Arc<dyn Recorder>,
) {
    let label = p.label();
    let mut failures = 0u32;
    loop {
        let now = unix_now();
        let wait = match failures {
            0 => refresh_in(now, expires),
            n => retry_in(n, expires - now as i64),
        };
        tokio::time::sleep(wait).await;
        match p.fetch().await {
            Ok(f) => {
                failures = 0;
                if let Some(at) = f.expires {
                    expires = at;
                    rec.expires(label, at);
                }
                tracing::info!(source = label, secret_id = %f.creds.secret_id, expires_at = expires, "credentials refreshed");
                handle.replace(f.creds);
                rec.refreshed(label, true);
            }
            Err(e) => {
                failures += 1;
                rec.refreshed(label, false);
                let left = expires - unix_now() as i64;
                if left > 0 {
                    tracing::warn!(source = label, error = %e, seconds_left = left, "cannot refresh the credentials; keeping the current ones and retrying");
                } else {
                    tracing::error!(source = label, error = %e, "cannot refresh the credentials, and they have expired: API requests will fail until a refresh succeeds");
                }
            }
        }
    }
}

async fn files(p: Provider, handle: CredentialsHandle, rec: Arc<dyn Recorder>) {
    let label = p.label();
    let mut last_error: Option<String> = None;
    loop {
        tokio::time::sleep(FILE_POLL).await;
        match p.fetch().await {
            Ok(f) => {
                last_error = None;
                if f.creds != *handle.current() {
                    tracing::info!(source = label, secret_id = %f.creds.secret_id, "credentials changed on disk; using the new ones");
                    handle.replace(f.creds);
                    rec.refreshed(label, true);
                }
            }
            // Said once per distinct problem: the files are read every 2 s.
            Err(e) => {
                let text = e.to_string();
                if last_error.as_deref() != Some(text.as_str()) {
                    tracing::warn!(source = label, error = %text, "cannot re-read the credentials; keeping the current ones");
                    rec.refreshed(label, false);
                    last_error = Some(text);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refreshes_well_before_expiry() {
        let secs = |d: Duration| d.as_secs();
        // An hour: two thirds (40 min) is earlier than 5 minutes before.
        assert_eq!(secs(refresh_in(0.0, 3600)), 2400);
        // Two hours of STS credentials: two thirds (80 min) is earlier than 115 min.
        assert_eq!(secs(refresh_in(0.0, 7200)), 4800);
        // Twelve hours: never later than 5 minutes before.
        assert!(secs(refresh_in(0.0, 43_200)) <= 43_200 - 300);
        // Seconds-long credentials (tests): two thirds, at least a second.
        assert_eq!(secs(refresh_in(100.0, 106)), 4);
        assert_eq!(secs(refresh_in(100.0, 90)), 1);
    }

    #[test]
    fn the_fraction_of_the_second_counts() {
        // 2.1 s left, not 3: refreshed after 1.4 s, 0.7 s before they expire (counted
        // from the whole second: after 2 s, 0.1 s before).
        let wait = refresh_in(100.9, 103).as_secs_f64();
        assert!((wait - 1.4).abs() < 1e-9, "{wait}");
    }

    #[test]
    fn retries_back_off_with_jitter_and_before_expiry() {
        for (n, base) in [(1, 1.0), (2, 2.0), (3, 4.0), (10, 60.0)] {
            let w = retry_in(n, 10_000).as_secs_f64();
            assert!((base * 0.75..=base * 1.25).contains(&w), "{n}: {w}");
        }
        assert!(retry_in(10, 20) <= Duration::from_secs(10));
        assert!(retry_in(10, -5) >= Duration::from_millis(200));
    }
}
