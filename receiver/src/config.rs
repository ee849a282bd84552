use std::net::SocketAddr;
use std::path::PathBuf;

use semcom_codec::semantic::SemanticConfig;
use semcom_codec::softcast::SoftCastConfig;
use semcom_models::{DiffusionSettings, GeneratorKind};
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
    /// Semantic codec parameters (`[semantic]`); must match the sender's. The
    /// transmission header says which codec each transmission uses.
    pub semantic: SemanticConfig,
    /// Generator that fills the non-key regions: "diffusion" (the embedded int8 model,
    /// or the files in `[diffusion]`; the default) or "classical" (model-free).
    pub generator: GeneratorKind,
    /// The diffusion generator's model files and sampling (`[diffusion]`); loaded once
    /// at startup when `generator = "diffusion"`.
    pub diffusion: DiffusionSettings,
    /// SoftCast parameters (`[softcast]`); must match the sender's.
    pub softcast: SoftCastConfig,
    /// Largest transmission accepted, in symbols (guards memory against a bad peer).
    pub max_symbols: u64,
    /// Reconstructions wider or taller than this are refused (corrupted metadata).
    pub max_dimension: u32,
    /// Transmissions decoded at the same time; more wait, fully received, for a slot.
    /// Decoding is CPU-bound and the diffusion model already uses every core, so more
    /// than one mostly adds memory.
    pub max_concurrent_decodes: usize,
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
            diffusion: DiffusionSettings::default(),
            softcast: SoftCastConfig::default(),
            max_symbols: 64 * 1024 * 1024,
            max_dimension: 8192,
            max_concurrent_decodes: 1,
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

    use semcom_models::LoraMode;
    use semcom_runtime::{load, Layers};

    use super::*;

    /// The example configuration selects the default generator, the embedded diffusion
    /// model, and the default decode concurrency, and documents `[diffusion]` with its defaults; `[diffusion]` keys are read (and unknown
    /// ones refused), as is `generator = "diffusion"`; an unknown generator is an error
    /// that names it.
    #[test]
    fn example_config_selects_the_default_generator() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/config/receiver.toml");
        let cfg: ReceiverConfig = load(&Layers::new("SEMCOM_RECEIVER_TEST_EXAMPLE").file(Some(&path))).expect("load");
        assert_eq!(cfg.generator, GeneratorKind::Diffusion);
        assert_eq!(GeneratorKind::default(), GeneratorKind::Diffusion);
        assert_eq!(cfg.max_concurrent_decodes, ReceiverConfig::default().max_concurrent_decodes);
        assert_eq!(cfg.diffusion, DiffusionSettings::default());
        assert_eq!(cfg.diffusion.weights, None, "the example uses the embedded model");
        assert_eq!(cfg.semantic, SemanticConfig::default());

        // The commented `[diffusion]` section documents every key, with the defaults.
        let text = std::fs::read_to_string(&path).expect("example");
        let section: String = text
            .lines()
            .skip_while(|l| l.trim() != "# [diffusion]")
            .skip(1)
            .take_while(|l| l.starts_with('#'))
            .filter_map(|l| l.strip_prefix("# "))
            .filter(|l| !l.starts_with('#'))
            .map(|l| format!("{l}\n"))
            .collect();
        let documented: DiffusionSettings = toml_section(&section);
        let defaults = DiffusionSettings::default();
        assert_eq!(
            (documented.lora_mode, documented.steps, documented.seam),
            (defaults.lora_mode, defaults.steps, defaults.seam)
        );
        assert_eq!(
            (documented.strength, documented.luma_only, documented.start, documented.match_energy),
            (defaults.strength, defaults.luma_only, defaults.start, defaults.match_energy)
        );
        let keys = serde_json::to_value(&defaults).expect("JSON");
        for key in keys.as_object().expect("fields").keys() {
            assert!(section.contains(&format!("{key} = ")), "[diffusion] key {key} not documented in the example");
        }

        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("r.toml");
        let read = |text: &str, prefix: &str| {
            std::fs::write(&file, text).expect("write");
            load::<ReceiverConfig>(&Layers::new(prefix).file(Some(&file)))
        };
        let cfg = read(
            "generator = \"diffusion\"\n[diffusion]\nweights = \"/models/d.safetensors\"\nlora = \"/models/a.safetensors\"\n\
             lora_mode = \"runtime\"\nsteps = 4\nseam = 3\n",
            "SEMCOM_RECEIVER_TEST_DIFFUSION",
        )
        .expect("diffusion section");
        let d = &cfg.diffusion;
        assert_eq!(d.weights.as_deref(), Some(Path::new("/models/d.safetensors")));
        assert_eq!(d.lora.as_deref(), Some(Path::new("/models/a.safetensors")));
        assert_eq!((d.lora_mode, d.steps, d.seam), (LoraMode::Runtime, 4, 3));
        let cfg = read("generator = \"classical\"\n", "SEMCOM_RECEIVER_TEST_CLASSICAL").expect("classical");
        assert_eq!(cfg.generator, GeneratorKind::Classical);

        let err = read("[diffusion]\nstep = 4\n", "SEMCOM_RECEIVER_TEST_TYPO").expect_err("unknown key");
        assert!(err.to_string().contains("`step`"), "{err}");
        let err = read("generator = \"stable-diffusion\"\n", "SEMCOM_RECEIVER_TEST_BAD").expect_err("unknown");
        assert!(err.to_string().contains("stable-diffusion"), "{err}");
    }

    /// Parses a TOML fragment (the uncommented example) through the same loader.
    fn toml_section(section: &str) -> DiffusionSettings {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("d.toml");
        std::fs::write(&file, format!("[diffusion]\n{section}")).expect("write");
        load::<ReceiverConfig>(&Layers::new("SEMCOM_RECEIVER_TEST_SECTION").file(Some(&file)))
            .expect("documented section")
            .diffusion
    }
}
