//! The values a configuration is made of, checked as they are read: durations, label
//! sets, and strings parsed through `FromStr` with the key's line in the error.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer};

use crate::parse_error::ParseError;

/// Labels the exporter writes itself; a configured label may not take their names.
pub const RESERVED_LABELS: &[&str] = &[
    "job_id",
    // With accounts:, every series of an account carries it: a configured one would be
    // written twice, and Prometheus refuses the whole scrape.
    "account",
    "region",
    "task_id",
    "async_request_id",
    "instance_id",
    "state",
    "type",
    "work_id",
    "instance_name",
    "strategy",
    "operator",
    "action",
    "result",
    "version",
    "revision",
    "le",
    "quantile",
    // Prometheus's own target labels: a clash would be renamed to exported_*.
    "job",
    "instance",
];

/// A duration written like `30s`, `10m`, `24h`, `1h30m` or `500ms`; never zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interval(pub Duration);

impl Interval {
    /// The interval of a loop that asks the API each round (`key` names it): 1 s or more.
    pub fn a_second_or_more(self, key: &str) -> Result<Duration, super::Invalid> {
        if self.0 < Duration::from_secs(1) {
            return Err(super::Invalid::value(
                key,
                format!("{}ms", self.0.as_millis()),
                "is too short: write 1s or more",
            ));
        }
        Ok(self.0)
    }
}

impl FromStr for Interval {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        let bad = || ParseError::new(s, "a duration (write e.g. 30s, 10m, 24h, 1h30m)");
        let mut rest = s.trim();
        if rest.is_empty() {
            return Err(bad());
        }
        let mut total = Duration::ZERO;
        while !rest.is_empty() {
            let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
            if digits == 0 {
                return Err(bad());
            }
            let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
            rest = &rest[digits..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(rest.len());
            let unit = match &rest[..unit_len] {
                "ms" => Duration::from_millis(1),
                "s" => Duration::from_secs(1),
                "m" => Duration::from_secs(60),
                "h" => Duration::from_secs(3600),
                "d" => Duration::from_secs(86_400),
                "w" => Duration::from_secs(7 * 86_400),
                _ => return Err(bad()),
            };
            rest = &rest[unit_len..];
            let part = u32::try_from(n)
                .ok()
                .and_then(|n| unit.checked_mul(n))
                .ok_or_else(bad)?;
            total = total.checked_add(part).ok_or_else(bad)?;
        }
        if total.is_zero() {
            return Err(ParseError::new(s, "a positive duration: it is zero"));
        }
        Ok(Interval(total))
    }
}

/// Extra labels from the configuration, checked as they are read. Shared, not copied: the
/// config, its copies and the store hold the same map of each job (a map of one label
/// takes half a KiB, and 10,000 jobs made it 16 MB when each holder had its own).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Labels(pub Arc<BTreeMap<String, String>>);

impl Labels {
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Labels {
        Labels(Arc::new(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ))
    }
}

/// An http(s) URL with a host: the API, STS and metadata endpoints, in the file or a flag.
pub fn http_url(text: &str) -> Result<reqwest::Url, ParseError> {
    let bad = || ParseError::new(text, "an http(s) URL with a host");
    let url = reqwest::Url::parse(text.trim()).map_err(|e| bad().because(e))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(bad());
    }
    Ok(url)
}

/// A region name such as ap-guangzhou, trimmed.
pub fn region(text: &str) -> Result<String, ParseError> {
    let r = text.trim();
    let plain = r.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if r.is_empty() || !plain {
        return Err(ParseError::new(r, "a region (e.g. ap-guangzhou)"));
    }
    Ok(r.to_string())
}

pub fn check_label_name(name: &str) -> Result<(), ParseError> {
    let mut chars = name.chars();
    let valid = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    let expected = if !valid {
        "a valid Prometheus label name (letters, digits and _, not starting with a digit)"
    } else if name.starts_with("__") {
        "a label name of yours: names starting with __ are reserved by Prometheus"
    } else if RESERVED_LABELS.contains(&name) {
        "a free label name: the exporter or Prometheus sets it itself"
    } else {
        return Ok(());
    };
    Err(ParseError::new(name, expected))
}

/// A label name of the file, checked as its key is read (so that the error has its line).
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct LabelName(String);

impl FromStr for LabelName {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        check_label_name(s).map(|()| LabelName(s.to_string()))
    }
}

impl<'de> Deserialize<'de> for LabelName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parsed(d)?.ok_or_else(|| de::Error::custom("a label name may not be empty"))
    }
}

impl<'de> Deserialize<'de> for Labels {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let map = BTreeMap::<LabelName, String>::deserialize(d)?;
        Ok(Labels(Arc::new(
            map.into_iter().map(|(k, v)| (k.0, v)).collect(),
        )))
    }
}

pub(super) fn parsed<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: fmt::Display,
{
    d.deserialize_option(Parsed::<T> {
        numbers: false,
        parsed: PhantomData,
    })
}

/// Like [`parsed`], for a value YAML may write as a number (`version: 3`).
pub(super) fn parsed_any<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: fmt::Display,
{
    d.deserialize_option(Parsed::<T> {
        numbers: true,
        parsed: PhantomData,
    })
}

/// Parses the text of a value inside the value's own deserializer, so that YAML's error
/// names the key and the value's line (an error raised after it names the enclosing section
/// and its first line).
struct Parsed<T> {
    /// Numbers are taken too (`version: 3`), as their text.
    numbers: bool,
    parsed: PhantomData<T>,
}

impl<'de, T> Visitor<'de> for Parsed<T>
where
    T: FromStr,
    T::Err: fmt::Display,
{
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a text value")
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        if self.numbers {
            d.deserialize_any(self)
        } else {
            d.deserialize_str(self)
        }
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        v.parse::<T>().map(Some).map_err(E::custom)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        self.visit_str(&v.to_string())
    }
}

impl fmt::Display for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{k}={v}")?;
        }
        Ok(())
    }
}
