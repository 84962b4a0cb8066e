//! Credentials as Tencent Cloud users have them: temporary credentials refreshed without a
//! failed poll, roles assumed, rotation; `sources` has the chain, its files and a start
//! with none.

mod sources;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cdb_rollback_exporter::config::Config;
use cdb_rollback_exporter::credentials;

use crate::support::fake_cdb_v3_min::FakeCdb;
use crate::support::fake_metadata::FakeMetadata;
use crate::support::fake_sts::{FakeSts, PROVIDER_ID, ROLE_ARN};
use crate::support::tc3_check::Keyring;
use crate::support::{Daemon, SLACK};

fn temp_dir(name: &str) -> PathBuf {
    let dir = temp_root().join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A config whose environment is exactly `env`: the process's is never read or changed,
/// and neither is the machine's /etc/tencentcloud/credentials.
fn config(yaml: &str, env: &[(&str, String)]) -> Config {
    let lookup = |name: &str| env.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone());
    let mut c = Config::parse(yaml, Path::new("creds.yml"), &lookup).unwrap();
    c.credentials.system_profile = temp_root().join("no-etc/tencentcloud/credentials");
    c
}

fn temp_root() -> PathBuf {
    std::env::temp_dir().join(format!("cdb-creds-{}", std::process::id()))
}

/// Polls the fake CDB every 300 ms; credentials from the chain and the given endpoints.
fn daemon_yaml(cdb: &FakeCdb, metadata: &str, sts: &str, extra: &str) -> String {
    format!(
        "api:\n  endpoint: {}\n  timeout: 2s\npoll:\n  interval: 300ms\n  retries: 0\n\
         credentials:\n  metadata_endpoint: {metadata}\n  sts_endpoint: {sts}\n{extra}",
        cdb.endpoint
    )
}

/// A loopback port that accepts connections (the kernel's backlog) and never answers.
fn silent_port() -> (std::net::TcpListener, u16) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    (l, port)
}

/// Seconds the temporary credentials of the refresh tests live. Refreshed at two thirds of
/// that, they leave 2 s for a busy machine to be late by before a poll is refused: with
/// 3 s (a second to spare), CI on a loaded host saw such refusals.
const LIFETIME: i64 = 6;

/// Writes `path` at once, as the kubelet updates a projected token (a rename): a refresh
/// reading it meanwhile sees the old token or the new one, never an empty file.
fn replace_file(path: &Path, text: &str) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// Waits until `check` holds, or fails after `within` times [`SLACK`].
async fn wait_for(within: Duration, what: &str, check: impl Fn() -> bool) {
    let within = within * SLACK;
    let deadline = Instant::now() + within;
    while !check() {
        assert!(
            Instant::now() < deadline,
            "not seen within {within:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn refused(cdb: &FakeCdb) -> Vec<String> {
    cdb.seen().into_iter().filter_map(|s| s.refused).collect()
}

#[tokio::test]
async fn cvm_role_credentials_are_refreshed_before_expiry_without_a_failed_poll() {
    let issued = Keyring::default();
    let cdb = FakeCdb::start(issued.clone()).await;
    let meta = FakeMetadata::start(issued, LIFETIME).await;
    let yaml = daemon_yaml(&cdb, &meta.endpoint, "http://127.0.0.1:1/", "");
    let d = Daemon::start(config(&yaml, &[])).await;
    wait_for(
        Duration::from_secs(20),
        "three credential sets used",
        || cdb.accepted_ids().len() >= 3,
    )
    .await;
    assert_eq!(
        cdb.accepted_ids()[..3],
        ["AKIDcvm1", "AKIDcvm2", "AKIDcvm3"]
    );
    for s in cdb.seen() {
        assert_eq!(s.token, Some(format!("token-of-{}", s.secret_id)));
    }
    assert_eq!(refused(&cdb), Vec::<String>::new(), "a poll failed");
    let success = [("source", "cvm_role"), ("result", "success")];
    let e = d
        .scrape_until(Duration::from_secs(5), "the refreshes counted", |e| {
            e.value("cdb_rollback_credentials_refreshes_total", &success) >= Some(2.0)
        })
        .await;
    let ok = e.value("cdb_rollback_credentials_refreshes_total", &success);
    assert!(ok >= Some(2.0), "{}", e.text);
    let expiry = e
        .value(
            "cdb_rollback_credentials_expiry_timestamp_seconds",
            &[("source", "cvm_role")],
        )
        .unwrap();
    assert!(
        expiry > crate::support::clock::now() as f64 - 1.0,
        "{expiry}"
    );
    let failed: f64 = e
        .find("cdb_rollback_api_requests_total", &[])
        .iter()
        .filter(|s| s.labels["result"] != "success")
        .map(|s| s.value)
        .sum();
    assert_eq!(failed, 0.0, "{}", e.text);
    let landing = d.get("/").await.text().await.unwrap();
    assert!(landing.contains("cvm_role (role cdb-reader)"), "{landing}");
    d.stop().await;
}

#[tokio::test]
async fn a_failed_refresh_is_retried_and_the_old_credentials_serve_until_they_expire() {
    let issued = Keyring::default();
    let cdb = FakeCdb::start(issued.clone()).await;
    // 12 s credentials: the refresh at ~8 s fails, the retry ~1 s later succeeds.
    let meta = FakeMetadata::start(issued, 2 * LIFETIME).await;
    meta.state.lock().unwrap().fail = vec![2];
    let yaml = daemon_yaml(&cdb, &meta.endpoint, "http://127.0.0.1:1/", "");
    let d = Daemon::start(config(&yaml, &[])).await;
    let e = d
        .scrape_until(
            Duration::from_secs(20),
            "a failed, then a good refresh",
            |e| {
                let v = |r| {
                    e.value(
                        "cdb_rollback_credentials_refreshes_total",
                        &[("source", "cvm_role"), ("result", r)],
                    )
                };
                v("failure") >= Some(1.0) && v("success") >= Some(1.0)
            },
        )
        .await;
    assert_eq!(
        e.value(
            "cdb_rollback_credentials_refreshes_total",
            &[("source", "cvm_role"), ("result", "failure")],
        ),
        Some(1.0),
        "one failure, then a success"
    );
    let failed_at = meta.state.lock().unwrap().failed_at[0];
    let after: Vec<_> = cdb
        .seen()
        .into_iter()
        .filter(|s| s.at >= failed_at && s.secret_id == "AKIDcvm1")
        .collect();
    assert!(
        !after.is_empty(),
        "no poll on the old credentials after the failure"
    );
    assert_eq!(refused(&cdb), Vec::<String>::new(), "a poll failed");
    wait_for(Duration::from_secs(5), "the new credentials used", || {
        cdb.accepted_ids().contains(&"AKIDcvm2".to_string())
    })
    .await;
    d.stop().await;
}

#[tokio::test]
async fn pod_identity_assumes_a_role_and_rereads_its_token_file() {
    let issued = Keyring::default();
    let cdb = FakeCdb::start(issued.clone()).await;
    // Web identity credentials are issued into the keyring AssumeRole is checked with.
    let sts = FakeSts::start(issued.clone(), issued, LIFETIME).await;
    sts.state.lock().unwrap().web_tokens = vec!["web-token-1".into()];
    let dir = temp_dir("oidc");
    let token_file = dir.join("token");
    std::fs::write(&token_file, "web-token-1\n").unwrap();
    let env = pod_identity_env(&token_file);
    let extra = format!("  role_arn: {ROLE_ARN}\n  duration: 15m\n");
    let yaml = daemon_yaml(&cdb, "http://127.0.0.1:1", &sts.endpoint, &extra);
    let d = Daemon::start(config(&yaml, &env)).await;
    wait_for(Duration::from_secs(10), "assumed credentials used", || {
        cdb.accepted_ids()
            .iter()
            .any(|id| id.starts_with("AKIDrole"))
    })
    .await;
    a_rotated_token_is_sent_and_used(&sts, &cdb, &token_file).await;
    every_assume_role_signed_with_the_web_identity(&sts);
    assert_eq!(refused(&cdb), Vec::<String>::new(), "a poll failed");
    let e = d
        .scrape_until(
            Duration::from_secs(5),
            "the assumed role's refreshes",
            |e| {
                e.value(
                    "cdb_rollback_credentials_refreshes_total",
                    &[("source", "assume_role"), ("result", "success")],
                ) >= Some(2.0)
            },
        )
        .await;
    assert!(
        e.value(
            "cdb_rollback_credentials_refreshes_total",
            &[("source", "assume_role"), ("result", "success")]
        ) >= Some(2.0),
        "{}",
        e.text
    );
    d.stop().await;
}

/// The environment TKE's pod identity webhook gives a pod.
fn pod_identity_env(token_file: &Path) -> [(&'static str, String); 4] {
    [
        ("TKE_ROLE_ARN", ROLE_ARN.to_string()),
        ("TKE_PROVIDER_ID", PROVIDER_ID.to_string()),
        (
            "TKE_WEB_IDENTITY_TOKEN_FILE",
            token_file.display().to_string(),
        ),
        ("TKE_REGION", "ap-shanghai".to_string()),
    ]
}

/// The kubelet rotates the token: the next refresh must send the new one, and the
/// credentials it brings are used.
async fn a_rotated_token_is_sent_and_used(sts: &FakeSts, cdb: &FakeCdb, token_file: &Path) {
    sts.state
        .lock()
        .unwrap()
        .web_tokens
        .push("web-token-2".into());
    replace_file(token_file, "web-token-2\n");
    wait_for(
        Duration::from_secs(10),
        "the rotated web identity token sent",
        || {
            sts.calls()
                .iter()
                .any(|c| c.body["WebIdentityToken"] == "web-token-2")
        },
    )
    .await;
    wait_for(
        Duration::from_secs(10),
        "two more assumed sets used",
        || {
            cdb.accepted_ids()
                .iter()
                .filter(|id| id.starts_with("AKIDrole"))
                .count()
                >= 3
        },
    )
    .await;
}

/// No STS call was refused; every AssumeRole was signed with the credentials the web
/// identity gave, for 15 minutes, under the exporter's session name.
fn every_assume_role_signed_with_the_web_identity(sts: &FakeSts) {
    let calls = sts.calls();
    assert!(calls.iter().all(|c| c.refused.is_none()), "{calls:#?}");
    for c in calls.iter().filter(|c| c.action == "AssumeRole") {
        assert!(
            c.signed_by
                .as_deref()
                .is_some_and(|id| id.starts_with("AKIDoidc")),
            "{c:?}"
        );
        assert_eq!(c.body["DurationSeconds"], 900);
        assert_eq!(c.body["RoleSessionName"], "cdb-rollback-exporter");
    }
}

#[tokio::test]
async fn assume_role_is_signed_with_the_base_credentials() {
    let base = Keyring::default();
    base.insert("AKIDbase", "base-key", Some("base-token"), None);
    let sts = FakeSts::start(base, Keyring::default(), 3600).await;
    let yaml = format!(
        "credentials:\n  role_arn: {ROLE_ARN}\n  role_session_name: ci-run\n  sts_endpoint: {}\n",
        sts.endpoint
    );
    let env = |key: &str| {
        vec![
            ("TENCENTCLOUD_SECRET_ID", "AKIDbase".to_string()),
            ("TENCENTCLOUD_SECRET_KEY", key.to_string()),
            ("TENCENTCLOUD_SECURITY_TOKEN", "base-token".to_string()),
        ]
    };
    let r = credentials::resolve(&config(&yaml, &env("base-key")).credentials)
        .await
        .unwrap();
    assert_eq!(r.first.creds.secret_id, "AKIDrole1");
    assert_eq!(r.provider.label(), "assume_role");
    let call = &sts.calls()[0];
    assert_eq!(call.signed_by.as_deref(), Some("AKIDbase"), "{call:?}");
    assert_eq!(call.body["RoleSessionName"], "ci-run");
    assert_eq!(call.body["DurationSeconds"], 3600);
    // The fake's check is real: a wrong key is refused, and the error shows no secret.
    let err = credentials::resolve(&config(&yaml, &env("wrong-key")).credentials)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("signature mismatch") && err.contains("AssumeRole"),
        "{err}"
    );
    assert!(
        !err.contains("wrong-key") && !err.contains("base-token"),
        "{err}"
    );
}

#[tokio::test]
async fn a_role_whose_trust_policy_names_an_external_id_is_assumed_with_it() {
    let base = Keyring::default();
    base.insert("AKIDbase", "base-key", None, None);
    let sts = FakeSts::start(base, Keyring::default(), 3600).await;
    sts.state.lock().unwrap().external_id = Some("partner-42:prod/cdb".into());
    let env = [
        ("TENCENTCLOUD_SECRET_ID", "AKIDbase".to_string()),
        ("TENCENTCLOUD_SECRET_KEY", "base-key".to_string()),
    ];
    let yaml = |extra: &str| {
        let endpoint = &sts.endpoint;
        format!("credentials:\n  role_arn: {ROLE_ARN}\n  sts_endpoint: {endpoint}\n{extra}")
    };
    // Without it, the role cannot be assumed, and the start says why.
    let err = credentials::resolve(&config(&yaml(""), &env).credentials)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("AssumeRole") && err.contains("ExternalId"),
        "{err}"
    );
    assert_eq!(sts.calls()[0].body.get("ExternalId"), None);
    let with = yaml("  external_id: partner-42:prod/cdb\n");
    let r = credentials::resolve(&config(&with, &env).credentials)
        .await
        .unwrap();
    assert_eq!(r.first.creds.secret_id, "AKIDrole1");
    let call = &sts.calls()[1];
    assert_eq!(call.body["ExternalId"], "partner-42:prod/cdb", "{call:?}");
    assert_eq!(call.signed_by.as_deref(), Some("AKIDbase"), "{call:?}");
}

#[tokio::test]
async fn a_rotated_key_file_is_used_without_restart() {
    // Laid out as the kubelet mounts a Secret: the file is a symlink through ..data.
    let dir = temp_dir("rotate");
    let version = |n: u32, key: &str| {
        let v = dir.join(format!("v{n}"));
        std::fs::create_dir_all(&v).unwrap();
        std::fs::write(v.join("secret_key"), key).unwrap();
        let tmp = dir.join("..data_tmp");
        std::os::unix::fs::symlink(format!("v{n}"), &tmp).unwrap();
        std::fs::rename(&tmp, dir.join("..data")).unwrap();
    };
    version(1, "key-one\n");
    std::os::unix::fs::symlink("..data/secret_key", dir.join("secret_key")).unwrap();
    let keys = Keyring::default();
    keys.insert("AKIDstatic", "key-one", None, None);
    let cdb = FakeCdb::start(keys.clone()).await;
    let extra = format!(
        "  secret_id: AKIDstatic\n  secret_key_file: {}\n",
        dir.join("secret_key").display()
    );
    let yaml = daemon_yaml(&cdb, "http://127.0.0.1:1", "http://127.0.0.1:1/", &extra);
    let d = Daemon::start(config(&yaml, &[])).await;
    wait_for(Duration::from_secs(10), "a request", || {
        !cdb.seen().is_empty()
    })
    .await;
    keys.insert("AKIDstatic", "key-two", None, None);
    version(2, "key-two\n");
    let rotated = crate::support::clock::now();
    wait_for(
        Duration::from_secs(10),
        "a request signed with the new key",
        || {
            cdb.seen()
                .iter()
                .any(|s| s.at > rotated + 1 && s.refused.is_none())
        },
    )
    .await;
    let static_ok = [("source", "static"), ("result", "success")];
    let e = d
        .scrape_until(Duration::from_secs(5), "the rotation counted", |e| {
            e.value("cdb_rollback_credentials_refreshes_total", &static_ok) == Some(1.0)
        })
        .await;
    assert_eq!(
        e.value(
            "cdb_rollback_credentials_refreshes_total",
            &[("source", "static"), ("result", "success")]
        ),
        Some(1.0),
        "{}",
        e.text
    );
    d.stop().await;
}
