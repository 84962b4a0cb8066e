//! The `instances:` section: defaults, tags as labels, filters, and the errors that name
//! the key.

use std::time::Duration;

use super::*;
use crate::inventory::InstanceType;

use super::tests::parse;

fn err(text: &str) -> String {
    match parse(text) {
        Ok(_) => panic!("accepted: {text}"),
        Err(e) => e,
    }
}

fn labels(c: &Config) -> Vec<(&str, &str)> {
    let tags = &c.instances.exported_tags;
    tags.iter()
        .map(|t| (t.key.as_str(), t.label.as_str()))
        .collect()
}

#[test]
fn on_by_default_with_api_3_off_on_v2() {
    let c = parse("api:\n  region: ap-shanghai\n").unwrap();
    assert!(c.instances.enabled);
    assert_eq!(c.instances.interval, Duration::from_secs(600));
    assert!(!c.instances.filter.is_set());
    let v2 = parse("api:\n  version: 2\njobs:\n  - id: 1\n").unwrap();
    assert!(!v2.instances.enabled);
    let off = parse("instances:\n  enabled: false\n").unwrap();
    assert!(!off.instances.enabled);
}

#[test]
fn exported_tags_as_a_list_or_a_map() {
    let c =
        parse("instances:\n  interval: 1s\n  exported_tags: [team, cost-center, a.b]\n").unwrap();
    assert_eq!(c.instances.interval, Duration::from_secs(1));
    assert_eq!(
        labels(&c),
        [
            ("team", "tag_team"),
            ("cost-center", "tag_cost_center"),
            ("a.b", "tag_a_b")
        ]
    );
    let c = parse("instances:\n  exported_tags:\n    负责人: owner\n    team: team\n").unwrap();
    assert_eq!(labels(&c), [("负责人", "owner"), ("team", "team")]);
}

#[test]
fn filters_read_one_value_or_several() {
    let c = parse(
        "instances:\n  filter:\n    tags:\n      env: prod\n      team: [orders, payments]\n    instance_types: [master, ro]\n",
    )
    .unwrap();
    let f = &c.instances.filter;
    assert_eq!(
        f.tags,
        [
            ("env".to_string(), vec!["prod".to_string()]),
            ("team".to_string(), vec!["orders".into(), "payments".into()])
        ]
    );
    assert_eq!(f.instance_types, [InstanceType::Master, InstanceType::Ro]);
}

/// Each case is refused, naming the file, then the key (or line) and what is wrong.
fn each_names_its_key(cases: &[(&str, &str, &str)]) {
    for (text, key, words) in cases {
        let e = err(text);
        assert!(e.contains(key) && e.contains(words), "{text}: {e}");
        assert!(e.starts_with("config file /etc/x/config.yml"), "{e}");
    }
}

#[test]
fn bad_exported_tags_name_their_key() {
    each_names_its_key(&[
        (
            "instances:\n  exported_tags: [a-b, a_b]\n",
            "instances.exported_tags[1]",
            "tag_a_b",
        ),
        (
            "instances:\n  exported_tags: ['']\n",
            "instances.exported_tags[0]",
            "empty",
        ),
        (
            "instances:\n  exported_tags:\n    负责人: 负责人\n",
            "instances.exported_tags.负责人",
            "label name",
        ),
        (
            "instances:\n  exported_tags:\n    owner: account\n",
            "instances.exported_tags.owner",
            "sets it itself",
        ),
        (
            "instances:\n  exported_tags:\n    owner: zone\n",
            "instances.exported_tags.owner",
            "sets itself",
        ),
        (
            "instances:\n  exported_tags:\n    owner: job_id\n",
            "instances.exported_tags.owner",
            "free label name",
        ),
        (
            "instances:\n  exported_tags:\n    a: x\n    b: x\n",
            "instances.exported_tags.b",
            "tag `a` too",
        ),
        (
            "instances:\n  exported_tags: team\n",
            "instances.exported_tags",
            "a list",
        ),
        (
            "instances:\n  exported_tags: [负责人]\n",
            "instances.exported_tags[0]",
            "give it a label name in a map",
        ),
    ]);
}

#[test]
fn bad_filters_name_their_key() {
    each_names_its_key(&[
        (
            "instances:\n  filter:\n    tags:\n      env: []\n",
            "instances.filter.tags.env",
            "at least one",
        ),
        (
            "instances:\n  filter:\n    tags:\n      env: {a: b}\n",
            "instances.filter.tags.env",
            "tag value",
        ),
        (
            "instances:\n  filter:\n    instance_types: [master, slave]\n",
            "instances.filter.instance_types[1]",
            "master, dr or ro",
        ),
        ("instances:\n  filters: {}\n", "filters", "unknown field"),
    ]);
}

#[test]
fn bad_intervals_and_sections_name_their_key() {
    each_names_its_key(&[
        (
            "instances:\n  interval: 500ms\n",
            "instances.interval",
            "1s or more",
        ),
        ("instances:\n  interval: 0s\n", "line 2", "positive"),
        (
            "api:\n  version: 2\njobs:\n  - id: 1\ninstances:\n  exported_tags: [team]\n",
            "instances",
            "API 3.0",
        ),
        (
            "instances:\n  enabled: false\n  filter:\n    tags: {env: prod}\n",
            "instances.enabled",
            "need the inventory",
        ),
    ]);
}
