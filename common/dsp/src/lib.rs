//! Small numeric pieces shared by the PHY, the codec, the metrics and the models, kept
//! free of any semcom dependency so every crate can use them.
//!
//! * [`rng`]: SplitMix64 and Box–Muller normals: seeded streams that never change with a
//!   dependency version.
//! * [`fft`]: the 2-D FFT of a row-major buffer over rustfft.

pub mod fft;
pub mod rng;
