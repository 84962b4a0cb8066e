//! Credentials as Tencent Cloud users have them: the chain and its order, temporary
//! credentials refreshed without a failed poll, rotation, and a start with none.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use cdb_rollback_exporter::config::Config;
use cdb_rollback_exporter::credentials::{self, Lack, ResolveError, SourceKind};

use crate::support::Daemon;
use crate::support::fake_cdb_v3_min::FakeCdb;
use crate::support::fake_metadata::FakeMetadata;
use crate::support::fake_sts::{FakeSts, PROVIDER_ID, ROLE_ARN};
use crate::support::tc3_check::Keyring;

const BIN: &str = env!("CARGO_BIN_EXE_cdb-rollback-exporter");

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cdb-creds-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A config whose environment is exactly `env`: the process's is never read or changed.
fn config(yaml: &str, env: &[(&str, String)]) -> Config {
    let lookup = |name: &str| env.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone());
    Config::parse(yaml, Path::new("creds.yml"), &lookup).unwrap()
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

async fn wait_for(within: Duration, what: &str, check: impl Fn() -> bool) {
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
    let meta = FakeMetadata::start(issued, 3).await;
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
    // 9 s credentials: the refresh at ~6 s fails, the retry ~1 s later succeeds.
    let meta = FakeMetadata::start(issued, 9).await;
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
    let sts = FakeSts::start(issued.clone(), issued, 3).await;
    sts.state.lock().unwrap().web_tokens = vec!["web-token-1".into()];
    let dir = temp_dir("oidc");
    let token_file = dir.join("token");
    std::fs::write(&token_file, "web-token-1\n").unwrap();
    let env = [
        ("TKE_ROLE_ARN", ROLE_ARN.to_string()),
        ("TKE_PROVIDER_ID", PROVIDER_ID.to_string()),
        (
            "TKE_WEB_IDENTITY_TOKEN_FILE",
            token_file.display().to_string(),
        ),
        ("TKE_REGION", "ap-shanghai".to_string()),
    ];
    let extra = format!("  role_arn: {ROLE_ARN}\n  duration: 15m\n");
    let yaml = daemon_yaml(&cdb, "http://127.0.0.1:1", &sts.endpoint, &extra);
    let d = Daemon::start(config(&yaml, &env)).await;
    wait_for(Duration::from_secs(10), "assumed credentials used", || {
        cdb.accepted_ids()
            .iter()
            .any(|id| id.starts_with("AKIDrole"))
    })
    .await;
    // The kubelet rotates the token: the next refresh must send the new one.
    sts.state
        .lock()
        .unwrap()
        .web_tokens
        .push("web-token-2".into());
    std::fs::write(&token_file, "web-token-2\n").unwrap();
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
async fn the_profile_file_is_read() {
    let home = temp_dir("profile");
    std::fs::create_dir_all(home.join(".tencentcloud")).unwrap();
    std::fs::write(
        home.join(".tencentcloud/credentials"),
        "[default]\nsecret_id = AKIDdefault\nsecret_key = default-key\n\n[ci]\nsecret_id=AKIDci\nsecret_key=ci-key\ntoken=ci-token\n",
    )
    .unwrap();
    let env = [("HOME", home.display().to_string())];
    let r = credentials::resolve(&config("api:\n  region: ap-guangzhou\n", &env).credentials)
        .await
        .unwrap();
    assert_eq!(r.first.creds.secret_id, "AKIDdefault");
    assert!(
        r.provider.describe().starts_with("profile [default]"),
        "{}",
        r.provider.describe()
    );
    let r = credentials::resolve(&config("credentials:\n  profile: ci\n", &env).credentials)
        .await
        .unwrap();
    assert_eq!(r.first.creds.secret_id, "AKIDci");
    assert_eq!(r.first.creds.token.unwrap().expose(), "ci-token");
    let err = credentials::resolve(&config("credentials:\n  profile: prod\n", &env).credentials)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("credentials.profile") && err.contains("[prod]"),
        "{err}"
    );
    // TENCENTCLOUD_CREDENTIALS_FILE wins; a bad line is named, its value is not shown.
    let other = home.join("other.ini");
    std::fs::write(
        &other,
        "[default]\nsecret_id=AKIDx\nsecret_key: leaked-key\n",
    )
    .unwrap();
    let env = [
        ("HOME", home.display().to_string()),
        ("TENCENTCLOUD_CREDENTIALS_FILE", other.display().to_string()),
    ];
    let err = credentials::resolve(&config("api:\n  region: ap-guangzhou\n", &env).credentials)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!("{} line 3", other.display())),
        "{err}"
    );
    assert!(!err.contains("leaked-key"), "{err}");
}

#[tokio::test]
async fn environment_tokens_are_sent_under_either_name() {
    for name in ["TENCENTCLOUD_SESSION_TOKEN", "TENCENTCLOUD_SECURITY_TOKEN"] {
        let keys = Keyring::default();
        keys.insert("AKIDenv", "env-key", Some("env-token"), None);
        let cdb = FakeCdb::start(keys).await;
        let env = [
            ("TENCENTCLOUD_SECRET_ID", "AKIDenv".to_string()),
            ("TENCENTCLOUD_SECRET_KEY", "env-key".to_string()),
            (name, "env-token".to_string()),
        ];
        let yaml = daemon_yaml(&cdb, "http://127.0.0.1:1", "http://127.0.0.1:1/", "");
        let d = Daemon::start(config(&yaml, &env)).await;
        wait_for(Duration::from_secs(10), "a request", || {
            !cdb.seen().is_empty()
        })
        .await;
        let seen = &cdb.seen()[0];
        assert_eq!(seen.token.as_deref(), Some("env-token"), "{name}");
        assert_eq!(seen.refused, None, "{name}");
        d.stop().await;
    }
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

#[tokio::test]
async fn the_chain_tries_env_then_profile_then_oidc_then_cvm_role() {
    let issued = Keyring::default();
    let meta = FakeMetadata::start(issued.clone(), 3600).await;
    let sts = FakeSts::start(Keyring::default(), issued, 3600).await;
    sts.state.lock().unwrap().web_tokens = vec!["web-token".into()];
    let home = temp_dir("chain");
    std::fs::create_dir_all(home.join(".tencentcloud")).unwrap();
    std::fs::write(
        home.join(".tencentcloud/credentials"),
        "[default]\nsecret_id=AKIDprofile\nsecret_key=k\n",
    )
    .unwrap();
    std::fs::write(home.join("token"), "web-token").unwrap();
    let mut env = vec![
        ("TENCENTCLOUD_SECRET_ID", "AKIDenv".to_string()),
        ("TENCENTCLOUD_SECRET_KEY", "k".to_string()),
        ("HOME", home.display().to_string()),
        ("TKE_ROLE_ARN", ROLE_ARN.to_string()),
        ("TKE_PROVIDER_ID", PROVIDER_ID.to_string()),
        (
            "TKE_WEB_IDENTITY_TOKEN_FILE",
            home.join("token").display().to_string(),
        ),
    ];
    let yaml = format!(
        "credentials:\n  metadata_endpoint: {}\n  sts_endpoint: {}\n",
        meta.endpoint, sts.endpoint
    );
    for (expected, drop) in [
        (
            "env",
            &["TENCENTCLOUD_SECRET_ID", "TENCENTCLOUD_SECRET_KEY"][..],
        ),
        ("profile", &["HOME"][..]),
        (
            "oidc",
            &[
                "TKE_ROLE_ARN",
                "TKE_PROVIDER_ID",
                "TKE_WEB_IDENTITY_TOKEN_FILE",
            ][..],
        ),
        ("cvm_role", &[][..]),
    ] {
        let r = credentials::resolve(&config(&yaml, &env).credentials)
            .await
            .unwrap();
        assert_eq!(r.provider.label(), expected);
        env.retain(|(k, _)| !drop.contains(k));
    }
    // With every source gone, each says what it lacked.
    let closed = "credentials:\n  metadata_endpoint: http://127.0.0.1:1\n";
    let err = credentials::resolve(&config(closed, &[]).credentials)
        .await
        .unwrap_err();
    let ResolveError::NotFound { tried } = &err else {
        panic!("{err}")
    };
    let kinds: Vec<SourceKind> = tried.iter().map(|(k, _)| *k).collect();
    assert_eq!(kinds, SourceKind::CHAIN, "{err}");
    let why = err.to_string();
    for part in [
        "env: TENCENTCLOUD_SECRET_ID not set",
        "profile: neither TENCENTCLOUD_CREDENTIALS_FILE nor HOME is set",
        "oidc: TKE_ROLE_ARN not set",
        "cvm_role: metadata server http://127.0.0.1:1/ is not reachable",
    ] {
        assert!(why.contains(part), "{part}: {why}");
    }
    // A half-set pod identity stops the chain rather than fall back to the node's role.
    let half = [("TKE_ROLE_ARN", ROLE_ARN.to_string())];
    let err = credentials::resolve(&config(&yaml, &half).credentials)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ResolveError::Failed { kind: SourceKind::Oidc, lack: Lack::Misconfigured(m), .. }
            if m.contains("TKE_PROVIDER_ID")),
        "{err}"
    );
}

fn run_without_credentials(args: &[String], home: &Path) -> (Option<i32>, Duration, String) {
    let started = Instant::now();
    let out = Command::new(BIN)
        .env_clear()
        .env("HOME", home)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        started.elapsed(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn without_any_source_it_names_each_and_exits_1_within_15_s() {
    let home = temp_dir("none");
    let (_silent, port) = silent_port();
    let metadata = format!("http://127.0.0.1:{port}");
    let reasons = [
        "env: TENCENTCLOUD_SECRET_ID not set".to_string(),
        format!(
            "profile: {}/.tencentcloud/credentials not found",
            home.display()
        ),
        "oidc: TKE_ROLE_ARN not set".to_string(),
        format!("cvm_role: metadata server {metadata}/ did not answer within 1s"),
    ];
    let args = [
        format!("--credentials.metadata-endpoint={metadata}"),
        "--web.listen-address=127.0.0.1:0".into(),
    ];
    let (code, took, err) = run_without_credentials(&args, &home);
    assert_eq!(code, Some(1), "{err}");
    assert!(took < Duration::from_secs(15), "{took:?}");
    assert!(
        err.contains("--demo") && err.contains("--config.file"),
        "{err}"
    );
    for r in &reasons {
        assert!(err.contains(r.as_str()), "{r}: {err}");
    }
    // With a config file: the same reasons, as an error rather than a how-to.
    let file = home.join("c.yml");
    std::fs::write(
        &file,
        format!("credentials:\n  metadata_endpoint: {metadata}\n"),
    )
    .unwrap();
    let args = [format!("--config.file={}", file.display())];
    let (code, took, err) = run_without_credentials(&args, &home);
    assert_eq!(code, Some(1), "{err}");
    assert!(took < Duration::from_secs(15), "{took:?}");
    assert!(!err.contains("--demo"), "{err}");
    for r in &reasons {
        assert!(err.contains(r.as_str()), "{r}: {err}");
    }
}
