//! Test pictures and helpers of the classical generator's tests.

use image::RgbImage;
use semcom_dsp::rng::SplitMix64;

use super::ClassicalFill;
use crate::color::{ycbcr_to_rgb, Planes};
use crate::generate::{Generator, GeneratorInput};
use crate::prompt::StructuredPrompt;
use crate::segment::BlockMask;

/// Block side of the test masks.
pub(super) const B: u32 = 16;

/// Key mask on the `⌈w/16⌉ × ⌈h/16⌉` grid, `key(bx, by)` = key block.
pub(super) fn key_mask(w: u32, h: u32, key: impl Fn(u32, u32) -> bool) -> BlockMask {
    let (wb, hb) = (w.div_ceil(B), h.div_ceil(B));
    BlockMask::new(wb, hb, B, (0..wb * hb).map(|i| key(i % wb, i / wb)).collect()).unwrap()
}
pub(super) fn planes(w: u32, h: u32, f: impl Fn(u32, u32) -> [f32; 3]) -> Planes {
    let mut p = Planes { width: w, height: h, y: vec![], cb: vec![], cr: vec![] };
    for y in 0..h {
        for x in 0..w {
            let [a, b, c] = f(x, y);
            p.y.push(a);
            p.cb.push(b);
            p.cr.push(c);
        }
    }
    p
}
pub(super) fn noise(n: usize, seed: u64) -> Vec<f32> {
    let mut r = SplitMix64::new(seed);
    (0..n).map(|_| r.gaussian_pair().0 as f32).collect()
}
/// Grey texture around Y = 128: horizontal streaks (9-px box blur along x, so the
/// gradient is mostly vertical) plus isotropic 3×3-blurred grain; std ≈ 15 + 7.
pub(super) fn textured(w: u32, h: u32, seed: u64) -> RgbImage {
    let (wu, hu) = (w as usize, h as usize);
    let (a, b) = (noise(wu * hu, seed), noise(wu * hu, seed ^ 0xABCD));
    let at =
        |v: &[f32], x: i64, y: i64| v[(y.clamp(0, hu as i64 - 1) as usize) * wu + x.clamp(0, wu as i64 - 1) as usize];
    let p = planes(w, h, |x, y| {
        let (x, y) = (x as i64, y as i64);
        let streak: f32 = (-4..=4).map(|d| at(&a, x + d, y)).sum::<f32>() / 9.0;
        let grain: f32 = (-1..=1)
            .flat_map(|dy| (-1..=1).map(move |dx| (dx, dy)))
            .map(|(dx, dy)| at(&b, x + dx, y + dy))
            .sum::<f32>()
            / 9.0;
        [128.0 + 45.0 * streak + 20.0 * grain, 128.0, 128.0]
    });
    ycbcr_to_rgb(&p)
}
pub(super) fn run(
    g: &ClassicalFill,
    analog: &Planes,
    valid: bool,
    key: &BlockMask,
    prompt: &StructuredPrompt,
    seed: u64,
) -> RgbImage {
    g.generate(&GeneratorInput { analog, analog_valid: valid, key, prompt, seed }).unwrap()
}
pub(super) fn psnr(a: &[f32], b: &[f32]) -> f64 {
    let mse = a.iter().zip(b).map(|(x, y)| ((x - y) as f64).powi(2)).sum::<f64>() / a.len() as f64;
    10.0 * (255.0f64 * 255.0 / mse.max(1e-12)).log10()
}
