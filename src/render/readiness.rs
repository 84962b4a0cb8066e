//! The rollback readiness families: each instance's recoverable window
//! (`DescribeRollbackRangeTime`), and how each region's latest round went.

use std::sync::Arc;

use super::Out;
use super::families::{Family, Num, Rows, family};
use crate::readiness::{InstanceReadiness, RegionReadiness};

/// The readiness families: one series per instance, or one per region.
pub(super) fn rows(o: &mut Out<'_>, f: &Family, regions: &[Arc<RegionReadiness>]) {
    match f.rows {
        Rows::Readiness(read) => {
            let instances = regions.iter().flat_map(|r| r.instances.values());
            o.rows(f.name, instances.map(|i| (i.labels.as_str(), read(i))));
        }
        Rows::ReadinessRegion(read) => {
            o.rows(f.name, regions.iter().map(|r| (r.labels.as_str(), read(r))));
        }
        _ => {}
    }
}

fn int(v: i64) -> Num {
    Num::Int(v)
}

fn window_end(i: &InstanceReadiness) -> Option<Num> {
    i.window.as_ref()?.end().map(int)
}

pub const BEGIN: Family = family(
    "cdb_rollback_recoverable_begin_timestamp_seconds",
    "Unix time of the earliest point the instance can be rolled back to",
    "the earliest `Begin` of the instance's ranges; absent with a non-zero error code",
    Rows::Readiness(|i| i.window.as_ref()?.begin().map(int)),
);

pub const END: Family = family(
    "cdb_rollback_recoverable_end_timestamp_seconds",
    "Unix time of the latest point the instance can be rolled back to",
    "the latest `End`: the most recent recoverable point; when it stops moving, binlog backup is behind",
    Rows::Readiness(window_end),
);

pub const RANGES: Family = family(
    "cdb_rollback_recoverable_ranges",
    "Number of separate time ranges the instance can be rolled back to; more than one means a gap",
    "how many ranges the answer listed, after merging overlapping ones; more than one means a time in the window you cannot roll back to",
    Rows::Readiness(|i| i.window.as_ref().map(|w| int(w.ranges.len() as i64))),
);

pub const GAP: Family = family(
    "cdb_rollback_recoverable_gap_seconds",
    "Seconds between the ranges the instance can be rolled back to (0 for one range)",
    "the total length of the holes between the ranges (0 for one range); absent when there is no range",
    Rows::Readiness(|i| i.window.as_ref()?.gap().map(int)),
);

pub const ERROR_CODE: Family = family(
    "cdb_rollback_recoverable_error_code",
    "The instance's DescribeRollbackRangeTime code: 0 fine, else the window is not known",
    "the item's `Code`: 0 fine; 1600009 instance not found, 1624001 database access error, …; with a non-zero code the four series above are absent. The `Message` goes to the landing page",
    Rows::Readiness(|i| Some(int(i.code))),
);

pub const SUCCESS: Family = family(
    "cdb_rollback_readiness_success",
    "1 if every DescribeRollbackRangeTime request of the region's latest round succeeded, else 0.",
    "1 if the latest round of the region succeeded, else 0 (the window series then keep their last good values); absent until the first round",
    Rows::ReadinessRegion(|r| r.success.map(|ok| int(i64::from(ok)))),
);

pub const LAST_SUCCESS: Family = family(
    "cdb_rollback_readiness_last_success_time_seconds",
    "Unix time of the latest round of DescribeRollbackRangeTime of the region that succeeded.",
    "Unix time of the latest successful round",
    Rows::ReadinessRegion(|r: &RegionReadiness| r.last_success.map(Num::Float)),
);

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::metrics::Metrics;
    use crate::readiness::{InstanceReadiness, Range, ReadinessKey, RegionReadiness, Window};
    use crate::render::{Sources, render_all};

    fn instance(key: &ReadinessKey, id: &str, code: i64, ranges: &[Range]) -> InstanceReadiness {
        let mut i = InstanceReadiness::new(key, id, code, String::new());
        i.window = (code == 0).then(|| Window::of(ranges).window);
        i
    }

    #[test]
    fn window_series_per_instance_and_none_for_an_error() {
        let key = ReadinessKey::new("ap-guangzhou");
        let mut region = RegionReadiness::new(&key);
        let r = |begin, end| Range { begin, end };
        for i in [
            instance(&key, "cdb-ok", 0, &[r(1000, 9000)]),
            instance(&key, "cdb-gap", 0, &[r(5000, 9000), r(1000, 2000)]),
            instance(&key, "cdb-err", 1_624_001, &[r(1000, 9000)]),
        ] {
            region.instances.insert(i.instance_id.clone(), Arc::new(i));
        }
        region.success = Some(false);
        region.last_success = Some(1234.5);
        let sources = Sources {
            readiness: &[Arc::new(region)],
            ..Sources::default()
        };
        let text = render_all(&[], &sources, &Metrics::new(), 10_000.0);
        let text = String::from_utf8(text).unwrap();
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("cdb_rollback_re"))
            .collect();
        let at = |id: &str| format!("{{region=\"ap-guangzhou\",instance_id=\"{id}\"}}");
        let expected = [
            format!(
                "cdb_rollback_recoverable_begin_timestamp_seconds{} 1000",
                at("cdb-gap")
            ),
            format!(
                "cdb_rollback_recoverable_begin_timestamp_seconds{} 1000",
                at("cdb-ok")
            ),
            format!(
                "cdb_rollback_recoverable_end_timestamp_seconds{} 9000",
                at("cdb-gap")
            ),
            format!(
                "cdb_rollback_recoverable_end_timestamp_seconds{} 9000",
                at("cdb-ok")
            ),
            format!("cdb_rollback_recoverable_ranges{} 2", at("cdb-gap")),
            format!("cdb_rollback_recoverable_ranges{} 1", at("cdb-ok")),
            format!("cdb_rollback_recoverable_gap_seconds{} 3000", at("cdb-gap")),
            format!("cdb_rollback_recoverable_gap_seconds{} 0", at("cdb-ok")),
            format!(
                "cdb_rollback_recoverable_error_code{} 1624001",
                at("cdb-err")
            ),
            format!("cdb_rollback_recoverable_error_code{} 0", at("cdb-gap")),
            format!("cdb_rollback_recoverable_error_code{} 0", at("cdb-ok")),
            "cdb_rollback_readiness_success{region=\"ap-guangzhou\"} 0".to_string(),
            "cdb_rollback_readiness_last_success_time_seconds{region=\"ap-guangzhou\"} 1234.5"
                .to_string(),
        ];
        assert_eq!(lines, expected);
        assert!(
            !text.contains("cdb_rollback_discovery_"),
            "no discovery, no family"
        );
        let none = render_all(&[], &Sources::default(), &Metrics::new(), 1.0);
        let none = String::from_utf8(none).unwrap();
        assert!(
            !none.contains("cdb_rollback_recoverable_"),
            "readiness off: no family"
        );
    }
}
