use std::sync::atomic::{AtomicBool, Ordering};

use super::*;
use crate::readiness::Range;

/// A fake API: refuses batches over `max` ids and any batch holding `cdb-bad`, fails
/// while `down`, and answers each id with one range, or code 1624001 for ids ending in `x`.
struct Fake {
    max: usize,
    down: AtomicBool,
    asked: Mutex<Vec<usize>>,
}

fn api_error(code: &str) -> ApiError {
    let (kind, retry) = crate::api::v3::codes::classify(code);
    ApiError::Api {
        code: code.into(),
        message: "refused".into(),
        request_id: None,
        kind,
        retry,
    }
}

impl Fake {
    fn answer(&self, ids: &[String]) -> Result<RangePage, ApiError> {
        lock(&self.asked).push(ids.len());
        if self.down.load(Ordering::Relaxed) {
            return Err(api_error("FailedOperation"));
        }
        if ids.len() > self.max || ids.iter().any(|id| id == "cdb-bad") {
            return Err(api_error("InvalidParameterValue"));
        }
        let items = ids
            .iter()
            .map(|id| RangeItem {
                instance_id: id.clone(),
                code: if id.ends_with('x') { 1_624_001 } else { 0 },
                message: String::new(),
                times: vec![Range {
                    begin: 1_000,
                    end: 5_000,
                }],
                unset: 0,
            })
            .collect();
        Ok(RangePage {
            total: ids.len() as u64,
            items,
        })
    }
}

fn setup(max: usize, ids: Arc<Mutex<Vec<String>>>) -> (Arc<Fake>, Readiness, Arc<Store>) {
    let fake = Arc::new(Fake {
        max,
        down: AtomicBool::new(false),
        asked: Mutex::new(Vec::new()),
    });
    let f = Arc::clone(&fake);
    let fetch: Fetch = Arc::new(move |_region, ids| {
        let answer = f.answer(&ids);
        Box::pin(async move { answer })
    });
    let source: InstanceIds = Arc::new(move |_| Some(lock(&ids).clone()));
    let store = Arc::new(Store::new());
    let r = Readiness::new(
        fetch,
        source,
        Arc::clone(&store),
        Duration::from_secs(60),
        0,
    );
    (fake, r, store)
}

fn ids(n: usize) -> Arc<Mutex<Vec<String>>> {
    Arc::new(Mutex::new((0..n).map(|k| format!("cdb-{k:05}")).collect()))
}

#[tokio::test]
async fn batches_of_100_halved_until_the_api_takes_them() {
    let (fake, r, store) = setup(30, ids(250));
    let key = RegionKey::new("ap-guangzhou");
    r.round(&key).await;
    // 100 refused, 50 refused, then 25 at a time: 250 = 10 × 25.
    assert_eq!(
        *lock(&fake.asked),
        [100, 50, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25]
    );
    assert_eq!(r.batch(&key), 25, "remembered");
    let got = store.readiness(&key).unwrap();
    assert_eq!(got.instances.len(), 250);
    assert_eq!(got.success, Some(true));
    lock(&fake.asked).clear();
    r.round(&key).await;
    assert_eq!(lock(&fake.asked).len(), 10, "the next round starts at 25");
    assert!((r.demand(&key) - 10.0 / 60.0).abs() < 1e-9);
    // Another region starts at 100 again.
    assert_eq!(r.batch(&RegionKey::new("ap-beijing")), 100);
}

#[tokio::test]
async fn an_id_refused_alone_fails_that_instance_only_and_leaves_the_batch() {
    let list = ids(250);
    lock(&list).push("cdb-bad".into());
    let (fake, r, store) = setup(100, list);
    let key = RegionKey::new("ap-guangzhou");
    r.round(&key).await;
    // Sorted, cdb-bad comes last: 100, 100, then the 51 left refused, 25 and 25 answered,
    // and cdb-bad refused alone.
    assert_eq!(*lock(&fake.asked), [100, 100, 51, 25, 25, 1]);
    assert_eq!(r.batch(&key), 100, "back to the batch the round began with");
    let got = store.readiness(&key).unwrap();
    assert_eq!(got.success, Some(false));
    assert_eq!(got.instances.len(), 250);
    assert!(!got.instances.contains_key("cdb-bad"));
    lock(&fake.asked).clear();
    r.round(&key).await;
    assert_eq!(
        *lock(&fake.asked),
        [100, 100, 51, 25, 25, 1],
        "the same next round"
    );
}

#[tokio::test]
async fn a_failed_round_keeps_the_last_answers_and_a_left_instance_goes() {
    let list = ids(3);
    lock(&list).push("cdb-errx".into());
    let (fake, r, store) = setup(100, Arc::clone(&list));
    let key = RegionKey::new("ap-guangzhou");
    r.round(&key).await;
    let first = store.readiness(&key).unwrap();
    assert_eq!(first.success, Some(true));
    let t = first.last_success.unwrap();
    let err = &first.instances["cdb-errx"];
    assert_eq!((err.code, err.window.is_none()), (1_624_001, true));
    let ok = &first.instances["cdb-00000"];
    let w = ok.window.as_ref().unwrap();
    assert_eq!(
        (w.begin(), w.end(), w.gap()),
        (Some(1_000), Some(5_000), Some(0))
    );

    fake.down.store(true, Ordering::Relaxed);
    r.round(&key).await;
    let failed = store.readiness(&key).unwrap();
    assert_eq!(failed.success, Some(false));
    assert_eq!(failed.last_success, Some(t), "the last success stays");
    assert_eq!(
        failed.instances, first.instances,
        "the last good values stay"
    );

    fake.down.store(false, Ordering::Relaxed);
    lock(&list).retain(|id| id != "cdb-00001");
    r.round(&key).await;
    let after = store.readiness(&key).unwrap();
    assert_eq!(after.success, Some(true));
    assert!(
        !after.instances.contains_key("cdb-00001"),
        "left the inventory"
    );
    assert_eq!(after.instances.len(), 3);
}

#[tokio::test]
async fn no_inventory_no_round() {
    let fake = Arc::new(Mutex::new(0));
    let f = Arc::clone(&fake);
    let fetch: Fetch = Arc::new(move |_, _| {
        *lock(&f) += 1;
        Box::pin(async { Err(api_error("FailedOperation")) })
    });
    let store = Arc::new(Store::new());
    let r = Readiness::new(
        fetch,
        Arc::new(|_| None),
        Arc::clone(&store),
        Duration::from_secs(1),
        0,
    );
    let key = RegionKey::new("ap-guangzhou");
    r.round(&key).await;
    assert_eq!(*lock(&fake), 0);
    assert_eq!(store.readiness(&key), None);
}
