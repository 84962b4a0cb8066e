//! Several accounts in one exporter: each with its own key pair, jobs, request budget and
//! failures, told apart by the `account` label, and reloaded one by one.

use std::path::PathBuf;
use std::time::Duration;

use crate::support::Daemon;
use crate::support::exposition::Exposition;
use crate::support::fake_accounts::FakeAccounts;

const BUDGET: f64 = 20.0;
const DAY: i64 = 86_400;

fn dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cdb-accounts-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The config with `accounts` (name, SecretId), each key in `dir/<name>.key`.
fn yaml(endpoint: &str, dir: &std::path::Path, accounts: &[(&str, &str)]) -> String {
    let mut y = format!(
        "api:\n  endpoint: {endpoint}\n  region: ap-guangzhou\n  max_requests_per_second: {BUDGET}\n  \
         timeout: 2s\npoll:\n  interval: 300ms\n  finished_interval: 1s\n  retries: 0\naccounts:\n"
    );
    for (name, id) in accounts {
        let key = dir.join(format!("{name}.key"));
        std::fs::write(&key, format!("key-of-{name}\n")).unwrap();
        y += &format!(
            "  - name: {name}\n    credentials:\n      secret_id: {id}\n      secret_key_file: {}\n",
            key.display()
        );
    }
    if accounts.iter().any(|(name, _)| *name == "staging") {
        y += "jobs:\n  - id: 500\n    account: staging\n    labels: { team: stage }\n";
    }
    y
}

fn status(e: &Exposition, account: &str, job: &str) -> Option<f64> {
    e.value(
        "cdb_rollback_job_status",
        &[("account", account), ("job_id", job)],
    )
}

/// The status of the task of `account`'s job 500 on cdb-shared.
fn shared_task(e: &Exposition, account: &str) -> Option<f64> {
    let on = [
        ("account", account),
        ("job_id", "500"),
        ("instance_id", "cdb-shared"),
    ];
    e.value("cdb_rollback_task_status", &on)
}

fn budget(e: &Exposition, account: &str) -> Option<f64> {
    let name = "cdb_rollback_api_budget_requests_per_second";
    e.value(name, &[("account", account)])
}

/// The families of an account's jobs, inventory and readiness.
const OWN: [&str; 6] = [
    "cdb_rollback_job",
    "cdb_rollback_task",
    "cdb_rollback_instance_info",
    "cdb_rollback_inventory_",
    "cdb_rollback_recoverable_",
    "cdb_rollback_readiness_",
];

/// Whether `account` has a window for its instance cdb-shared.
fn windowed(e: &Exposition, account: &str) -> bool {
    let shared = [("account", account), ("instance_id", "cdb-shared")];
    let begin = "cdb_rollback_recoverable_begin_timestamp_seconds";
    e.value(begin, &shared).is_some()
}

/// Every series of `account`'s jobs, inventory and readiness, as text, sorted.
fn series_of(e: &Exposition, account: &str) -> Vec<String> {
    let mut out: Vec<String> = e
        .samples
        .iter()
        .filter(|s| s.labels.get("account").map(String::as_str) == Some(account))
        .filter(|s| OWN.iter().any(|f| s.name.starts_with(f)))
        .map(|s| format!("{}{:?}", s.name, s.labels))
        .collect();
    out.sort();
    out
}

async fn two_accounts(test: &str) -> (FakeAccounts, PathBuf, Daemon) {
    let api = FakeAccounts::start().await;
    api.add(
        "AKIDprod",
        "key-of-prod",
        vec![(101, "RUNNING", "cdb-p1"), (500, "RUNNING", "cdb-shared")],
    );
    api.add(
        "AKIDstaging",
        "key-of-staging",
        vec![(500, "SUCCEED", "cdb-shared"), (202, "RUNNING", "cdb-s2")],
    );
    // Both have an instance cdb-shared: two instances, named and windowed apart.
    api.with("AKIDprod", |a| {
        a.instances = vec![("cdb-p1", "orders-prod"), ("cdb-shared", "shared-prod")];
        a.window = 7 * DAY;
    });
    api.with("AKIDstaging", |a| {
        a.instances = vec![
            ("cdb-shared", "shared-staging"),
            ("cdb-s2", "reports-staging"),
        ];
        a.window = DAY;
    });
    let dir = dir(test);
    let path = dir.join("config.yml");
    let accounts = [("prod", "AKIDprod"), ("staging", "AKIDstaging")];
    std::fs::write(&path, yaml(&api.endpoint, &dir, &accounts)).unwrap();
    let daemon = Daemon::start_file(&path, true).await;
    (api, path, daemon)
}

/// Each account's own series: credentials, requests, and its jobs, the same job id in
/// both being two jobs with their own state and labels.
fn told_apart(e: &Exposition) {
    for account in ["prod", "staging"] {
        let refreshes = [
            ("account", account),
            ("source", "static"),
            ("result", "success"),
        ];
        let found = e.find("cdb_rollback_credentials_refreshes_total", &refreshes);
        assert_eq!(found.len(), 1, "{account}'s credentials series\n{}", e.text);
        let listed = [
            ("account", account),
            ("action", "DescribeTasks"),
            ("result", "success"),
        ];
        assert!(e.value("cdb_rollback_api_requests_total", &listed) > Some(0.0));
        let vanished = [("account", account), ("region", "ap-guangzhou")];
        assert_eq!(
            e.value("cdb_rollback_jobs_vanished_total", &vanished),
            Some(0.0)
        );
    }
    // The same job id in two accounts is two jobs, each with its own state and labels, and
    // its tasks too.
    assert_ne!(status(e, "prod", "500"), status(e, "staging", "500"));
    let tasks = (shared_task(e, "prod"), shared_task(e, "staging"));
    assert_eq!(tasks, (Some(1.0), Some(2.0)), "{}", e.text);
    let staged = [("account", "staging"), ("job_id", "500"), ("team", "stage")];
    assert_eq!(
        e.find("cdb_rollback_job_status", &staged).len(),
        1,
        "{}",
        e.text
    );
    let prod = [("account", "prod"), ("job_id", "500"), ("team", "stage")];
    assert!(
        e.find("cdb_rollback_job_status", &prod).is_empty(),
        "jobs[].account"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_accounts_are_told_apart_and_one_throttled_does_not_slow_the_other() {
    let (api, _path, daemon) = two_accounts("throttled").await;
    let e = daemon
        .scrape_until(Duration::from_secs(8), "both accounts' jobs", |e| {
            ["101", "500"]
                .iter()
                .all(|j| status(e, "prod", j).is_some())
                && ["500", "202"]
                    .iter()
                    .all(|j| status(e, "staging", j).is_some())
                && shared_task(e, "prod").is_some()
                && shared_task(e, "staging").is_some()
        })
        .await;
    told_apart(&e);
    for (path, want) in [
        ("/jobs/prod/ap-guangzhou/500", 200),
        ("/jobs/staging/ap-guangzhou/500", 200),
        ("/jobs/ap-guangzhou/500", 404),
    ] {
        assert_eq!(daemon.get(path).await.status(), want, "{path}");
    }

    api.with("AKIDstaging", |a| a.throttled = true);
    let e = daemon
        .scrape_until(Duration::from_secs(5), "staging throttled", |e| {
            budget(e, "staging").is_some_and(|b| b < BUDGET / 2.0)
                && e.value(
                    "cdb_rollback_job_poll_success",
                    &[("account", "staging"), ("job_id", "202")],
                ) == Some(0.0)
        })
        .await;
    assert_eq!(budget(&e, "prod"), Some(BUDGET), "prod keeps its budget");
    let ok = [("account", "prod"), ("job_id", "101")];
    assert_eq!(e.value("cdb_rollback_job_poll_success", &ok), Some(1.0));
    assert!(
        status(&e, "staging", "202").is_some(),
        "last good values stay"
    );
    // prod still lists every 300 ms: about 7 listings in 2 s, details aside.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let prod_rate = api.recent("AKIDprod", Duration::from_secs(2));
    assert!(
        prod_rate >= 5,
        "prod slowed down: {prod_rate} requests in 2 s"
    );
    // Listings since the task details came keep each task in its account.
    let later = daemon.scrape().await;
    assert_eq!(shared_task(&later, "prod"), Some(1.0), "{}", later.text);
    daemon.stop().await;
}

/// Once both accounts' jobs and windows show, throttles prod until its budget is cut: a
/// restart of its poller would then show, as the budget would be reset.
async fn prod_throttled(api: &FakeAccounts, daemon: &Daemon) -> Exposition {
    daemon
        .scrape_until(Duration::from_secs(8), "both accounts' jobs", |e| {
            status(e, "prod", "101").is_some()
                && status(e, "staging", "202").is_some()
                && windowed(e, "prod")
                && windowed(e, "staging")
        })
        .await;
    api.with("AKIDprod", |a| a.throttled = true);
    daemon
        .scrape_until(Duration::from_secs(5), "prod's budget cut", |e| {
            budget(e, "prod").is_some_and(|b| b < BUDGET)
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_that_removes_an_account_leaves_the_other_untouched() {
    let (api, path, daemon) = two_accounts("reload").await;
    let before = prod_throttled(&api, &daemon).await;
    let requests = |e: &Exposition| {
        let found = e.find("cdb_rollback_api_requests_total", &[("account", "prod")]);
        found.iter().map(|s| s.value).sum::<f64>()
    };
    let dir = path.parent().unwrap().to_path_buf();
    std::fs::write(&path, yaml(&api.endpoint, &dir, &[("prod", "AKIDprod")])).unwrap();
    let reloaded = daemon.post("/-/reload").await;
    assert_eq!(reloaded.status(), 200, "{}", reloaded.text().await.unwrap());
    let after = daemon
        .scrape_until(Duration::from_secs(5), "staging gone", |e| {
            !e.text.contains("account=\"staging\"")
        })
        .await;
    assert_eq!(series_of(&after, "prod"), series_of(&before, "prod"));
    assert!(
        requests(&after) >= requests(&before),
        "prod's counters went on"
    );
    let kept = budget(&after, "prod").unwrap();
    assert!(kept < BUDGET, "prod's poller was restarted: budget {kept}");
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_that_changes_one_accounts_key_re_credentials_only_that_account() {
    let (api, path, daemon) = two_accounts("rekey").await;
    api.add(
        "AKIDstaging2",
        "key-of-staging2",
        vec![(500, "SUCCEED", "cdb-shared"), (202, "RUNNING", "cdb-s2")],
    );
    let before = prod_throttled(&api, &daemon).await;
    let dir = path.parent().unwrap().to_path_buf();
    let accounts = [("prod", "AKIDprod"), ("staging2", "AKIDstaging2")];
    let text = yaml(&api.endpoint, &dir, &accounts).replace("name: staging2", "name: staging");
    let jobs = "jobs:\n  - id: 500\n    account: staging\n    labels: { team: stage }\n";
    std::fs::write(&path, text + jobs).unwrap();
    let reloaded = daemon.post("/-/reload").await;
    assert_eq!(reloaded.status(), 200, "{}", reloaded.text().await.unwrap());
    let second = Duration::from_secs(1);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3 * 3);
    while !(api.recent("AKIDstaging2", second) > 0 && api.recent("AKIDstaging", second) == 0) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "staging still signs with its old key"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let after = daemon.scrape().await;
    assert_eq!(
        series_of(&after, "staging"),
        series_of(&before, "staging"),
        "staging kept its jobs"
    );
    let kept = budget(&after, "prod").unwrap();
    assert!(kept < BUDGET, "prod's poller was restarted: budget {kept}");

    // Leaving accounts: for a top-level credentials section needs a restart.
    std::fs::write(&path, format!("api:\n  endpoint: {}\n", api.endpoint)).unwrap();
    let refused = daemon.post("/-/reload").await;
    assert_eq!(refused.status(), 500);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("restart the exporter")
    );
    assert!(status(&daemon.scrape().await, "staging", "202").is_some());
    daemon.stop().await;
}

/// Each account's inventory and readiness series, with its `account`, and the requests
/// they made; the same instance id in both accounts is two instances.
fn inventories_apart(e: &Exposition) {
    let shared = |account| [("account", account), ("instance_id", "cdb-shared")];
    let (begin, end) = (
        "cdb_rollback_recoverable_begin_timestamp_seconds",
        "cdb_rollback_recoverable_end_timestamp_seconds",
    );
    for (account, name, days) in [("prod", "shared-prod", 7), ("staging", "shared-staging", 1)] {
        let info = [("instance_name", name), ("account", account)];
        let info = e.find("cdb_rollback_instance_info", &info);
        assert_eq!(info.len(), 1, "{account}'s cdb-shared\n{}", e.text);
        assert_eq!(info[0].labels["instance_id"], "cdb-shared");
        let own = [("account", account)];
        assert_eq!(e.value("cdb_rollback_inventory_instances", &own), Some(2.0));
        assert_eq!(e.value("cdb_rollback_inventory_success", &own), Some(1.0));
        assert_eq!(e.value("cdb_rollback_readiness_success", &own), Some(1.0));
        let window =
            e.value(end, &shared(account)).unwrap() - e.value(begin, &shared(account)).unwrap();
        assert_eq!(window, (days * DAY) as f64, "{account}'s own window");
        for action in ["DescribeDBInstances", "DescribeRollbackRangeTime"] {
            let asked = [
                ("account", account),
                ("action", action),
                ("result", "success"),
            ];
            let n = e.value("cdb_rollback_api_requests_total", &asked);
            assert!(n > Some(0.0), "{account} {action}");
        }
    }
    let ours = e
        .samples
        .iter()
        .filter(|s| OWN.iter().any(|f| s.name.starts_with(f)));
    let unlabelled: Vec<_> = ours.filter(|s| !s.labels.contains_key("account")).collect();
    assert!(unlabelled.is_empty(), "without account: {unlabelled:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inventory_and_readiness_are_per_account() {
    let (_api, _path, daemon) = two_accounts("inventory").await;
    let e = daemon
        .scrape_until(Duration::from_secs(8), "both accounts' windows", |e| {
            windowed(e, "prod") && windowed(e, "staging")
        })
        .await;
    inventories_apart(&e);
    // Each account's job 500 on cdb-shared is named from its own account's inventory.
    for (account, name, other) in [
        ("prod", "shared-prod", "shared-staging"),
        ("staging", "shared-staging", "shared-prod"),
    ] {
        let page = daemon
            .get(&format!("/jobs/{account}/ap-guangzhou/500"))
            .await;
        let page = page.text().await.unwrap();
        assert!(page.contains(name), "{account}'s job page\n{page}");
        assert!(!page.contains(other), "{account}'s job page names {other}");
    }
    daemon.stop().await;
}
