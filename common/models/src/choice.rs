//! Which generator fills the non-key regions: the choice a receiver configures
//! (`generator = "diffusion" | "classical"`) and that `semcom eval` sweeps, and how it
//! becomes a [`Generator`].

use std::sync::Arc;

use candle_core::Device;
use semcom_codec::generate::{ClassicalFill, Generator};
use serde::{Deserialize, Serialize};

use crate::embedded::{build_generator, DiffusionSettings, LoraMode};

/// Generator that fills the non-key regions of semantic transmissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GeneratorKind {
    /// The embedded conditional diffusion model (int8 weights shipped with semcom), or
    /// the weights and LoRA adapter named in `[diffusion]`. The default.
    #[default]
    Diffusion,
    /// Model-free: base layer or colour layout, synthesised texture, seam blending.
    /// About 9× faster than the diffusion model (docs/models/diffusion.md), no model
    /// loaded.
    Classical,
}

/// A generator that could not be built.
#[derive(Debug, thiserror::Error)]
pub enum GeneratorBuildError {
    #[error("diffusion generator: selecting the device")]
    Device(#[source] candle_core::Error),
    /// `description` is [`describe_diffusion`] of the settings.
    #[error("loading the diffusion generator ({description})")]
    Load {
        description: String,
        #[source]
        source: candle_core::Error,
    },
}

impl GeneratorKind {
    /// The name in the configuration.
    pub fn name(self) -> &'static str {
        match self {
            GeneratorKind::Diffusion => "diffusion",
            GeneratorKind::Classical => "classical",
        }
    }

    /// Builds the generator. Loading a model takes a moment: build once (at startup)
    /// and share the result. `diffusion` is used by [`GeneratorKind::Diffusion`] only.
    pub fn build(self, diffusion: &DiffusionSettings) -> Result<Arc<dyn Generator>, GeneratorBuildError> {
        match self {
            GeneratorKind::Classical => Ok(Arc::new(ClassicalFill::default())),
            GeneratorKind::Diffusion => {
                let device = Device::cuda_if_available(0).map_err(GeneratorBuildError::Device)?;
                let generator = build_generator(diffusion, &device).map_err(|source| GeneratorBuildError::Load {
                    description: describe_diffusion(diffusion),
                    source,
                })?;
                Ok(Arc::new(generator))
            }
        }
    }
}

impl std::str::FromStr for GeneratorKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        [GeneratorKind::Diffusion, GeneratorKind::Classical]
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| format!("unknown generator {s:?}: diffusion or classical"))
    }
}

/// The model files of a `[diffusion]` section in words, for messages and reports.
pub fn describe_diffusion(s: &DiffusionSettings) -> String {
    let weights =
        s.weights.as_ref().map_or_else(|| "embedded int8 weights".to_owned(), |p| format!("weights {}", p.display()));
    match &s.lora {
        Some(l) => {
            let mode = match s.lora_mode {
                LoraMode::Merge => "merge",
                LoraMode::Runtime => "runtime",
            };
            format!("{weights}, LoRA adapter {} (lora_mode {mode})", l.display())
        }
        None => weights,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The error and every cause below it, as `anyhow`'s `{:#}` prints them.
    fn chain(e: &GeneratorBuildError) -> String {
        let mut out = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            out.push_str(&format!(": {s}"));
            source = s.source();
        }
        out
    }

    /// Bad `[diffusion]` settings are a startup error that names the problem.
    #[test]
    fn bad_diffusion_settings_are_clear_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("no-such-model.safetensors");
        let err = GeneratorKind::Diffusion
            .build(&DiffusionSettings { weights: Some(missing.clone()), ..DiffusionSettings::default() })
            .err()
            .expect("missing weights");
        assert!(chain(&err).contains(&missing.display().to_string()), "{}", chain(&err));

        let garbage = dir.path().join("garbage.safetensors");
        std::fs::write(&garbage, b"not a safetensors file").expect("write");
        let err = GeneratorKind::Diffusion
            .build(&DiffusionSettings { lora: Some(garbage.clone()), ..DiffusionSettings::default() })
            .err()
            .expect("bad adapter");
        assert!(chain(&err).contains("LoRA adapter") && chain(&err).contains("garbage"), "{}", chain(&err));

        let err = GeneratorKind::Diffusion
            .build(&DiffusionSettings { steps: 0, ..DiffusionSettings::default() })
            .err()
            .expect("zero steps");
        assert!(chain(&err).contains("steps"), "{}", chain(&err));
        // The classical fill needs none of it.
        assert!(GeneratorKind::Classical
            .build(&DiffusionSettings { steps: 0, ..DiffusionSettings::default() })
            .is_ok());
    }

    #[test]
    fn names_parse_back_and_diffusion_is_the_default() {
        assert_eq!(GeneratorKind::default(), GeneratorKind::Diffusion);
        for k in [GeneratorKind::Diffusion, GeneratorKind::Classical] {
            assert_eq!(k.name().parse::<GeneratorKind>(), Ok(k));
        }
        assert!("stable-diffusion".parse::<GeneratorKind>().expect_err("unknown").contains("stable-diffusion"));
    }
}
