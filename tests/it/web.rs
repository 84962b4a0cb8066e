//! The HTTP side: TLS, basic auth, client certificates, gzip, slow clients, the web config
//! picked up again without a restart, and a bad web config refused at start.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::web::{Pair, Pki, serve, store_with, temp_dir, tls_client, write_atomically};
use cdb_rollback_exporter::web::{WebConfigError, WebProblem};
use tokio::io::AsyncWriteExt as _;

const PASSWORD: &str = "s3cret pass";

/// A low bcrypt cost keeps the tests quick; the server does not care.
fn hash(password: &str) -> String {
    bcrypt::hash(password, 4).unwrap()
}

/// Writes the server's certificate and a web config with `tls` and `users` into `dir`.
fn web_config(dir: &Path, server: &Pair, tls_extra: &str, users: &[(&str, &str)]) -> PathBuf {
    std::fs::write(dir.join("tls.crt"), &server.cert).unwrap();
    std::fs::write(dir.join("tls.key"), &server.key).unwrap();
    let mut text =
        format!("tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\n{tls_extra}");
    text.push_str("http_server_config:\n  headers:\n    X-Content-Type-Options: nosniff\n");
    if !users.is_empty() {
        text.push_str("basic_auth_users:\n");
        for (user, password) in users {
            text.push_str(&format!("  {user}: {}\n", hash(password)));
        }
    }
    let path = dir.join("web.yml");
    write_atomically(&path, &text);
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_basic_auth_on_every_path() {
    let dir = temp_dir("auth");
    let pki = Pki::new("test CA");
    let config = web_config(
        &dir,
        &pki.sign(&["localhost", "127.0.0.1"]),
        "",
        &[("prometheus", PASSWORD)],
    );
    let server = serve(store_with(3), Some(&config)).await;
    let base = format!("https://127.0.0.1:{}", server.addr.port());

    // Plain HTTP to the TLS port gets no HTTP answer.
    let plain = crate::support::http_client();
    let r = plain
        .get(format!("http://{}/metrics", server.addr))
        .send()
        .await;
    assert!(r.is_err(), "plain HTTP was answered: {r:?}");

    let client = tls_client(&pki.ca_pem, None);
    for path in ["/metrics", "/-/healthy", "/-/ready", "/"] {
        for creds in [
            None,
            Some(("prometheus", "wrong")),
            Some(("nobody", PASSWORD)),
        ] {
            let mut req = client.get(format!("{base}{path}"));
            if let Some((u, p)) = creds {
                req = req.basic_auth(u, Some(p));
            }
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), 401, "{path} as {creds:?}");
            assert_eq!(r.headers()["www-authenticate"], "Basic");
            assert_eq!(r.headers()["x-content-type-options"], "nosniff");
        }
    }
    let r = client
        .get(format!("{base}/metrics"))
        .basic_auth("prometheus", Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("cdb_rollback_job_state{job_id=\"3\"")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_and_verify_client_cert() {
    let dir = temp_dir("mtls");
    let pki = Pki::new("test CA");
    std::fs::write(dir.join("ca.crt"), &pki.ca_pem).unwrap();
    let extra = "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n";
    let config = web_config(&dir, &pki.sign(&["localhost", "127.0.0.1"]), extra, &[]);
    let server = serve(store_with(1), Some(&config)).await;
    let url = format!("https://127.0.0.1:{}/metrics", server.addr.port());

    let anonymous = tls_client(&pki.ca_pem, None);
    assert!(
        anonymous.get(&url).send().await.is_err(),
        "served without a client certificate"
    );
    let stranger = Pki::new("other CA").sign(&["client"]);
    let r = tls_client(&pki.ca_pem, Some(&stranger))
        .get(&url)
        .send()
        .await;
    assert!(r.is_err(), "served a certificate of another CA");
    let known = pki.sign(&["client"]);
    let r = tls_client(&pki.ca_pem, Some(&known))
        .get(&url)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

fn gunzip(bytes: &[u8]) -> String {
    let mut text = String::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_string(&mut text)
        .unwrap();
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_is_the_same_text_as_plain() {
    let server = serve(store_with(200), None).await;
    let url = format!("http://{}/metrics", server.addr);
    // reqwest here has no decompression: the body arrives as sent.
    let http = crate::support::http_client();
    let get = |encoding: &'static str| {
        let req = http.get(&url).header("accept-encoding", encoding);
        async move { req.send().await.unwrap() }
    };
    let refused = get("gzip;q=0, identity").await;
    assert!(refused.headers().get("content-encoding").is_none());
    assert_eq!(refused.headers()["vary"], "Accept-Encoding");
    // Plain, gzip, plain: equal plains mean the gzip came from the same rendering.
    for _ in 0..10 {
        let before = get("identity").await.text().await.unwrap();
        let gz = get("deflate, gzip;q=0.8").await;
        assert_eq!(gz.headers()["content-encoding"], "gzip");
        assert_eq!(gz.headers()["vary"], "Accept-Encoding");
        let gz = gz.bytes().await.unwrap();
        let after = get("identity").await.text().await.unwrap();
        if before == after {
            assert!(gz.len() * 5 < before.len(), "gzip is not smaller");
            assert_eq!(gunzip(&gz), before);
            return;
        }
    }
    panic!("no two plain scrapes in a row were the same rendering");
}

/// Connects with a tiny receive buffer, asks for the metrics and never reads.
async fn stuck_client(addr: std::net::SocketAddr) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut s = socket.connect(addr).await.unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_never_read_block_no_one() {
    // About 15 MB of text: far more than the socket buffers hold.
    let server = serve(store_with(5_000), None).await;
    let mut stuck = Vec::new();
    for _ in 0..4 {
        stuck.push(stuck_client(server.addr).await);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = std::time::Instant::now();
    let body = tokio::time::timeout(Duration::from_secs(5), async {
        let r = crate::support::http_client()
            .get(format!("http://{}/metrics", server.addr))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.bytes().await.unwrap()
    })
    .await
    .expect("a full scrape while four clients do not read");
    assert!(body.len() > 10_000_000, "{} bytes", body.len());
    assert!(body.ends_with(b"\n"));
    println!(
        "full scrape of {} bytes in {:?}",
        body.len(),
        started.elapsed()
    );
    drop(stuck);
}

/// Retries `check` for a few seconds: the files are looked at once a second.
async fn eventually(what: &str, check: impl AsyncFn() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(6);
    while !check().await {
        assert!(
            std::time::Instant::now() < deadline,
            "not within 6 s: {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The status of a GET of `url` as `user`, or 0 if there was no HTTP answer.
async fn status(client: &reqwest::Client, url: &str, user: &str, password: &str) -> u16 {
    match client
        .get(url)
        .basic_auth(user, Some(password))
        .send()
        .await
    {
        Ok(r) => r.status().as_u16(),
        Err(_) => 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_are_picked_up_without_restart_and_a_broken_file_is_ignored() {
    let dir = temp_dir("reload");
    let pki = Pki::new("test CA");
    let server_pair = pki.sign(&["localhost", "127.0.0.1"]);
    let config = web_config(&dir, &server_pair, "", &[("alice", "old password")]);
    let server = serve(store_with(1), Some(&config)).await;
    let url = &format!("https://127.0.0.1:{}/metrics", server.addr.port());
    let client = &tls_client(&pki.ca_pem, None);
    assert_eq!(status(client, url, "alice", "old password").await, 200);

    let users = [("alice", "new password"), ("bob", PASSWORD)];
    web_config(&dir, &server_pair, "", &users);
    eventually("the new password works", async || {
        status(client, url, "alice", "new password").await == 200
    })
    .await;
    assert_eq!(status(client, url, "bob", PASSWORD).await, 200);
    assert_eq!(status(client, url, "alice", "old password").await, 401);

    // A broken file keeps the settings in force.
    write_atomically(&config, "basic_auth_users:\n  alice: [not, a, hash]\n");
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(status(client, url, "bob", PASSWORD).await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_certificate_is_served_without_restart() {
    let dir = temp_dir("rotate");
    let pki = Pki::new("test CA");
    let users = [("bob", PASSWORD)];
    web_config(&dir, &pki.sign(&["localhost", "127.0.0.1"]), "", &users);
    let server = serve(store_with(1), Some(&dir.join("web.yml"))).await;
    let url = &format!("https://127.0.0.1:{}/metrics", server.addr.port());
    let ok = async |ca: &str| status(&tls_client(ca, None), url, "bob", PASSWORD).await;
    assert_eq!(ok(&pki.ca_pem).await, 200);

    // A certificate from another CA, written in place of the old one, is served to new
    // connections (one kept alive from before goes on with the old certificate).
    let rotated = Pki::new("rotated CA");
    web_config(&dir, &rotated.sign(&["localhost", "127.0.0.1"]), "", &users);
    eventually("the rotated certificate is served", async || {
        ok(&rotated.ca_pem).await == 200
    })
    .await;
    assert_eq!(ok(&pki.ca_pem).await, 0, "the old CA still verifies");
}

#[test]
fn a_bad_web_config_fails_the_start_naming_the_key() {
    let dir = temp_dir("bad");
    let config = dir.join("web.yml");
    std::fs::write(&config, "tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n  client_auth_typ: NoClientCert\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cdb-rollback-exporter"))
        .arg("--demo")
        .arg("--web.listen-address=127.0.0.1:0")
        .arg(format!("--web.config.file={}", config.display()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&config.display().to_string())
            && err.contains("client_auth_typ")
            && err.contains("line 4"),
        "{err}"
    );

    // A missing key file is named by the loader with its key.
    std::fs::write(
        &config,
        "tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n",
    )
    .unwrap();
    std::fs::write(dir.join("a.crt"), Pki::new("x").sign(&["localhost"]).cert).unwrap();
    let err = cdb_rollback_exporter::web::WebConfig::load(&config)
        .err()
        .unwrap();
    assert!(
        matches!(&err, WebConfigError::Invalid { problem: WebProblem::File { key: "key_file", path, .. }, .. }
            if path.ends_with("a.key")),
        "{err}"
    );
}
