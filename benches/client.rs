//! The client's CPU cost per request: signing plus decoding, for both API versions.
//! v2: the reference's seed answer. v3: a full DescribeTasks page of 100 jobs, which
//! refreshes 100 running jobs in one request.

use std::sync::Arc;

use cdb_rollback_exporter::api::v2::decode::job_detail;
use cdb_rollback_exporter::api::v2::{Action, Client};
use cdb_rollback_exporter::api::v3::decode::tasks_page;
use cdb_rollback_exporter::api::{
    ApiVersion, ClientConfig, Credentials, CredentialsHandle, NoRecorder, Secret, SignatureMethod,
};
use cdb_rollback_exporter::net::tc3;
use cdb_rollback_exporter::time::UtcOffset;
use divan::{Bencher, black_box};

const SEED: &str = include_str!("../test-data/seed-answer.json");

fn main() {
    divan::main();
}

fn creds() -> Credentials {
    Credentials {
        secret_id: "AKIDz8krbsJ5yKBZQpn74WFkmLPx3gnPhESA".into(),
        secret_key: Secret::new("Gu5t9xGARNpq86cd98joQYCN3Cozk1qA"),
        token: None,
    }
}

fn client(method: SignatureMethod) -> Client {
    let mut cfg = ClientConfig::new(
        ApiVersion::V2,
        "https://cdb.api.qcloud.com/v2/index.php".parse().unwrap(),
    );
    cfg.v2.signature_method = method;
    Client::new(&cfg, CredentialsHandle::new(creds()), Arc::new(NoRecorder)).unwrap()
}

#[divan::bench(args = [SignatureMethod::HmacSha1, SignatureMethod::HmacSha256])]
fn v2_sign_and_decode_seed(bencher: Bencher, method: SignatureMethod) {
    let c = client(method);
    let creds = creds();
    let action = Action::GetCdbRollbackJobTask { job_id: 12782 };
    bencher.bench_local(|| {
        let params = c.signed_params(&creds, black_box(&action), 1_465_185_768, 11886);
        let job = job_detail(black_box(SEED.as_bytes()), UtcOffset::CST, 12782).unwrap();
        (params, job)
    });
}

fn page_of_100() -> String {
    let items: Vec<String> = (0..100)
        .map(|i| {
            format!(
                r#"{{"JobId":{},"AsyncRequestId":"a-{i}","TaskType":"ROLLBACK","TaskStatus":"RUNNING","Progress":{},"Code":0,"Message":"","StartTime":"2026-11-28 10:00:00","EndTime":"0000-00-00 00:00:00","InstanceIds":["cdb-{i:08}"],"TaskAttachInfo":[]}}"#,
                40_000 + i,
                i % 100
            )
        })
        .collect();
    format!(
        r#"{{"Response":{{"TotalCount":1000,"Items":[{}],"RequestId":"r"}}}}"#,
        items.join(",")
    )
}

/// The Authorization header of one DescribeTasks request.
fn v3_sign(body: &[u8]) -> String {
    let r = tc3::Request {
        service: "cdb",
        host: "cdb.tencentcloudapi.com",
        content_type: "application/json",
        body,
        timestamp: 1_795_831_200,
    };
    tc3::authorization("AKIDz8krbsJ5yKBZQpn74WFkmLPx3gnPhESA", "key", &r)
}

#[divan::bench]
fn v3_sign_and_decode_page_of_100(bencher: Bencher) {
    let page = page_of_100();
    let body = br#"{"TaskTypes":[1,10],"TaskStatus":[-1,0,1,6],"Offset":0,"Limit":100}"#;
    bencher.bench_local(|| {
        let auth = v3_sign(black_box(body));
        let jobs = tasks_page(black_box(page.as_bytes()), UtcOffset::CST).unwrap();
        (auth, jobs)
    });
}

#[divan::bench]
fn v3_sign_only(bencher: Bencher) {
    let body = br#"{"TaskTypes":[1,10],"Offset":0,"Limit":100}"#;
    bencher.bench_local(|| v3_sign(black_box(body)));
}

#[divan::bench]
fn v2_decode_only(bencher: Bencher) {
    bencher.bench_local(|| job_detail(black_box(SEED.as_bytes()), UtcOffset::CST, 12782).unwrap());
}
