use std::net::SocketAddr;
use std::path::PathBuf;

use semcom_codec::image_io::ImageLimits;
use semcom_codec::semantic::SemanticConfig;
use semcom_codec::softcast::SoftCastConfig;
use semcom_runtime::{IdentityConfig, TrustConfig};
use serde::Deserialize;

use crate::codec::CodecKind;

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
    /// Codec for requests that do not choose one: "semantic" (default) or
    /// "softcast" (the whole-image baseline).
    pub codec: CodecKind,
    /// Semantic codec parameters (`[semantic]`); must match the receiver's.
    pub semantic: SemanticConfig,
    /// SoftCast parameters (`[softcast]`); must match the receiver's.
    pub softcast: SoftCastConfig,
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
            codec: CodecKind::default(),
            semantic: SemanticConfig::default(),
            softcast: SoftCastConfig::default(),
            jobs_retained: 1024,
            frame_symbols: 1024,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use semcom_runtime::{load, Layers};

    use super::*;

    /// The shipped example parses, selects the semantic codec, and a partial
    /// `[semantic]` table keeps the defaults of the keys it leaves out.
    #[test]
    fn example_config_selects_the_semantic_codec() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/config/sender.toml");
        let cfg: SenderConfig = load(&Layers::new("SEMCOM_SENDER_TEST_EXAMPLE").file(Some(&path))).expect("load");
        assert_eq!(cfg.codec, CodecKind::Semantic);
        assert_eq!(cfg.semantic.max_mcs, 5);
        assert_eq!(cfg.semantic.pilot_block, SemanticConfig::default().pilot_block);
        cfg.semantic.validate().expect("valid");

        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("s.toml");
        std::fs::write(&file, "codec = \"softcast\"\n[softcast]\nmeta_mcs = 2\n").expect("write");
        let cfg: SenderConfig = load(&Layers::new("SEMCOM_SENDER_TEST_SC").file(Some(&file))).expect("load");
        assert_eq!((cfg.codec, cfg.softcast.meta_mcs), (CodecKind::Softcast, 2));
        std::fs::write(&file, "codec = \"jpeg\"\n").expect("write");
        assert!(load::<SenderConfig>(&Layers::new("SEMCOM_SENDER_TEST_BAD").file(Some(&file))).is_err());
    }
}
