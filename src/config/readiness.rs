//! The `readiness:` section: how often the recoverable window of every inventoried
//! instance is asked for (API 3.0 `DescribeRollbackRangeTime`).

use std::time::Duration;

use serde::Deserialize;

use super::Invalid;
use super::values::{Interval, parsed};

#[derive(Deserialize, Default)]
#[serde(
    deny_unknown_fields,
    default,
    expecting = "the readiness: section, a mapping (enabled, interval)"
)]
pub(super) struct RawReadiness {
    pub(super) enabled: Option<bool>,
    #[serde(deserialize_with = "parsed")]
    pub(super) interval: Option<Interval>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadinessConfig {
    /// On by default with API 3.0; `readiness.enabled: false` turns it off.
    pub enabled: bool,
    pub interval: Duration,
}

impl Default for ReadinessConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            interval: Duration::from_secs(300),
        }
    }
}

/// Reads `readiness:`; `v3` false means API v2, which has no such action. The instances
/// asked about are the inventory's, so it is off by default without one.
pub(super) fn readiness_config(
    raw: Option<RawReadiness>,
    v3: bool,
    inventory: bool,
) -> Result<ReadinessConfig, Invalid> {
    let raw = raw.unwrap_or_default();
    let mut c = ReadinessConfig {
        enabled: raw.enabled.unwrap_or(v3 && inventory),
        ..ReadinessConfig::default()
    };
    if !v3 && (c.enabled || raw.interval.is_some()) {
        return Err(Invalid::rule(
            "readiness",
            "rollback readiness needs API 3.0 (api.version: 3); leave `readiness:` out on v2",
        ));
    }
    if c.enabled && !inventory {
        return Err(Invalid::rule(
            "readiness.enabled",
            "is true, but the instances it asks about come from the inventory, and instances.enabled is false",
        ));
    }
    if let Some(interval) = raw.interval {
        c.interval = interval.a_second_or_more("readiness.interval")?;
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::parse;

    #[test]
    fn on_by_default_with_v3_every_five_minutes() {
        let c = parse("api:\n  region: ap-shanghai\n").unwrap();
        assert_eq!(c.readiness, ReadinessConfig::default());
        assert!(c.readiness.enabled);
        assert_eq!(c.readiness.interval, Duration::from_secs(300));
        let c = parse("readiness:\n  interval: 1s\n").unwrap();
        assert_eq!(c.readiness.interval, Duration::from_secs(1));
        let c = parse("readiness:\n  enabled: false\n").unwrap();
        assert!(!c.readiness.enabled);
        let c = parse("api:\n  version: 2\njobs:\n  - id: 1\n").unwrap();
        assert!(!c.readiness.enabled, "off on v2 when not asked for");
    }

    #[test]
    fn bad_settings_are_named() {
        let e = parse("readiness:\n  interval: 500ms\n").unwrap_err();
        assert!(
            e.contains("readiness.interval: `500ms` is too short"),
            "{e}"
        );
        let e = parse("readiness:\n  interval: soon\n").unwrap_err();
        assert!(
            e.contains("`soon` is not a duration") && e.contains("line 2"),
            "{e}"
        );
        let e = parse("api:\n  version: 2\njobs:\n  - id: 1\nreadiness:\n  interval: 5m\n")
            .unwrap_err();
        assert!(
            e.contains("readiness: rollback readiness needs API 3.0"),
            "{e}"
        );
        let e = parse("api:\n  version: 2\njobs:\n  - id: 1\nreadiness:\n  enabled: true\n")
            .unwrap_err();
        assert!(e.contains("needs API 3.0"), "{e}");
        let e = parse("instances:\n  enabled: false\nreadiness:\n  enabled: true\n").unwrap_err();
        assert!(e.contains("readiness.enabled: is true, but"), "{e}");
        let c = parse("instances:\n  enabled: false\n").unwrap();
        assert!(!c.readiness.enabled, "off without the inventory");
        let e = parse("readiness:\n  batch: 5\n").unwrap_err();
        assert!(e.contains("unknown field `batch`"), "{e}");
    }
}
