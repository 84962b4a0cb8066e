//! The rustls server configuration built from the web config's `tls_server_config`, with
//! exporter-toolkit's client certificate policies. Uses the ring provider only.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{NoClientAuth, WebPkiClientVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig};
use rustls::{SignatureScheme, SupportedProtocolVersion};

use super::WebProblem;
use super::config::{ClientAuth, TlsSettings, TlsVersion};

/// Reads the certificate, key and client CA files and builds the server configuration.
pub fn server_config(t: &TlsSettings) -> Result<Arc<ServerConfig>, WebProblem> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs = certificates(&t.cert_file, "cert_file")?;
    let key = private_key(&t.key_file)?;
    let verifier = client_verifier(t, &provider)?;
    let mut config = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&versions(t.min_version, t.max_version))
        .map_err(|e| WebProblem::key("tls_server_config", e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|e| {
            let problem = format!(
                "{} and {} do not make a certificate and its key: {e}",
                t.cert_file.display(),
                t.key_file.display()
            );
            WebProblem::key("tls_server_config", problem)
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn versions(min: TlsVersion, max: TlsVersion) -> Vec<&'static SupportedProtocolVersion> {
    [
        (TlsVersion::TLS12, &rustls::version::TLS12),
        (TlsVersion::TLS13, &rustls::version::TLS13),
    ]
    .into_iter()
    .filter(|(v, _)| (min..=max).contains(v))
    .map(|(_, p)| p)
    .collect()
}

fn read(path: &Path, key: &'static str) -> Result<Vec<u8>, WebProblem> {
    std::fs::read(path).map_err(|e| WebProblem::file(key, path, e))
}

fn certificates(
    path: &Path,
    key: &'static str,
) -> Result<Vec<CertificateDer<'static>>, WebProblem> {
    let pem = read(path, key)?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .map_err(|e| WebProblem::file(key, path, e))?;
    if certs.is_empty() {
        return Err(WebProblem::file(key, path, "no PEM certificate in it"));
    }
    Ok(certs)
}

fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, WebProblem> {
    let pem = read(path, "key_file")?;
    // The parser's own message could quote the key's bytes: say only what went wrong.
    PrivateKeyDer::from_pem_slice(&pem).map_err(|_| {
        let problem = "no PEM private key (PKCS#8, PKCS#1 or SEC1) in it";
        WebProblem::file("key_file", path, problem)
    })
}

fn client_verifier(
    t: &TlsSettings,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn ClientCertVerifier>, WebProblem> {
    let any = |mandatory| -> Arc<dyn ClientCertVerifier> {
        Arc::new(AnyClientCert {
            mandatory,
            algorithms: provider.signature_verification_algorithms,
        })
    };
    let verified = |optional: bool| -> Result<Arc<dyn ClientCertVerifier>, WebProblem> {
        let Some(path) = &t.client_ca_file else {
            return Err(WebProblem::key(
                "tls_server_config.client_ca_file",
                "missing",
            ));
        };
        let mut roots = RootCertStore::empty();
        for ca in certificates(path, "client_ca_file")? {
            roots
                .add(ca)
                .map_err(|e| WebProblem::file("client_ca_file", path, e))?;
        }
        let builder =
            WebPkiClientVerifier::builder_with_provider(roots.into(), Arc::clone(provider));
        let builder = if optional {
            builder.allow_unauthenticated()
        } else {
            builder
        };
        builder
            .build()
            .map_err(|e| WebProblem::file("client_ca_file", path, e))
    };
    match t.client_auth {
        ClientAuth::NoClientCert => Ok(Arc::new(NoClientAuth)),
        ClientAuth::RequestClientCert => Ok(any(false)),
        ClientAuth::RequireAnyClientCert => Ok(any(true)),
        ClientAuth::VerifyClientCertIfGiven => verified(true),
        ClientAuth::RequireAndVerifyClientCert => verified(false),
    }
}

/// Asks for a client certificate without checking who issued it (exporter-toolkit's
/// RequestClientCert and RequireAnyClientCert); the client must still prove it holds the key.
#[derive(Debug)]
struct AnyClientCert {
    mandatory: bool,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for AnyClientCert {
    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
