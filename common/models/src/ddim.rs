//! Few-step DDIM sampling (Song et al. 2021) of the UNet's residual, with v-prediction
//! (Salimans & Ho 2022): `v = √ᾱ·ε − √(1−ᾱ)·x₀`, so `x̂₀ = √ᾱ·x_t − √(1−ᾱ)·v̂` and
//! `ε̂ = √(1−ᾱ)·x_t + √ᾱ·v̂`, both well conditioned even at the first, almost pure-noise
//! step that "trailing" spacing starts from.
//!
//! The key regions need no inpainting constraint here: the model sees the analog
//! estimate and the key mask, and the generator composites key pixels from the analog
//! estimate afterwards. All randomness comes from [`NoiseRng`] seeded by the caller:
//! equal seeds give bit-identical outputs; η = 0 makes the reverse process deterministic.

use candle_core::{DType, Result, Tensor};
use serde::{Deserialize, Serialize};

use crate::rng::NoiseRng;
use crate::schedule::NoiseSchedule;
use crate::unet::{Conditioning, UNet};

/// Sampler settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DdimConfig {
    /// Number of denoising steps (the inference target is ≤ 10).
    pub steps: usize,
    /// DDIM η: 0 = deterministic reverse process (the default), 1 ≈ DDPM.
    pub eta: f64,
    /// Clamp the predicted x̂₀ to ±`clip_x0` at every step (0 = no clamp).
    pub clip_x0: f64,
    /// Where sampling starts, as a fraction of the training timesteps: 1 = from pure
    /// noise; below 1, from a guide noised to timestep `start·T` (SDEdit, Meng et al.
    /// 2022), so the model refines the guide instead of inventing from scratch.
    pub start: f64,
}

impl Default for DdimConfig {
    /// 8 steps, η = 0, x̂₀ clamped to ±12 (twice the largest residual at scale 6).
    fn default() -> Self {
        Self { steps: 8, eta: 0.0, clip_x0: 12.0, start: 1.0 }
    }
}

/// DDIM sampler over a fixed subsequence of the training timesteps.
#[derive(Debug, Clone)]
pub struct DdimSampler {
    schedule: NoiseSchedule,
    cfg: DdimConfig,
    timesteps: Vec<usize>,
}

impl DdimSampler {
    /// Chooses `steps` timesteps with "trailing" spacing (Lin et al. 2024) over the first
    /// `start·T` training timesteps: with `start = 1` the first step is the last training
    /// timestep, so sampling starts from (almost) pure noise.
    pub fn new(schedule: &NoiseSchedule, cfg: &DdimConfig) -> Result<Self> {
        let total = schedule.num_train_timesteps();
        if !(cfg.start > 0.0 && cfg.start <= 1.0) {
            candle_core::bail!("ddim: start must be in (0, 1], got {}", cfg.start);
        }
        let n = ((cfg.start * total as f64).round() as usize).clamp(1, total);
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

    /// Samples the residual `(B, 3·p², h, w)` given the conditioning (shapes as in
    /// [`UNet::forward`]), from pure noise. Errors when the sampler starts below
    /// `T` (it then needs a guide: [`Self::sample_from`]).
    pub fn sample(&self, model: &UNet, cond: &Conditioning<'_>, seed: u64) -> Result<Tensor> {
        self.sample_from(model, cond, seed, None)
    }

    /// Whether sampling starts from a noised guide (`start < 1`).
    pub fn needs_guide(&self) -> bool {
        self.cfg.start < 1.0
    }

    /// [`Self::sample`], starting from `guide` (a residual of the sampled shape) noised to
    /// the first timestep when the sampler starts below `T`; `guide` is ignored otherwise.
    pub fn sample_from(
        &self,
        model: &UNet,
        cond: &Conditioning<'_>,
        seed: u64,
        guide: Option<&Tensor>,
    ) -> Result<Tensor> {
        let shape = cond.analog.dims4()?;
        let (b, ..) = shape;
        let dev = cond.analog.device().clone();
        let mut rng = NoiseRng::new(seed);
        let mut x = rng.randn(shape, &dev)?;
        if self.needs_guide() {
            let Some(g) = guide else {
                candle_core::bail!("ddim: a sampler starting at {} of T needs a guide", self.cfg.start);
            };
            if g.dims4()? != shape {
                candle_core::bail!("ddim: guide is {:?}, the sample {shape:?}", g.dims());
            }
            // x_t0 = √ᾱ·guide + √(1−ᾱ)·ε
            let a0 = self.schedule.alpha_bar(self.timesteps[0]);
            x = ((g * a0.sqrt())? + (x * (1.0 - a0).sqrt())?)?;
        }
        for (i, &t) in self.timesteps.iter().enumerate() {
            let a_t = self.schedule.alpha_bar(t);
            let a_prev = match self.timesteps.get(i + 1) {
                Some(&tp) => self.schedule.alpha_bar(tp),
                None => 1.0,
            };
            let tt = Tensor::full(t as f32, b, &dev)?;
            let v = model.forward(&x, &tt, cond)?;
            let mut x0 = ((&x * a_t.sqrt())? - (&v * (1.0 - a_t).sqrt())?)?;
            if self.cfg.clip_x0 > 0.0 {
                x0 = x0.clamp(-self.cfg.clip_x0 as f32, self.cfg.clip_x0 as f32)?;
            }
            // ε̂ from the (clamped) x̂₀ keeps the step consistent: x_t = √ᾱ x̂₀ + √(1−ᾱ) ε̂.
            let eps = ((&x - (&x0 * a_t.sqrt())?)? * (1.0 / (1.0 - a_t).max(1e-12).sqrt()))?;
            if a_prev >= 1.0 {
                x = x0;
                break;
            }
            // σ_t (0 for η = 0)
            let sigma = self.cfg.eta * ((1.0 - a_prev) / (1.0 - a_t) * (1.0 - a_t / a_prev)).max(0.0).sqrt();
            let dir = (1.0 - a_prev - sigma * sigma).max(0.0).sqrt();
            x = ((&x0 * a_prev.sqrt())? + (&eps * dir)?)?;
            if sigma > 0.0 {
                x = (x + (rng.randn(shape, &dev)? * sigma)?)?;
            }
        }
        x.to_dtype(DType::F32)
    }
}
