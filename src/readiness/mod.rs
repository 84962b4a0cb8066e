//! Rollback readiness (API 3.0 `DescribeRollbackRangeTime`): the times each instance can
//! be rolled back to, read as a window (earliest begin, latest end) with the holes in it.
//!
//! [`Window::of`] is the one place ranges are judged: unsorted and overlapping ranges are
//! merged, and a range that ends before it begins is set aside for the caller to log.

pub mod page;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::inventory::RegionKey;
use crate::render::exposition::push_label;

/// One range the API listed, Unix seconds, both ends included.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Range {
    pub begin: i64,
    pub end: i64,
}

/// The recoverable window of one instance: its ranges merged and sorted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Window {
    /// Disjoint and sorted; between two of them lies a time that cannot be rolled back to.
    pub ranges: Vec<Range>,
}

/// What [`Window::of`] made of an answer's ranges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Judged {
    pub window: Window,
    /// Ranges whose end is before their begin: not counted.
    pub ignored: Vec<Range>,
}

impl Window {
    /// Merges the ranges: sorted by begin, and a range that begins within a second of the
    /// end of the one before (or earlier) continues it, as the API writes whole seconds.
    pub fn of(listed: &[Range]) -> Judged {
        let (mut valid, ignored): (Vec<Range>, Vec<Range>) =
            listed.iter().partition(|r| r.end >= r.begin);
        valid.sort_unstable();
        let mut ranges: Vec<Range> = Vec::with_capacity(valid.len());
        for r in valid {
            match ranges.last_mut() {
                Some(last) if r.begin <= last.end.saturating_add(1) => {
                    last.end = last.end.max(r.end);
                }
                _ => ranges.push(r),
            }
        }
        Judged {
            window: Window { ranges },
            ignored,
        }
    }

    /// The earliest point it can be rolled back to.
    pub fn begin(&self) -> Option<i64> {
        self.ranges.first().map(|r| r.begin)
    }

    /// The latest point it can be rolled back to.
    pub fn end(&self) -> Option<i64> {
        self.ranges.last().map(|r| r.end)
    }

    /// Seconds between begin and end that cannot be rolled back to; `None` when empty.
    pub fn gap(&self) -> Option<i64> {
        let holes = self.ranges.windows(2).map(|w| w[1].begin - w[0].end).sum();
        self.begin().map(|_| holes)
    }
}

/// One instance's latest answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceReadiness {
    pub instance_id: String,
    /// The item's `Code`: 0 fine, else the window is not known.
    pub code: i64,
    /// The API's words, for the landing page only.
    pub message: String,
    /// `None` with a non-zero code, so that no stale window is shown.
    pub window: Option<Window>,
    /// `account` (with `accounts:`), `region` and `instance_id`, rendered once.
    pub labels: String,
}

impl InstanceReadiness {
    pub fn new(key: &RegionKey, instance_id: &str, code: i64, message: String) -> Self {
        let mut labels = key.labels();
        push_label(&mut labels, "instance_id", instance_id);
        Self {
            instance_id: instance_id.to_string(),
            code,
            message,
            window: None,
            labels,
        }
    }
}

/// A region's instances, and how its latest round went.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RegionReadiness {
    pub key: RegionKey,
    /// Whether every request of the latest round worked; `None` before the first.
    pub success: Option<bool>,
    pub last_success: Option<f64>,
    /// By instance id; an instance whose request failed keeps its last answer.
    pub instances: BTreeMap<String, Arc<InstanceReadiness>>,
    /// `account` (with `accounts:`) and `region`, rendered once.
    pub labels: String,
}

impl RegionReadiness {
    pub fn new(key: &RegionKey) -> Self {
        let labels = key.labels();
        Self {
            key: key.clone(),
            labels,
            ..Self::default()
        }
    }
}

#[cfg(test)]
mod tests;
