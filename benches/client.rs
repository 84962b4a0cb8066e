//! Signing a request plus decoding the reference's seed answer: the client's CPU cost per poll.

use std::sync::Arc;

use cdb_rollback_exporter::api::decode::job_detail;
use cdb_rollback_exporter::api::{
    Action, Client, ClientConfig, Credentials, Secret, SignatureMethod,
};
use cdb_rollback_exporter::metrics::Metrics;
use cdb_rollback_exporter::rollback::time::UtcOffset;
use divan::{Bencher, black_box};

const SEED: &str = include_str!("../test-data/seed-answer.json");

fn main() {
    divan::main();
}

fn client(method: SignatureMethod) -> Client {
    let mut cfg = ClientConfig::new("https://cdb.api.qcloud.com/v2/index.php".parse().unwrap());
    cfg.signature_method = method;
    let creds = Credentials {
        secret_id: "AKIDz8krbsJ5yKBZQpn74WFkmLPx3gnPhESA".into(),
        secret_key: Secret::new("Gu5t9xGARNpq86cd98joQYCN3Cozk1qA"),
        token: None,
    };
    Client::new(cfg, creds, Arc::new(Metrics::new())).unwrap()
}

#[divan::bench(args = [SignatureMethod::HmacSha1, SignatureMethod::HmacSha256])]
fn sign_and_decode_seed(bencher: Bencher, method: SignatureMethod) {
    let c = client(method);
    let action = Action::GetCdbRollbackJobTask { job_id: 12782 };
    bencher.bench_local(|| {
        let params = c.signed_params(black_box(&action), 1_465_185_768, 11886);
        let job = job_detail(black_box(SEED.as_bytes()), UtcOffset::CST, 12782).unwrap();
        (params, job)
    });
}

#[divan::bench]
fn sign_only(bencher: Bencher) {
    let c = client(SignatureMethod::HmacSha1);
    let action = Action::GetCdbRollbackJobTask { job_id: 12782 };
    bencher.bench_local(|| c.signed_params(black_box(&action), 1_465_185_768, 11886));
}

#[divan::bench]
fn decode_only(bencher: Bencher) {
    bencher.bench_local(|| job_detail(black_box(SEED.as_bytes()), UtcOffset::CST, 12782).unwrap());
}
