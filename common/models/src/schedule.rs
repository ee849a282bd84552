//! Noise schedules: β_t and the cumulative ᾱ_t = ∏_{s≤t} (1 − β_s).
//!
//! Timesteps are indexed `0..num_train_timesteps`; step `t` has noise level
//! `x_t = √ᾱ_t · x_0 + √(1 − ᾱ_t) · ε`. ᾱ is strictly decreasing and lies in (0, 1].

use candle_core::{Result, Tensor};
use serde::{Deserialize, Serialize};

/// Shape of the β schedule.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleKind {
    /// Nichol & Dhariwal (2021): ᾱ(t) = f(t)/f(0), f(t) = cos²((t/T + s)/(1 + s) · π/2),
    /// s = 0.008, β clipped to `max_beta`.
    Cosine,
    /// DDPM's linear β from `beta_start` to `beta_end`.
    Linear,
}

/// Configuration of the training/sampling noise schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ScheduleConfig {
    pub kind: ScheduleKind,
    pub num_train_timesteps: usize,
    /// Linear schedule only.
    pub beta_start: f64,
    /// Linear schedule only.
    pub beta_end: f64,
    /// Cosine schedule: upper clip of β (keeps ᾱ of the last step strictly positive).
    pub max_beta: f64,
}

impl Default for ScheduleConfig {
    /// Cosine schedule over 1000 training timesteps, β ≤ 0.999.
    fn default() -> Self {
        Self {
            kind: ScheduleKind::Cosine,
            num_train_timesteps: 1000,
            beta_start: 1e-4,
            beta_end: 0.02,
            max_beta: 0.999,
        }
    }
}

/// A computed schedule.
#[derive(Debug, Clone)]
pub struct NoiseSchedule {
    cfg: ScheduleConfig,
    betas: Vec<f64>,
    alphas_cumprod: Vec<f64>,
}

impl NoiseSchedule {
    pub fn new(cfg: &ScheduleConfig) -> Result<Self> {
        let n = cfg.num_train_timesteps;
        if n < 2 {
            candle_core::bail!("schedule: at least 2 training timesteps");
        }
        let betas: Vec<f64> = match cfg.kind {
            ScheduleKind::Cosine => {
                if !(cfg.max_beta > 0.0 && cfg.max_beta < 1.0) {
                    candle_core::bail!("schedule: max_beta must be in (0, 1)");
                }
                let s = 0.008;
                let f = |t: f64| (((t / n as f64) + s) / (1.0 + s) * std::f64::consts::FRAC_PI_2).cos().powi(2);
                (0..n).map(|i| (1.0 - f(i as f64 + 1.0) / f(i as f64)).clamp(1e-8, cfg.max_beta)).collect()
            }
            ScheduleKind::Linear => {
                if !(cfg.beta_start > 0.0 && cfg.beta_start <= cfg.beta_end && cfg.beta_end < 1.0) {
                    candle_core::bail!("schedule: need 0 < beta_start <= beta_end < 1");
                }
                (0..n).map(|i| cfg.beta_start + (cfg.beta_end - cfg.beta_start) * i as f64 / (n - 1) as f64).collect()
            }
        };
        let mut acc = 1.0;
        let alphas_cumprod = betas
            .iter()
            .map(|b| {
                acc *= 1.0 - b;
                acc
            })
            .collect();
        Ok(Self { cfg: cfg.clone(), betas, alphas_cumprod })
    }

    pub fn config(&self) -> &ScheduleConfig {
        &self.cfg
    }

    pub fn num_train_timesteps(&self) -> usize {
        self.betas.len()
    }

    pub fn betas(&self) -> &[f64] {
        &self.betas
    }

    pub fn alphas_cumprod(&self) -> &[f64] {
        &self.alphas_cumprod
    }

    /// ᾱ_t.
    pub fn alpha_bar(&self, t: usize) -> f64 {
        self.alphas_cumprod[t]
    }

    /// Forward diffusion q(x_t | x_0) for one timestep shared by the batch:
    /// `√ᾱ_t · x0 + √(1 − ᾱ_t) · noise`.
    pub fn add_noise(&self, x0: &Tensor, noise: &Tensor, t: usize) -> Result<Tensor> {
        let a = self.alpha_bar(t);
        (x0 * a.sqrt())? + (noise * (1.0 - a).sqrt())?
    }

    /// Forward diffusion with a timestep per batch element (training):
    /// `x0`, `noise`: `(B, C, H, W)`, `t`: one timestep per image.
    pub fn add_noise_batch(&self, x0: &Tensor, noise: &Tensor, t: &[usize]) -> Result<Tensor> {
        let b = x0.dim(0)?;
        if t.len() != b {
            candle_core::bail!("schedule: {b} images but {} timesteps", t.len());
        }
        let sa: Vec<f32> = t.iter().map(|&t| self.alpha_bar(t).sqrt() as f32).collect();
        let sn: Vec<f32> = t.iter().map(|&t| (1.0 - self.alpha_bar(t)).sqrt() as f32).collect();
        let sa = Tensor::from_vec(sa, (b, 1, 1, 1), x0.device())?;
        let sn = Tensor::from_vec(sn, (b, 1, 1, 1), x0.device())?;
        x0.broadcast_mul(&sa)? + noise.broadcast_mul(&sn)?
    }
}
