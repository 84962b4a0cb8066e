//! A scrape of 10,000 tracked jobs (two tasks each) while polls keep replacing entries.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use cdb_rollback_exporter::api::v2::decode::job_detail;
use cdb_rollback_exporter::config::Labels;
use cdb_rollback_exporter::metrics::Metrics;
use cdb_rollback_exporter::render::{Sources, render, render_to};
use cdb_rollback_exporter::rollback::{Job, Status};
use cdb_rollback_exporter::store::{JobKey, Source, Store};
use cdb_rollback_exporter::time::UtcOffset;
use divan::Bencher;

const SEED: &str = include_str!("../test-data/seed-answer.json");
const JOBS: u64 = 10_000;

fn main() {
    divan::main();
}

fn job(id: u64, seed: &Job) -> Job {
    let mut j = seed.clone();
    j.id = id;
    j.status = Status((id % 4) as i64);
    j.end = if id % 4 >= 2 { j.end } else { None };
    let mut second = j.tasks[0].clone();
    second.id = format!("{}", id * 10 + 1);
    second.instance.instance_id = format!("cdb-{:08}", id % 97);
    j.tasks.push(second);
    j
}

fn key(id: u64) -> JobKey {
    JobKey::new("ap-guangzhou", id)
}

fn store() -> (Arc<Store>, Job) {
    let seed = job_detail(SEED.as_bytes(), UtcOffset::CST, 12782).unwrap();
    let store = Arc::new(Store::new());
    for id in 1..=JOBS {
        let source = if id % 2 == 0 {
            Source::Configured
        } else {
            Source::Discovered {
                instance_id: format!("cdb-{:08}", id % 97),
            }
        };
        let labels = Labels::from_pairs(&[("team", &format!("team-{}", id % 7))]);
        store.track(key(id), source, labels);
        store.record_success(&key(id), job(id, &seed), 1.8e9);
    }
    (store, seed)
}

#[divan::bench(sample_count = 30)]
fn scrape_10k_jobs_while_polling(bencher: Bencher) {
    let (store, seed) = store();
    let metrics = Metrics::new();
    let stop = Arc::new(AtomicBool::new(false));
    let poller = {
        let (store, stop) = (Arc::clone(&store), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut id = 1;
            // Far faster than any request budget lets the real scheduler go.
            while !stop.load(Ordering::Relaxed) {
                store.record_success(&key(id), job(id, &seed), 1.8e9);
                id = id % JOBS + 1;
                std::thread::sleep(std::time::Duration::from_micros(500));
            }
        })
    };
    let bytes = render(&store.snapshot(), &Sources::default(), &metrics, 1.9e9).len();
    let text = render(&store.snapshot(), &Sources::default(), &metrics, 1.9e9);
    let lines = text.iter().filter(|b| **b == b'\n').count();
    eprintln!("exposition of {JOBS} jobs: {bytes} bytes, {lines} lines");
    drop(text);
    // As the server does: chunks handed on as they fill (here, counted and dropped).
    bencher.bench_local(|| {
        let mut bytes = 0;
        render_to(
            &store.snapshot(),
            &Sources {
                discovery: &store.discovery_snapshot(),
                ..Sources::default()
            },
            &metrics,
            1.9e9,
            &mut |c| bytes += c.len(),
        );
        bytes
    });
    stop.store(true, Ordering::Relaxed);
    let _ = poller.join();
}
