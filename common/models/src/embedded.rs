//! The generator the receiver uses by default: the int8 model trained by `semcom train
//! diffusion` and shipped in `common/models/weights/` (model card:
//! docs/models/diffusion.md), or weights and LoRA adapters from local files.

use std::path::PathBuf;

use candle_core::{Device, Result};
use serde::{Deserialize, Serialize};

use crate::ddim::DdimConfig;
use crate::generator::{ComposeSettings, DiffusionGenerator};
use crate::lora::{merge, Adapter};
use crate::weights::ModelFile;

/// The embedded default model (int8 weights, per-channel convolutions, Q8_0 linears).
pub const DEFAULT_INT8: &[u8] = include_bytes!("../weights/diffusion-int8.safetensors");

/// How a LoRA adapter is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoraMode {
    /// Merged into the (dequantized) weights once at load: no run-time cost.
    #[default]
    Merge,
    /// Kept as separate low-rank layers (`W·x + (α/r)·B·A·x` on every call).
    Runtime,
}

/// The receiver's `[diffusion]` settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DiffusionSettings {
    /// Model file (f32/f16/int8 safetensors from `semcom train diffusion`); `None` = the
    /// embedded int8 model.
    pub weights: Option<PathBuf>,
    /// LoRA adapter file from `semcom train lora`.
    pub lora: Option<PathBuf>,
    pub lora_mode: LoraMode,
    /// DDIM steps (1–10). Default 4 (from `start` = 0.5 they cover the last 500
    /// training timesteps).
    pub steps: usize,
    /// Seam ramp width in pixels on the generated side of key boundaries.
    pub seam: u32,
    /// Scale of the generated detail (0–2; 1 = as sampled). Default 0.5, the classical
    /// fill's texture strength: with `match_energy` the detail then has the classical
    /// fill's local energy (higher measured worse on the validation photos,
    /// docs/models/diffusion.md).
    pub strength: f64,
    /// Add only the luma of the generated detail (colour from the analog base).
    pub luma_only: bool,
    /// Where DDIM starts, as a fraction of the training timesteps (0–1]: 1 = from pure
    /// noise; below 1 the model refines the classical fill noised to that level (SDEdit).
    /// Default 0.5, chosen with `match_energy` on the validation photos (`corpus/val`,
    /// docs/models/diffusion.md).
    pub start: f64,
    /// Scale the generated detail to the classical fill's local energy, i.e. to the
    /// prompt's texture statistics and detail map ([`crate::generator::match_local_energy`]).
    pub match_energy: bool,
}

impl Default for DiffusionSettings {
    fn default() -> Self {
        Self {
            weights: None,
            lora: None,
            lora_mode: LoraMode::Merge,
            steps: 4,
            seam: 2,
            strength: 0.5,
            luma_only: true,
            start: 0.5,
            match_energy: true,
        }
    }
}

/// Builds the generator the settings describe.
pub fn build_generator(s: &DiffusionSettings, device: &Device) -> Result<DiffusionGenerator> {
    if s.steps == 0 || s.steps > 10 {
        candle_core::bail!("diffusion: steps must be 1–10, got {}", s.steps);
    }
    let mut file = match &s.weights {
        Some(p) => ModelFile::from_path(p, device)?,
        None => ModelFile::from_bytes(DEFAULT_INT8, device)?,
    };
    let mut name = format!("diffusion-{}", file.format.as_str());
    let model = match &s.lora {
        None => file.build(device, None)?,
        Some(p) => {
            let adapter = Adapter::from_path(p, device)?;
            adapter.check_base(&file.unet)?;
            name.push_str("+lora");
            match s.lora_mode {
                LoraMode::Merge => {
                    // Merging needs plain weights: Q8_0 linears are dequantized first.
                    for (k, q) in std::mem::take(&mut file.q8) {
                        file.tensors.insert(k, q.dequantize(device)?);
                    }
                    file.tensors = merge(&file.tensors, &adapter)?;
                    file.build(device, None)?
                }
                LoraMode::Runtime => file.build(device, Some((&adapter.tensors, adapter.lora)))?,
            }
        }
    };
    let ddim = DdimConfig { steps: s.steps, start: s.start, ..DdimConfig::default() };
    let compose =
        ComposeSettings { seam: s.seam, strength: s.strength, luma_only: s.luma_only, match_energy: s.match_energy };
    DiffusionGenerator::new(model, &file.schedule, &ddim, device.clone(), compose, name)
}
