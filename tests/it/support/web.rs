//! The HTTP stack alone (no poller) over a store the test fills, certificates made at
//! test time, and TLS clients.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use cdb_rollback_exporter::config::Labels;
use cdb_rollback_exporter::metrics::Metrics;
use cdb_rollback_exporter::render::cache::ExpositionCache;
use cdb_rollback_exporter::rollback::{Instance, Job, Status, Task};
use cdb_rollback_exporter::store::{JobKey, Source, Store};
use cdb_rollback_exporter::web::routes::{AppState, router};
use cdb_rollback_exporter::web::{self, WebConfig};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};

/// The exporter's HTTP side on a free loopback port, serving `store`.
pub struct Server {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
    rendering: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
        self.rendering.abort();
    }
}

pub async fn serve(store: Arc<Store>, web_config: Option<&Path>) -> Server {
    let web = web_config.map(|p| Arc::new(WebConfig::load(p).unwrap()));
    let metrics = Arc::new(Metrics::new());
    let (exposition, rendering) =
        ExpositionCache::start(Arc::clone(&store), Arc::clone(&metrics)).await;
    let state = Arc::new(AppState {
        store,
        metrics,
        telemetry_path: "/metrics".into(),
        api: Arc::new(|| "API 3.0 (test)".into()),
        configured_jobs: vec![],
        exposition,
        ready: Default::default(),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = web::protect(router(state), web.clone());
    let task = tokio::spawn(async move {
        let forever = std::future::pending();
        web::serve(listener, app, web, forever, Duration::ZERO)
            .await
            .unwrap();
    });
    Server {
        addr,
        task,
        rendering,
    }
}

/// A job with one running task, as a poll would record it.
pub fn job(id: u64) -> Job {
    let instance = Instance {
        instance_id: format!("cdb-{:08}", id % 97),
        instance_name: format!("db-{id}"),
        strategy: "table".into(),
        rollback_time: Some(1_700_000_000),
        operator: "100001".into(),
        databases: vec![],
        tables: None,
    };
    Job {
        id,
        job_type: 10,
        async_request_id: String::new(),
        status: Status(1),
        progress: Some(0.5),
        code: Some(0),
        message: String::new(),
        start: Some(1_700_000_100),
        end: None,
        instances: vec![instance.clone()],
        tasks: vec![Task {
            id: format!("{id}0"),
            work_id: format!("{id}1"),
            status: Status(1),
            progress: Some(0.5),
            code: Some(0),
            message: String::new(),
            start: Some(1_700_000_100),
            end: None,
            instance,
        }],
    }
}

/// A store holding `n` polled jobs.
pub fn store_with(n: u64) -> Arc<Store> {
    let store = Arc::new(Store::new());
    for id in 1..=n {
        let key = JobKey::new("ap-guangzhou", id);
        store.track(
            key.clone(),
            Source::Configured,
            Labels::from_pairs(&[("team", "dba")]),
        );
        store.record_success(&key, job(id), 1.8e9);
    }
    store
}

/// A directory of its own under the system's temporary one.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cdb-web-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes by renaming a finished file into place, as tools that rotate files do.
pub fn write_atomically(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// A CA with what it signed, in PEM.
pub struct Pki {
    pub ca_pem: String,
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A certificate and its key, in PEM.
pub struct Pair {
    pub cert: String,
    pub key: String,
}

impl Pki {
    pub fn new(name: &str) -> Pki {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        Pki {
            ca_pem: issuer.pem(),
            issuer,
        }
    }

    /// A certificate for `names` (DNS names or IP addresses), for a server or a client.
    pub fn sign(&self, names: &[&str]) -> Pair {
        let params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Pair {
            cert: cert.pem(),
            key: key.serialize_pem(),
        }
    }
}

/// An HTTPS client that trusts `ca_pem` only, presenting `identity` if given.
pub fn tls_client(ca_pem: &str, identity: Option<&Pair>) -> reqwest::Client {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(ca.unwrap()).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match identity {
        Some(p) => builder
            .with_client_auth_cert(
                CertificateDer::pem_slice_iter(p.cert.as_bytes())
                    .map(Result::unwrap)
                    .collect(),
                PrivateKeyDer::from_pem_slice(p.key.as_bytes()).unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    reqwest::Client::builder()
        .tls_backend_preconfigured(config)
        .build()
        .unwrap()
}
