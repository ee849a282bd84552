use std::net::SocketAddr;
use std::path::PathBuf;

use semcom_runtime::{IdentityConfig, TrustConfig};
use serde::Deserialize;

/// channel-sim configuration (TOML file, `SEMCOM_CHANNEL_SIM__*` environment, flags).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ChannelSimConfig {
    pub node_name: String,
    /// Identity files (generated here on first start).
    pub data_dir: PathBuf,
    /// QUIC listen address (the sender connects here).
    pub listen: SocketAddr,
    /// The receiver's QUIC address.
    pub upstream: SocketAddr,
    /// TLS server name of the receiver (checked in CA mode; pinning ignores names).
    pub upstream_name: String,
    /// gRPC control API listen address.
    pub control_listen: SocketAddr,
    pub identity: IdentityConfig,
    /// Peers accepted on both sides (the sender's and the receiver's certificates).
    pub trust: TrustConfig,
    pub channel: ChannelModelConfig,
}

/// The impairment applied to every symbol frame.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ChannelModelConfig {
    /// When false, frames are relayed untouched (ideal link).
    pub enabled: bool,
    /// AWGN Es/N0, dB.
    pub snr_db: f64,
    /// Seed of the noise generator; transmission n uses seed + n.
    pub seed: u64,
}

impl Default for ChannelModelConfig {
    fn default() -> Self {
        Self { enabled: true, snr_db: 10.0, seed: 1 }
    }
}

impl Default for ChannelSimConfig {
    fn default() -> Self {
        Self {
            node_name: "semcom-channel-sim".into(),
            data_dir: PathBuf::from("./data/channel-sim"),
            listen: SocketAddr::from(([0, 0, 0, 0], 4434)),
            upstream: SocketAddr::from(([127, 0, 0, 1], 4433)),
            upstream_name: "localhost".into(),
            control_listen: SocketAddr::from(([127, 0, 0, 1], 50053)),
            identity: IdentityConfig::default(),
            trust: TrustConfig::default(),
            channel: ChannelModelConfig::default(),
        }
    }
}
