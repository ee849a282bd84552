//! QUIC/TLS endpoints, node identities, peer trust and symbol framing for the
//! semcom daemons (sender, receiver, channel-sim proxy).
//!
//! - [`Identity`]: a node's certificate and key, generated on first start or supplied.
//! - [`PeerTrust`]: pinned SHA-256 fingerprints or a CA; mutual TLS 1.3 always.
//! - [`server_endpoint`] / [`client_endpoint`]: quinn endpoints wired with both.
//! - [`write_message`] / [`read_message`], [`write_frame`] / [`read_frame`]: the
//!   wire format of one transmission stream (protobuf header, then I/Q frames).
//!
//! The crate knows nothing of what the daemons do with the streams.

mod endpoint;
mod error;
mod framing;
mod identity;
mod trust;

pub use endpoint::{
    client_config, client_endpoint, peer_fingerprint, server_config, server_endpoint, ALPN, CONNECTION_RECEIVE_WINDOW,
    IDLE_TIMEOUT, KEEP_ALIVE, SEND_WINDOW, STREAM_RECEIVE_WINDOW,
};
pub use error::NetError;
pub use framing::{
    read_frame, read_message, write_frame, write_message, FrameKind, SymbolFrame, FLAG_ERASED, FRAME_HEADER_LEN,
    MAX_FRAME_SYMBOLS, SYMBOL_BYTES,
};
pub use identity::{fingerprint, Fingerprint, Identity, ParseFingerprintError, CERT_FILE, KEY_FILE};
pub use trust::PeerTrust;

// Re-exported so daemons use exactly the versions this crate was built against.
pub use num_complex::Complex32;
pub use quinn;
pub use rustls_pki_types::{CertificateDer, PrivateKeyDer};
