//! `.ci/metrics-contract.txt` and the metric tables of docs/metrics.md, written from the families'
//! declarations ([`FAMILIES`] and [`OWN`]) so that neither is kept by hand.
//! tests/it/contract.rs checks the checked-in copies, and rewrites them when run with
//! `UPDATE_GOLDEN=1`.

use std::fmt::Write as _;

use super::families::{FAMILIES, Family, Group};
use crate::api::{v2, v3};
use crate::metrics::{self, Kind, OWN};
use crate::rollback::State;

/// What starts and ends the generated part of docs/metrics.md.
const BEGIN: &str = "<!-- metrics:begin";
const BEGIN_NOTE: &str = " (generated from src/render/families.rs and src/metrics/mod.rs by `UPDATE_GOLDEN=1 cargo test --test it`) -->";
const END: &str = "<!-- metrics:end -->";

/// One family as the contract and the metric tables see it.
struct Doc {
    name: &'static str,
    kind: Kind,
    group: Group,
    /// Its own labels, beyond the group's.
    labels: &'static [&'static str],
    meaning: &'static str,
    optional: bool,
}

/// Every family, by group, in the order of the declarations.
fn docs() -> Vec<Doc> {
    let rollback = FAMILIES.iter().map(|f| Doc {
        name: f.name,
        kind: Family::KIND,
        group: f.rows.group(),
        labels: f.rows.labels(),
        meaning: f.meaning,
        optional: f.optional,
    });
    let own = OWN.iter().map(|o| Doc {
        name: o.name,
        kind: o.kind,
        group: Group::Exporter,
        labels: o.labels,
        meaning: o.meaning,
        optional: o.optional,
    });
    let mut all: Vec<Doc> = rollback.chain(own).collect();
    all.sort_by_key(|d| d.group);
    all
}

/// The names of every family the exporter writes, but the process collector's.
pub fn names() -> Vec<&'static str> {
    docs().into_iter().map(|d| d.name).collect()
}

/// The text of `.ci/metrics-contract.txt`.
pub fn contract() -> String {
    let states: Vec<_> = State::ALL.map(State::as_str).into();
    let results: Vec<_> = metrics::results().collect();
    let actions: Vec<_> = v2::ACTIONS.into_iter().chain(v3::ACTIONS).collect();
    let mut out = String::from(
        "# Metric families the exporter promises (name, type, required labels).\n\
         # Generated from src/render/families.rs and src/metrics/mod.rs: do not edit, run\n\
         # `UPDATE_GOLDEN=1 cargo test --test it` instead.\n\
         # v2 tasks also carry task_id, and v2 discovery instance_id; v3 has neither.\n\
         # `@values LABEL v1,v2,...` lists the values a label may take (State, ErrorKind,\n\
         # both API versions' actions).\n",
    );
    for (label, values) in [("state", states), ("result", results), ("action", actions)] {
        let _ = writeln!(out, "@values {label:<7} {}", values.join(","));
    }
    out.push_str(
        "# A fourth column `optional` marks a family the demo (API 3.0) need not show.\n\
         # Read by .ci/check-exposition.py (against a live /metrics); tests/it/contract.rs\n\
         # checks that rules, dashboard and README use only these.\n",
    );
    for d in docs() {
        let labels: Vec<_> = d.group.labels().iter().chain(d.labels).copied().collect();
        let labels = if labels.is_empty() {
            "-".to_string()
        } else {
            labels.join(",")
        };
        let optional = if d.optional { " optional" } else { "" };
        let _ = writeln!(
            out,
            "{:<47} {:<9} {labels}{optional}",
            d.name,
            d.kind.as_str()
        );
    }
    out
}

/// The words after the tables.
const ACCOUNTS_NOTE: &str = "With `accounts:`, every series of an account (jobs, tasks, discovery, instance inventory, \
readiness, jobs finished and vanished, API requests, the request budget, credentials) also carries \
`account`.\n\n";

/// The words before a group's table.
fn heading(group: Group) -> &'static str {
    match group {
        Group::Job => {
            "Per job — labels `job_id`, `region`, the configured labels, and `instance_id` when the job\n\
             has one instance (v3) or was discovered on one (v2):"
        }
        Group::Task => {
            "Per task (one per instance; keyed by job and instance) — labels `job_id`, `region`,\n\
             `instance_id` (the task's instance), `task_id` where the API gives one (v2 only), and the\n\
             job's configured labels:"
        }
        Group::Discovery => {
            "Discovery — label `region`, and `instance_id` for v2's listing per instance:"
        }
        Group::Inventory => {
            "Instance inventory (API 3.0, `instances:`) — label `region`; `cdb_rollback_instance_info`\n\
             also carries one label per `instances.exported_tags` entry:"
        }
        Group::Readiness => {
            "Rollback readiness (API 3.0, `readiness:`) — label `region`, and `instance_id` for the\n\
             series of one instance:"
        }
        Group::Exporter => "The exporter itself:",
    }
}

/// The metric tables of docs/metrics.md, with the comments that mark them.
pub fn metric_tables() -> String {
    let docs = docs();
    let mut out = format!("{BEGIN}{BEGIN_NOTE}\n");
    for group in [
        Group::Job,
        Group::Task,
        Group::Discovery,
        Group::Inventory,
        Group::Readiness,
        Group::Exporter,
    ] {
        let _ = write!(
            out,
            "{}\n\n| metric | meaning |\n|---|---|\n",
            heading(group)
        );
        let mut rows: Vec<(Vec<String>, &str)> = Vec::new();
        for d in docs.iter().filter(|d| d.group == group) {
            let name = if d.labels.is_empty() {
                format!("`{}`", d.name)
            } else {
                format!("`{}{{{}}}`", d.name, d.labels.join(","))
            };
            // Families that mean the same share a row.
            match rows.last_mut() {
                Some((names, meaning)) if *meaning == d.meaning => names.push(name),
                _ => rows.push((vec![name], d.meaning)),
            }
        }
        if group == Group::Exporter {
            rows.push((vec!["`process_*`".into()], metrics::PROCESS_MEANING));
        }
        for (names, meaning) in rows {
            let _ = writeln!(out, "| {} | {meaning} |", names.join(", "));
        }
        out.push('\n');
    }
    out.push_str(ACCOUNTS_NOTE);
    out.push_str(END);
    out.push('\n');
    out
}

/// `page` with its generated part replaced by [`metric_tables`]; `None` when it lacks
/// the comments that mark that part.
pub fn splice_tables(page: &str) -> Option<String> {
    let begin = page.find(BEGIN)?;
    let end = begin + page[begin..].find(END)? + END.len();
    let end = end + usize::from(page[end..].starts_with('\n'));
    Some(format!(
        "{}{}{}",
        &page[..begin],
        metric_tables(),
        &page[end..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_namespaced() {
        let mut names = names();
        assert!(names.iter().all(|n| n.starts_with("cdb_rollback_")));
        let all = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all);
    }

    #[test]
    fn a_page_without_the_markers_is_refused() {
        assert_eq!(splice_tables("# Metrics\n\n| metric | meaning |\n"), None);
        let spliced =
            splice_tables("intro\n<!-- metrics:begin -->\nold\n<!-- metrics:end -->\nrest\n");
        let spliced = spliced.unwrap_or_default();
        assert!(spliced.starts_with("intro\n<!-- metrics:begin (generated"));
        let tail = format!(
            "| `process_*` | CPU, memory, file descriptors, start time |\n\n{ACCOUNTS_NOTE}<!-- metrics:end -->\nrest\n"
        );
        assert!(spliced.ends_with(&tail), "{spliced}");
        assert!(!spliced.contains("old"));
    }
}
