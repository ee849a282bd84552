//! The one error type of this crate.

use std::path::PathBuf;

/// Everything that can go wrong while setting up endpoints or moving bytes.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// An I/O operation failed; `context` says which one.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },

    /// A file could not be read or written.
    #[error("{op} {}: {source}", path.display())]
    File {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A node identity (certificate or key) is unusable or could not be made.
    #[error("identity: {0}")]
    Identity(String),

    /// The peer-trust configuration is unusable (empty pin set, bad CA file...).
    #[error("peer trust: {0}")]
    Trust(String),

    /// rustls refused the TLS configuration.
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),

    /// The rustls configuration cannot drive QUIC (e.g. no TLS 1.3 suite).
    #[error("QUIC crypto configuration: {0}")]
    QuicConfig(String),

    /// A connection could not even be started (bad address, endpoint stopping...).
    #[error("connect: {0}")]
    Connect(#[from] quinn::ConnectError),

    /// An established or pending connection failed (includes refused handshakes).
    #[error("connection: {0}")]
    Connection(#[from] quinn::ConnectionError),

    /// A symbol frame on the wire is malformed.
    #[error("bad symbol frame: {0}")]
    Frame(String),

    /// A length-prefixed message announced more bytes than the caller allows.
    #[error("message of {len} bytes exceeds the limit of {max} bytes")]
    MessageTooLarge { len: usize, max: usize },

    /// The stream ended in the middle of something.
    #[error("stream ended in the middle of {what}")]
    Truncated { what: &'static str },

    /// A message could not be encoded.
    #[error("protobuf encode: {0}")]
    Encode(#[from] prost::EncodeError),

    /// A message's bytes are not valid protobuf for the expected type.
    #[error("protobuf decode: {0}")]
    Decode(#[from] prost::DecodeError),
}

impl NetError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        NetError::Io { context: context.into(), source }
    }

    pub(crate) fn file(op: &'static str, path: &std::path::Path, source: std::io::Error) -> Self {
        NetError::File { op, path: path.to_path_buf(), source }
    }
}
