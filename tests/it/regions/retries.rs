//! Throttling and the errors retried at once or never, on API 3.0: what the budget does,
//! and which refused requests are sent again. Retries are told from the next round by
//! when they come: rounds are slow here, so that a loaded machine, which delays a
//! round's request, does not bring the next one near a retry's time.

use std::time::Duration;

use super::{GZ, SH, gz, yaml};
use crate::support::clock::now;
use crate::support::exposition::Exposition;
use crate::support::fake_v3::{FakeJob, FakeV3, LoggedV3, api_error};
use crate::support::{Daemon, config};

/// The daemon with a budget of 40 requests/s, once it has polled job 8000; `tune` edits
/// its config.
async fn one_job_polled(tune: impl Fn(String) -> String) -> (FakeV3, Daemon) {
    let api = FakeV3::start().await;
    api.add(GZ, FakeJob::new(8000, "RUNNING", now() - 60, "cdb-t"));
    let cfg = yaml(&api.endpoint, "").replace(
        "max_requests_per_second: 500",
        "max_requests_per_second: 40",
    );
    let daemon = Daemon::start(config(&tune(cfg))).await;
    daemon
        .scrape_until(Duration::from_secs(10), "first poll", |m| {
            m.value("cdb_rollback_job_poll_success", &gz("8000")) == Some(1.0)
        })
        .await;
    (api, daemon)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v3_throttling_halves_the_budget_and_quiet_wins_it_back() {
    let (api, daemon) = one_job_polled(|c| c).await;
    api.with(|s| {
        s.faults.extend([
            api_error("RequestLimitExceeded"),
            api_error("RequestLimitExceeded.UinLimitExceeded"),
        ])
    });
    // The two faults reach two requests one after the other: the halving can show before
    // the second is counted, so each is awaited on its own.
    let halved = std::cell::Cell::new(false);
    let m = daemon
        .scrape_until(Duration::from_secs(10), "the budget backs off", |m| {
            // Halved (once for the burst: the unit test of the budget checks that).
            let rate = m.value("cdb_rollback_api_budget_requests_per_second", &[]);
            halved.set(halved.get() || rate.is_some_and(|r| r < 40.0));
            halved.get() && throttled(m) >= 2.0
        })
        .await;
    assert!(throttled(&m) >= 2.0, "{}", m.text);
    // Quiet seconds win the rate back.
    daemon
        .scrape_until(Duration::from_secs(10), "the budget recovers", |m| {
            m.value("cdb_rollback_api_budget_requests_per_second", &[])
                .is_some_and(|r| r == 40.0)
        })
        .await;
    daemon.stop().await;
}

fn throttled(m: &Exposition) -> f64 {
    let throttled = m.find(
        "cdb_rollback_api_requests_total",
        &[("result", "throttled")],
    );
    throttled.iter().map(|s| s.value).sum()
}

/// A request sent again sooner than this is a retry: a back-off waits 1 s at most, and
/// rounds start 4 s apart (the interval of [`slow_rounds`]) less their jitter (10 %),
/// from start to start, so a request of the next round comes 3.6 s after the last one
/// less however late that one left: up to 1.6 s late is told apart.
const NEXT_ROUND: Duration = Duration::from_secs(2);

fn slow_rounds(cfg: String) -> String {
    cfg.replace("interval: 300ms", "interval: 4s")
}

/// Without back-off retries (`retries: 0`), a request sent again within the round can
/// only be the transport's retry at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v3_a_clock_problem_is_retried_at_once() {
    let (api, daemon) =
        one_job_polled(|c| slow_rounds(c).replace("retries: 1", "retries: 0")).await;
    api.with(|s| s.faults.push_back(api_error("AuthFailure.SignatureExpire")));
    let retry = |log: &[LoggedV3]| {
        let at = log.iter().position(|l| l.queued_fault)?;
        let (refused, later) = (&log[at], &log[at + 1..]);
        let same = |l: &&LoggedV3| {
            (&l.action, &l.region, &l.body) == (&refused.action, &refused.region, &refused.body)
        };
        later.iter().find(same).map(|l| l.at - refused.at)
    };
    daemon
        .scrape_until(
            Duration::from_secs(5),
            "the request refused with SignatureExpire sent again",
            |_| retry(&api.log()).is_some(),
        )
        .await;
    let gap = retry(&api.log()).unwrap_or_default();
    assert!(
        gap < NEXT_ROUND,
        "retried at once, not in the next round: {gap:?}"
    );
    daemon.stop().await;
}

/// Shanghai refuses the key: each round makes one listing request, retried neither at
/// once nor after a back-off (`retries: 1`), so no two come as close as a retry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v3_an_auth_failure_is_never_retried() {
    let (api, daemon) = one_job_polled(slow_rounds).await;
    api.with(|s| {
        s.region_faults
            .insert(SH.into(), api_error("AuthFailure.SecretIdNotFound"))
    });
    let m = daemon
        .scrape_until(Duration::from_secs(10), "Shanghai failing", |m| {
            m.value("cdb_rollback_discovery_success", &[("region", SH)]) == Some(0.0)
        })
        .await;
    let auth = [
        ("action", "DescribeTasks"),
        ("region", SH),
        ("result", "auth"),
    ];
    assert!(m.value("cdb_rollback_api_requests_total", &auth) > Some(0.0));
    // From here on every Shanghai request is refused. Three make two gaps: one of them
    // would fall within a round if requests came in pairs.
    let from = api.log().len();
    let refused = || -> Vec<LoggedV3> {
        let log = api.log().into_iter().skip(from);
        log.filter(|l| l.region == SH).collect()
    };
    daemon
        .scrape_until(Duration::from_secs(10), "three refused rounds", |_| {
            refused().len() >= 3
        })
        .await;
    for pair in refused().windows(2) {
        let gap = pair[1].at - pair[0].at;
        assert!(
            gap >= NEXT_ROUND,
            "an auth failure was retried: {gap:?} between two requests"
        );
    }
    assert_eq!(
        m.value("cdb_rollback_discovery_success", &[("region", GZ)]),
        Some(1.0),
        "Guangzhou is fine"
    );
    daemon.stop().await;
}
