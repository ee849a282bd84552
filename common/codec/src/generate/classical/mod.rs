//! Model-free regeneration: base layer or colour layout, texture synthesised from the
//! prompt's statistics, seam blending (docs/architecture.md §3 "Regeneration", backend 3).
//!
//! Per non-key pixel the output is `base + ramp · strength · texture`:
//! * **base**: the analog planes when `analog_valid` (they already hold the coarse
//!   low-pass there), else the prompt's colour layout ([`render_colour_layout`]);
//! * **texture** (luma only): per segment, seeded Gaussian noise shaped in the 2-D
//!   frequency domain into 12 disjoint components, one per texture scale (radial band)
//!   × orientation (45° angular sector). The gradient energy each component produces
//!   is *measured* with the describe formula on the segment (ramp included), and a
//!   non-negative least-squares fit chooses the component powers so that base + texture
//!   reaches the quantised targets (the base's own energy is subtracted first, so low
//!   frequencies the base already carries are not counted twice). Reduced detail's 4
//!   pooled energies hold at every scale; Minimal detail (no energies) gets an isotropic
//!   texture, equal variance per scale, whose variance tops the base's up to `luma_std²`.
//!   With a detail map (Full detail) the texture's amplitude is then redistributed over
//!   the segment, `√(E_cell / Ē)` per map cell, so it sits where the sender measured
//!   detail and the segment's total energy is unchanged;
//! * **ramp**: `min(1, d / seam_width)`, `d` the chamfer distance (px) to the nearest key
//!   pixel, so synthesised detail fades in from the seam instead of starting at a step.
//!
//! Key pixels are copied from `analog` unchanged. The noise of segment `s` is seeded from
//! `(seed, s)`, so the output is a pure function of the input.
//!
//! Code: `layout` (segment layout, colour-layout rendering, fill of unclaimed blocks),
//! `texture` (noise shaping and the energy fit), `seam` (the ramp).

mod layout;
mod seam;
mod texture;

use image::RgbImage;
use rustfft::FftPlanner;
use semcom_dsp::rng::SplitMix64;

use super::{GenerateError, Generator, GeneratorInput};
use crate::color::{ycbcr_to_rgb, Planes};
use layout::{render_layout, Layout};
use seam::seam_ramp;
use texture::add_texture;

pub use layout::render_colour_layout;

/// Mid-grey on the 0–255 YCbCr scale (neutral luma, zero chroma).
const GREY: [f32; 3] = [128.0, 128.0, 128.0];
/// Marks a block / frequency bin that belongs to no segment / component.
const NONE: u32 = u32::MAX;

/// The model-free baseline generator.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClassicalFill {
    /// Texture amplitude multiplier: 1 matches the prompt's statistics, 0 gives the bare
    /// base. Non-finite or ≤ 0 disables the texture.
    pub texture_strength: f32,
    /// Width (px) of the ramp over which the texture fades in from key pixels; 0 = none.
    pub seam_width: u32,
}

impl Default for ClassicalFill {
    /// `texture_strength = 0.5`: half the amplitude (a quarter of the energy) the
    /// statistics ask for. Synthesised texture is uncorrelated with the truth, so every
    /// bit of it costs fidelity; measured on the sample photos at ρ = 1/32, 20 dB, full
    /// strength cost 0.06 whole-image MS-SSIM against 0.02 at half strength
    /// (`examples/semantic_vs_softcast.rs`) — half keeps visible texture within the
    /// fidelity budget. `seam_width = 4` px: a quarter of the usual 16-px block,
    /// wide enough to hide the detail step between decoded key texture and synthesised
    /// texture, narrow enough that the smallest segment (4 blocks) stays mostly at full
    /// strength.
    fn default() -> Self {
        Self { texture_strength: 0.5, seam_width: 4 }
    }
}

impl Generator for ClassicalFill {
    fn name(&self) -> &str {
        "classical"
    }

    fn generate(&self, input: &GeneratorInput<'_>) -> Result<RgbImage, GenerateError> {
        check_input(input)?;
        let layout = Layout::of(input.prompt)?;
        let analog = input.analog;
        let (w, h) = (layout.width, layout.height);
        let key: Vec<bool> = (0..w * h).map(|i| input.key.is_key_pixel((i % w) as u32, (i / w) as u32)).collect();

        let mut out = if input.analog_valid {
            let clean = |v: &[f32]| v.iter().map(|&x| if x.is_finite() { x } else { 128.0 }).collect();
            Planes {
                width: analog.width,
                height: analog.height,
                y: clean(&analog.y),
                cb: clean(&analog.cb),
                cr: clean(&analog.cr),
            }
        } else {
            render_layout(input.prompt, &layout)
        };

        if self.texture_strength.is_finite() && self.texture_strength > 0.0 {
            let ramp = seam_ramp(&key, w, h, self.seam_width);
            let mut planner = FftPlanner::new();
            for (s, seg) in input.prompt.segments.iter().enumerate() {
                if let Some(t) = &seg.texture {
                    let seed =
                        SplitMix64::new(input.seed ^ (s as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03)).next_u64();
                    add_texture(&mut out.y, &layout, s, t, &ramp, self.texture_strength, seed, &mut planner);
                }
            }
        }

        for (i, _) in key.iter().enumerate().filter(|(_, &k)| k) {
            out.y[i] = analog.y[i];
            out.cb[i] = analog.cb[i];
            out.cr[i] = analog.cr[i];
        }
        Ok(ycbcr_to_rgb(&out))
    }
}

fn input_err(msg: String) -> GenerateError {
    GenerateError::Input(msg)
}

/// Sizes: analog planes = prompt size, plane lengths = width · height, key grid =
/// ⌈size / block⌉ blocks (the [`crate::segment::ImportanceMap`] convention).
fn check_input(input: &GeneratorInput<'_>) -> Result<(), GenerateError> {
    let (a, p, k) = (input.analog, input.prompt, input.key);
    if (a.width, a.height) != (p.width, p.height) {
        return Err(input_err(format!(
            "analog planes are {}x{} but the prompt describes {}x{}",
            a.width, a.height, p.width, p.height
        )));
    }
    let n = (a.width as usize).checked_mul(a.height as usize).ok_or_else(|| input_err("image too large".into()))?;
    if a.y.len() != n || a.cb.len() != n || a.cr.len() != n {
        return Err(input_err(format!(
            "analog plane lengths {}/{}/{} for {}x{} pixels",
            a.y.len(),
            a.cb.len(),
            a.cr.len(),
            a.width,
            a.height
        )));
    }
    let b = k.block().max(1);
    if (k.width_blocks(), k.height_blocks()) != (a.width.div_ceil(b), a.height.div_ceil(b)) {
        return Err(input_err(format!(
            "key mask of {}x{} blocks of {b} px does not cover a {}x{} image",
            k.width_blocks(),
            k.height_blocks(),
            a.width,
            a.height
        )));
    }
    Ok(())
}

#[cfg(test)]
mod test_util;

#[cfg(test)]
mod tests {
    use super::test_util::*;
    use super::*;
    use crate::color::rgb_to_ycbcr;
    use crate::prompt::{describe, non_key_of, PromptDetail, StructuredPrompt};
    use crate::segment::BlockMask;

    /// A generator input without the seed: analog planes, key mask, prompt.
    struct Scene {
        analog: Planes,
        key: BlockMask,
        prompt: StructuredPrompt,
    }

    /// 96×64 noisy analog frame, key = block columns 2–3; prompt of that frame.
    fn key_scene() -> Scene {
        let (w, h) = (96u32, 64u32);
        let (a, b, c) = (noise(96 * 64, 1), noise(96 * 64, 2), noise(96 * 64, 3));
        let analog = planes(w, h, |x, y| {
            let i = (y * w + x) as usize;
            [128.0 + 40.0 * a[i], 128.0 + 15.0 * b[i], 128.0 + 15.0 * c[i]]
        });
        let key = key_mask(w, h, |bx, _| bx == 2 || bx == 3);
        let prompt = describe(&ycbcr_to_rgb(&analog), &non_key_of(&key), PromptDetail::Full);
        Scene { analog, key, prompt }
    }

    #[test]
    fn key_pixels_come_from_analog_exactly() {
        let Scene { analog, key, prompt } = key_scene();
        let reference = ycbcr_to_rgb(&analog);
        for valid in [true, false] {
            let out = run(&ClassicalFill::default(), &analog, valid, &key, &prompt, 7);
            let mut changed = 0;
            for (x, y, p) in out.enumerate_pixels() {
                if key.is_key_pixel(x, y) {
                    assert_eq!(p, reference.get_pixel(x, y), "valid={valid} ({x},{y})");
                } else {
                    changed += (p != reference.get_pixel(x, y)) as usize;
                }
            }
            assert!(changed > 1000, "valid={valid}: only {changed} non-key pixels differ");
        }
    }
    #[test]
    fn zero_strength_gives_exactly_the_base() {
        let Scene { analog, key, prompt } = key_scene();
        let g = ClassicalFill { texture_strength: 0.0, ..Default::default() };
        assert_eq!(run(&g, &analog, true, &key, &prompt, 3), ycbcr_to_rgb(&analog));
        let mut base = render_colour_layout(&prompt).unwrap();
        for y in 0..analog.height {
            for x in 0..analog.width {
                if key.is_key_pixel(x, y) {
                    let i = (y * analog.width + x) as usize;
                    (base.y[i], base.cb[i], base.cr[i]) = (analog.y[i], analog.cb[i], analog.cr[i]);
                }
            }
        }
        assert_eq!(run(&g, &analog, false, &key, &prompt, 3), ycbcr_to_rgb(&base));
    }
    #[test]
    fn same_seed_same_image_other_seed_other_texture() {
        let Scene { analog, key, prompt } = key_scene();
        let g = ClassicalFill::default();
        let a = run(&g, &analog, false, &key, &prompt, 11);
        assert_eq!(a, run(&g, &analog, false, &key, &prompt, 11));
        let b = run(&g, &analog, false, &key, &prompt, 12);
        let differ =
            a.enumerate_pixels().filter(|(x, y, p)| !key.is_key_pixel(*x, *y) && *p != b.get_pixel(*x, *y)).count();
        assert!(differ > 1000, "{differ}");
        assert!(a.enumerate_pixels().all(|(x, y, p)| !key.is_key_pixel(x, y) || p == b.get_pixel(x, y)));
    }
    #[test]
    fn inconsistent_input_is_an_input_error() {
        let Scene { analog, key, prompt } = key_scene();
        let g = ClassicalFill::default();
        let check = |analog: &Planes, key: &BlockMask, prompt: &StructuredPrompt, what: &str| {
            let r = g.generate(&GeneratorInput { analog, analog_valid: true, key, prompt, seed: 0 });
            match r {
                Err(GenerateError::Input(msg)) => eprintln!("{what}: {msg}"),
                other => panic!("{what}: {other:?}"),
            }
        };
        // Planes of another size than the prompt.
        let small = planes(64, 64, |_, _| GREY);
        check(&small, &key_mask(64, 64, |_, _| false), &prompt, "size");
        // Plane vector too short.
        let mut short = analog.clone();
        short.cr.pop();
        check(&short, &key, &prompt, "length");
        // Key grid not covering the image (5 instead of 6 block columns).
        let narrow = BlockMask::new(5, 4, 16, vec![false; 20]).unwrap();
        check(&analog, &narrow, &prompt, "grid");
        // Prompt size ≠ planes, and a corrupt prompt.
        let mut other = prompt.clone();
        other.width = 80;
        check(&analog, &key, &other, "prompt size");
        let mut broken = prompt.clone();
        broken.segments[0].geometry = vec![0xff, 0xff];
        check(&analog, &key, &broken, "geometry");
        assert!(matches!(render_colour_layout(&broken), Err(GenerateError::Input(_))));
    }
    #[test]
    fn sample_photos_smoke() {
        use crate::segment::{importance_map, key_mask as mask_of, ImportanceConfig};
        for name in ["astronaut.png", "coffee.png"] {
            let img = image::open(format!("{}/../../samples/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap().to_rgb8();
            let key = mask_of(&importance_map(&img, &ImportanceConfig::default()).unwrap(), &[], 0.25);
            let prompt = describe(&img, &non_key_of(&key), PromptDetail::Full);
            // Crude base layer: block means off key.
            let truth = rgb_to_ycbcr(&img);
            let (w, h) = img.dimensions();
            let mut analog = truth.clone();
            for by in 0..h.div_ceil(B) {
                for bx in 0..w.div_ceil(B) {
                    if key.get(bx, by) == Some(true) {
                        continue;
                    }
                    let px: Vec<usize> = (by * B..((by + 1) * B).min(h))
                        .flat_map(|y| (bx * B..((bx + 1) * B).min(w)).map(move |x| (y * w + x) as usize))
                        .collect();
                    for ch in [&mut analog.y, &mut analog.cb, &mut analog.cr] {
                        let m = px.iter().map(|&i| ch[i]).sum::<f32>() / px.len() as f32;
                        px.iter().for_each(|&i| ch[i] = m);
                    }
                }
            }
            let reference = ycbcr_to_rgb(&truth);
            for valid in [true, false] {
                let out = run(&ClassicalFill::default(), &analog, valid, &key, &prompt, 1);
                assert_eq!(out.dimensions(), img.dimensions());
                let y = rgb_to_ycbcr(&out).y;
                let nk: Vec<usize> = (0..y.len()).filter(|&i| !key.is_key_pixel(i as u32 % w, i as u32 / w)).collect();
                let p = psnr(
                    &nk.iter().map(|&i| y[i]).collect::<Vec<_>>(),
                    &nk.iter().map(|&i| truth.y[i]).collect::<Vec<_>>(),
                );
                eprintln!("{name} valid={valid}: non-key luma PSNR {p:.1} dB");
                assert!(p > 12.0, "{name}: {p}");
                assert!(out
                    .enumerate_pixels()
                    .all(|(x, y, px)| !key.is_key_pixel(x, y) || px == reference.get_pixel(x, y)));
            }
        }
    }
}
