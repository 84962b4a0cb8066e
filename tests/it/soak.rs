//! A short soak under faults, for each API version: the fault fake throttles, fails,
//! hangs past the timeout, resets connections and sends garbage, at random with a fixed
//! seed, while jobs change state. Throughout, the exporter keeps serving, never exceeds
//! its request budget in any one-second window, and shows for each job the values of
//! the latest answer it got; once the faults stop, every job is fresh within two of its
//! poll intervals. On v3 the inventory and readiness requests take the same faults, and
//! each instance keeps the name and window of the last answer served whole.

use std::time::{Duration, Instant};

use cdb_rollback_exporter::demo::inventory::FLEET;
use cdb_rollback_exporter::time::unix_now;
use reqwest::Url;

use crate::support::exposition::Exposition;
use crate::support::faults::report::check_instances;
use crate::support::faults::{Fault, FaultApi, World, check_jobs};
use crate::support::{Daemon, config};

/// How long the faults last, per version.
const FAULTY: Duration = Duration::from_secs(9);
const BUDGET: f64 = 5.0;
const TIMEOUT: Duration = Duration::from_secs(1);
const INTERVAL: Duration = Duration::from_secs(3);
/// The inventory's and readiness's interval: a round or two of each under the faults,
/// with the one request slot left mostly to job polls.
const FLEET_INTERVAL: Duration = Duration::from_secs(10);

/// What the scrapes under faults saw: how many, and how many showed the inventory or the
/// readiness round failing (v2 has neither).
#[derive(Debug, Default)]
struct Seen {
    scrapes: usize,
    inventory_down: usize,
    readiness_down: usize,
}

/// Every job and instance against what the fake served.
fn check(api: &FaultApi, e: &Exposition, scraped_at: f64) {
    let mut problems = api.with(|log| check_jobs(e, log, scraped_at));
    problems.extend(api.with(|log| check_instances(e, log)));
    assert!(problems.is_empty(), "{problems:#?}");
}

/// Scrapes while the faults last, checking every job and instance each time; then stops
/// the faults and waits for every job to be fresh.
///
/// The daemons run with `concurrency: 1` and a demand near the budget (v3: far above),
/// so that requests queue at the concurrency cap while one hangs: the case where requests
/// used to leave together once the slot freed (before `api::slot::take` took a fresh
/// budget slot after waiting; without it the v2 soak sees 8 requests in one second), and
/// where, holding the freed slot while they waited for the budget, they went on queueing
/// for it behind task details at half the budget's pace (v3: a page of the recent listing
/// not fresh 6 s after the faults).
async fn soak(api: &FaultApi, daemon: &Daemon, jobs: usize, interval: Duration) -> Seen {
    let until = Instant::now() + FAULTY;
    let mut seen = Seen::default();
    while Instant::now() < until {
        let at = unix_now();
        let e = daemon.scrape().await;
        check(api, &e, at);
        let down = |name: &str| usize::from(e.value(name, &[]) == Some(0.0));
        seen.scrapes += 1;
        seen.inventory_down += down("cdb_rollback_inventory_success");
        seen.readiness_down += down("cdb_rollback_readiness_success");
        // Pacing between scrapes, not synchronisation.
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let (requests, faults) = api.with(|log| {
        let faults = log.arrivals.iter().filter(|a| !a.fault.served()).count();
        (log.arrivals.len(), faults)
    });
    assert!(
        faults * 5 > requests,
        "too few faults to mean anything: {faults} of {requests}"
    );

    api.set_faults(false);
    let off = unix_now();
    let e = daemon
        .scrape_within(interval * 2, "every job fresh after the faults stop", |e| {
            let fresh = e
                .find("cdb_rollback_job_last_success_time_seconds", &[])
                .iter()
                .filter(|s| s.value >= off)
                .count();
            let ok = e
                .find("cdb_rollback_job_poll_success", &[])
                .iter()
                .filter(|s| s.value == 1.0)
                .count();
            fresh >= jobs && ok >= jobs
        })
        .await;
    check(api, &e, unix_now());

    let worst = api.with(|log| log.max_in_window(Duration::from_secs(1)));
    eprintln!(
        "soak: {requests} requests under faults ({faults} faulted), {} scrapes, \
         worst one-second window {worst} (budget {BUDGET}/s)",
        seen.scrapes
    );
    assert!(
        worst as f64 <= BUDGET + 1.0,
        "{worst} requests arrived within one second; the budget is {BUDGET}/s"
    );
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_under_faults() {
    let world = World {
        jobs: 10,
        first_id: 5000,
        t0: unix_now() as i64,
        base: 2,
        spread: 8,
    };
    let api = FaultApi::start(Some(world.clone()), TIMEOUT, 12).await;
    let jobs: String = world.ids().map(|id| format!("  - id: {id}\n")).collect();
    let cfg = config(&format!(
        "api:\n  version: 2\n  endpoint: {}\n  max_requests_per_second: {BUDGET}\n  timeout: 1s\n\
         poll:\n  interval: 3s\n  finished_interval: 3s\n  concurrency: 1\n  retries: 2\njobs:\n{jobs}",
        api.endpoint_v2()
    ));
    let daemon = Daemon::start(cfg).await;
    let seen = soak(&api, &daemon, world.jobs as usize, INTERVAL).await;
    assert!(seen.scrapes > 10);
    // The world ran to its end: every job finished, some failed, as the fake said last.
    let e = daemon.scrape().await;
    let failed = e
        .find("cdb_rollback_job_state", &[("state", "failed")])
        .iter()
        .filter(|s| s.value == 1.0)
        .count();
    assert_eq!(failed, 2, "jobs 5000 and 5005 fail\n{}", e.text);
    daemon.stop().await;
}

const JOB_ACTIONS: [&str; 2] = ["DescribeTasks", "DescribeRollbackTaskDetail"];
const FLEET_ACTIONS: [&str; 2] = ["DescribeDBInstances", "DescribeRollbackRangeTime"];

/// The demo's configuration against the fault fake, at the pace and budget of the soak,
/// inventory and readiness on, so that their requests take the faults too.
fn v3_config(api: &FaultApi) -> cdb_rollback_exporter::config::Config {
    let mut cfg =
        cdb_rollback_exporter::demo::exporter_config(&Url::parse(&api.endpoint_v3()).unwrap());
    cfg.client.timeout = TIMEOUT;
    cfg.client.max_requests_per_second = BUDGET;
    cfg.client.concurrency = 1;
    cfg.poll.interval = INTERVAL;
    cfg.poll.finished_interval = INTERVAL;
    cfg.discovery.interval = INTERVAL;
    cfg.instances.interval = FLEET_INTERVAL;
    cfg.readiness.interval = FLEET_INTERVAL;
    cfg
}

/// After the faults: inventory and readiness succeed again, and every instance of the
/// fleet shows its name and the window of the last answer served whole.
async fn fleet_recovered(api: &FaultApi, daemon: &Daemon) {
    let e = daemon
        .scrape_until(
            FLEET_INTERVAL * 2,
            "inventory and readiness succeeding",
            |e| {
                e.value("cdb_rollback_inventory_success", &[]) == Some(1.0)
                    && e.value("cdb_rollback_readiness_success", &[]) == Some(1.0)
            },
        )
        .await;
    check(api, &e, unix_now());
    let fleet = FLEET.len();
    assert_eq!(api.with(|log| log.windows.len()), fleet);
    for name in ["instance_info", "recoverable_error_code"] {
        let shown = e.find(&format!("cdb_rollback_{name}"), &[]).len();
        assert_eq!(shown, fleet, "{name}\n{}", e.text);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v3_under_faults() {
    let api = FaultApi::start(None, TIMEOUT, 13).await;
    let daemon = Daemon::start(v3_config(&api)).await;
    // The simulator's jobs of the moment, as its listings say.
    let jobs = daemon
        .scrape_until(Duration::from_secs(8), "the simulator's jobs listed", |e| {
            !e.find("cdb_rollback_job_status", &[]).is_empty()
        })
        .await
        .find("cdb_rollback_job_status", &[])
        .len();
    let seen = soak(&api, &daemon, jobs, INTERVAL).await;
    fleet_recovered(&api, &daemon).await;
    let actions: std::collections::BTreeSet<String> =
        api.with(|log| log.arrivals.iter().map(|a| a.action.clone()).collect());
    assert!(
        JOB_ACTIONS
            .iter()
            .chain(&FLEET_ACTIONS)
            .all(|a| actions.contains(*a)),
        "{actions:?}"
    );
    // How long job polling waited behind the instances' requests, for the record.
    let (gap, polls) = api.with(|log| log.longest_gap(&JOB_ACTIONS));
    let (fleet, hung) = api.with(|log| {
        let fleet = log
            .arrivals
            .iter()
            .filter(|a| FLEET_ACTIONS.contains(&a.action.as_str()));
        let hung = fleet.clone().filter(|a| a.fault == Fault::Timeout).count();
        (fleet.count(), hung)
    });
    eprintln!(
        "soak v3: {jobs} jobs listed at first; {polls} job requests, longest gap between two \
         {gap:?}; {fleet} inventory and readiness requests ({hung} hung); {seen:?}"
    );
    daemon.stop().await;
}
