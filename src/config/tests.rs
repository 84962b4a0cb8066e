use std::time::Duration;

use super::*;
use crate::api::SignatureMethod;
use crate::credentials::{Origin, RoleSpec, SourceKind, static_files::Static};
use crate::time::UtcOffset;

fn no_env(_: &str) -> Option<String> {
    None
}

fn creds_env(name: &str) -> Option<String> {
    match name {
        ENV_SECRET_ID => Some("AKIDenv".into()),
        ENV_SECRET_KEY => Some("key-from-env".into()),
        _ => None,
    }
}

/// Parses `text` as `/etc/x/config.yml` with credentials in the environment; the other
/// config test modules use it too.
pub(super) fn parse(text: &str) -> Result<Config, String> {
    Config::parse(text, Path::new("/etc/x/config.yml"), &creds_env).map_err(|e| e.to_string())
}

#[test]
fn minimal_config_gets_defaults() {
    let c = parse("jobs:\n  - id: 12782\n").unwrap();
    assert_eq!(c.client.version, ApiVersion::V3);
    assert_eq!(
        c.client.endpoint.as_str(),
        "https://cdb.tencentcloudapi.com/"
    );
    assert_eq!(c.client.regions, ["ap-guangzhou"]);
    assert_eq!(c.client.v2.signature_method, SignatureMethod::HmacSha1);
    assert_eq!(c.client.timezone, UtcOffset::CST);
    assert_eq!(c.client.timeout, Duration::from_secs(10));
    assert_eq!(c.client.max_requests_per_second, 5.0);
    assert_eq!(c.poll, PollConfig::default());
    assert_eq!(
        c.jobs,
        vec![JobConfig {
            account: None,
            id: 12782,
            labels: Labels::default()
        }]
    );
    assert!(matches!(c.credentials.origin, Origin::Chain));
    assert_eq!(c.credentials.env.get(ENV_SECRET_ID), Some("AKIDenv"));
    assert_eq!(
        c.credentials.metadata_endpoint.as_str(),
        "http://metadata.tencentyun.com/"
    );
    assert_eq!(
        c.credentials.sts_endpoint.as_str(),
        "https://sts.tencentcloudapi.com/"
    );
    assert_eq!(c.credentials.role, None);
}

fn static_creds(c: &Config) -> crate::api::Credentials {
    let Origin::Static(s) = &c.credentials.origin else {
        panic!("not static: {:?}", c.credentials.origin);
    };
    Static::new(s.clone()).load().unwrap()
}

/// A file where every value differs from its default, so a key that were ignored would show.
fn full_example(key: &Path, token: &Path) -> String {
    format!(
        r#"
api:
  version: 2
  endpoint: http://127.0.0.1:9999/v2/index.php
  region: ap-shanghai
  signature_method: HmacSHA256
  method: POST
  timezone: "+09:00"
  timeout: 3s
  max_requests_per_second: 2.5
credentials:
  secret_id: AKIDfile
  secret_key_file: {}
  session_token_file: {}
poll:
  interval: 1m30s
  finished_interval: 1h
  concurrency: 2
  retries: 5
jobs:
  - id: 12782
    labels: {{ team: dba }}
discovery:
  interval: 90s
  max_age: 12h
  instances:
    - id: cdb-c1nl9rpv
      labels: {{ team: payments }}
    - id: cdb-3kwa9xvs
"#,
        key.display(),
        token.display()
    )
}

fn check_api_and_poll(c: &Config) {
    assert_eq!(
        c.client.endpoint.as_str(),
        "http://127.0.0.1:9999/v2/index.php"
    );
    assert_eq!(c.client.version, ApiVersion::V2);
    assert_eq!(c.client.regions, ["ap-shanghai"]);
    assert_eq!(c.client.v2.signature_method, SignatureMethod::HmacSha256);
    assert_eq!(c.client.v2.http_method, HttpMethod::Post);
    assert_eq!(c.client.timezone.seconds(), 9 * 3600);
    assert_eq!(c.client.timeout, Duration::from_secs(3));
    assert_eq!(c.client.max_requests_per_second, 2.5);
    assert_eq!(c.client.concurrency, 2);
    assert_eq!(
        c.poll,
        PollConfig {
            interval: Duration::from_secs(90),
            finished_interval: Duration::from_secs(3600),
            concurrency: 2,
            retries: 5,
        }
    );
}

fn check_credentials(c: &Config) {
    let creds = static_creds(c);
    assert_eq!(creds.secret_id, "AKIDfile");
    assert_eq!(creds.secret_key.expose(), "file-key");
    assert_eq!(
        creds.token.as_ref().map(crate::api::Secret::expose),
        Some("file-token")
    );
    let debug = format!("{c:?}");
    assert!(
        !debug.contains("file-key")
            && !debug.contains("file-token")
            && !debug.contains("key-from-env"),
        "{debug}"
    );
}

fn check_jobs_and_discovery(c: &Config) {
    assert_eq!(
        c.jobs,
        vec![JobConfig {
            account: None,
            id: 12782,
            labels: Labels::from_pairs(&[("team", "dba")])
        }]
    );
    assert_eq!(c.discovery.interval, Duration::from_secs(90));
    assert_eq!(c.discovery.max_age, Duration::from_secs(12 * 3600));
    assert_eq!(
        c.discovery.instances,
        vec![
            InstanceConfig {
                id: "cdb-c1nl9rpv".into(),
                labels: Labels::from_pairs(&[("team", "payments")])
            },
            InstanceConfig {
                id: "cdb-3kwa9xvs".into(),
                labels: Labels::default()
            },
        ]
    );
}

#[test]
fn full_example_parses() {
    let dir = std::env::temp_dir().join(format!("cdbcfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (key, token) = (dir.join("key"), dir.join("token"));
    std::fs::write(&key, "file-key\n").unwrap();
    std::fs::write(&token, "file-token\n").unwrap();
    let c = parse(&full_example(&key, &token)).unwrap();
    check_api_and_poll(&c);
    check_credentials(&c);
    check_jobs_and_discovery(&c);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn unknown_key_names_key_and_line() {
    let err = parse("jobs:\n  - id: 1\npoll:\n  intervall: 30s\n").unwrap_err();
    assert!(err.contains("intervall"), "{err}");
    assert!(err.contains("line 4"), "{err}");
    assert!(err.contains("/etc/x/config.yml"), "{err}");
}

#[test]
fn bad_label_names_are_named() {
    for (name, why) in [
        ("1team", "not a valid"),
        ("job_id", "sets it itself"),
        ("account", "sets it itself"),
        ("__x", "reserved"),
        ("team-a", "not a valid"),
    ] {
        let err = parse(&format!("jobs:\n  - id: 1\n    labels: {{ {name}: x }}\n")).unwrap_err();
        assert!(err.contains(name) && err.contains(why), "{name}: {err}");
        assert!(
            err.contains("jobs[0].labels") && err.contains("line 3"),
            "{err}"
        );
    }
}

#[test]
fn bad_values_are_named() {
    let cases = [
        ("poll:\n  interval: 0s\n", "`0s` is not a positive duration"),
        ("poll:\n  interval: soon\n", "`soon` is not a duration"),
        ("api:\n  signature_method: MD5\n", "`MD5`"),
        ("api:\n  timezone: CST\n", "`CST`"),
        (
            "api:\n  max_requests_per_second: 0\n",
            "max_requests_per_second",
        ),
        ("api:\n  endpoint: ftp://x/y\n", "ftp://x/y"),
        ("poll:\n  concurrency: 0\n", "poll.concurrency"),
        ("discovery: {instances: [{id: a b}]}\n", "`a b` is not an"),
        ("discovery: {instances: [{id: ''}]}\n", "`` is not an"),
        ("  - id: 2\n", "listed twice"),
    ];
    for (extra, expected) in cases {
        let err = parse(&format!("jobs:\n  - id: 2\n{extra}")).unwrap_err();
        assert!(err.contains(expected), "{extra:?}: {err}");
    }
}

#[test]
fn missing_secrets_are_named() {
    let static_file = "jobs:\n  - id: 1\ncredentials:\n  source: static\n";
    let err = Config::parse(static_file, Path::new("c.yml"), &no_env)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("SecretId") && err.contains(ENV_SECRET_ID),
        "{err}"
    );
    let only_id = |n: &str| (n == ENV_SECRET_ID).then(|| "AKID".to_string());
    let err = Config::parse(static_file, Path::new("c.yml"), &only_id)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("secret key") && err.contains(ENV_SECRET_KEY),
        "{err}"
    );
    // Without credentials keys the chain decides, at start.
    let c = Config::parse("jobs:\n  - id: 1\n", Path::new("c.yml"), &no_env).unwrap();
    assert!(matches!(c.credentials.origin, Origin::Chain));
    let err =
        parse("jobs:\n  - id: 1\ncredentials:\n  secret_key_file: /nonexistent/key\n").unwrap_err();
    assert!(err.contains("/nonexistent/key"), "{err}");
}

#[test]
fn nothing_to_watch_is_an_error_on_v2_only() {
    let err = parse("api:\n  version: 2\n  region: ap-guangzhou\n").unwrap_err();
    assert!(err.contains("nothing to watch"), "{err}");
    assert!(parse("").unwrap_err().contains("empty"));
    let c = parse("api:\n  region: ap-guangzhou\n").unwrap();
    assert!(c.jobs.is_empty() && c.discovery.instances.is_empty());
}

#[test]
fn versions_and_default_endpoints() {
    let v2 = parse("api:\n  version: 2\njobs:\n  - id: 1\n").unwrap();
    assert_eq!(
        v2.client.endpoint.as_str(),
        "https://cdb.api.qcloud.com/v2/index.php"
    );
    let v3 = parse("api:\n  version: \"3\"\n").unwrap();
    assert_eq!(
        v3.client.endpoint.as_str(),
        "https://cdb.tencentcloudapi.com/"
    );
    let err = parse("api:\n  version: 4\n").unwrap_err();
    assert!(
        err.contains("`4` is not an API version") && err.contains("line 2"),
        "{err}"
    );
}

#[test]
fn regions() {
    let c = parse("api:\n  regions: [ap-guangzhou, ap-shanghai]\n").unwrap();
    assert_eq!(c.client.regions, ["ap-guangzhou", "ap-shanghai"]);
    for (text, expected) in [
        (
            "api:\n  region: a\n  regions: [b]\n",
            "api.region is set too",
        ),
        ("api:\n  regions: []\n", "at least one region"),
        (
            "api:\n  regions: [ap-x, ap-x]\n",
            "api.regions[1]: `ap-x` is listed twice",
        ),
        (
            "api:\n  region: \"ap guangzhou\"\n",
            "`ap guangzhou` is not a region",
        ),
        (
            "api:\n  version: 2\n  regions: [a, b]\njobs:\n  - id: 1\n",
            "the v2 API takes one region",
        ),
    ] {
        let err = parse(text).unwrap_err();
        assert!(err.contains(expected), "{text:?}: {err}");
    }
}

#[test]
fn zero_configuration_start_and_flags() {
    let env = |name: &str| match name {
        ENV_REGION => Some("ap-beijing".to_string()),
        other => creds_env(other),
    };
    let c = Config::without_file(&env, &Overrides::default()).unwrap();
    assert_eq!(c.client.version, ApiVersion::V3);
    assert_eq!(c.client.regions, ["ap-beijing"], "TENCENTCLOUD_REGION");
    assert!(matches!(c.credentials.origin, Origin::Chain));
    assert_eq!(c.credentials.region, "ap-beijing");
    let flags = Overrides {
        region: Some("ap-chengdu".into()),
        endpoint: http_url("https://cdb.internal.tencentcloudapi.com/").ok(),
        metadata_endpoint: http_url("http://127.0.0.1:1/").ok(),
    };
    let c = Config::without_file(&env, &flags).unwrap();
    assert_eq!(c.client.regions, ["ap-chengdu"], "the flag wins");
    assert_eq!(
        c.client.endpoint.host_str(),
        Some("cdb.internal.tencentcloudapi.com")
    );
    assert_eq!(
        c.credentials.metadata_endpoint.as_str(),
        "http://127.0.0.1:1/"
    );
    let c = Config::parse_with(
        "api:\n  regions: [a, b]\n",
        Path::new("c.yml"),
        &env,
        &flags,
    )
    .unwrap();
    assert_eq!(
        c.client.regions,
        ["ap-chengdu"],
        "the flag wins over the file"
    );
    // The flags' own values are checked by clap with these (tests/it/cli.rs).
    for bad in ["nope", "ftp://x", "http://"] {
        assert_eq!(http_url(bad).unwrap_err().value, bad);
    }
    assert_eq!(region(" ap-chengdu ").unwrap(), "ap-chengdu");
    assert_eq!(region("ap chengdu").unwrap_err().value, "ap chengdu");
    let c = Config::without_file(&no_env, &Overrides::default()).unwrap();
    assert!(matches!(c.credentials.origin, Origin::Chain));
}

#[test]
fn credentials_keys() {
    let text = "credentials:\n  source: cvm_role\n  role_arn: qcs::cam::uin/1:roleName/r\n  \
                    role_session_name: exporter-1\n  duration: 2h\n  external_id: ext-1:a/b\n  \
                    metadata_endpoint: http://127.0.0.1:8080\n  sts_endpoint: https://sts.internal.tencentcloudapi.com/\n";
    let c = parse(text).unwrap();
    assert!(matches!(
        c.credentials.origin,
        Origin::Only(SourceKind::CvmRole)
    ));
    assert_eq!(
        c.credentials.role,
        Some(RoleSpec {
            arn: "qcs::cam::uin/1:roleName/r".into(),
            session_name: "exporter-1".into(),
            duration: Duration::from_secs(7200),
            external_id: Some("ext-1:a/b".into()),
        })
    );
    assert_eq!(
        c.credentials.metadata_endpoint.as_str(),
        "http://127.0.0.1:8080/"
    );
    assert_eq!(
        c.credentials.sts_endpoint.host_str(),
        Some("sts.internal.tencentcloudapi.com")
    );
    let c = parse("credentials:\n  profile: ci\n  role_arn: qcs::cam::uin/1:roleName/r\n").unwrap();
    assert_eq!(c.credentials.profile.as_deref(), Some("ci"));
    let role = c.credentials.role.unwrap();
    assert_eq!(role.session_name, "cdb-rollback-exporter");
    assert_eq!(role.duration, Duration::from_secs(3600));
    assert_eq!(role.external_id, None);
}

#[test]
fn bad_credentials_keys_are_named() {
    for (text, expected) in [
        ("credentials:\n  source: vault\n", "`vault` is not a source"),
        (
            "credentials:\n  source: env\n  secret_id: AKID\n",
            "source: static",
        ),
        (
            "credentials:\n  source: env\n  profile: ci\n",
            "credentials.profile: `ci`",
        ),
        (
            "credentials:\n  role_arn: r\n  duration: 13h\n",
            "credentials.duration",
        ),
        (
            "credentials:\n  duration: 1h\n",
            "credentials.role_arn: not set, but credentials.duration",
        ),
        (
            "credentials:\n  role_arn: r\n  role_session_name: a b\n",
            "`a b`",
        ),
        (
            "credentials:\n  role_arn: r\n  external_id: x\n",
            "credentials.external_id: `x` must be 2 to 128",
        ),
        (
            "credentials:\n  external_id: ext-1\n",
            "credentials.role_arn: not set, but",
        ),
        (
            "credentials:\n  metadata_endpoint: nope\n",
            "credentials.metadata_endpoint: `nope`",
        ),
        (
            "credentials:\n  sts_endpoint: ftp://x\n",
            "credentials.sts_endpoint: `ftp://x`",
        ),
    ] {
        let err = parse(text).unwrap_err();
        assert!(err.contains(expected), "{text:?}: {err}");
    }
}

#[test]
fn durations() {
    assert_eq!("30s".parse(), Ok(Interval(Duration::from_secs(30))));
    assert_eq!("1h30m".parse(), Ok(Interval(Duration::from_secs(5400))));
    assert_eq!("250ms".parse(), Ok(Interval(Duration::from_millis(250))));
    assert!("30".parse::<Interval>().is_err());
    assert!("s".parse::<Interval>().is_err());
    assert!("3x".parse::<Interval>().is_err());
}

#[test]
fn v2_settings_under_v3_are_errors_naming_the_key() {
    for (key, line) in [
        ("api.signature_method", "signature_method: HmacSHA256"),
        ("api.method", "method: POST"),
    ] {
        let err = parse(&format!("api:\n  version: 3\n  {line}\n")).unwrap_err();
        assert!(
            err.contains(key) && err.contains("v2 setting"),
            "{key}: {err}"
        );
        let implicit = parse(&format!("api:\n  {line}\n")).unwrap_err();
        assert!(implicit.contains(key), "v3 is the default: {implicit}");
        let v2 = format!("api:\n  version: 2\n  {line}\njobs:\n  - id: 1\n");
        assert!(parse(&v2).is_ok(), "{key} is a v2 setting");
    }
}
