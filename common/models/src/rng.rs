//! Seeded Gaussian noise that is identical across runs, platforms and candle versions.
//!
//! candle's CPU `randn` draws from the thread RNG and `Device::set_seed` is not supported
//! on the CPU, so sampling noise comes from SplitMix64 + Box–Muller here instead.

use candle_core::{Device, Result, Shape, Tensor};

/// SplitMix64 generator with a Box–Muller normal transform.
#[derive(Debug, Clone)]
pub struct NoiseRng {
    state: u64,
    spare: Option<f64>,
}

impl NoiseRng {
    pub fn new(seed: u64) -> Self {
        Self { state: seed, spare: None }
    }

    /// Next 64 random bits (SplitMix64).
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in the open interval (0, 1).
    pub fn next_open01(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64)
    }

    /// Standard normal sample.
    pub fn next_normal(&mut self) -> f64 {
        if let Some(s) = self.spare.take() {
            return s;
        }
        let u1 = self.next_open01();
        let u2 = self.next_open01();
        let r = (-2.0 * u1.ln()).sqrt();
        let th = std::f64::consts::TAU * u2;
        self.spare = Some(r * th.sin());
        r * th.cos()
    }

    /// An f32 tensor of standard normal samples.
    pub fn randn<S: Into<Shape>>(&mut self, shape: S, device: &Device) -> Result<Tensor> {
        let shape = shape.into();
        let v: Vec<f32> = (0..shape.elem_count()).map(|_| self.next_normal() as f32).collect();
        Tensor::from_vec(v, shape, device)
    }
}
