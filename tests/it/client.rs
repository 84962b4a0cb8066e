//! The signed client against a fake API on 127.0.0.1 that recomputes every signature.

use std::sync::Arc;
use std::time::Duration;

use crate::support::fake_v2::{FakeV2, Reply, list_row};
use crate::support::{SECRET_ID, SECRET_KEY};
use cdb_rollback_exporter::api::v2::Client;
use cdb_rollback_exporter::api::{
    ApiError, ApiVersion, ClientConfig, Credentials, CredentialsHandle, ErrorKind, HttpMethod,
    Priority, Retry, Secret, SignatureMethod,
};
use cdb_rollback_exporter::metrics::Metrics;

const SEED: &str = include_str!("../../test-data/seed-answer.json");

fn client(api: &FakeV2, key: &str, tune: impl FnOnce(&mut ClientConfig)) -> Client {
    let mut cfg = ClientConfig::new(ApiVersion::V2, api.endpoint.parse().unwrap());
    cfg.max_requests_per_second = 100.0;
    tune(&mut cfg);
    let creds = Credentials {
        secret_id: SECRET_ID.into(),
        secret_key: Secret::new(key),
        token: Some(Secret::new("session-token-xyz")),
    };
    Client::new(
        &cfg,
        CredentialsHandle::new(creds),
        Arc::new(Metrics::new()),
    )
    .unwrap()
}

#[tokio::test]
async fn every_signing_variant_is_accepted_by_an_independent_check() {
    let api = FakeV2::start().await;
    api.set_job(12782, Reply::Json(SEED.into()));
    for method in [HttpMethod::Get, HttpMethod::Post] {
        for sig in [SignatureMethod::HmacSha1, SignatureMethod::HmacSha256] {
            let c = client(&api, SECRET_KEY, |c| {
                c.v2.http_method = method;
                c.v2.signature_method = sig;
            });
            let job = c
                .get_rollback_job_task(12782, Priority::Normal)
                .await
                .unwrap();
            assert_eq!(
                (job.id, job.end),
                (12782, Some(1_462_960_802)),
                "{method:?} {sig:?}"
            );
        }
    }
    let log = api.log();
    assert_eq!(api.with(|s| s.rejected_signatures), 0);
    assert_eq!(log.len(), 4);
    assert_eq!(log.iter().filter(|l| l.method == "POST").count(), 2);
    for l in &log {
        assert_eq!(l.params["Token"], "session-token-xyz");
        assert_eq!(l.params["Region"], "ap-guangzhou");
        assert_eq!(l.params["jobId"], "12782");
        assert!(l.user_agent.starts_with("cdb-rollback-exporter/"));
    }
}

#[tokio::test]
async fn a_wrong_key_is_refused_and_classified_as_auth() {
    let api = FakeV2::start().await;
    api.set_job(12782, Reply::Json(SEED.into()));
    let c = client(&api, "not-the-key", |_| {});
    let err = c
        .get_rollback_job_task(12782, Priority::Normal)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
    assert_eq!(err.api_code(), Some("4100"));
    assert_eq!(err.retry(), Retry::Never);
    assert_eq!(api.with(|s| s.rejected_signatures), 1, "not retried");
}

#[tokio::test]
async fn broken_answers_are_classified_without_a_panic() {
    let api = FakeV2::start().await;
    // Only the hang is to time out: a loaded machine may take longer than 300 ms for the rest.
    let c = client(&api, SECRET_KEY, |c| c.timeout = Duration::from_secs(5));
    let impatient = client(&api, SECRET_KEY, |c| c.timeout = Duration::from_millis(300));
    let cases = [
        (
            Reply::Http(502, "<html><title>502 Bad Gateway</title></html>".into()),
            ErrorKind::HttpStatus,
        ),
        (Reply::Json(SEED[..200].into()), ErrorKind::Decode),
        (
            Reply::Json("<html>maintenance</html>".into()),
            ErrorKind::Decode,
        ),
        (Reply::Json(String::new()), ErrorKind::Decode),
        (
            Reply::Json(r#"{"code":6200,"message":"busy"}"#.into()),
            ErrorKind::ApiError,
        ),
        (Reply::Hang(Duration::from_secs(2)), ErrorKind::Timeout),
    ];
    for (reply, kind) in cases {
        api.set_job(1, reply.clone());
        let c = if kind == ErrorKind::Timeout {
            &impatient
        } else {
            &c
        };
        let err = c
            .get_rollback_job_task(1, Priority::Normal)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), kind, "{reply:?}: {err}");
        assert_ne!(err.retry(), Retry::Never, "{reply:?} is transient");
        let text = format!("{err} {err:?}");
        assert!(
            !text.contains(SECRET_KEY)
                && !text.contains("session-token")
                && !text.contains("Signature"),
            "{text}"
        );
    }
    // The body excerpt says what came back.
    api.set_job(
        1,
        Reply::Http(502, "<html><title>502 Bad Gateway</title></html>".into()),
    );
    let err = c
        .get_rollback_job_task(1, Priority::Normal)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ApiError::HttpStatus { status: 502, excerpt } if excerpt.contains("Bad Gateway")),
        "{err}"
    );
}

#[tokio::test]
async fn transport_errors_do_not_leak_the_signature() {
    // A port nothing listens on; one freed by a test could be taken by another test.
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 1));
    let mut cfg = ClientConfig::new(
        ApiVersion::V2,
        format!("http://{addr}/v2/index.php").parse().unwrap(),
    );
    cfg.max_requests_per_second = 100.0;
    let creds = Credentials {
        secret_id: SECRET_ID.into(),
        secret_key: Secret::new(SECRET_KEY),
        token: None,
    };
    let c = Client::new(
        &cfg,
        CredentialsHandle::new(creds),
        Arc::new(Metrics::new()),
    )
    .unwrap();
    let err = c
        .get_rollback_job_task(1, Priority::Normal)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport);
    let text = format!("{err} {err:?}");
    assert!(
        !text.contains("Signature") && !text.contains("Nonce") && !text.contains(SECRET_KEY),
        "{text}"
    );
    assert!(
        text.contains(&addr.to_string()),
        "names the endpoint: {text}"
    );
}

#[tokio::test]
async fn job_list_pages_decode() {
    let api = FakeV2::start().await;
    let rows = (1..=130)
        .map(|i| list_row(i, 2, "2026-11-27 10:00:00", "2026-11-27 10:30:00"))
        .collect();
    api.with(|s| s.lists.insert("cdb-x".into(), rows));
    let c = client(&api, SECRET_KEY, |_| {});
    let page = c.get_rollback_jobs("cdb-x", 100, 100).await.unwrap();
    assert_eq!(page.total, Some(130));
    assert_eq!(page.jobs.len(), 30);
    assert_eq!(page.jobs[0].id, 101);
    let l = &api.log()[0];
    assert_eq!(
        (
            l.params["cdbInstanceId"].as_str(),
            l.params["offset"].as_str(),
            l.params["limit"].as_str()
        ),
        ("cdb-x", "100", "100")
    );
}
