use super::*;
use crate::rollback::{Instance, Status};

/// A running job at 50 %, on no instance; other modules' tests build theirs from it.
pub(crate) fn job(id: u64) -> Job {
    Job {
        id,
        job_type: 10,
        async_request_id: String::new(),
        status: Status(1),
        progress: Some(0.5),
        code: Some(0),
        message: String::new(),
        start: Some(100),
        end: None,
        instances: vec![],
        tasks: vec![],
    }
}

/// A task on `instance_id`, with `id` (v2; empty on v3).
fn task_on(id: &str, instance_id: &str, progress: Option<f64>) -> Task {
    Task {
        id: id.into(),
        work_id: String::new(),
        status: Status(1),
        progress,
        code: None,
        message: String::new(),
        start: None,
        end: None,
        instance: Instance {
            instance_id: instance_id.into(),
            ..Instance::default()
        },
    }
}

fn key(id: u64) -> JobKey {
    JobKey::new("ap-guangzhou", id)
}

#[test]
fn labels_are_rendered_and_escaped() {
    let s = Store::new();
    s.track(
        key(7),
        Source::Discovered {
            instance_id: "cdb-1".into(),
        },
        Labels::from_pairs(&[("team", "a\"b\\c\nd")]),
    );
    let e = s.get(&key(7)).unwrap();
    assert_eq!(
        &*e.job_labels,
        r#"job_id="7",region="ap-guangzhou",instance_id="cdb-1",team="a\"b\\c\nd""#
    );
}

#[test]
fn failure_keeps_the_last_good_data() {
    let s = Store::new();
    assert!(s.track(key(1), Source::Configured, Labels::default()));
    assert!(!s.track(
        key(1),
        Source::Discovered {
            instance_id: "x".into()
        },
        Labels::default()
    ));
    assert!(
        s.track(
            JobKey::new("ap-shanghai", 1),
            Source::Configured,
            Labels::default()
        ),
        "the same id in another region is another job"
    );
    s.record_success(&key(1), job(1), 10.0);
    s.record_failure(
        &key(1),
        PollError {
            kind: ErrorKind::Timeout,
            api_code: None,
        },
        20.0,
    );
    let e = s.get(&key(1)).unwrap();
    assert_eq!(e.source, Source::Configured);
    assert_eq!(e.data.as_ref().unwrap().job.progress, Some(0.5));
    let h = e.health.as_ref().unwrap();
    assert_eq!((h.last_poll, h.last_success), (20.0, Some(10.0)));
    assert_eq!(h.last_error.as_ref().unwrap().kind, ErrorKind::Timeout);
}

#[test]
fn relabel_keeps_data_and_health_and_renders_again() {
    let s = Store::new();
    s.track(
        key(3),
        Source::Configured,
        Labels::from_pairs(&[("team", "a")]),
    );
    let mut j = job(3);
    j.tasks = vec![task_on("t1", "cdb-x", None)];
    s.record_success(&key(3), j, 10.0);
    let source = Source::Discovered {
        instance_id: "cdb-x".into(),
    };
    assert!(s.relabel(
        &key(3),
        source.clone(),
        Labels::from_pairs(&[("team", "b")])
    ));
    assert!(!s.relabel(&key(4), source, Labels::default()));
    let e = s.get(&key(3)).unwrap();
    assert_eq!(
        &*e.job_labels,
        r#"job_id="3",region="ap-guangzhou",instance_id="cdb-x",team="b""#
    );
    let d = e.data.as_ref().unwrap();
    assert!(
        d.task_labels[0].ends_with(r#"team="b""#),
        "{}",
        d.task_labels[0]
    );
    assert_eq!(e.health.as_ref().unwrap().last_success, Some(10.0));
}

#[test]
fn rows_keep_tasks_and_tasks_keep_instance_order() {
    let s = Store::new();
    s.track(
        key(5),
        Source::Listed { instance_id: None },
        Labels::default(),
    );
    let mut row = job(5);
    row.instances = ["cdb-a", "cdb-b"]
        .map(|i| Instance {
            instance_id: i.into(),
            ..Instance::default()
        })
        .to_vec();
    s.record_row(&key(5), row.clone(), 1.0);
    let task = |i: &str| task_on("", i, Some(0.1));
    s.record_task(&key(5), "cdb-b", Some(task("cdb-b")), 2.0);
    s.record_task(&key(5), "cdb-a", Some(task("cdb-a")), 2.0);
    s.record_detail_failure(
        &key(5),
        PollError {
            kind: ErrorKind::Throttled,
            api_code: Some("RequestLimitExceeded".into()),
        },
        3.0,
    );
    row.progress = Some(0.9);
    s.record_row(&key(5), row, 4.0);
    let e = s.get(&key(5)).unwrap();
    let d = e.data.as_ref().unwrap();
    assert_eq!(d.job.progress, Some(0.9));
    let ids: Vec<_> = d
        .job
        .tasks
        .iter()
        .map(|t| t.instance.instance_id.as_str())
        .collect();
    assert_eq!(ids, ["cdb-a", "cdb-b"]);
    assert_eq!(
        d.task_labels[0], r#"job_id="5",region="ap-guangzhou",instance_id="cdb-a""#,
        "v3 tasks have no task_id"
    );
    let h = e.health.as_ref().unwrap();
    assert!(!h.ok(), "a failing detail shows until a detail succeeds");
    s.record_task(&key(5), "cdb-a", Some(task("cdb-a")), 5.0);
    assert!(s.get(&key(5)).unwrap().health.as_ref().unwrap().ok());
}

#[test]
fn an_accounts_view_puts_its_account_in_every_key_and_label() {
    let root = Store::new();
    let (prod, staging) = (root.account("prod"), root.account("staging"));
    let listed = Source::Listed { instance_id: None };
    prod.track(key(5), listed, Labels::default());
    let mut with_task = job(5);
    with_task.tasks = vec![task_on("", "cdb-x", None)];
    prod.record_success(&key(5), with_task.clone(), 1.0);
    let in_prod = JobKey::in_account("prod", "ap-guangzhou", 5);
    let labels = r#"job_id="5",account="prod",region="ap-guangzhou",instance_id="cdb-x""#;
    let task_labels =
        |s: &Store| s.get(&in_prod).unwrap().data.as_ref().unwrap().task_labels[0].clone();
    assert_eq!(task_labels(&root), labels);
    prod.record_task(&key(5), "cdb-x", with_task.tasks.pop(), 2.0);
    assert_eq!(
        task_labels(&root),
        labels,
        "a task detail keeps the account"
    );
    assert!(staging.get(&key(5)).is_none() && staging.snapshot().is_empty());

    // Inventories and readiness: one per account, each view seeing and clearing its own.
    for view in [&prod, &staging] {
        view.add_inventory_source(&RegionKey::new("ap-guangzhou"), false);
        view.add_readiness_source(&view.region_key("ap-guangzhou"));
    }
    let accounts = |s: &Store| {
        let keys = s.inventory_snapshot().into_iter().map(|(k, _)| k.account);
        let ready = s
            .readiness_snapshot()
            .into_iter()
            .map(|r| r.key.account.clone());
        (keys.collect::<Vec<_>>(), ready.collect::<Vec<_>>())
    };
    let both = vec!["prod".to_string(), "staging".to_string()];
    assert_eq!(accounts(&root), (both.clone(), both));
    let readiness = root.readiness(&RegionKey::in_account("staging", "ap-guangzhou"));
    assert_eq!(
        readiness.unwrap().labels,
        r#"account="staging",region="ap-guangzhou""#
    );
    staging.clear();
    let prod_only = vec!["prod".to_string()];
    assert_eq!(accounts(&root), (prod_only.clone(), prod_only));
    assert!(root.get(&in_prod).is_some(), "prod's job stays");
}
