use std::net::SocketAddr;
use std::path::PathBuf;

use semcom_codec::image_io::ImageLimits;
use semcom_codec::softcast::SoftCastConfig;
use semcom_runtime::{IdentityConfig, TrustConfig};
use serde::Deserialize;

/// Sender configuration (TOML file, `SEMCOM_SENDER__*` environment, flags).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct SenderConfig {
    pub node_name: String,
    /// Identity files (generated here on first start).
    pub data_dir: PathBuf,
    /// gRPC API listen address.
    pub grpc_listen: SocketAddr,
    /// QUIC address of the peer: the receiver, or channel-sim in front of it.
    pub peer: SocketAddr,
    /// TLS server name of the peer (checked in CA mode; pinning ignores names).
    pub peer_name: String,
    pub identity: IdentityConfig,
    /// Peers this sender will talk to.
    pub trust: TrustConfig,
    /// Bandwidth ratio used when a request does not give one.
    pub default_rho: f64,
    pub limits: LimitsConfig,
    /// Codec parameters; must match the receiver's.
    pub codec: SoftCastConfig,
    /// Finished jobs kept for `Watch` before the oldest are forgotten.
    pub jobs_retained: usize,
    /// Symbols per wire frame (the unit the link can lose, like a slot or packet).
    pub frame_symbols: usize,
}

/// Limits on submitted images; anything beyond is refused with INVALID_ARGUMENT.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct LimitsConfig {
    pub max_input_bytes: usize,
    pub max_width: u32,
    pub max_height: u32,
    pub max_pixels: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        let d = ImageLimits::default();
        Self {
            max_input_bytes: d.max_input_bytes,
            max_width: d.max_width,
            max_height: d.max_height,
            max_pixels: d.max_pixels,
        }
    }
}

impl LimitsConfig {
    pub fn image_limits(&self) -> ImageLimits {
        ImageLimits {
            max_input_bytes: self.max_input_bytes,
            max_width: self.max_width,
            max_height: self.max_height,
            max_pixels: self.max_pixels,
        }
    }
}

impl Default for SenderConfig {
    fn default() -> Self {
        Self {
            node_name: "semcom-sender".into(),
            data_dir: PathBuf::from("./data/sender"),
            grpc_listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            peer: SocketAddr::from(([127, 0, 0, 1], 4433)),
            peer_name: "localhost".into(),
            identity: IdentityConfig::default(),
            trust: TrustConfig::default(),
            default_rho: 1.0 / 32.0,
            limits: LimitsConfig::default(),
            codec: SoftCastConfig::default(),
            jobs_retained: 1024,
            frame_symbols: 1024,
        }
    }
}
