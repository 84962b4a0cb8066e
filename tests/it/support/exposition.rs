//! A small reader of the Prometheus text format, to assert on values.

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

pub struct Exposition {
    pub text: String,
    pub samples: Vec<Sample>,
}

fn parse_labels(s: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut chars = s.chars().peekable();
    loop {
        let name: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if name.is_empty() {
            return out;
        }
        assert_eq!(
            chars.next(),
            Some('"'),
            "label {name} value must be quoted in {s}"
        );
        let mut value = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some(other) => value.push(other),
                    None => break,
                },
                '"' => break,
                c => value.push(c),
            }
        }
        out.insert(name.trim_start_matches(',').to_string(), value);
        if chars.peek() == Some(&',') {
            chars.next();
        }
    }
}

/// One row of [`Exposition::expect`]: family (without `cdb_rollback_`), labels, value.
pub type Expected<'a> = (&'a str, &'a [(&'a str, &'a str)], Option<f64>);

impl Exposition {
    pub fn parse(text: &str) -> Exposition {
        let mut samples = Vec::new();
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        {
            let (series, value) = line
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("bad line {line}"));
            let value: f64 = value
                .parse()
                .unwrap_or_else(|_| panic!("bad value in {line}"));
            let (name, labels) = match series.split_once('{') {
                Some((n, rest)) => (n, parse_labels(rest.strip_suffix('}').unwrap_or(rest))),
                None => (series, BTreeMap::new()),
            };
            samples.push(Sample {
                name: name.to_string(),
                labels,
                value,
            });
        }
        Exposition {
            text: text.to_string(),
            samples,
        }
    }

    /// Samples of `name` whose labels include all of `labels`.
    pub fn find(&self, name: &str, labels: &[(&str, &str)]) -> Vec<&Sample> {
        self.samples
            .iter()
            .filter(|s| s.name == name)
            .filter(|s| {
                labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .collect()
    }

    /// The one value of `name` with `labels`; `None` if absent, panics if ambiguous.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let found = self.find(name, labels);
        assert!(
            found.len() <= 1,
            "{name}{labels:?} matches {} series",
            found.len()
        );
        found.first().map(|s| s.value)
    }

    /// Checks a table of expected values, families named without their `cdb_rollback_`
    /// (`None`: no such series, in a family that exists), and fails once, listing every row
    /// that differs, so that a scenario's expectations read as one table.
    pub fn expect(&self, rows: &[Expected]) {
        let wrong: Vec<String> = rows
            .iter()
            .filter_map(|(name, labels, want)| {
                let name = format!("cdb_rollback_{name}");
                let family = ["_count", "_sum", "_bucket"]
                    .iter()
                    .fold(name.as_str(), |n, s| n.trim_end_matches(s));
                let got: Vec<f64> = self.find(&name, labels).iter().map(|s| s.value).collect();
                let problem = if !self.text.contains(&format!("# TYPE {family} ")) {
                    Some("no such family".to_string())
                } else if got.len() > 1 {
                    Some(format!("{} series match", got.len()))
                } else {
                    (got.first() != want.as_ref()).then(|| format!("got {got:?}, want {want:?}"))
                };
                problem.map(|p| format!("{name}{labels:?}: {p}"))
            })
            .collect();
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    /// The states set to 1 for the series matching `labels`.
    pub fn states(&self, name: &str, labels: &[(&str, &str)]) -> Vec<String> {
        self.find(name, labels)
            .into_iter()
            .filter(|s| s.value == 1.0)
            .map(|s| s.labels["state"].clone())
            .collect()
    }
}
