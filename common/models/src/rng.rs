//! Seeded Gaussian noise that is identical across runs, platforms and candle versions.
//!
//! candle's CPU `randn` draws from the thread RNG and `Device::set_seed` is not supported
//! on the CPU, so sampling noise comes from [`semcom_dsp::rng::SplitMix64`] here instead.

use std::ops::{Deref, DerefMut};

use candle_core::{Device, Result, Shape, Tensor};
use semcom_dsp::rng::SplitMix64;

/// The shared SplitMix64 stream (its methods through `Deref`: `next_u64`, `next_open01`,
/// `next_normal`, …) plus tensor sampling.
#[derive(Debug, Clone)]
pub struct NoiseRng(SplitMix64);

impl NoiseRng {
    pub fn new(seed: u64) -> Self {
        Self(SplitMix64::new(seed))
    }

    /// An f32 tensor of standard normal samples ([`SplitMix64::next_normal`]).
    pub fn randn<S: Into<Shape>>(&mut self, shape: S, device: &Device) -> Result<Tensor> {
        let shape = shape.into();
        let v: Vec<f32> = (0..shape.elem_count()).map(|_| self.0.next_normal() as f32).collect();
        Tensor::from_vec(v, shape, device)
    }
}

impl Deref for NoiseRng {
    type Target = SplitMix64;

    fn deref(&self) -> &SplitMix64 {
        &self.0
    }
}

impl DerefMut for NoiseRng {
    fn deref_mut(&mut self) -> &mut SplitMix64 {
        &mut self.0
    }
}
