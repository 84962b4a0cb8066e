//! The command line as a user meets it: no configuration, check-config.

use std::process::Command;

use crate::support::process::{self, BIN};

fn write(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("cdb-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn without_config_it_says_how_to_start() {
    // No credentials anywhere: an empty HOME, an empty profile file named (so that the
    // machine's /etc/tencentcloud/credentials is not read), a metadata server that refuses.
    let empty = write("empty.ini", "");
    let home = empty.with_file_name("empty-home");
    std::fs::create_dir_all(&home).unwrap();
    let out = Command::new(BIN)
        .env_clear()
        .env("HOME", &home)
        .env("TENCENTCLOUD_CREDENTIALS_FILE", &empty)
        .arg("--credentials.metadata-endpoint=http://127.0.0.1:1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--demo")
            && err.contains("--config.file")
            && err.contains("TENCENTCLOUD_SECRET_ID"),
        "{err}"
    );
}

#[test]
fn check_config_accepts_a_good_file_and_names_the_problem_in_a_bad_one() {
    let good = write(
        "good.yml",
        "jobs:\n  - id: 12782\n    labels: { team: dba }\n",
    );
    let out = Command::new(BIN)
        .args(["check-config", "--config.file"])
        .arg(&good)
        .env("TENCENTCLOUD_SECRET_ID", "AKIDx")
        .env("TENCENTCLOUD_SECRET_KEY", "k")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 job(s)"));

    let bad = write(
        "bad.yml",
        "jobs:\n  - id: 12782\npoll:\n  interval: 30s\n  concurency: 4\n",
    );
    let out = Command::new(BIN)
        .args(["check-config", "--config.file"])
        .arg(&bad)
        .env("TENCENTCLOUD_SECRET_ID", "AKIDx")
        .env("TENCENTCLOUD_SECRET_KEY", "k")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("concurency") && err.contains("line 5") && err.contains("bad.yml"),
        "{err}"
    );

    // A missing secret is named, and the key's value never printed.
    let out = Command::new(BIN)
        .args(["check-config", "--config.file"])
        .arg(&good)
        .env_remove("TENCENTCLOUD_SECRET_ID")
        .env("TENCENTCLOUD_SECRET_KEY", "super-secret-value")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("missing SecretId") && !err.contains("super-secret-value"),
        "{err}"
    );
}

#[test]
fn sigterm_stops_the_daemon_within_two_seconds() {
    let mut daemon = process::spawn({
        let mut cmd = Command::new(BIN);
        cmd.arg("--demo");
        cmd
    });
    daemon.signal("-TERM");
    // No scrape is open, so no grace period applies: it should stop at once.
    let (status, _, log) = daemon.wait_exit(std::time::Duration::from_secs(3));
    assert!(status.success(), "{status:?}\n{log}");
    assert!(
        log.contains("shutdown signal received") && log.contains("exporter stopped"),
        "{log}"
    );
}

#[test]
fn bad_flags_are_refused_when_the_flags_are_read() {
    for (flag, value) in [
        ("--web.telemetry-path", "/-/metrics"),
        ("--api.endpoint", "ftp://cdb.example"),
        ("--api.region", "ap guangzhou"),
        ("--credentials.metadata-endpoint", "nope"),
        ("--log.level", "loud"),
        ("--log.format", "xml"),
    ] {
        let out = Command::new(BIN)
            .args(["--demo", &format!("{flag}={value}")])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{flag}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(flag) && err.contains(value), "{err}");
    }
}

/// `--demo` and `--web.enable-lifecycle` read their variables as booleans written the usual
/// ways, and a false one is not a `--demo` given (it once clashed with `--config.file`).
#[test]
fn boolean_environment_variables_take_1_yes_and_false() {
    let run = |var: &str, value: &str| {
        let out = Command::new(BIN)
            .env(var, value)
            .arg("--config.file=/nonexistent/cdb-cli.yml")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (demo, lifecycle) = (
        "CDB_ROLLBACK_EXPORTER_DEMO",
        "CDB_ROLLBACK_EXPORTER_WEB_ENABLE_LIFECYCLE",
    );
    for value in ["1", "yes", "true"] {
        let (code, err) = run(demo, value);
        assert_eq!(code, Some(2), "{value}: {err}");
        assert!(
            err.contains("--demo cannot be used with --config.file"),
            "{err}"
        );
    }
    for (var, value) in [
        (demo, "0"),
        (demo, "off"),
        (demo, "false"),
        (lifecycle, "1"),
    ] {
        let (code, err) = run(var, value);
        assert_eq!(code, Some(1), "{var}={value}: {err}");
        assert!(
            err.contains("cannot read config file"),
            "{var}={value}: {err}"
        );
    }
    for var in [demo, lifecycle] {
        let (code, err) = run(var, "maybe");
        assert_eq!(code, Some(2), "{err}");
        assert!(err.contains("'maybe'"), "{err}");
    }
}
