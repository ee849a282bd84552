use std::net::SocketAddr;
use std::path::PathBuf;

use semcom_codec::semantic::SemanticConfig;
use semcom_codec::softcast::SoftCastConfig;
use semcom_runtime::{IdentityConfig, TrustConfig};
use serde::Deserialize;

use crate::decode::GeneratorKind;

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
    /// Semantic codec parameters (`[semantic]`); must match the sender's. The
    /// transmission header says which codec each transmission uses.
    pub semantic: SemanticConfig,
    /// Generator that fills the non-key regions: "classical" (model-free).
    pub generator: GeneratorKind,
    /// SoftCast parameters (`[softcast]`); must match the sender's.
    pub softcast: SoftCastConfig,
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
            semantic: SemanticConfig::default(),
            generator: GeneratorKind::default(),
            softcast: SoftCastConfig::default(),
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use semcom_runtime::{load, Layers};

    use super::*;

    #[test]
    fn example_config_selects_the_classical_generator() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/config/receiver.toml");
        let cfg: ReceiverConfig = load(&Layers::new("SEMCOM_RECEIVER_TEST_EXAMPLE").file(Some(&path))).expect("load");
        assert_eq!(cfg.generator, GeneratorKind::Classical);
        assert_eq!(cfg.semantic, SemanticConfig::default());

        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("r.toml");
        std::fs::write(&file, "generator = \"diffusion\"\n").expect("write");
        let err = load::<ReceiverConfig>(&Layers::new("SEMCOM_RECEIVER_TEST_BAD").file(Some(&file))).expect_err("unknown");
        assert!(err.to_string().contains("diffusion"), "{err}");
    }
}
