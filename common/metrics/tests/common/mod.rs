//! Helpers shared by the metrics test files.
#![allow(dead_code)]

use image::RgbImage;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A bundled sample image (repository `samples/`).
pub fn sample(name: &str) -> RgbImage {
    let path = format!("{}/../../samples/{name}", env!("CARGO_MANIFEST_DIR"));
    image::open(&path).expect("sample image").to_rgb8()
}

/// Adds i.i.d. N(0, sigma²) noise per sample, rounded and clamped to 0..=255.
pub fn noisy(img: &RgbImage, sigma: f64, seed: u64) -> RgbImage {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = img.clone();
    for v in out.iter_mut() {
        let n: f64 = rng.sample(rand_distr::StandardNormal);
        *v = (*v as f64 + sigma * n).round().clamp(0.0, 255.0) as u8;
    }
    out
}
