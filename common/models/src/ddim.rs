//! Few-step DDIM sampling (Song et al. 2021) with a RePaint-style inpainting constraint.
//!
//! Given the known (key) pixels and their mask, the sampler starts from seeded Gaussian
//! noise and, at every step, replaces the known pixels of the current sample with the
//! known values forward-noised to that step's noise level; the last step reaches ᾱ = 1,
//! and the result is finally composited so that known pixels are returned **exactly**.
//! All randomness comes from [`NoiseRng`] seeded by the caller: equal seeds give
//! bit-identical outputs, η = 0 makes the reverse process itself deterministic.

use candle_core::{DType, Result, Tensor};
use serde::{Deserialize, Serialize};

use crate::rng::NoiseRng;
use crate::schedule::NoiseSchedule;
use crate::unet::{assemble_input, UNet, IMAGE_CHANNELS};

/// Sampler settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DdimConfig {
    /// Number of denoising steps (the inference target is ≤ 10).
    pub steps: usize,
    /// DDIM η: 0 = deterministic reverse process (the default), 1 ≈ DDPM.
    pub eta: f64,
    /// Clamp the predicted x̂₀ to [-1, 1] at every step.
    pub clip_x0: bool,
}

impl Default for DdimConfig {
    /// 10 steps, η = 0, x̂₀ clipped.
    fn default() -> Self {
        Self { steps: 10, eta: 0.0, clip_x0: true }
    }
}

/// What the receiver knows about one batch of images. All images in `[-1, 1]`.
#[derive(Debug, Clone, Copy)]
pub struct InpaintInputs<'a> {
    /// Known pixels, `(B, 3, H, W)`; values outside the mask are ignored.
    pub known: &'a Tensor,
    /// `(B, 1, H, W)`, 1 = known key pixel, 0 = to generate (values are thresholded at 0.5).
    pub mask: &'a Tensor,
    /// Colour-layout base, `(B, 3, H, W)`.
    pub layout: &'a Tensor,
    /// Conditioning vector `(B, cond_dim)` (texture statistics), `None` when `cond_dim == 0`.
    pub cond: Option<&'a Tensor>,
}

/// DDIM sampler over a fixed subsequence of the training timesteps.
#[derive(Debug, Clone)]
pub struct DdimSampler {
    schedule: NoiseSchedule,
    cfg: DdimConfig,
    timesteps: Vec<usize>,
}

impl DdimSampler {
    /// Chooses `steps` timesteps with "trailing" spacing (Lin et al. 2024): the first step
    /// is the last training timestep, so sampling starts from (almost) pure noise.
    pub fn new(schedule: &NoiseSchedule, cfg: &DdimConfig) -> Result<Self> {
        let n = schedule.num_train_timesteps();
        if cfg.steps == 0 || cfg.steps > n {
            candle_core::bail!("ddim: steps must be in 1..={n}, got {}", cfg.steps);
        }
        if !(0.0..=1.0).contains(&cfg.eta) {
            candle_core::bail!("ddim: eta must be in [0, 1]");
        }
        let ratio = n as f64 / cfg.steps as f64;
        let timesteps: Vec<usize> =
            (0..cfg.steps).map(|i| ((n as f64 - i as f64 * ratio).round() as usize).saturating_sub(1)).collect();
        Ok(Self { schedule: schedule.clone(), cfg: cfg.clone(), timesteps })
    }

    /// The timesteps visited, in decreasing order.
    pub fn timesteps(&self) -> &[usize] {
        &self.timesteps
    }

    pub fn schedule(&self) -> &NoiseSchedule {
        &self.schedule
    }

    /// Generates the unknown pixels; returns `(B, 3, H, W)` in which masked (known) pixels
    /// equal `inputs.known` exactly.
    pub fn inpaint(&self, model: &UNet, inputs: &InpaintInputs<'_>, seed: u64) -> Result<Tensor> {
        let known = inputs.known.to_dtype(DType::F32)?;
        let (b, c, h, w) = known.dims4()?;
        if c != IMAGE_CHANNELS {
            candle_core::bail!("ddim: known pixels must have {IMAGE_CHANNELS} channels, got {c}");
        }
        if inputs.mask.dims4()? != (b, 1, h, w) {
            candle_core::bail!("ddim: mask shape {:?}, expected ({b}, 1, {h}, {w})", inputs.mask.dims());
        }
        if inputs.layout.dims4()? != (b, c, h, w) {
            candle_core::bail!("ddim: layout shape {:?}, expected ({b}, {c}, {h}, {w})", inputs.layout.dims());
        }
        let dev = known.device().clone();
        // Binary mask as f32 (for the model and blending) and u8 (for the exact composite).
        let keep = inputs.mask.ge(0.5)?;
        let mask = keep.to_dtype(DType::F32)?;
        let keep3 = keep.broadcast_as((b, c, h, w))?.contiguous()?;
        let layout = inputs.layout.to_dtype(DType::F32)?;
        let cond = inputs.cond.map(|t| t.to_dtype(DType::F32)).transpose()?;

        let mut rng = NoiseRng::new(seed);
        let t0 = self.timesteps[0];
        // x_T, with the known pixels forward-noised to level t0.
        let mut x = rng.randn((b, c, h, w), &dev)?;
        let kn = self.schedule.add_noise(&known, &rng.randn((b, c, h, w), &dev)?, t0)?;
        x = keep3.where_cond(&kn, &x)?;

        for (i, &t) in self.timesteps.iter().enumerate() {
            let a_t = self.schedule.alpha_bar(t);
            let a_prev = match self.timesteps.get(i + 1) {
                Some(&tp) => self.schedule.alpha_bar(tp),
                None => 1.0,
            };
            let tt = Tensor::full(t as f32, b, &dev)?;
            let input = assemble_input(&x, &known, &mask, &layout)?;
            let eps = model.forward(&input, &tt, cond.as_ref())?;
            // x̂₀ = (x_t − √(1−ᾱ_t) ε̂) / √ᾱ_t
            let mut x0 = ((&x - (&eps * (1.0 - a_t).sqrt())?)? * (1.0 / a_t.sqrt()))?;
            if self.cfg.clip_x0 {
                x0 = x0.clamp(-1f32, 1f32)?;
            }
            // σ_t (0 for η = 0)
            let sigma = self.cfg.eta * ((1.0 - a_prev) / (1.0 - a_t) * (1.0 - a_t / a_prev)).max(0.0).sqrt();
            let dir = (1.0 - a_prev - sigma * sigma).max(0.0).sqrt();
            let mut next = ((&x0 * a_prev.sqrt())? + (&eps * dir)?)?;
            if sigma > 0.0 {
                next = (next + (rng.randn((b, c, h, w), &dev)? * sigma)?)?;
            }
            // RePaint replacement: known pixels at the next noise level.
            let kn = if a_prev >= 1.0 {
                known.clone()
            } else {
                let z = rng.randn((b, c, h, w), &dev)?;
                ((&known * a_prev.sqrt())? + (z * (1.0 - a_prev).sqrt())?)?
            };
            x = keep3.where_cond(&kn, &next)?;
        }
        // Final composite: known pixels exactly, generated ones clamped to the image range.
        keep3.where_cond(&known, &x.clamp(-1f32, 1f32)?)
    }
}
