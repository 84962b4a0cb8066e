//! The landing page's readiness table: per instance, what it can be rolled back to.

use std::fmt::Write as _;

use super::{InstanceReadiness, RegionReadiness};
use crate::inventory::RegionKey;
use crate::inventory::text::place;
use crate::time::format_utc;

/// Rows shown; the metrics carry every instance.
const MAX_ROWS: usize = 500;

/// `3d 4h`, `2h 5m`, `40s`: a length as a person reads it.
pub fn span_text(seconds: i64) -> String {
    let s = seconds.max(0);
    let (d, h, m) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, m) => format!("{m}m"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

/// The table's cells for one instance: window, gaps, lag, error.
fn cells(i: &InstanceReadiness, now: i64) -> [String; 4] {
    let error = if i.code == 0 {
        "–".to_string()
    } else {
        format!("code {} {}", i.code, i.message)
            .trim_end()
            .to_string()
    };
    let Some(w) = i.window.as_ref() else {
        return ["unknown".into(), "–".into(), "–".into(), error];
    };
    let (Some(begin), Some(end), Some(gap)) = (w.begin(), w.end(), w.gap()) else {
        return ["no recoverable time".into(), "–".into(), "–".into(), error];
    };
    let window = format!(
        "{} → {} ({})",
        format_utc(begin),
        format_utc(end),
        span_text(end - begin)
    );
    let gaps = if gap == 0 {
        "none".to_string()
    } else {
        format!("{} ranges, {} missing", w.ranges.len(), span_text(gap))
    };
    [window, gaps, span_text(now - end), error]
}

/// The readiness section: a heading and a table, or nothing when readiness is off.
/// `name` gives an instance's name from the inventory; `esc` escapes HTML.
pub fn section(
    regions: &[std::sync::Arc<RegionReadiness>],
    name: &dyn Fn(&RegionKey, &str) -> Option<String>,
    esc: &dyn Fn(&str) -> String,
    now: i64,
) -> String {
    if regions.is_empty() {
        return String::new();
    }
    let total: usize = regions.iter().map(|r| r.instances.len()).sum();
    let mut h = format!(
        "<h2>Rollback readiness ({total} instances)</h2><p>What each instance can be rolled back to \
         (DescribeRollbackRangeTime; times UTC).</p>"
    );
    for r in regions.iter().filter(|r| r.success == Some(false)) {
        let _ = write!(
            h,
            "<p>Region {}: the latest round failed; values are the last good ones.</p>",
            esc(&place(&r.key.account, &r.key.region))
        );
    }
    h.push_str(
        "<table><tr><th>instance</th><th>name</th><th>region</th><th>window</th><th>gaps</th>\
         <th>lag of the latest point</th><th>error</th></tr>",
    );
    let rows = regions
        .iter()
        .flat_map(|r| r.instances.values().map(move |i| (r, i)));
    for (r, i) in rows.take(MAX_ROWS) {
        let [window, gaps, lag, error] = cells(i, now);
        let named = name(&r.key, &i.instance_id).unwrap_or_default();
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&i.instance_id),
            esc(&named),
            esc(&place(&r.key.account, &r.key.region)),
            esc(&window),
            esc(&gaps),
            esc(&lag),
            esc(&error)
        );
    }
    h.push_str("</table>");
    if total > MAX_ROWS {
        let _ = write!(
            h,
            "<p>… and {} more; see the metrics.</p>",
            total - MAX_ROWS
        );
    }
    h
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::inventory::RegionKey;
    use crate::readiness::{Range, Window};

    #[test]
    fn spans_read_as_people_write_them() {
        assert_eq!(span_text(40), "40s");
        assert_eq!(span_text(300), "5m");
        assert_eq!(span_text(3 * 3600 + 120), "3h 2m");
        assert_eq!(span_text(7 * 86_400 + 3600), "7d 1h");
        assert_eq!(span_text(-5), "0s");
    }

    #[test]
    fn the_table_shows_window_gaps_lag_and_error() {
        let key = RegionKey::new("ap-guangzhou");
        let mut region = RegionReadiness::new(&key);
        let mut gap = InstanceReadiness::new(&key, "cdb-a", 0, "ok".into());
        let ranges = [
            Range {
                begin: 0,
                end: 3600,
            },
            Range {
                begin: 7200,
                end: 86_400,
            },
        ];
        gap.window = Some(Window::of(&ranges).window);
        let bad = InstanceReadiness::new(&key, "cdb-b", 1_624_001, "db <access> error".into());
        region.instances.insert("cdb-a".into(), Arc::new(gap));
        region.instances.insert("cdb-b".into(), Arc::new(bad));
        region.success = Some(false);
        let name = |_: &RegionKey, id: &str| (id == "cdb-a").then(|| "orders-db".to_string());
        let esc = |s: &str| s.replace('<', "&lt;").replace('>', "&gt;");
        let h = section(&[Arc::new(region)], &name, &esc, 86_400 + 7200);
        assert!(h.contains("Rollback readiness (2 instances)"), "{h}");
        assert!(h.contains("<td>cdb-a</td><td>orders-db</td><td>ap-guangzhou</td><td>1970-01-01T00:00:00Z → 1970-01-02T00:00:00Z (1d 0h)</td><td>2 ranges, 1h 0m missing</td><td>2h 0m</td><td>–</td>"), "{h}");
        assert!(h.contains("<td>cdb-b</td><td></td><td>ap-guangzhou</td><td>unknown</td><td>–</td><td>–</td><td>code 1624001 db &lt;access&gt; error</td>"), "{h}");
        assert!(h.contains("the latest round failed"), "{h}");
        assert_eq!(section(&[], &name, &esc, 0), "");
    }
}
