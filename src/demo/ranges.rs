//! The simulated `DescribeRollbackRangeTime`: what each demo instance can be rolled back
//! to. Most keep seven days of backups and binlog up to a few seconds ago; the instance
//! whose rollback failed with `binlog 不连续` has a hole in its window over that
//! rollback's target time; one's binlog backup stopped hours ago; a dev instance keeps
//! half a day; one answers 1624001.

use serde_json::{Value, json};

use super::story::{Answer, SimJob, SimTask};
use crate::time::{UtcOffset, format_local};

/// The largest batch the simulator takes, as an undocumented API limit might be.
pub const MAX_BATCH: usize = 100;
/// Whose binlog backup is behind, and by how long.
pub const LAGGING: (&str, i64) = ("cdb-demo0002", 5 * 3600);
/// Whose window has a hole: the instance the failed batch rollback failed on.
pub const GAPPED: &str = "cdb-demo0003";
/// Whose backups are kept only half a day: shorter than the alerts' default policy.
pub const SHORT: (&str, i64) = ("cdb-demo0006", 12 * 3600);
/// Whose answer is a database access error: the instance still being created.
pub const ERRING: &str = "cdb-demo0007";
const DAY: i64 = 86_400;

fn time(t: i64) -> String {
    format_local(t, UtcOffset::CST)
}

/// The failed task's target time: the hole is around it, which is why it failed.
fn failed_target(jobs: &[SimJob]) -> Option<i64> {
    let failed = |t: &&SimTask| matches!(t.outcome, super::story::Outcome::FailAfter(_));
    let task = jobs.iter().flat_map(|j| j.tasks.iter()).find(failed)?;
    Some(task.target())
}

fn item(id: &str, jobs: &[SimJob], now: i64) -> Value {
    let begin = (now - 7 * DAY) / 3600 * 3600;
    let range = |b: i64, e: i64| json!({"Begin": time(b), "End": time(e)});
    let (code, message, times) = match id {
        ERRING => (
            1_624_001,
            "database access error: the agent cannot reach the instance",
            Vec::new(),
        ),
        GAPPED => {
            let target = failed_target(jobs).unwrap_or(now - 3600);
            let (hole_from, hole_to) = (target - 40 * 60, target + 20 * 60);
            (
                0,
                "ok",
                vec![range(begin, hole_from), range(hole_to, now - 20)],
            )
        }
        id if id == LAGGING.0 => (0, "ok", vec![range(begin, now - LAGGING.1)]),
        id if id == SHORT.0 => (0, "ok", vec![range(now - SHORT.1, now - 20)]),
        _ => (0, "ok", vec![range(begin, now - 20)]),
    };
    json!({"InstanceId": id, "Code": code, "Message": message, "Times": times})
}

/// Answers for the ids asked; `known` says which instances exist in the demo.
pub fn rollback_range_time(
    jobs: &[SimJob],
    params: &Value,
    known: &dyn Fn(&str) -> bool,
    now: i64,
) -> Answer {
    let Some(ids) = params["InstanceIds"].as_array().filter(|a| !a.is_empty()) else {
        return Err(("MissingParameter", "InstanceIds is required".into()));
    };
    if ids.len() > MAX_BATCH {
        return Err((
            "InvalidParameterValue",
            format!("at most {MAX_BATCH} InstanceIds a request"),
        ));
    }
    let items: Vec<Value> = ids
        .iter()
        .filter_map(Value::as_str)
        .map(|id| {
            if known(id) {
                item(id, jobs, now)
            } else {
                json!({"InstanceId": id, "Code": 1_600_009, "Message": "instance not found", "Times": []})
            }
        })
        .collect();
    Ok(json!({"TotalCount": items.len(), "Items": items}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::v3::ranges::ranges_page;
    use crate::demo::story::jobs_at;
    use crate::readiness::Window;

    #[test]
    fn windows_tell_the_story() {
        let t0 = 2_000_000_000;
        let now = t0 + 60;
        let jobs = jobs_at(t0, now);
        let ids = [
            "cdb-demo0001",
            LAGGING.0,
            GAPPED,
            ERRING,
            "cdb-nope",
            SHORT.0,
        ];
        let known = |id: &str| id != "cdb-nope";
        let v = rollback_range_time(&jobs, &json!({ "InstanceIds": ids }), &known, now).unwrap();
        let body = json!({"Response": v}).to_string();
        let page = ranges_page(body.as_bytes(), UtcOffset::CST).unwrap();
        let w = |k: usize| Window::of(&page.items[k].times).window;
        let fine = w(0);
        assert_eq!(fine.ranges.len(), 1);
        assert!(fine.end().unwrap() - fine.begin().unwrap() > 7 * DAY - 3600);
        assert_eq!(w(1).end(), Some(now - LAGGING.1));
        let gapped = w(2);
        assert_eq!((gapped.ranges.len(), gapped.gap()), (2, Some(3600)));
        let target = failed_target(&jobs).unwrap();
        assert!(gapped.ranges[0].end < target && target < gapped.ranges[1].begin);
        assert_eq!(
            (page.items[3].code, page.items[3].times.len()),
            (1_624_001, 0)
        );
        assert_eq!(page.items[4].code, 1_600_009);
        let short = w(5);
        assert_eq!(
            short.end().zip(short.begin()).map(|(e, b)| e - b),
            Some(SHORT.1 - 20)
        );
        let many: Vec<String> = (0..101).map(|k| format!("cdb-{k}")).collect();
        let e = rollback_range_time(&jobs, &json!({ "InstanceIds": many }), &known, now);
        assert_eq!(e.unwrap_err().0, "InvalidParameterValue");
    }
}
