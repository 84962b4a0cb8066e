//! The simulated world: instances and rollback jobs whose state is a pure function of time.
//!
//! Relative to the moment the simulator starts (t0): one rollback is running and will
//! succeed, one (a batch over two instances) fails on one of them a few seconds in, one
//! stalls at 42 %, 110 older ones have succeeded, and a new rollback starts every minute.

pub const DEMO_SECRET_ID: &str = "AKIDdemo0simulator0not0a0real0key00";
/// Public on purpose: the simulator is a demo, and its README documents this key.
pub const DEMO_SECRET_KEY: &str = "demo-secret-key-of-the-simulator";
/// How far a request's Timestamp may be from the simulator's clock.
pub const MAX_SKEW: i64 = 300;
/// The region the story happens in; others are empty.
pub const REGION: &str = "ap-guangzhou";

/// What a simulated API 3.0 action gives back: the fields of its `Response`, or an error
/// code and message.
pub type Answer = Result<serde_json::Value, (&'static str, String)>;

pub struct DemoInstance {
    pub id: &'static str,
    pub name: &'static str,
}

pub const INSTANCES: [DemoInstance; 3] = [
    DemoInstance {
        id: "cdb-demo0001",
        name: "orders-db",
    },
    DemoInstance {
        id: "cdb-demo0002",
        name: "payments-db",
    },
    DemoInstance {
        id: "cdb-demo0003",
        name: "analytics-db",
    },
];

/// The job of the API reference's example, served verbatim.
pub const SEED_JOB_ID: u64 = 12782;
/// A new rollback starts this often, with ids from `NEW_JOB_BASE + 1`.
pub const NEW_JOB_EVERY: i64 = 60;
const NEW_JOB_BASE: u64 = 30100;
/// Finished rollbacks before t0, with ids from 20001.
pub const HISTORY: u64 = 110;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Outcome {
    Success,
    /// Fails this many seconds after it started.
    FailAfter(i64),
    /// Never gets past this percentage.
    StallAt(f64),
}

#[derive(Clone, Debug)]
pub struct SimTask {
    pub task_id: u64,
    pub instance: usize,
    pub start: i64,
    pub duration: i64,
    pub outcome: Outcome,
}

#[derive(Clone, Debug)]
pub struct SimJob {
    pub id: u64,
    pub tasks: Vec<SimTask>,
}

/// What a task or job looks like at a given moment.
#[derive(Clone, Debug, PartialEq)]
pub struct View {
    pub status: i64,
    pub progress: i64,
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub code: i64,
    pub message: &'static str,
}

impl SimTask {
    /// The point in time the task rolls its instance back to.
    pub fn target(&self) -> i64 {
        self.start - 3600
    }

    pub fn view(&self, now: i64) -> View {
        let elapsed = now - self.start;
        let pct =
            |secs: i64| (secs.clamp(0, self.duration) * 100 / self.duration.max(1)).clamp(0, 100);
        if elapsed < 0 {
            return View {
                status: 0,
                progress: 0,
                start: None,
                end: None,
                code: 0,
                message: "",
            };
        }
        let running = View {
            status: 1,
            progress: pct(elapsed),
            start: Some(self.start),
            end: None,
            code: 0,
            message: "回档中",
        };
        match self.outcome {
            Outcome::Success if elapsed >= self.duration => View {
                status: 2,
                progress: 100,
                end: Some(self.start + self.duration),
                message: "回档成功",
                ..running
            },
            Outcome::FailAfter(f) if elapsed >= f => View {
                status: 3,
                progress: pct(f),
                end: Some(self.start + f),
                code: 9006,
                // Markup in an API message, which the pages must show as text.
                message: "回档失败: binlog 不连续 <mysql-bin.000042> & <mysql-bin.000044>",
                ..running
            },
            Outcome::StallAt(p) => View {
                progress: running.progress.min(p as i64),
                ..running
            },
            _ => running,
        }
    }
}

impl SimJob {
    pub fn view(&self, now: i64) -> View {
        let tasks: Vec<View> = self.tasks.iter().map(|t| t.view(now)).collect();
        let start = tasks.iter().filter_map(|t| t.start).min();
        let all_ended = tasks.iter().all(|t| t.end.is_some());
        let failed = tasks.iter().find(|t| t.status == 3);
        let progress = tasks.iter().map(|t| t.progress).sum::<i64>() / tasks.len().max(1) as i64;
        let (status, code, message) = match (start, all_ended, failed) {
            (None, _, _) => (0, 0, ""),
            (_, true, Some(f)) => (3, f.code, "部分实例回档失败"),
            (_, true, None) => (2, 0, "所有实例回档成功"),
            _ => (1, 0, ""),
        };
        View {
            status,
            progress: if status == 2 { 100 } else { progress },
            start,
            end: if all_ended {
                tasks.iter().filter_map(|t| t.end).max()
            } else {
                None
            },
            code,
            message,
        }
    }

    pub fn instances(&self) -> impl Iterator<Item = usize> + '_ {
        self.tasks.iter().map(|t| t.instance)
    }
}

fn job(id: u64, tasks: &[(usize, i64, i64, Outcome)]) -> SimJob {
    SimJob {
        id,
        tasks: tasks
            .iter()
            .enumerate()
            .map(|(i, &(instance, start, duration, outcome))| SimTask {
                task_id: id * 10 + i as u64,
                instance,
                start,
                duration,
                outcome,
            })
            .collect(),
    }
}

/// Every job that exists at `now` (started or not), for a simulator started at `t0`.
pub fn jobs_at(t0: i64, now: i64) -> Vec<SimJob> {
    const HOUR: i64 = 3600;
    let mut jobs = vec![
        job(30001, &[(0, t0 - 72 * HOUR, 1500, Outcome::Success)]),
        job(30002, &[(1, t0 - 5 * HOUR, 2400, Outcome::Success)]),
        job(30003, &[(0, t0 - 20, 120, Outcome::Success)]),
        job(
            30004,
            &[
                (1, t0 - 40, 30, Outcome::Success),
                (2, t0 - 30, 100, Outcome::FailAfter(36)),
            ],
        ),
        job(30005, &[(2, t0 - 600, 900, Outcome::StallAt(42.0))]),
        job(30006, &[(0, t0 - 2 * HOUR, 900, Outcome::Success)]),
    ];
    // Rollbacks of the last two and a half hours, enough to page past 100 on API 3.0.
    for k in 0..HISTORY {
        let start = t0 - 150 * 60 + k as i64 * 80;
        jobs.push(job(
            20001 + k,
            &[((k % 3) as usize, start, 60, Outcome::Success)],
        ));
    }
    let started = (now - t0).max(0) / NEW_JOB_EVERY;
    for k in 1..=started {
        let start = t0 + k * NEW_JOB_EVERY;
        jobs.push(job(
            NEW_JOB_BASE + k as u64,
            &[(
                (k % 3) as usize,
                start,
                50 + (k * 17) % 60,
                Outcome::Success,
            )],
        ));
    }
    jobs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_story_unfolds() {
        let t0 = 1_000_000;
        let at = |now: i64, id: u64| {
            jobs_at(t0, now)
                .into_iter()
                .find(|j| j.id == id)
                .map(|j| j.view(now))
        };
        let running = at(t0, 30003).unwrap();
        assert_eq!((running.status, running.progress), (1, 16));
        assert!(
            at(t0 + 5, 30003).unwrap().progress > running.progress,
            "progress moves"
        );
        assert_eq!(at(t0 + 100, 30003).unwrap().status, 2);
        assert_eq!(at(t0, 30004).unwrap().status, 1);
        let failed = at(t0 + 6, 30004).unwrap();
        assert_eq!((failed.status, failed.code), (3, 9006));
        assert_eq!(at(t0 + 3600, 30005).unwrap().progress, 42);
        assert_eq!(at(t0, 30001).unwrap().status, 2);
        assert!(at(t0 + NEW_JOB_EVERY - 1, 30101).is_none());
        assert_eq!(at(t0 + NEW_JOB_EVERY + 1, 30101).unwrap().status, 1);
    }
}
