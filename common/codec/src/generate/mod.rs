//! Regeneration (receiver, docs/architecture.md §3 "Regeneration"): received key pixels + key mask +
//! structured prompt → full image.
//!
//! A [`Generator`] sees what the receiver decoded, never the original image:
//! * `analog`: the analog estimate over the whole frame in YCbCr (0–255 scale, see
//!   [`crate::color`]). In key blocks it holds full detail; elsewhere only the coarse
//!   base layer (the full-frame low-pass of the hybrid key encoder,
//!   [`crate::key::HybridDct`]), or nothing useful when `analog_valid` is false;
//! * `key`: the key/non-key block mask (`true` = key block);
//! * `prompt`: the structured prompt of the non-key segments, already repaired
//!   ([`crate::prompt::safe_prior`]);
//! * `seed`: makes any synthesis deterministic.
//!
//! Backends: [`ClassicalFill`] (model-free: base layer or colour layout, texture
//! synthesised from the statistics, seam blending). The diffusion generator of the
//! models crate implements the same trait.

mod classical;

pub use classical::{render_colour_layout, ClassicalFill};

use image::RgbImage;

use crate::color::Planes;
use crate::prompt::StructuredPrompt;
use crate::segment::BlockMask;

/// Everything a generator may use.
#[derive(Debug, Clone, Copy)]
pub struct GeneratorInput<'a> {
    pub analog: &'a Planes,
    /// False when the analog stream was lost entirely (then only the prompt describes
    /// the non-key regions).
    pub analog_valid: bool,
    pub key: &'a BlockMask,
    pub prompt: &'a StructuredPrompt,
    pub seed: u64,
}

/// Errors of a generator.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("generator input inconsistent: {0}")]
    Input(String),
    #[error("generator backend failed: {0}")]
    Backend(String),
}

/// Fills the non-key regions; key pixels come from `analog` (a backend may blend a
/// few pixels at the seams but must not repaint key blocks).
pub trait Generator: Send + Sync {
    /// Short id recorded with each result ("classical", "diffusion-int8", …).
    fn name(&self) -> &str;
    fn generate(&self, input: &GeneratorInput<'_>) -> Result<RgbImage, GenerateError>;
}
