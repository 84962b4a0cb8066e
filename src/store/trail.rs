//! What the exporter has seen of one job over time: when its progress last moved, where
//! its rate is measured from, a bounded trail of its progress for the job page, and
//! whether its finish has been counted. docs/history.md explains the method.

use std::sync::Arc;

use crate::rollback::State;

/// Where the store reports the ends of jobs: the exporter's counters and histogram
/// ([`crate::metrics::Metrics`]).
pub trait Outcomes: Send + Sync {
    /// A tracked job seen going from an unfinished state to `state`, a finished one;
    /// `seconds` is its duration by the API's times, when it gave both.
    /// `account` is empty without `accounts:`.
    fn finished(&self, account: &str, region: &str, state: State, seconds: Option<f64>);
    /// A tracked unfinished job that the API no longer lists.
    fn vanished(&self, account: &str, region: &str);
}

/// Points kept per job for the job page; past this, every other point is dropped.
pub const MAX_POINTS: usize = 64;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Trail {
    /// The latest observation: Unix time, and the progress it gave.
    pub last: Option<(f64, Option<f64>)>,
    /// When the progress last changed, or the first sight of the job.
    pub changed_at: f64,
    /// The last sight of the first progress value seen, before it moved: the rate is
    /// measured from here, so that time spent preparing does not count.
    pub anchor: Option<(f64, f64)>,
    /// The progress has changed at least once since the first sight.
    pub moving: bool,
    /// (Unix time, progress) at the first sight and at each change, oldest first.
    pub points: Arc<Vec<(f64, f64)>>,
    /// Seen finished: a later finish is not counted (again).
    pub settled: bool,
}

impl Trail {
    /// Records an observation at `now`; true when it is the job's first seen move from an
    /// unfinished state to a finished one, the one to count.
    pub fn observe(&mut self, now: f64, progress: Option<f64>, state: State) -> bool {
        let first = self.last.is_none();
        let before = self.last.and_then(|(_, p)| p);
        if first || progress != before {
            self.changed_at = now;
        }
        if let Some(p) = progress {
            if before.is_some_and(|b| b != p) {
                self.moving = true;
            }
            if !self.moving {
                self.anchor = Some((now, p));
            }
            if first || before != Some(p) {
                self.push(now, p);
            }
        }
        self.last = Some((now, progress));
        let finished = state.is_terminal();
        let count = finished && !first && !self.settled;
        self.settled |= finished;
        count
    }

    fn push(&mut self, now: f64, p: f64) {
        let points = Arc::make_mut(&mut self.points);
        if points.len() >= MAX_POINTS {
            // Halve the resolution, keeping the first point.
            let mut i = 0;
            points.retain(|_| {
                i += 1;
                i % 2 == 1
            });
        }
        points.push((now, p));
    }

    /// The expected end of a running job: its latest progress extended at the rate seen
    /// from the anchor to the latest observation. `None` before the progress has moved,
    /// at 0 % or 100 %, for a rate that is not positive, and for jobs not running.
    pub fn estimated_end(&self, state: State) -> Option<f64> {
        if state != State::Running || !self.moving {
            return None;
        }
        let (t0, p0) = self.anchor?;
        let (t, p) = self.last?;
        let p = p.filter(|p| *p > 0.0 && *p < 1.0)?;
        let rate = (p - p0) / (t - t0);
        (rate.is_finite() && rate > 0.0).then(|| t + (1.0 - p) / rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A job polled every 30 s from `from` to `to`, its progress `f` of the time.
    fn drive(trail: &mut Trail, from: i64, to: i64, f: impl Fn(f64) -> f64) {
        for t in (from..=to).step_by(30) {
            // The API writes whole percents.
            let p = (f(t as f64) * 100.0).floor() / 100.0;
            trail.observe(t as f64, Some(p.clamp(0.0, 1.0)), State::Running);
        }
    }

    #[test]
    fn a_steady_job_halfway_is_within_five_percent() {
        // 10 min preparing at 0 %, then 0→100 % in 2 h: ends at 7800 s.
        let mut trail = Trail::default();
        let f = |t: f64| ((t - 600.0) / 7200.0).max(0.0);
        drive(&mut trail, 0, 4200, f);
        let eta = trail.estimated_end(State::Running).unwrap();
        let (truth, now) = (7800.0, 4200.0);
        let error = (eta - truth).abs() / (truth - now);
        assert!(error < 0.05, "eta {eta}, truth {truth}, error {error}");
        assert_eq!(trail.anchor.map(|a| a.1), Some(0.0));
        assert!(
            trail.anchor.unwrap().0 >= 570.0,
            "preparing time does not count"
        );
    }

    #[test]
    fn a_stalled_job_pushes_its_end_back() {
        let mut trail = Trail::default();
        drive(&mut trail, 0, 1800, |t| t / 3600.0);
        let before = trail.estimated_end(State::Running).unwrap();
        let changed = trail.changed_at;
        drive(&mut trail, 1830, 3600, |_| 0.5);
        let after = trail.estimated_end(State::Running).unwrap();
        assert!(after > before + 1500.0, "{before} -> {after}");
        assert_eq!(trail.changed_at, changed, "no change while stalled");
        assert_eq!(changed, 1800.0);
    }

    #[test]
    fn an_accelerating_job_is_estimated_late_then_catches_up() {
        // Quadratic progress: ends at 3600 s; the mean rate lags behind.
        let mut trail = Trail::default();
        let f = |t: f64| (t / 3600.0).powi(2);
        let mut last = f64::INFINITY;
        for until in [1200, 1800, 2400, 3000] {
            drive(&mut trail, until - 570, until, f);
            let eta = trail.estimated_end(State::Running).unwrap();
            assert!(
                eta >= 3600.0 && eta < last,
                "at {until}: {eta} after {last}"
            );
            last = eta;
        }
    }

    #[test]
    fn no_estimate_without_two_values_at_the_ends_or_once_finished() {
        let mut trail = Trail::default();
        assert_eq!(trail.estimated_end(State::Running), None);
        trail.observe(0.0, Some(0.3), State::Running);
        trail.observe(30.0, Some(0.3), State::Running);
        assert_eq!(trail.estimated_end(State::Running), None, "one value");
        trail.observe(60.0, Some(0.4), State::Running);
        assert!(trail.estimated_end(State::Running).is_some());
        assert_eq!(trail.estimated_end(State::Paused), None);
        trail.observe(90.0, Some(1.0), State::Running);
        assert_eq!(trail.estimated_end(State::Running), None, "at 100 %");
        let mut zero = Trail::default();
        zero.observe(0.0, Some(0.0), State::Running);
        zero.observe(30.0, Some(0.0), State::Running);
        assert_eq!(zero.estimated_end(State::Running), None, "at 0 %");
    }

    #[test]
    fn a_finish_counts_once_and_never_for_a_job_first_seen_finished() {
        let mut trail = Trail::default();
        assert!(!trail.observe(0.0, Some(0.1), State::Running));
        assert!(trail.observe(30.0, Some(1.0), State::Success));
        assert!(!trail.observe(60.0, Some(1.0), State::Success));
        // A stale listing says running again, then finished: still once.
        assert!(!trail.observe(90.0, Some(0.9), State::Running));
        assert!(!trail.observe(120.0, Some(1.0), State::Success));
        let mut restarted = Trail::default();
        assert!(!restarted.observe(0.0, Some(1.0), State::Failed));
        assert!(!restarted.observe(30.0, Some(0.5), State::Running));
        assert!(!restarted.observe(60.0, Some(1.0), State::Failed));
    }

    #[test]
    fn the_trail_stays_bounded() {
        let mut trail = Trail::default();
        for i in 0..10_000 {
            trail.observe(f64::from(i), Some(f64::from(i) / 10_000.0), State::Running);
        }
        assert!(trail.points.len() <= MAX_POINTS);
        assert_eq!(
            trail.points.first(),
            Some(&(0.0, 0.0)),
            "the first point stays"
        );
        assert_eq!(trail.points.last(), Some(&(9999.0, 0.9999)));
    }
}
