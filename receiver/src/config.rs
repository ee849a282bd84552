use std::net::SocketAddr;
use std::path::PathBuf;

use semcom_codec::softcast::SoftCastConfig;
use semcom_runtime::{IdentityConfig, TrustConfig};
use serde::Deserialize;

/// Receiver configuration (TOML file, `SEMCOM_RECEIVER__*` environment, flags).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ReceiverConfig {
    /// Name in the generated certificate and the logs.
    pub node_name: String,
    /// Identity files (generated here on first start) and results.
    pub data_dir: PathBuf,
    /// QUIC listen address for transmissions (from the sender or channel-sim).
    pub quic_listen: SocketAddr,
    /// gRPC API listen address.
    pub grpc_listen: SocketAddr,
    pub identity: IdentityConfig,
    /// Peers allowed to send transmissions.
    pub trust: TrustConfig,
    /// Codec parameters; must match the sender's.
    pub codec: SoftCastConfig,
    /// Largest transmission accepted, in symbols (guards memory against a bad peer).
    pub max_symbols: u64,
    /// Reconstructions wider or taller than this are refused (corrupted metadata).
    pub max_dimension: u32,
}

impl Default for ReceiverConfig {
    fn default() -> Self {
        Self {
            node_name: "semcom-receiver".into(),
            data_dir: PathBuf::from("./data/receiver"),
            quic_listen: SocketAddr::from(([0, 0, 0, 0], 4433)),
            grpc_listen: SocketAddr::from(([127, 0, 0, 1], 50052)),
            identity: IdentityConfig::default(),
            trust: TrustConfig::default(),
            codec: SoftCastConfig::default(),
            max_symbols: 64 * 1024 * 1024,
            max_dimension: 8192,
        }
    }
}

impl ReceiverConfig {
    pub fn results_dir(&self) -> PathBuf {
        self.data_dir.join("results")
    }
}
