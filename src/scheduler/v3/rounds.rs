//! When a region's round of listings also lists the recent jobs (finished ones included).

use std::time::{Duration, Instant};

/// Rounds of listings start a poll interval apart, give or take this share.
pub const ROUND_JITTER: f64 = 0.1;

/// Whether a round starting at `now` lists recent jobs too: `recent` after the start of
/// the last round that did, less the rounds' jitter. Counted from the round's end, or
/// without the margin, a recent interval equal to the poll interval came due only every
/// other round (finished jobs went twice as long without a fresh answer).
pub fn recent_due(last: Option<Instant>, now: Instant, recent: Duration, poll: Duration) -> bool {
    last.is_none_or(|t| now.duration_since(t) + poll.mul_f64(ROUND_JITTER) >= recent)
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
}
