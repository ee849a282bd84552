//! The diffusion generator: the semantic codec's [`Generator`] backend built on the patch
//! UNet and the DDIM sampler (DESIGN.md §3 "Regeneration", backend 1).

use candle_core::Device;
use image::RgbImage;
use semcom_codec::generate::{ClassicalFill, GenerateError, Generator, GeneratorInput};

use crate::conditions::PatchInputs;
use crate::ddim::{DdimConfig, DdimSampler};
use crate::schedule::{NoiseSchedule, ScheduleConfig};
use crate::unet::{Config, UNet};

/// How the sampled detail is put into the image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ComposeSettings {
    /// Seam ramp width, pixels.
    pub seam: u32,
    /// Scale of the generated detail (1 = as sampled).
    pub strength: f64,
    /// Keep only the luma of the generated detail.
    pub luma_only: bool,
}

/// Regenerates the non-key regions with the diffusion model; key pixels are the analog
/// estimate's, unchanged.
pub struct DiffusionGenerator {
    model: UNet,
    sampler: DdimSampler,
    device: Device,
    seam: u32,
    strength: f64,
    luma_only: bool,
    name: String,
}

impl DiffusionGenerator {
    /// `name` is recorded with every result (e.g. "diffusion-int8"); `strength` scales the
    /// generated detail, `luma_only` keeps only its luma ([`PatchInputs::compose`]).
    pub fn new(
        model: UNet,
        schedule: &ScheduleConfig,
        ddim: &DdimConfig,
        device: Device,
        compose: ComposeSettings,
        name: impl Into<String>,
    ) -> candle_core::Result<Self> {
        if !(compose.strength.is_finite() && (0.0..=2.0).contains(&compose.strength)) {
            candle_core::bail!("diffusion: strength must be in [0, 2], got {}", compose.strength);
        }
        let sampler = DdimSampler::new(&NoiseSchedule::new(schedule)?, ddim)?;
        Ok(Self {
            model,
            sampler,
            device,
            seam: compose.seam,
            strength: compose.strength,
            luma_only: compose.luma_only,
            name: name.into(),
        })
    }

    pub fn config(&self) -> &Config {
        self.model.config()
    }
}

impl Generator for DiffusionGenerator {
    fn name(&self) -> &str {
        &self.name
    }

    fn generate(&self, input: &GeneratorInput<'_>) -> Result<RgbImage, GenerateError> {
        let cfg = self.model.config();
        let inputs = PatchInputs::from_generator_input(input, cfg, &self.device)
            .map_err(|e| GenerateError::Input(e.to_string()))?;
        let backend = |e: candle_core::Error| GenerateError::Backend(e.to_string());
        // SDEdit start: the classical fill at full texture strength (prompt statistics and
        // detail map; the output's `strength` scales the result as for a sample from noise)
        // is the guide the model refines.
        let guide = if self.sampler.needs_guide() {
            let img = ClassicalFill { texture_strength: 1.0, ..ClassicalFill::default() }.generate(input)?;
            Some(inputs.residual_target(&img, cfg).map_err(backend)?)
        } else {
            None
        };
        let residual =
            self.sampler.sample_from(&self.model, &inputs.conditioning(), input.seed, guide.as_ref()).map_err(backend)?;
        inputs.compose(&residual, cfg, self.seam, self.strength, self.luma_only).map_err(backend)
    }
}
