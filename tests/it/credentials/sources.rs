//! Where credentials are found: the chain and its order; the environment and the profile
//! files as Tencent's own tools write them; a start with none.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use cdb_rollback_exporter::credentials::{self, Lack, ResolveError, SourceKind};

use super::{config, daemon_yaml, silent_port, temp_dir, wait_for};
use crate::support::Daemon;
use crate::support::fake_cdb_v3_min::FakeCdb;
use crate::support::fake_metadata::FakeMetadata;
use crate::support::fake_sts::{FakeSts, PROVIDER_ID, ROLE_ARN};
use crate::support::tc3_check::Keyring;

const BIN: &str = env!("CARGO_BIN_EXE_cdb-rollback-exporter");

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[tokio::test]
async fn the_profile_files_are_read_in_the_sdks_order_then_tcclis() {
    let home = temp_dir("profile");
    let system = home.join("etc/tencentcloud/credentials");
    let resolve = |yaml: &str, env: &[(&str, String)]| {
        let mut c = config(yaml, env);
        c.credentials.system_profile = system.clone();
        async move { credentials::resolve(&c.credentials).await }
    };
    let env = [("HOME", home.display().to_string())];
    let plain = "api:\n  region: ap-guangzhou\n";
    write_each_file_as_its_tool_does(&home, &system);
    let mut seen = Vec::new();
    for remove in [
        ".tencentcloud/credentials",
        "etc/tencentcloud/credentials",
        ".tccli/default.credential",
    ] {
        let r = resolve(plain, &env)
            .await
            .map(|r| (r.first.creds.secret_id, r.provider.describe()));
        seen.push(r.map_err(|e| e.to_string()));
        std::fs::remove_file(home.join(remove)).unwrap();
    }
    let describe = |what: &str, path: &str| format!("{what} {}", home.join(path).display());
    assert_eq!(
        seen[0].as_ref().unwrap(),
        &(
            "AKIDhome".into(),
            describe("profile [default] of", ".tencentcloud/credentials")
        )
    );
    assert_eq!(
        seen[1].as_ref().unwrap(),
        &(
            "AKIDetc".into(),
            describe("profile [default] of", "etc/tencentcloud/credentials")
        )
    );
    let tccli = format!(
        "tccli profile default ({})",
        home.join(".tccli/default.credential").display()
    );
    assert_eq!(seen[2].as_ref().unwrap(), &("AKIDtccli".into(), tccli));
    // None left: each file says what it lacked; tccli's SSO keys, which only tccli renews, are not used.
    let err = resolve("credentials:\n  source: profile\n  profile: ci\n", &env)
        .await
        .unwrap_err()
        .to_string();
    for part in [
        "credentials.profile: no [ci] in",
        "credentials not found",
        "ci.credential holds tccli sso keys",
    ] {
        assert!(err.contains(part), "{part}: {err}");
    }
}

/// Each file as its tool writes it: configparser's `key: value` and any key case; JSON.
fn write_each_file_as_its_tool_does(home: &Path, system: &Path) {
    write(
        &home.join(".tccli/default.credential"),
        r#"{"secretId": "AKIDtccli", "secretKey": "k", "token": "t"}"#,
    );
    write(
        &home.join(".tccli/ci.credential"),
        r#"{"type": "sso", "secretId": "AKIDsso", "secretKey": "k"}"#,
    );
    write(system, "[default]\nSECRET_ID: AKIDetc\nSecret_Key = k\n");
    write(
        &home.join(".tencentcloud/credentials"),
        "[default]\nsecret_id: AKIDhome\nsecret_key=k\n\n[ci]\nsecret_id=AKIDci\nsecret_key=ci-key\ntoken=ci-token\n",
    );
}

#[tokio::test]
async fn a_named_profile_and_the_named_file() {
    let home = temp_dir("named");
    write(
        &home.join(".tencentcloud/credentials"),
        "[default]\nsecret_id = AKIDdefault\nsecret_key = default-key\n\n[ci]\nsecret_id=AKIDci\nsecret_key=ci-key\ntoken=ci-token\n",
    );
    let env = [("HOME", home.display().to_string())];
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
    write(
        &other,
        "[default]\nsecret_id=AKIDx\nsecret_key leaked-key\n",
    );
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

/// Temporary keys as each tool leaves them: the token under each variable's name, in the
/// SDK's system-wide file (upper-case keys, `key: value`), and in tccli's file.
#[tokio::test]
async fn temporary_keys_as_tencents_tools_write_them_are_signed_with_their_token() {
    let home = temp_dir("tools");
    let system = home.join("etc/tencentcloud/credentials");
    write(
        &system,
        "[default]\nSECRET_ID: AKIDtool\nSECRET_KEY: tool-key\nToken: tool-token\n",
    );
    let tccli = r#"{"secretId": "AKIDtool", "secretKey": "tool-key", "token": "tool-token"}"#;
    write(&home.join("tccli-home/.tccli/default.credential"), tccli);
    let keys = [
        ("TENCENTCLOUD_SECRET_ID", "AKIDtool".to_string()),
        ("TENCENTCLOUD_SECRET_KEY", "tool-key".to_string()),
    ];
    let mut cases: Vec<(Vec<(&str, String)>, &str)> = credentials::env::TOKEN_NAMES
        .iter()
        .map(|&name| {
            (
                [&keys[..], &[(name, "tool-token".to_string())]].concat(),
                "from env",
            )
        })
        .collect();
    cases.push((
        vec![("HOME", home.join("no-home").display().to_string())],
        "from profile [default] of",
    ));
    cases.push((
        vec![("HOME", home.join("tccli-home").display().to_string())],
        "from tccli profile default",
    ));
    for (env, landing) in cases {
        let issued = Keyring::default();
        issued.insert("AKIDtool", "tool-key", Some("tool-token"), None);
        let cdb = FakeCdb::start(issued).await;
        let yaml = daemon_yaml(&cdb, "http://127.0.0.1:1", "http://127.0.0.1:1/", "");
        let mut c = config(&yaml, &env);
        // Only the case that reads it has the system-wide file: it comes before tccli's.
        if landing.contains("[default]") {
            c.credentials.system_profile = system.clone();
        }
        let d = Daemon::start(c).await;
        wait_for(Duration::from_secs(10), "a request", || {
            !cdb.seen().is_empty()
        })
        .await;
        let seen = &cdb.seen()[0];
        assert_eq!(seen.token.as_deref(), Some("tool-token"), "{env:?}");
        assert_eq!(seen.refused, None, "{env:?}");
        let page = d.get("/").await.text().await.unwrap();
        assert!(
            page.contains(&format!("credentials {landing}")),
            "{landing}: {page}"
        );
        d.stop().await;
    }
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
    with_every_source_gone_each_says_what_it_lacked().await;
    a_half_set_pod_identity_stops_the_chain(&yaml).await;
}

async fn with_every_source_gone_each_says_what_it_lacked() {
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
}

/// A half-set pod identity stops the chain rather than fall back to the node's role.
async fn a_half_set_pod_identity_stops_the_chain(yaml: &str) {
    let half = [("TKE_ROLE_ARN", ROLE_ARN.to_string())];
    let err = credentials::resolve(&config(yaml, &half).credentials)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ResolveError::Failed { kind: SourceKind::Oidc, lack: Lack::Misconfigured(m), .. }
            if m.contains("TKE_PROVIDER_ID")),
        "{err}"
    );
}

/// Runs the binary with an empty environment but HOME and TENCENTCLOUD_CREDENTIALS_FILE (an
/// empty file): the named file is the only profile file read, not the machine's own.
fn run_without_credentials(args: &[String], home: &Path) -> (Option<i32>, Duration, String) {
    let started = Instant::now();
    let profile = home.join("empty.ini");
    std::fs::write(&profile, "").unwrap();
    let out = Command::new(BIN)
        .env_clear()
        .env("HOME", home)
        .env("TENCENTCLOUD_CREDENTIALS_FILE", &profile)
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
            "profile: {}/empty.ini has no [default] profile",
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
