//! When a region's round of listings also lists the recent jobs (finished ones included).

use std::time::{Duration, Instant};

use crate::time::jitter;

/// Rounds of listings start a poll interval apart, give or take this share.
pub const ROUND_JITTER: f64 = 0.1;

/// Whether a round starting at `now` lists recent jobs too: `recent` after the start of
/// the last round that did, less the rounds' jitter. Counted from the round's end, or
/// without the margin, a recent interval equal to the poll interval came due only every
/// other round (finished jobs went twice as long without a fresh answer).
pub fn recent_due(last: Option<Instant>, now: Instant, recent: Duration, poll: Duration) -> bool {
    last.is_none_or(|t| now.duration_since(t) + poll.mul_f64(ROUND_JITTER) >= recent)
}

/// When the round that started at `started` is followed by the next: a poll interval
/// later, give or take the jitter, however long the round took (one that ran over is
/// followed at once). Counted from the round's end, a round that retried a failed page
/// pushed the next back by as long: the jobs of its first pages went a poll interval
/// plus the retries' back-off without a fresh answer (the soak, after the faults stop).
pub fn next_round(started: Instant, poll: Duration) -> Instant {
    started + jitter(poll, ROUND_JITTER)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_listings_come_due_despite_the_rounds_jitter() {
        let (t0, s) = (Instant::now(), Duration::from_secs);
        assert!(recent_due(None, t0, s(60), s(15)));
        // Recent as often as the poll: every round, even one starting 10 % early.
        assert!(recent_due(
            Some(t0),
            t0 + Duration::from_millis(2700),
            s(3),
            s(3)
        ));
        // Every fourth round of 15 s for 60 s, not a fifth when the rounds ran early.
        assert!(!recent_due(Some(t0), t0 + s(45), s(60), s(15)));
        assert!(!recent_due(Some(t0), t0 + s(58), s(60), s(15)));
        assert!(recent_due(
            Some(t0),
            t0 + Duration::from_millis(58_500),
            s(60),
            s(15)
        ));
    }

    #[test]
    fn rounds_follow_each_other_from_their_starts() {
        let (t0, poll) = (Instant::now(), Duration::from_secs(3));
        for _ in 0..100 {
            let next = next_round(t0, poll);
            assert!(next >= t0 + Duration::from_millis(2700), "{:?}", next - t0);
            assert!(next <= t0 + Duration::from_millis(3300), "{:?}", next - t0);
        }
    }
}
