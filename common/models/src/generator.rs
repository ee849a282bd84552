//! The diffusion generator: the semantic codec's [`Generator`] backend built on the patch
//! UNet and the DDIM sampler (docs/architecture.md §3 "Regeneration", backend 1).

use candle_core::{Device, Tensor};
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
    /// Match the sampled detail's local energy to the classical fill's, which follows the
    /// prompt's texture statistics and detail map ([`match_local_energy`]): the model
    /// chooses the pattern, the prompt its amplitude.
    pub match_energy: bool,
}

/// Patches on each side of the window [`match_local_energy`] measures: 5×5 patches of
/// 8 px = 40 px, a detail-map cell (32 px) with overlap, so the gain varies smoothly.
pub const ENERGY_RADIUS: usize = 2;
/// Largest gain [`match_local_energy`] applies: where the model left a textured area
/// almost flat it is lifted, but never by more than this.
pub const MAX_ENERGY_GAIN: f32 = 4.0;

/// Regenerates the non-key regions with the diffusion model; key pixels are the analog
/// estimate's, unchanged.
pub struct DiffusionGenerator {
    model: UNet,
    sampler: DdimSampler,
    device: Device,
    seam: u32,
    strength: f64,
    luma_only: bool,
    match_energy: bool,
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
            match_energy: compose.match_energy,
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
        // The classical fill at full texture strength (prompt statistics and detail map; the
        // output's `strength` scales the result as for a sample from noise) is the guide
        // an SDEdit start refines and the reference of the energy match.
        let classical = if self.sampler.needs_guide() || self.match_energy {
            let img = ClassicalFill { texture_strength: 1.0, ..ClassicalFill::default() }.generate(input)?;
            Some(inputs.residual_target(&img, cfg).map_err(backend)?)
        } else {
            None
        };
        let mut residual = self
            .sampler
            .sample_from(&self.model, &inputs.conditioning(), input.seed, classical.as_ref())
            .map_err(backend)?;
        if let (true, Some(reference)) = (self.match_energy, &classical) {
            residual = match_local_energy(&residual, reference, ENERGY_RADIUS, MAX_ENERGY_GAIN).map_err(backend)?;
        }
        inputs.compose(&residual, cfg, self.seam, self.strength, self.luma_only).map_err(backend)
    }
}

/// `residual` with every patch scaled so that its energy summed over the window of
/// `(2·radius+1)²` patches around it equals `reference`'s over the same window:
/// gain = √((E_ref + ε) / (E_res + ε)), at most `max_gain` (ε keeps flat-on-flat at 1).
///
/// A model that sees a segment's texture statistics only through a few features cannot
/// be trusted with local amplitude: it puts grain on smooth gradients and flattens busy
/// areas. The reference (the classical fill's residual) has the amplitude the prompt
/// describes, so after the match the generated detail keeps the model's pattern at the
/// prompt's local energy.
///
/// `residual`, `reference`: `(B, 3·p², h, w)` in patch space, so a patch's energy is the
/// sum over channels at one position.
pub fn match_local_energy(
    residual: &Tensor,
    reference: &Tensor,
    radius: usize,
    max_gain: f32,
) -> candle_core::Result<Tensor> {
    const EPS: f32 = 1e-3;
    let (b, _, h, w) = residual.dims4()?;
    if reference.dims() != residual.dims() {
        candle_core::bail!("energy match: reference {:?}, residual {:?}", reference.dims(), residual.dims());
    }
    // (B, C, h, w) → per-position energy, then summed over the window.
    let energy = |t: &Tensor| -> candle_core::Result<Vec<f32>> {
        let e = t.to_dtype(candle_core::DType::F32)?.sqr()?.sum_keepdim(1)?.flatten_all()?.to_vec1::<f32>()?;
        Ok(window_sums(&e, h, w, radius))
    };
    let (e_res, e_ref) = (energy(residual)?, energy(reference)?);
    let gain: Vec<f32> = e_res.iter().zip(&e_ref).map(|(r, g)| ((g + EPS) / (r + EPS)).sqrt().min(max_gain)).collect();
    residual.broadcast_mul(&Tensor::from_vec(gain, (b, 1, h, w), residual.device())?.to_dtype(residual.dtype())?)
}

/// Sums of `values` (planes of `h × w`) over the `(2r+1)²` window around each position,
/// clipped at the borders; separable: rows first, then columns.
fn window_sums(values: &[f32], h: usize, w: usize, r: usize) -> Vec<f32> {
    let mut rows = vec![0f32; values.len()];
    for (plane_in, plane_out) in values.chunks(h * w).zip(rows.chunks_mut(h * w)) {
        for (line_in, line_out) in plane_in.chunks(w).zip(plane_out.chunks_mut(w)) {
            for (x, v) in line_out.iter_mut().enumerate() {
                *v = line_in[x.saturating_sub(r)..(x + r + 1).min(w)].iter().sum();
            }
        }
    }
    let mut out = vec![0f32; values.len()];
    for (plane_in, plane_out) in rows.chunks(h * w).zip(out.chunks_mut(h * w)) {
        for (i, v) in plane_out.iter_mut().enumerate() {
            let (y, x) = (i / w, i % w);
            *v = (y.saturating_sub(r)..(y + r + 1).min(h)).map(|yy| plane_in[yy * w + x]).sum();
        }
    }
    out
}
