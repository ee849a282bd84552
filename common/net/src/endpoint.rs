//! QUIC endpoints with mutual TLS 1.3 between semcom nodes.
//!
//! Every config is built from an explicit ring `CryptoProvider`, so nothing here
//! depends on (or installs) a process-wide default provider.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use quinn::{Endpoint, IdleTimeout, TransportConfig, VarInt};
use rustls::crypto::CryptoProvider;
use rustls_pki_types::CertificateDer;

use crate::identity::{fingerprint, Fingerprint, Identity};
use crate::trust::PeerTrust;
use crate::NetError;

/// ALPN protocol id of the semcom wire protocol; peers speaking anything else are refused.
pub const ALPN: &[u8] = b"semcom/1";

/// Keep-alive interval: well under the idle timeout and typical NAT timeouts.
pub const KEEP_ALIVE: Duration = Duration::from_secs(5);
/// A connection silent for this long is considered dead.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Per-stream receive window: one transmission (a few MB of I/Q) flows without
/// waiting for window updates on every round trip.
pub const STREAM_RECEIVE_WINDOW: u32 = 16 * 1024 * 1024;
/// Connection-wide receive window (several transmissions in flight).
pub const CONNECTION_RECEIVE_WINDOW: u32 = 64 * 1024 * 1024;
/// Connection-wide send window.
pub const SEND_WINDOW: u64 = 64 * 1024 * 1024;

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn transport_config() -> Arc<TransportConfig> {
    let mut transport = TransportConfig::default();
    transport
        .keep_alive_interval(Some(KEEP_ALIVE))
        .max_idle_timeout(Some(IdleTimeout::from(VarInt::from_u32(IDLE_TIMEOUT.as_millis() as u32))))
        .stream_receive_window(VarInt::from_u32(STREAM_RECEIVE_WINDOW))
        .receive_window(VarInt::from_u32(CONNECTION_RECEIVE_WINDOW))
        .send_window(SEND_WINDOW);
    Arc::new(transport)
}

fn check_identity(id: &Identity) -> Result<(), NetError> {
    if id.cert_chain.is_empty() {
        return Err(NetError::Identity("the certificate chain is empty".into()));
    }
    Ok(())
}

/// QUIC server configuration: presents `id`, requires a client certificate
/// accepted by `clients`, TLS 1.3 only, ALPN [`ALPN`], no 0-RTT.
pub fn server_config(id: &Identity, clients: &PeerTrust) -> Result<quinn::ServerConfig, NetError> {
    check_identity(id)?;
    let provider = provider();
    let verifier = clients.client_verifier(&provider)?;
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(id.cert_chain.clone(), id.key.clone_key())?;
    tls.alpn_protocols = vec![ALPN.to_vec()];
    let quic = QuicServerConfig::try_from(tls).map_err(|e| NetError::QuicConfig(e.to_string()))?;
    let mut config = quinn::ServerConfig::with_crypto(Arc::new(quic));
    config.transport_config(transport_config());
    Ok(config)
}

/// QUIC client configuration: presents `id` as client certificate and accepts
/// only servers trusted by `servers`, TLS 1.3 only, ALPN [`ALPN`].
pub fn client_config(id: &Identity, servers: &PeerTrust) -> Result<quinn::ClientConfig, NetError> {
    check_identity(id)?;
    let provider = provider();
    let verifier = servers.server_verifier(&provider)?;
    // `dangerous()` is only rustls's gate for plugging in our own verifier; the
    // verifier (pinned or WebPKI) checks the certificate and handshake signature.
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_client_auth_cert(id.cert_chain.clone(), id.key.clone_key())?;
    tls.alpn_protocols = vec![ALPN.to_vec()];
    let quic = QuicClientConfig::try_from(tls).map_err(|e| NetError::QuicConfig(e.to_string()))?;
    let mut config = quinn::ClientConfig::new(Arc::new(quic));
    config.transport_config(transport_config());
    Ok(config)
}

/// A QUIC endpoint accepting connections on `bind` from clients trusted by
/// `clients` (mutual TLS: a client without an acceptable certificate is refused).
///
/// Must be called inside a Tokio runtime.
pub fn server_endpoint(bind: SocketAddr, id: &Identity, clients: &PeerTrust) -> Result<Endpoint, NetError> {
    let config = server_config(id, clients)?;
    Endpoint::server(config, bind).map_err(|e| NetError::io(format!("binding QUIC server endpoint on {bind}"), e))
}

/// A QUIC endpoint for outgoing connections (`endpoint.connect(addr, name)`),
/// presenting `id` and accepting only servers trusted by `servers`.
///
/// In [`PeerTrust::Ca`] mode the `name` given to `connect` must match the
/// server certificate; in pinned mode it is not checked.
/// Must be called inside a Tokio runtime.
pub fn client_endpoint(bind: SocketAddr, id: &Identity, servers: &PeerTrust) -> Result<Endpoint, NetError> {
    let config = client_config(id, servers)?;
    let mut endpoint =
        Endpoint::client(bind).map_err(|e| NetError::io(format!("binding QUIC client endpoint on {bind}"), e))?;
    endpoint.set_default_client_config(config);
    Ok(endpoint)
}

/// Fingerprint of the certificate the peer of `conn` authenticated with.
pub fn peer_fingerprint(conn: &quinn::Connection) -> Option<Fingerprint> {
    let identity = conn.peer_identity()?;
    let chain = identity.downcast::<Vec<CertificateDer<'static>>>().ok()?;
    chain.first().map(fingerprint)
}
