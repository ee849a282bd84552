//! Real QUIC over loopback: mutual TLS with pinned fingerprints and with a CA.
#![allow(clippy::unwrap_used)] // a test or example that fails should stop loudly

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use semcom_net::quinn::{self, ConnectionError, Endpoint};
use semcom_net::{
    client_endpoint, peer_fingerprint, read_frame, read_message, server_endpoint, write_frame, write_message,
    Complex32, FrameKind, Identity, NetError, PeerTrust, SymbolFrame, MAX_FRAME_SYMBOLS,
};

const ANY: &str = "127.0.0.1:0";
/// Safety net only, so a broken handshake fails the test instead of hanging it.
const DEADLINE: Duration = Duration::from_secs(20);

#[derive(Clone, PartialEq, prost::Message)]
struct Header {
    #[prost(string, tag = "1")]
    id: String,
    #[prost(uint32, tag = "2")]
    frames: u32,
}

fn any() -> SocketAddr {
    ANY.parse().expect("literal address")
}

fn generate(dir: &Path, name: &str) -> Identity {
    Identity::load_or_generate(&dir.join(name), name).expect("generate identity")
}

async fn within<T>(fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(DEADLINE, fut).await.expect("test deadline exceeded")
}

/// Accepts one connection and returns the handshake result.
async fn accept_one(server: &Endpoint) -> Result<quinn::Connection, ConnectionError> {
    let incoming = server.accept().await.expect("endpoint open");
    incoming.await
}

/// Asserts that a client-side connection attempt ends in failure, whether the
/// handshake itself fails or (TLS 1.3: the server judges the client certificate
/// after the client considers the handshake done) the connection is closed by the peer.
async fn assert_client_refused(client: &Endpoint, addr: SocketAddr, name: &str) -> String {
    match client.connect(addr, name).expect("connect starts").await {
        Err(e) => e.to_string(),
        Ok(conn) => {
            let reason = conn.closed().await;
            assert!(
                !matches!(reason, ConnectionError::LocallyClosed),
                "expected the peer to close the connection, got {reason:?}"
            );
            reason.to_string()
        }
    }
}

#[tokio::test]
async fn pinned_round_trip_header_and_frames() {
    let dir = tempfile::tempdir().expect("tempdir");
    let srv_id = generate(dir.path(), "receiver");
    let cli_id = generate(dir.path(), "sender");

    let server = server_endpoint(any(), &srv_id, &PeerTrust::Pinned(vec![cli_id.fingerprint()])).expect("server");
    let addr = server.local_addr().expect("server addr");
    let client = client_endpoint(any(), &cli_id, &PeerTrust::Pinned(vec![srv_id.fingerprint()])).expect("client");

    let symbols: Vec<Complex32> =
        (0..40_000).map(|i| Complex32::new((i as f32 * 0.01).sin(), -(i as f32 * 0.013).cos() * 1e-3)).collect();
    let mut frames = SymbolFrame::split(FrameKind::Pilot, 2, 0, &symbols[..64], MAX_FRAME_SYMBOLS);
    frames.extend(SymbolFrame::split(FrameKind::Analog, 0, 1, &symbols, MAX_FRAME_SYMBOLS));
    assert_eq!(frames.len(), 4);
    let header = Header { id: "tx-42".into(), frames: frames.len() as u32 };

    let expected_client = cli_id.fingerprint();
    let server_task = tokio::spawn(async move {
        let conn = accept_one(&server).await.expect("server handshake");
        assert_eq!(peer_fingerprint(&conn), Some(expected_client));
        let (mut send, mut recv) = conn.accept_bi().await.expect("accept stream");
        let header: Header = read_message(&mut recv, 4096).await?;
        let mut got = Vec::new();
        while let Some(frame) = read_frame(&mut recv, MAX_FRAME_SYMBOLS).await? {
            got.push(frame);
        }
        // Acknowledge with the header echoed back, then wait for the client to hang up.
        write_message(&mut send, &header).await?;
        send.finish().expect("finish");
        conn.closed().await;
        Ok::<_, NetError>((header, got))
    });

    let conn =
        within(async { client.connect(addr, "receiver").expect("connect").await.expect("client handshake") }).await;
    assert_eq!(peer_fingerprint(&conn), Some(srv_id.fingerprint()));
    let (mut send, mut recv) = conn.open_bi().await.expect("open stream");
    write_message(&mut send, &header).await.expect("write header");
    for frame in &frames {
        write_frame(&mut send, frame).await.expect("write frame");
    }
    send.finish().expect("finish");
    let echoed: Header = within(read_message(&mut recv, 4096)).await.expect("echo");
    assert_eq!(echoed, header);
    assert_eq!(recv.read_to_end(16).await.expect("clean end"), Vec::<u8>::new());
    conn.close(0u32.into(), b"done");

    let (got_header, got_frames) = within(server_task).await.expect("server task").expect("server io");
    assert_eq!(got_header, header);
    assert_eq!(got_frames.len(), frames.len());
    for (a, b) in got_frames.iter().zip(&frames) {
        assert_eq!((a.kind, a.modulation, a.seq), (b.kind, b.modulation, b.seq));
        let bits = |f: &SymbolFrame| f.symbols.iter().map(|s| (s.re.to_bits(), s.im.to_bits())).collect::<Vec<_>>();
        assert_eq!(bits(a), bits(b));
    }
    client.wait_idle().await;
}

#[tokio::test]
async fn server_refuses_unpinned_client() {
    let dir = tempfile::tempdir().expect("tempdir");
    let srv_id = generate(dir.path(), "receiver");
    let cli_id = generate(dir.path(), "sender");
    let other = generate(dir.path(), "someone-else");

    let server = server_endpoint(any(), &srv_id, &PeerTrust::Pinned(vec![other.fingerprint()])).expect("server");
    let addr = server.local_addr().expect("server addr");
    // The client trusts the server, so any failure is the server's refusal.
    let client = client_endpoint(any(), &cli_id, &PeerTrust::Pinned(vec![srv_id.fingerprint()])).expect("client");

    let server_side = tokio::spawn(async move { accept_one(&server).await.map(|_| ()) });
    let client_reason = within(assert_client_refused(&client, addr, "receiver")).await;
    let server_err = within(server_side).await.expect("server task").expect_err("server must refuse");
    let server_reason = server_err.to_string();
    // rustls reports the verifier's error, which names the refused certificate.
    assert!(server_reason.contains("NotPinned"), "server reason: {server_reason}");
    assert!(server_reason.contains(&cli_id.fingerprint().to_string()), "server reason: {server_reason}");
    assert!(!client_reason.is_empty());
}

#[tokio::test]
async fn client_refuses_server_with_other_fingerprint() {
    let dir = tempfile::tempdir().expect("tempdir");
    let srv_id = generate(dir.path(), "receiver");
    let cli_id = generate(dir.path(), "sender");
    let other = generate(dir.path(), "someone-else");

    let server = server_endpoint(any(), &srv_id, &PeerTrust::Pinned(vec![cli_id.fingerprint()])).expect("server");
    let addr = server.local_addr().expect("server addr");
    let client = client_endpoint(any(), &cli_id, &PeerTrust::Pinned(vec![other.fingerprint()])).expect("client");

    let server_side = tokio::spawn(async move { accept_one(&server).await.map(|_| ()) });
    // The client judges the server certificate inside the handshake: connecting itself fails.
    let err = within(client.connect(addr, "receiver").expect("connect starts"))
        .await
        .expect_err("client must refuse the server");
    let reason = err.to_string();
    assert!(reason.contains("NotPinned"), "client reason: {reason}");
    assert!(reason.contains(&srv_id.fingerprint().to_string()), "client reason: {reason}");
    assert!(within(server_side).await.expect("server task").is_err());
}

#[tokio::test]
async fn empty_pin_set_is_a_configuration_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let id = generate(dir.path(), "n");
    let err = server_endpoint(any(), &id, &PeerTrust::Pinned(vec![])).unwrap_err();
    assert!(matches!(err, NetError::Trust(_)), "{err}");
}

// ---- CA mode ----

struct Ca {
    cert: rcgen::Certificate,
    key: rcgen::KeyPair,
}

fn make_ca(name: &str) -> Ca {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::CrlSign];
    params.distinguished_name.push(rcgen::DnType::CommonName, name);
    let key = rcgen::KeyPair::generate().expect("ca key");
    let cert = params.self_signed(&key).expect("ca cert");
    Ca { cert, key }
}

/// Writes a CA-signed leaf as `<name>.crt` (leaf followed by its CA, as a chain)
/// and `<name>.key`, then loads it as a supplied identity.
fn make_leaf(dir: &Path, ca: &Ca, name: &str) -> Identity {
    let mut params =
        rcgen::CertificateParams::new(vec![name.to_string(), "localhost".into(), "127.0.0.1".into()]).expect("params");
    params.distinguished_name.push(rcgen::DnType::CommonName, name);
    params.extended_key_usages =
        vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth, rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let key = rcgen::KeyPair::generate().expect("leaf key");
    let cert = params.signed_by(&key, &ca.cert, &ca.key).expect("sign leaf");
    let cert_path = dir.join(format!("{name}.crt"));
    let key_path = dir.join(format!("{name}.key"));
    std::fs::write(&cert_path, cert.pem() + &ca.cert.pem()).expect("write cert");
    std::fs::write(&key_path, key.serialize_pem()).expect("write key");
    let id = Identity::from_pem_files(&cert_path, &key_path).expect("load leaf");
    assert_eq!(id.cert_chain.len(), 2);
    id
}

fn write_ca(dir: &Path, ca: &Ca, file: &str) -> PeerTrust {
    let path = dir.join(file);
    std::fs::write(&path, ca.cert.pem()).expect("write ca");
    PeerTrust::ca_from_pem_file(&path).expect("load ca")
}

#[tokio::test]
async fn ca_mode_accepts_signed_leaves_and_refuses_foreign_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = make_ca("semcom test CA");
    let rogue_ca = make_ca("rogue CA");
    let trust = write_ca(dir.path(), &ca, "ca.pem");
    let srv_id = make_leaf(dir.path(), &ca, "receiver");
    let cli_id = make_leaf(dir.path(), &ca, "sender");
    let rogue_id = make_leaf(dir.path(), &rogue_ca, "intruder");

    let server = server_endpoint(any(), &srv_id, &trust).expect("server");
    let addr = server.local_addr().expect("server addr");

    // 1. A leaf of the same CA connects, and a stream round-trips.
    let client = client_endpoint(any(), &cli_id, &trust).expect("client");
    let expected_client = cli_id.fingerprint();
    let accept_good = async {
        let conn = accept_one(&server).await.expect("server handshake");
        assert_eq!(peer_fingerprint(&conn), Some(expected_client));
        let (mut send, mut recv) = conn.accept_bi().await.expect("accept stream");
        let h: Header = read_message(&mut recv, 1024).await.expect("read");
        write_message(&mut send, &h).await.expect("echo");
        send.finish().expect("finish");
        conn
    };
    let connect_good = async {
        let conn = client.connect(addr, "localhost").expect("connect").await.expect("client handshake");
        let (mut send, mut recv) = conn.open_bi().await.expect("open");
        write_message(&mut send, &Header { id: "ca".into(), frames: 0 }).await.expect("write");
        send.finish().expect("finish");
        let echoed: Header = read_message(&mut recv, 1024).await.expect("echo");
        assert_eq!(echoed.id, "ca");
        conn
    };
    let (server_conn, client_conn) = within(async { tokio::join!(accept_good, connect_good) }).await;
    client_conn.close(0u32.into(), b"done");
    drop(server_conn);

    // 2. A client certificate from another CA is refused by the server.
    let rogue_client = client_endpoint(any(), &rogue_id, &trust).expect("rogue client");
    let (server_result, _) =
        within(async { tokio::join!(accept_one(&server), assert_client_refused(&rogue_client, addr, "localhost")) })
            .await;
    assert!(server_result.is_err(), "server accepted a client from a foreign CA");

    // 3. A server certificate from another CA is refused by the client.
    let rogue_server = server_endpoint(any(), &rogue_id, &trust).expect("rogue server");
    let rogue_addr = rogue_server.local_addr().expect("addr");
    let (rogue_accept, client_result) = within(async {
        tokio::join!(accept_one(&rogue_server), client.connect(rogue_addr, "localhost").expect("connect"))
    })
    .await;
    assert!(client_result.is_err(), "client accepted a server from a foreign CA");
    assert!(rogue_accept.is_err());

    // 4. In CA mode the server name is checked too.
    let wrong_name = async {
        let (_, r) = tokio::join!(accept_one(&server), client.connect(addr, "not-the-receiver").expect("connect"));
        r
    };
    assert!(within(wrong_name).await.is_err(), "client accepted a certificate for another name");
}

// ---- impostor: pinned certificate, wrong private key ----

/// Attacker-side plumbing: presents whatever certificate it is given and
/// accepts any server (the attacker does not care who it talks to).
mod impostor {
    use std::sync::Arc;

    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::client::ResolvesClientCert;
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::sign::CertifiedKey;
    use rustls::{DigitallySignedStruct, SignatureScheme};

    #[derive(Debug)]
    pub struct StolenCert(pub Arc<CertifiedKey>);

    impl ResolvesClientCert for StolenCert {
        fn resolve(&self, _hints: &[&[u8]], _schemes: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
            Some(self.0.clone())
        }
        fn has_certs(&self) -> bool {
            true
        }
    }

    #[derive(Debug)]
    pub struct AnyServer;

    impl ServerCertVerifier for AnyServer {
        fn verify_server_cert(
            &self,
            _: &CertificateDer<'_>,
            _: &[CertificateDer<'_>],
            _: &ServerName<'_>,
            _: &[u8],
            _: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }
        fn verify_tls12_signature(
            &self,
            _: &[u8],
            _: &CertificateDer<'_>,
            _: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            Ok(HandshakeSignatureValid::assertion())
        }
        fn verify_tls13_signature(
            &self,
            _: &[u8],
            _: &CertificateDer<'_>,
            _: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            Ok(HandshakeSignatureValid::assertion())
        }
        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            rustls::crypto::ring::default_provider().signature_verification_algorithms.supported_schemes()
        }
    }
}

#[tokio::test]
async fn pinned_certificate_without_its_key_is_refused() {
    use std::sync::Arc;

    let dir = tempfile::tempdir().expect("tempdir");
    let srv_id = generate(dir.path(), "receiver");
    let cli_id = generate(dir.path(), "sender");
    let attacker = generate(dir.path(), "attacker");

    let server = server_endpoint(any(), &srv_id, &PeerTrust::Pinned(vec![cli_id.fingerprint()])).expect("server");
    let addr = server.local_addr().expect("server addr");

    // The attacker copies the pinned client certificate but signs with its own key.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let signing_key = provider.key_provider.load_private_key(attacker.key.clone_key()).expect("attacker key");
    let stolen = Arc::new(rustls::sign::CertifiedKey::new(cli_id.cert_chain.clone(), signing_key));
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("tls13")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(impostor::AnyServer))
        .with_client_cert_resolver(Arc::new(impostor::StolenCert(stolen)));
    tls.alpn_protocols = vec![semcom_net::ALPN.to_vec()];
    let quic = quinn::crypto::rustls::QuicClientConfig::try_from(tls).expect("quic config");
    let mut client = Endpoint::client(any()).expect("client endpoint");
    client.set_default_client_config(quinn::ClientConfig::new(Arc::new(quic)));

    let (server_result, _) =
        within(async { tokio::join!(accept_one(&server), assert_client_refused(&client, addr, "receiver")) }).await;
    let reason =
        server_result.map(|_| ()).expect_err("server accepted a certificate signed by the wrong key").to_string();
    // The fingerprint matched, so it is the handshake signature that failed.
    assert!(!reason.contains("NotPinned"), "server reason: {reason}");
    assert!(reason.to_lowercase().contains("signature"), "server reason: {reason}");
}
