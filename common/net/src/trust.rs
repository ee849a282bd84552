//! Which peers a node accepts: pinned certificate fingerprints or a CA.
//!
//! Both directions are verified: clients check servers, and servers require and
//! check client certificates (mutual TLS). Refusals are logged with the presented
//! fingerprint so an operator can pin it if the peer is legitimate.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, OtherError, RootCertStore, SignatureScheme};

use crate::identity::{certs_from_pem_file, fingerprint, Fingerprint};
use crate::NetError;

/// How a node decides whether a peer's certificate is acceptable.
#[derive(Debug, Clone)]
pub enum PeerTrust {
    /// Accept exactly the end-entity certificates with these SHA-256 fingerprints.
    ///
    /// Like SSH host keys, the pin *is* the identity: names, validity dates and
    /// issuers are not checked. The handshake signature still is, so only the
    /// holder of the pinned certificate's private key can pass.
    Pinned(Vec<Fingerprint>),
    /// Accept certificates that chain to one of these CA certificates (standard
    /// WebPKI checks: validity period, key usage and, for servers, the name).
    Ca(Vec<CertificateDer<'static>>),
}

impl PeerTrust {
    /// Trust every CA certificate found in a PEM file.
    pub fn ca_from_pem_file(path: &Path) -> Result<PeerTrust, NetError> {
        let certs = certs_from_pem_file(path).map_err(|e| NetError::Trust(format!("loading CA certificates: {e}")))?;
        Ok(PeerTrust::Ca(certs))
    }

    /// Verifier used by a client to check the server it connects to.
    pub(crate) fn server_verifier(
        &self,
        provider: &Arc<CryptoProvider>,
    ) -> Result<Arc<dyn ServerCertVerifier>, NetError> {
        match self {
            PeerTrust::Pinned(pins) => Ok(Arc::new(PinnedVerifier::new(pins, provider)?)),
            PeerTrust::Ca(cas) => {
                let inner = WebPkiServerVerifier::builder_with_provider(root_store(cas)?, provider.clone())
                    .build()
                    .map_err(|e| NetError::Trust(format!("building the CA server verifier: {e}")))?;
                Ok(Arc::new(LoggedCa { inner }))
            }
        }
    }

    /// Verifier used by a server to check (mandatory) client certificates.
    pub(crate) fn client_verifier(
        &self,
        provider: &Arc<CryptoProvider>,
    ) -> Result<Arc<dyn ClientCertVerifier>, NetError> {
        match self {
            PeerTrust::Pinned(pins) => Ok(Arc::new(PinnedVerifier::new(pins, provider)?)),
            PeerTrust::Ca(cas) => {
                // The builder's default is the one we need: a client certificate is mandatory.
                let inner = WebPkiClientVerifier::builder_with_provider(root_store(cas)?, provider.clone())
                    .build()
                    .map_err(|e| NetError::Trust(format!("building the CA client verifier: {e}")))?;
                Ok(Arc::new(LoggedCa { inner }))
            }
        }
    }
}

fn root_store(cas: &[CertificateDer<'static>]) -> Result<Arc<RootCertStore>, NetError> {
    if cas.is_empty() {
        return Err(NetError::Trust("the CA list is empty: no peer could ever be accepted".into()));
    }
    let mut roots = RootCertStore::empty();
    for (i, ca) in cas.iter().enumerate() {
        roots.add(ca.clone()).map_err(|e| NetError::Trust(format!("CA certificate #{i} is unusable: {e}")))?;
    }
    Ok(Arc::new(roots))
}

/// Accepts only pinned end-entity certificates, and checks the handshake
/// signature against them. Serves as both server and client verifier.
#[derive(Debug)]
struct PinnedVerifier {
    pins: Vec<Fingerprint>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl PinnedVerifier {
    fn new(pins: &[Fingerprint], provider: &CryptoProvider) -> Result<Self, NetError> {
        if pins.is_empty() {
            return Err(NetError::Trust("the pinned fingerprint list is empty: no peer could ever be accepted".into()));
        }
        Ok(PinnedVerifier { pins: pins.to_vec(), algorithms: provider.signature_verification_algorithms })
    }

    fn check(&self, end_entity: &CertificateDer<'_>, role: &'static str) -> Result<(), rustls::Error> {
        let presented = fingerprint(end_entity);
        if self.pins.contains(&presented) {
            return Ok(());
        }
        tracing::warn!(peer_role = role, fingerprint = %presented, "refusing peer: certificate fingerprint is not pinned");
        Err(rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(NotPinned(presented))))))
    }
}

#[derive(Debug, thiserror::Error)]
#[error("certificate fingerprint {0} is not pinned")]
struct NotPinned(Fingerprint);

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.check(end_entity, "server")?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        // Unreachable with our TLS 1.3-only configs, but verify properly all the same.
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        // Proves the peer holds the pinned certificate's private key.
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

impl ClientCertVerifier for PinnedVerifier {
    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.check(end_entity, "client")?;
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

/// rustls's WebPKI verifiers, plus a warning naming the refused certificate.
#[derive(Debug)]
struct LoggedCa<V: ?Sized> {
    inner: Arc<V>,
}

fn log_ca_refusal<T>(
    result: Result<T, rustls::Error>,
    role: &'static str,
    cert: &CertificateDer<'_>,
) -> Result<T, rustls::Error> {
    if let Err(e) = &result {
        tracing::warn!(peer_role = role, fingerprint = %fingerprint(cert), error = %e, "refusing peer: certificate rejected by CA verification");
    }
    result
}

impl ServerCertVerifier for LoggedCa<WebPkiServerVerifier> {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let result = self.inner.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now);
        log_ca_refusal(result, "server", end_entity)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

impl ClientCertVerifier for LoggedCa<dyn ClientCertVerifier> {
    fn offer_client_auth(&self) -> bool {
        self.inner.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.inner.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let result = self.inner.verify_client_cert(end_entity, intermediates, now);
        log_ca_refusal(result, "client", end_entity)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}
