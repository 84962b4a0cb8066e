//! The API writes local wall-clock times (China Standard Time by default) with no zone.
//! This module turns them into Unix seconds, and back for the demo API; and it jitters the
//! waits of loops that must not run in step.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::parse_error::ParseError;

/// A fixed UTC offset, such as `+08:00`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UtcOffset {
    seconds: i32,
}

impl UtcOffset {
    /// China Standard Time, the zone every CDB answer is written in.
    pub const CST: UtcOffset = UtcOffset { seconds: 8 * 3600 };
    pub const UTC: UtcOffset = UtcOffset { seconds: 0 };

    pub fn seconds(self) -> i32 {
        self.seconds
    }
}

impl Default for UtcOffset {
    fn default() -> Self {
        Self::CST
    }
}

impl FromStr for UtcOffset {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ParseError::new(s, "a UTC offset (expected e.g. +08:00, -05:30 or UTC)");
        let t = s.trim();
        if t.eq_ignore_ascii_case("utc") || t == "Z" {
            return Ok(Self::UTC);
        }
        let (sign, rest) = match t.as_bytes().first() {
            Some(b'+') => (1, &t[1..]),
            Some(b'-') => (-1, &t[1..]),
            _ => return Err(bad()),
        };
        let (h, m) = rest.split_once(':').unwrap_or((rest, "0"));
        let h: i32 = h.parse().map_err(|_| bad())?;
        let m: i32 = m.parse().map_err(|_| bad())?;
        if !(0..=14).contains(&h) || !(0..60).contains(&m) {
            return Err(bad());
        }
        Ok(Self {
            seconds: sign * (h * 3600 + m * 60),
        })
    }
}

impl fmt::Display for UtcOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.seconds < 0 { '-' } else { '+' };
        let abs = self.seconds.unsigned_abs();
        write!(f, "{sign}{:02}:{:02}", abs / 3600, abs % 3600 / 60)
    }
}

/// The current Unix time in seconds.
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// `base` ± `spread` (a fraction), so that loops started together drift apart.
pub fn jitter(base: Duration, spread: f64) -> Duration {
    base.mul_f64(1.0 + spread * (fastrand::f64() * 2.0 - 1.0))
}

/// Reads `YYYY-MM-DD HH:MM:SS` written at `offset`. Fractional seconds are ignored, and
/// an explicit zone after the time (`Z`, `+08:00`) wins over `offset`.
///
/// `Ok(None)` for an unset time: empty, or MySQL's zero date `0000-00-00 00:00:00`.
pub fn parse_local(text: &str, offset: UtcOffset) -> Result<Option<i64>, ParseError> {
    let t = text.trim();
    if t.is_empty() || t.starts_with("0000-00-00") {
        return Ok(None);
    }
    let bad = || ParseError::new(t, "a time of the form YYYY-MM-DD HH:MM:SS");
    if t.len() < 19 || !t.is_char_boundary(19) {
        return Err(bad());
    }
    let (t, rest) = t.split_at(19);
    let rest = rest
        .strip_prefix('.')
        .map_or(rest, |r| r.trim_start_matches(|c: char| c.is_ascii_digit()));
    let offset = match rest.trim() {
        "" => offset,
        zone => zone.parse::<UtcOffset>().map_err(|_| bad())?,
    };
    let b = t.as_bytes();
    if b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b' ' | b'T') {
        return Err(bad());
    }
    if b[13] != b':' || b[16] != b':' {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| -> Result<i64, ParseError> {
        let s = &t[r];
        if !s.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        s.parse::<i64>().map_err(|_| bad())
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || s > 60 {
        return Err(bad());
    }
    let days = days_from_civil(y, mo, d);
    Ok(Some(
        days * 86_400 + h * 3600 + mi * 60 + s - i64::from(offset.seconds),
    ))
}

/// Writes Unix seconds as `YYYY-MM-DD HH:MM:SS` at `offset` (the API's own format).
pub fn format_local(unix: i64, offset: UtcOffset) -> String {
    let local = unix + i64::from(offset.seconds);
    let (days, secs) = (local.div_euclid(86_400), local.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Writes Unix seconds as RFC 3339 in UTC, for people reading the landing page.
pub fn format_utc(unix: i64) -> String {
    let mut s = format_local(unix, UtcOffset::UTC);
    s.replace_range(10..11, "T");
    s.push('Z');
    s
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

// Howard Hinnant's days_from_civil / civil_from_days.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_example_is_china_standard_time() {
        assert_eq!(
            parse_local("2016-05-11 17:58:29", UtcOffset::CST),
            Ok(Some(1_462_960_709))
        );
        assert_eq!(
            parse_local("2016-05-11 17:58:29", UtcOffset::UTC),
            Ok(Some(1_462_960_709 + 8 * 3600))
        );
    }

    #[test]
    fn fractions_and_explicit_zones() {
        let cst = Some(1_462_960_709);
        assert_eq!(
            parse_local("2016-05-11 17:58:29.250", UtcOffset::CST),
            Ok(cst)
        );
        assert_eq!(
            parse_local("2016-05-11T17:58:29+08:00", UtcOffset::UTC),
            Ok(cst)
        );
        assert_eq!(parse_local("2016-05-11T09:58:29Z", UtcOffset::CST), Ok(cst));
        assert!(parse_local("2016-05-11 17:58:29 tomorrow", UtcOffset::CST).is_err());
    }

    #[test]
    fn unset_times_are_absent() {
        for t in ["", "  ", "0000-00-00 00:00:00", "0000-00-00"] {
            assert_eq!(parse_local(t, UtcOffset::CST), Ok(None), "{t:?}");
        }
    }

    #[test]
    fn malformed_times_name_the_value() {
        for t in [
            "2016-13-01 00:00:00",
            "2016-02-30 00:00:00",
            "yesterday",
            "2016-05-11",
        ] {
            let err = parse_local(t, UtcOffset::CST).unwrap_err();
            assert_eq!(err.value, t, "{err}");
        }
    }

    #[test]
    fn format_round_trips() {
        for unix in [0, 1_462_960_709, 951_782_400, 4_102_444_799] {
            let text = format_local(unix, UtcOffset::CST);
            assert_eq!(parse_local(&text, UtcOffset::CST), Ok(Some(unix)), "{text}");
        }
        assert_eq!(format_utc(1_462_960_709), "2016-05-11T09:58:29Z");
    }

    #[test]
    fn offsets_parse_and_print() {
        assert_eq!("+08:00".parse::<UtcOffset>(), Ok(UtcOffset::CST));
        assert_eq!(
            "-05:30".parse::<UtcOffset>().map(|o| o.seconds()),
            Ok(-19_800)
        );
        assert_eq!("UTC".parse::<UtcOffset>(), Ok(UtcOffset::UTC));
        assert_eq!(UtcOffset::CST.to_string(), "+08:00");
        assert_eq!("8".parse::<UtcOffset>().unwrap_err().value, "8");
        assert!("+25:00".parse::<UtcOffset>().is_err());
    }
}
