//! The rollback readiness families: each instance's recoverable window
//! (`DescribeRollbackRangeTime`), and how each region's latest round went.

use std::sync::Arc;

use super::Out;
use super::families::{Family, Rows};
use crate::readiness::RegionReadiness;

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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::inventory::RegionKey;
    use crate::metrics::Metrics;
    use crate::readiness::{InstanceReadiness, Range, RegionReadiness, Window};
    use crate::render::{Sources, render};

    fn instance(key: &RegionKey, id: &str, code: i64, ranges: &[Range]) -> InstanceReadiness {
        let mut i = InstanceReadiness::new(key, id, code, String::new());
        i.window = (code == 0).then(|| Window::of(ranges).window);
        i
    }

    /// A region of three instances (a window, a window with a hole, an error) whose
    /// latest round failed.
    fn region(key: &RegionKey) -> RegionReadiness {
        let mut region = RegionReadiness::new(key);
        let r = |begin, end| Range { begin, end };
        for i in [
            instance(key, "cdb-ok", 0, &[r(1000, 9000)]),
            instance(key, "cdb-gap", 0, &[r(5000, 9000), r(1000, 2000)]),
            instance(key, "cdb-err", 1_624_001, &[r(1000, 9000)]),
        ] {
            region.instances.insert(i.instance_id.clone(), Arc::new(i));
        }
        region.success = Some(false);
        region.last_success = Some(1234.5);
        region
    }

    /// The exposition's readiness lines for `regions`; no discovery family, as nothing
    /// is discovered.
    fn rendered(regions: Vec<RegionReadiness>) -> Vec<String> {
        let regions: Vec<_> = regions.into_iter().map(Arc::new).collect();
        let sources = Sources {
            readiness: &regions,
            ..Sources::default()
        };
        let text = render(&[], &sources, &Metrics::new(), 10_000.0);
        let text = String::from_utf8(text).unwrap();
        assert!(
            !text.contains("cdb_rollback_discovery_"),
            "no discovery, no family"
        );
        let lines = text.lines().filter(|l| l.starts_with("cdb_rollback_re"));
        lines.map(str::to_string).collect()
    }

    #[test]
    fn window_series_per_instance_and_none_for_an_error() {
        let lines = rendered(vec![region(&RegionKey::new("ap-guangzhou"))]);
        let at = |id: &str| format!("{{region=\"ap-guangzhou\",instance_id=\"{id}\"}}");
        let begin = "cdb_rollback_recoverable_begin_timestamp_seconds";
        let end = "cdb_rollback_recoverable_end_timestamp_seconds";
        let code = "cdb_rollback_recoverable_error_code";
        let expected = [
            format!("{begin}{} 1000", at("cdb-gap")),
            format!("{begin}{} 1000", at("cdb-ok")),
            format!("{end}{} 9000", at("cdb-gap")),
            format!("{end}{} 9000", at("cdb-ok")),
            format!("cdb_rollback_recoverable_ranges{} 2", at("cdb-gap")),
            format!("cdb_rollback_recoverable_ranges{} 1", at("cdb-ok")),
            format!("cdb_rollback_recoverable_gap_seconds{} 3000", at("cdb-gap")),
            format!("cdb_rollback_recoverable_gap_seconds{} 0", at("cdb-ok")),
            format!("{code}{} 1624001", at("cdb-err")),
            format!("{code}{} 0", at("cdb-gap")),
            format!("{code}{} 0", at("cdb-ok")),
            "cdb_rollback_readiness_success{region=\"ap-guangzhou\"} 0".to_string(),
            "cdb_rollback_readiness_last_success_time_seconds{region=\"ap-guangzhou\"} 1234.5"
                .to_string(),
        ];
        assert_eq!(lines, expected);
        assert!(rendered(Vec::new()).is_empty(), "readiness off: no family");
    }

    #[test]
    fn with_accounts_each_series_names_its_account() {
        let prod = region(&RegionKey::in_account("prod", "ap-guangzhou"));
        let staging = region(&RegionKey::in_account("staging", "ap-guangzhou"));
        let lines = rendered(vec![prod, staging]);
        // Two accounts, the same ids: every line of one region twice, told apart.
        assert_eq!(lines.len(), 26);
        for account in ["prod", "staging"] {
            let label = format!("{{account=\"{account}\",region=\"ap-guangzhou\"");
            assert_eq!(lines.iter().filter(|l| l.contains(&label)).count(), 13);
        }
        let ok = "{account=\"staging\",region=\"ap-guangzhou\",instance_id=\"cdb-ok\"} 1";
        assert!(lines.contains(&format!("cdb_rollback_recoverable_ranges{ok}")));
    }
}
