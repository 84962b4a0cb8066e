//! The v3 listing is applied page by page: a job shows what the page that carried it said,
//! stamped with the time that page arrived, even when a later page of the listing fails.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::support::clock::now;
use crate::support::exposition::Exposition;
use crate::support::fake_v2::Reply;
use crate::support::fake_v3::{FakeJob, FakeV3};
use crate::support::{Daemon, config};

const GZ: &str = "ap-guangzhou";

/// Three pages of running jobs: 10000–10099, 10100–10199, 10200–10249.
fn three_pages(api: &FakeV3) {
    let t = now();
    for k in 0..250 {
        api.add(GZ, FakeJob::new(10_000 + k, "RUNNING", t - 100, "cdb-p"));
    }
}

fn job(m: &Exposition, name: &str, id: u64) -> Option<f64> {
    m.value(name, &[("job_id", &id.to_string()), ("region", GZ)])
}

fn unix(at: Instant) -> f64 {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    (now - at.elapsed()).as_secs_f64()
}

/// Unix times at which the fake was asked for the listing page at `offset`.
fn asked(api: &FakeV3, offset: u64) -> Vec<f64> {
    api.log()
        .iter()
        .filter(|l| l.action == "DescribeTasks" && l.body["AsyncRequestId"].is_null())
        .filter(|l| l.body["Offset"] == offset)
        .map(|l| unix(l.at))
        .collect()
}

const PROGRESS: &str = "cdb_rollback_job_progress_ratio";
const SUCCESS: &str = "cdb_rollback_job_last_success_time_seconds";

/// The daemon on the three pages, once the third page's job shows.
async fn three_pages_polled() -> (FakeV3, Daemon) {
    let api = FakeV3::start().await;
    three_pages(&api);
    let yaml = format!(
        "api:\n  endpoint: {}\n  regions: [{GZ}]\n  max_requests_per_second: 500\n  timeout: 5s\n\
         poll:\n  interval: 300ms\n  finished_interval: 1s\n  retries: 1\n  concurrency: 8\ndiscovery:\n  interval: 1s\n",
        api.endpoint
    );
    let daemon = Daemon::start(config(&yaml)).await;
    daemon
        .scrape_until(Duration::from_secs(10), "all three pages", |m| {
            job(m, PROGRESS, 10_249) == Some(0.4)
        })
        .await;
    (api, daemon)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v3_listing_pages_count_as_they_arrive_even_when_a_later_one_fails() {
    let (api, daemon) = three_pages_polled().await;
    a_page_is_stamped_when_it_arrived(&api, &daemon).await;
    pages_before_a_failing_one_are_applied(&api, &daemon).await;
    daemon.stop().await;
}

/// The third page answers 2 s late: the first page's jobs carry the time their own page
/// arrived, not the time the listing ended.
async fn a_page_is_stamped_when_it_arrived(api: &FakeV3, daemon: &Daemon) {
    api.with(|s| s.page_delays.insert(200, Duration::from_secs(2)));
    let delayed = unix(Instant::now());
    let m = daemon
        .scrape_until(Duration::from_secs(15), "a success after the delay", |m| {
            job(m, SUCCESS, 10_000).is_some_and(|t| t > delayed)
        })
        .await;
    let at = job(&m, SUCCESS, 10_000).unwrap();
    let carried = asked(api, 0)
        .into_iter()
        .filter(|&r| r <= at)
        .fold(f64::MIN, f64::max);
    assert!(
        at - carried < 1.0,
        "job 10000 stamped {:.2} s after its page was asked for",
        at - carried
    );
}

/// The third page fails: what the first two said shows; the third's job keeps its last
/// good value, marked failing.
async fn pages_before_a_failing_one_are_applied(api: &FakeV3, daemon: &Daemon) {
    api.with(|s| {
        s.page_delays.clear();
        s.page_faults
            .insert(200, Reply::Http(502, "<html>502</html>".into()));
    });
    let failing = unix(Instant::now());
    for (id, p) in [(10_000, 77), (10_150, 66), (10_220, 55)] {
        api.update(GZ, id, |j| j.progress = p);
    }
    let m = daemon
        .scrape_until(
            Duration::from_secs(15),
            "pages 1 and 2 applied, page 3 failing",
            |m| {
                job(m, PROGRESS, 10_000) == Some(0.77)
                    && job(m, PROGRESS, 10_150) == Some(0.66)
                    && job(m, "cdb_rollback_job_poll_success", 10_220) == Some(0.0)
            },
        )
        .await;
    assert_eq!(job(&m, PROGRESS, 10_220), Some(0.4));
    for id in [10_000, 10_150] {
        assert_eq!(job(&m, "cdb_rollback_job_poll_success", id), Some(1.0));
        assert!(job(&m, SUCCESS, id).unwrap() > failing, "job {id}");
    }
    // A third page asked for before the fault may have answered after `failing`, but
    // before the first page that showed 77 %.
    assert!(job(&m, SUCCESS, 10_220).unwrap() < job(&m, SUCCESS, 10_000).unwrap());
    assert_eq!(
        m.value("cdb_rollback_discovery_success", &[("region", GZ)]),
        Some(0.0)
    );
}
