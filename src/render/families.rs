//! Every rollback metric family, declared once: name, help, the metric table's meaning, and how
//! its rows are read from a job, a task, a job's poll health, or a discovery source.
//! Rendering walks this table, and [`super::contract`] writes `.ci/metrics-contract.txt`
//! and the metric tables of docs/metrics.md from it. To add a family: add a row here, run
//! `UPDATE_GOLDEN=1 cargo test --test it` to regenerate those files and the golden
//! expositions, and add a test of its value.

use crate::inventory::InventoryStatus;
use crate::metrics::Kind;
use crate::readiness::{InstanceReadiness, RegionReadiness};
use crate::rollback::State;
use crate::rollback::{Job, Task, duration};
use crate::store::{DiscoveryStatus, PollHealth, Trail};

/// A sample value, written as an integer when it is one.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Num {
    Int(i64),
    Float(f64),
}

fn int(v: i64) -> Num {
    Num::Int(v)
}

fn float(v: f64) -> Num {
    Num::Float(v)
}

fn window_end(i: &InstanceReadiness) -> Option<Num> {
    i.window.as_ref()?.end().map(int)
}

/// How a family's rows are read. `now` is Unix seconds, for running durations.
pub enum Rows {
    /// One series per job with data.
    Job(fn(&Job, i64) -> Option<Num>),
    /// A state set per job: one series per [`crate::rollback::State`], 1 for the current one.
    JobState,
    /// 1 per job, with `type` and `async_request_id`.
    JobInfo,
    /// One series per task (a job's part on one instance).
    Task(fn(&Task, i64) -> Option<Num>),
    TaskState,
    /// 1 per task, with its rendered info labels.
    TaskInfo,
    /// One series per job with data, from what the exporter has seen of it over time.
    Seen(fn(&Trail, State) -> Option<Num>),
    /// One series per job polled at least once, data or not.
    Health(fn(&PollHealth) -> Option<Num>),
    /// One series: the number of tracked jobs.
    Tracked,
    /// One series per discovery source (v2 instance, v3 region), with the jobs it tracks.
    Discovery(fn(&DiscoveryStatus, i64) -> Option<Num>),
    /// One series per instance whose rollback ranges are known.
    Readiness(fn(&InstanceReadiness) -> Option<Num>),
    /// One series per region whose rollback ranges are asked for.
    ReadinessRegion(fn(&RegionReadiness) -> Option<Num>),
    /// One series per region with an inventory (API 3.0).
    Inventory(fn(&InventoryStatus) -> Option<Num>),
    /// 1 per inventoried instance, with its rendered info labels.
    InstanceInfo,
}

impl Rows {
    pub fn group(&self) -> Group {
        match self {
            Rows::Job(_) | Rows::JobState | Rows::JobInfo | Rows::Seen(_) | Rows::Health(_) => {
                Group::Job
            }
            Rows::Task(_) | Rows::TaskState | Rows::TaskInfo => Group::Task,
            Rows::Discovery(_) => Group::Discovery,
            Rows::Readiness(_) | Rows::ReadinessRegion(_) => Group::Readiness,
            Rows::Inventory(_) | Rows::InstanceInfo => Group::Inventory,
            Rows::Tracked => Group::Exporter,
        }
    }

    /// The labels its series carry beyond the group's.
    pub fn labels(&self) -> &'static [&'static str] {
        match self {
            Rows::JobState | Rows::TaskState => &["state"],
            Rows::JobInfo => &["type", "async_request_id"],
            Rows::TaskInfo => &["work_id", "instance_name", "strategy", "operator"],
            Rows::Readiness(_) => &["instance_id"],
            // Its tag labels depend on `instances.exported_tags`: not promised.
            Rows::InstanceInfo => crate::config::INFO_LABELS,
            Rows::Job(_)
            | Rows::Seen(_)
            | Rows::Task(_)
            | Rows::Health(_)
            | Rows::Tracked
            | Rows::Discovery(_)
            | Rows::Inventory(_)
            | Rows::ReadinessRegion(_) => &[],
        }
    }
}

/// The metric table a family is listed in, which fixes the labels all its series carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Group {
    Job,
    Task,
    Discovery,
    /// The instance inventory, per region (API 3.0).
    Inventory,
    /// Rollback readiness: per region, and per instance.
    Readiness,
    /// The exporter's own metrics, most of them in [`crate::metrics`].
    Exporter,
}

impl Group {
    /// The labels every series of the group carries; configured labels and the ones only
    /// one API version has (v2 `task_id`, a single job's `instance_id`) are not promised.
    pub fn labels(self) -> &'static [&'static str] {
        match self {
            Group::Job => &["job_id", "region"],
            Group::Task => &["job_id", "region", "instance_id"],
            Group::Discovery | Group::Inventory | Group::Readiness => &["region"],
            Group::Exporter => &[],
        }
    }
}

pub struct Family {
    pub name: &'static str,
    pub help: &'static str,
    /// What the metric table says it means: richer than the HELP.
    pub meaning: &'static str,
    pub rows: Rows,
    /// The demo (API 3.0) need not show it: the contract's `optional`.
    pub optional: bool,
}

impl Family {
    /// Every rollback family is a gauge.
    pub const KIND: Kind = Kind::Gauge;

    const fn optional(mut self) -> Self {
        self.optional = true;
        self
    }

    /// Whether the values come from the API through the background poll (the HELP says so).
    pub fn polled(&self) -> bool {
        matches!(
            self.rows,
            Rows::Job(_)
                | Rows::JobState
                | Rows::JobInfo
                | Rows::Task(_)
                | Rows::TaskState
                | Rows::TaskInfo
                | Rows::Readiness(_)
        )
    }
}

pub(super) const fn family(
    name: &'static str,
    help: &'static str,
    meaning: &'static str,
    rows: Rows,
) -> Family {
    Family {
        name,
        help,
        meaning,
        rows,
        optional: false,
    }
}

/// The metric tables say this once for the task families that mirror the job's.
const AS_FOR_JOBS: &str =
    "as for jobs (v3 tasks have no error code; their `Info` goes to the landing page)";

pub const FAMILIES: &[Family] = &[
    family(
        "cdb_rollback_job_status",
        "Status of the rollback job as a number: -1 unknown, 0 initial, 1 running, 2 success, 3 failed, 4 killed, 5 removed, 6 paused, 7 waiting",
        "the state as a number: DescribeTasks' `TaskStatus` filter enum (-1 undefined/unknown, 0 initial, 1 running, 2 success, 3 failed, 4 killed, 5 removed, 6 paused), 7 for `WAITING` (which that enum lacks); v2 codes are the same numbers",
        Rows::Job(|j, _| Some(int(j.status.0))),
    ),
    family(
        "cdb_rollback_job_state",
        "State of the rollback job; exactly one state is 1",
        "one series per state: `initial`, `running`, `success` (`SUCCEED` and `SUCCESS`), `failed`, `killed`, `removed`, `paused` (v3 `PAUSED`, v2 status 6), `waiting`, `unknown` (`UNDEFINED` and any name or code not known yet); exactly one is 1",
        Rows::JobState,
    ),
    family(
        "cdb_rollback_job_progress_ratio",
        "Progress of the rollback job, 0 to 1",
        "progress, 0 to 1 (v3's 0–100 divided by 100); absent if the answer gave none",
        Rows::Job(|j, _| j.progress.map(float)),
    ),
    family(
        "cdb_rollback_job_start_time_seconds",
        "Unix time the rollback job started",
        "Unix time it started",
        Rows::Job(|j, _| j.start.map(int)),
    ),
    family(
        "cdb_rollback_job_end_time_seconds",
        "Unix time the rollback job ended; absent until it has",
        "Unix time it ended; absent until then",
        Rows::Job(|j, _| j.end.map(int)),
    ),
    family(
        "cdb_rollback_job_duration_seconds",
        "Seconds the rollback job took, or has been running so far",
        "end − start once ended; now − start while not terminal",
        Rows::Job(|j, now| duration(j.start, j.end, j.status.state(), now).map(int)),
    ),
    family(
        "cdb_rollback_job_error_code",
        "The rollback job's own error code, 0 when fine",
        "the job's own `Code` (0 = fine); absent if the answer gave none. The `Message` goes to the landing page, never to a label",
        Rows::Job(|j, _| j.code.map(int)),
    ),
    family(
        "cdb_rollback_job_info",
        "Rollback job metadata; the value is always 1",
        "1; `type` 1 a rollback, 10 a batch rollback; `async_request_id` the v3 request that started it (empty on v2)",
        Rows::JobInfo,
    ),
    family(
        "cdb_rollback_job_instances",
        "Number of instances the rollback job covers",
        "how many instances the job rolls back (v3 `InstanceIds`, v2 the entries of `detail`); absent if the answer listed none",
        Rows::Job(|j, _| (!j.instances.is_empty()).then(|| int(j.instances.len() as i64))),
    ),
    family(
        "cdb_rollback_job_progress_change_time_seconds",
        "Unix time the rollback job's progress last changed as the exporter saw it, or when the exporter first saw the job.",
        "when the progress last changed, as the exporter saw it; set when the exporter first sees the job (so it restarts with the exporter, not with Prometheus). The stall alert reads it",
        Rows::Seen(|t, _| Some(float(t.changed_at))),
    ),
    family(
        "cdb_rollback_job_estimated_end_time_seconds",
        "Expected Unix time the running rollback job ends, from the progress rate the exporter has seen since the job began moving.",
        "expected end of a running job: its progress extended at the rate seen since the exporter first saw it move (docs/history.md); absent before two distinct progress values, at 0 % or 100 %, and when not running",
        Rows::Seen(|t, state| t.estimated_end(state).map(float)),
    ),
    family(
        "cdb_rollback_task_status",
        "Status of the rollback task on one instance as a number, as for jobs",
        AS_FOR_JOBS,
        Rows::Task(|t, _| Some(int(t.status.0))),
    ),
    family(
        "cdb_rollback_task_state",
        "State of the rollback task on one instance; exactly one state is 1",
        AS_FOR_JOBS,
        Rows::TaskState,
    ),
    family(
        "cdb_rollback_task_progress_ratio",
        "Progress of the rollback task, 0 to 1",
        AS_FOR_JOBS,
        Rows::Task(|t, _| t.progress.map(float)),
    ),
    family(
        "cdb_rollback_task_start_time_seconds",
        "Unix time the rollback task started",
        AS_FOR_JOBS,
        Rows::Task(|t, _| t.start.map(int)),
    ),
    family(
        "cdb_rollback_task_end_time_seconds",
        "Unix time the rollback task ended; absent until it has",
        AS_FOR_JOBS,
        Rows::Task(|t, _| t.end.map(int)),
    ),
    family(
        "cdb_rollback_task_duration_seconds",
        "Seconds the rollback task took, or has been running so far",
        AS_FOR_JOBS,
        Rows::Task(|t, now| duration(t.start, t.end, t.status.state(), now).map(int)),
    ),
    family(
        "cdb_rollback_task_error_code",
        "The rollback task's own error code, 0 when fine",
        AS_FOR_JOBS,
        Rows::Task(|t, _| t.code.map(int)),
    )
    // v3 tasks have none.
    .optional(),
    family(
        "cdb_rollback_task_info",
        "Rollback task metadata; the value is always 1",
        "1; `strategy` is `table`, `db` or `full` (v3 gives no work id, instance name or operator: empty)",
        Rows::TaskInfo,
    ),
    family(
        "cdb_rollback_task_target_time_seconds",
        "Unix time of the point the task rolls the data back to",
        "the point in time the data is rolled back to (`RollbackTime`)",
        Rows::Task(|t, _| t.instance.rollback_time.map(int)),
    ),
    family(
        "cdb_rollback_task_databases",
        "Number of databases the rollback task rolls back",
        "how many databases the task rolls back",
        Rows::Task(|t, _| Some(int(t.instance.databases.len() as i64))),
    ),
    family(
        "cdb_rollback_task_tables",
        "Number of tables the rollback task rolls back, where the API lists them (v3)",
        "how many tables the task rolls back (v3: the entries of `Tables[].Table[]`)",
        Rows::Task(|t, _| t.instance.tables.map(int)),
    ),
    family(
        "cdb_rollback_job_poll_success",
        "1 if the latest background poll of the job succeeded, else 0 (its values are then the last good ones).",
        "1 if the latest listing (and, v3, the latest task details) of the job succeeded, else 0; absent until the first poll",
        Rows::Health(|h| Some(int(i64::from(h.ok())))),
    ),
    family(
        "cdb_rollback_job_last_poll_time_seconds",
        "Unix time of the latest background poll of the job, successful or not.",
        "Unix time of the latest poll",
        Rows::Health(|h| Some(float(h.last_poll))),
    ),
    family(
        "cdb_rollback_job_last_success_time_seconds",
        "Unix time of the latest successful background poll of the job.",
        "Unix time of the latest successful poll",
        Rows::Health(|h| h.last_success.map(float)),
    ),
    family(
        "cdb_rollback_tracked_jobs",
        "Rollback jobs the exporter tracks, configured and discovered.",
        "jobs tracked",
        Rows::Tracked,
    ),
    family(
        "cdb_rollback_discovery_jobs",
        "Rollback jobs tracked through discovery: per instance (v2 GetCdbRollbackJob) or per region (v3 DescribeTasks).",
        "jobs tracked through this region (v3) or instance (v2)",
        Rows::Discovery(|_, jobs| Some(int(jobs))),
    ),
    family(
        "cdb_rollback_discovery_success",
        "1 if the latest listing of this instance's or region's rollback jobs succeeded, else 0.",
        "1 if the latest listing succeeded, else 0; absent until the first listing has finished",
        Rows::Discovery(|d, _| d.success.map(|ok| int(i64::from(ok)))),
    ),
    family(
        "cdb_rollback_discovery_last_success_time_seconds",
        "Unix time of the latest successful listing of this instance's or region's rollback jobs.",
        "Unix time of the latest successful listing",
        Rows::Discovery(|d, _| d.last_success.map(float)),
    ),
    family(
        "cdb_rollback_instance_info",
        "CDB instance of the inventory (DescribeDBInstances, after instances.filter), with its name, zone, type and exported tags; the value is always 1.",
        "1 per instance of the inventory (after `instances.filter`); `instance_type` `master`, `dr` (disaster recovery), `ro` (read-only) or the API's number; one `tag_<key>` label (or the mapped name) per `instances.exported_tags` entry, empty when the instance lacks the tag. Join on `account` (with `accounts:`), `region`, `instance_id` to name instances",
        Rows::InstanceInfo,
    ),
    family(
        "cdb_rollback_inventory_success",
        "1 if the latest refresh of this region's instance inventory (DescribeDBInstances) succeeded, else 0; a failed refresh keeps the last inventory.",
        "1 if the latest inventory refresh succeeded, else 0 (the last inventory stays); absent until the first has finished",
        Rows::Inventory(|s| s.success.map(|ok| int(i64::from(ok)))),
    ),
    family(
        "cdb_rollback_inventory_instances",
        "Instances in this region's inventory, after instances.filter.",
        "instances in the last good inventory, after `instances.filter`; absent until one has worked",
        Rows::Inventory(|s| s.inventory.as_ref().map(|i| int(i.records.len() as i64))),
    ),
    family(
        "cdb_rollback_inventory_last_success_time_seconds",
        "Unix time of the latest successful refresh of this region's instance inventory.",
        "Unix time of the latest successful inventory refresh",
        Rows::Inventory(|s| s.last_success.map(float)),
    ),
    family(
        "cdb_rollback_recoverable_begin_timestamp_seconds",
        "Unix time of the earliest point the instance can be rolled back to",
        "the earliest `Begin` of the instance's ranges; absent with a non-zero error code",
        Rows::Readiness(|i| i.window.as_ref()?.begin().map(int)),
    ),
    family(
        "cdb_rollback_recoverable_end_timestamp_seconds",
        "Unix time of the latest point the instance can be rolled back to",
        "the latest `End`: the most recent recoverable point; when it stops moving, binlog backup is behind",
        Rows::Readiness(window_end),
    ),
    family(
        "cdb_rollback_recoverable_ranges",
        "Number of separate time ranges the instance can be rolled back to; more than one means a gap",
        "how many ranges the answer listed, after merging overlapping ones; more than one means a time in the window you cannot roll back to",
        Rows::Readiness(|i| i.window.as_ref().map(|w| int(w.ranges.len() as i64))),
    ),
    family(
        "cdb_rollback_recoverable_gap_seconds",
        "Seconds between the ranges the instance can be rolled back to (0 for one range)",
        "the total length of the holes between the ranges (0 for one range); absent when there is no range",
        Rows::Readiness(|i| i.window.as_ref()?.gap().map(int)),
    ),
    family(
        "cdb_rollback_recoverable_error_code",
        "The instance's DescribeRollbackRangeTime code: 0 fine, else the window is not known",
        "the item's `Code`: 0 fine; 1600009 instance not found, 1624001 database access error, …; with a non-zero code the four series above are absent. The `Message` goes to the landing page",
        Rows::Readiness(|i| Some(int(i.code))),
    ),
    family(
        "cdb_rollback_readiness_success",
        "1 if every DescribeRollbackRangeTime request of the region's latest round succeeded, else 0.",
        "1 if the latest round of the region succeeded, else 0 (the window series then keep their last good values); absent until the first round",
        Rows::ReadinessRegion(|r| r.success.map(|ok| int(i64::from(ok)))),
    ),
    family(
        "cdb_rollback_readiness_last_success_time_seconds",
        "Unix time of the latest round of DescribeRollbackRangeTime of the region that succeeded.",
        "Unix time of the latest successful round",
        Rows::ReadinessRegion(|r: &RegionReadiness| r.last_success.map(Num::Float)),
    ),
];

#[cfg(test)]
mod tests {
    use crate::api::v2::decode::job_detail;
    use crate::api::v3::decode::tasks_page;
    use crate::config::Labels;
    use crate::metrics::Metrics;
    use crate::store::{JobKey, Source, Store};
    use crate::time::UtcOffset;

    #[test]
    fn job_instances_counts_the_instances_a_job_covers() {
        let store = Store::new();
        // v3: a batch over two instances, a rollback of one, and a row without a list.
        let page = r#"{"Response":{"TotalCount":3,"Items":[
            {"JobId":1,"TaskType":"BATCH_ROLLBACK","TaskStatus":"RUNNING","InstanceIds":["cdb-a","cdb-b"]},
            {"JobId":2,"TaskType":"ROLLBACK","TaskStatus":"RUNNING","InstanceIds":["cdb-a"]},
            {"JobId":3,"TaskType":"ROLLBACK","TaskStatus":"RUNNING"}],"RequestId":"r"}}"#;
        for job in tasks_page(page.as_bytes(), UtcOffset::CST).unwrap().jobs {
            let key = JobKey::new("ap-shanghai", job.id);
            let listed = Source::Listed { instance_id: None };
            store.track(key.clone(), listed, Labels::default());
            store.record_row(&key, job, 1.0);
        }
        // v2: the seed job's `detail` names one instance.
        let seed = include_bytes!("../../test-data/seed-answer.json");
        let key = JobKey::new("ap-guangzhou", 12782);
        store.track(key.clone(), Source::Configured, Labels::default());
        store.record_success(&key, job_detail(seed, UtcOffset::CST, 12782).unwrap(), 1.0);

        let text =
            super::super::render(&store.snapshot(), &Default::default(), &Metrics::new(), 1.0);
        let text = String::from_utf8(text).unwrap();
        let lines: Vec<_> = text
            .lines()
            .filter(|l| l.starts_with("cdb_rollback_job_instances{"))
            .collect();
        assert_eq!(
            lines,
            [
                r#"cdb_rollback_job_instances{job_id="12782",region="ap-guangzhou"} 1"#,
                r#"cdb_rollback_job_instances{job_id="1",region="ap-shanghai"} 2"#,
                r#"cdb_rollback_job_instances{job_id="2",region="ap-shanghai"} 1"#,
            ]
        );
    }
}
