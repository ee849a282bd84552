//! Texture synthesis: seeded noise shaped into scale × orientation components whose
//! powers are fitted to the prompt's texture statistics.

use rustfft::num_complex::Complex32;
use rustfft::FftPlanner;
use semcom_dsp::fft::fft2;
use semcom_dsp::rng::SplitMix64;

use super::layout::Layout;
use super::NONE;
use crate::prompt::{detail_map, gradient_energy, TextureStats, ENERGY_PER_OCTAVE, ORIENTATIONS, SCALES};

/// Texture components: scales × orientations.
const COMPONENTS: usize = SCALES * ORIENTATIONS;
/// Crops are aligned to the coarsest texture scale so the box pyramid groups the same
/// pixels as [`crate::prompt::describe`]'s full-frame pyramid.
const ALIGN: usize = 1 << (SCALES - 1);
/// Lowest synthesised frequency (cycles/px): period 32 px. Lower frequencies belong to
/// the base (colour layout cells are ≥ 8 px, the analog base layer is a low-pass).
const F_MIN: f32 = 1.0 / 32.0;

/// What the texture of one segment must reach.
enum Target {
    /// Gradient energy per (scale, orientation), dequantised.
    Energy([f64; COMPONENTS]),
    /// Luma variance (Minimal detail: only `luma_std` is known).
    Variance(f64),
}

impl Target {
    /// Dequantises: `e = 2^(q / ENERGY_PER_OCTAVE) − 1` (inverse of describe's
    /// `round(ENERGY_PER_OCTAVE · log2(1 + e))`); Reduced detail's 4 pooled values hold
    /// at every scale (they are the mean of the per-scale quantised values).
    fn of(t: &TextureStats) -> Self {
        let deq = |q: u32| 2f64.powf(q as f64 / ENERGY_PER_OCTAVE as f64) - 1.0;
        match t.energy.len() {
            COMPONENTS => Target::Energy(std::array::from_fn(|i| deq(t.energy[i]))),
            ORIENTATIONS => Target::Energy(std::array::from_fn(|i| deq(t.energy[i % ORIENTATIONS]))),
            _ => Target::Variance((t.luma_std as f64).powi(2)),
        }
    }
}

/// Adds segment `s`'s texture to `luma` (full frame, `height × width`).
#[allow(clippy::too_many_arguments)]
pub(super) fn add_texture(
    luma: &mut [f32],
    layout: &Layout,
    s: usize,
    stats: &TextureStats,
    ramp: &[f32],
    strength: f32,
    seed: u64,
    planner: &mut FftPlanner<f32>,
) {
    let (w, h) = (layout.width, layout.height);
    // Crop: the segment's bbox widened to the pyramid alignment (same pixel groups as describe).
    let [bx0, by0, bx1, by1] = layout.bbox[s];
    let (x0, y0) = (bx0 / ALIGN * ALIGN, by0 / ALIGN * ALIGN);
    let (x1, y1) = ((bx1.div_ceil(ALIGN) * ALIGN).min(w), (by1.div_ceil(ALIGN) * ALIGN).min(h));
    let (cw, ch) = (x1 - x0, y1 - y0);
    if cw == 0 || ch == 0 {
        return;
    }
    let n = cw * ch;
    let mut inside = vec![false; n];
    let mut weight = vec![0f32; n];
    let mut base = vec![0f32; n];
    for y in 0..ch {
        for x in 0..cw {
            let (i, g) = (y * cw + x, (y0 + y) * w + x0 + x);
            inside[i] = layout.label_at(x0 + x, y0 + y) == s as u32;
            weight[i] = if inside[i] { ramp[g] } else { 0.0 };
            base[i] = luma[g];
        }
    }
    if !weight.iter().any(|&v| v > 0.0) {
        return;
    }

    // White noise → spectrum; every bin belongs to at most one component.
    let mut rng = SplitMix64::new(seed);
    let mut spec: Vec<Complex32> = Vec::with_capacity(n + 1);
    while spec.len() < n {
        let (a, b) = rng.gaussian_pair();
        spec.push(Complex32::new(a as f32, 0.0));
        spec.push(Complex32::new(b as f32, 0.0));
    }
    spec.truncate(n);
    fft2(planner, &mut spec, cw, ch, false);
    let comp = components(cw, ch);

    // Field of the bins whose component has a non-zero gain, weighted by the ramp.
    let mut buf = vec![Complex32::new(0.0, 0.0); n];
    let mut field = |gain: &[f32; COMPONENTS], planner: &mut FftPlanner<f32>| -> Vec<f32> {
        for ((b, &z), &c) in buf.iter_mut().zip(&spec).zip(&comp) {
            *b = if c == NONE { Complex32::new(0.0, 0.0) } else { z * gain[c as usize] };
        }
        fft2(planner, &mut buf, cw, ch, true);
        buf.iter().zip(&weight).map(|(z, &wt)| z.re / n as f32 * wt).collect()
    };
    let unit = |c: usize| -> [f32; COMPONENTS] { std::array::from_fn(|j| if j == c { 1.0 } else { 0.0 }) };
    let present: Vec<bool> = (0..COMPONENTS).map(|c| comp.contains(&(c as u32))).collect();

    let gain: [f32; COMPONENTS] = match Target::of(stats) {
        Target::Energy(target) => {
            let have = segment_energy(&base, cw, ch, &inside);
            // m[i * COMPONENTS + c]: energy component c alone adds to measurement i.
            let mut m = vec![0f64; COMPONENTS * COMPONENTS];
            for c in (0..COMPONENTS).filter(|&c| present[c]) {
                let e = segment_energy(&field(&unit(c), planner), cw, ch, &inside);
                for i in 0..COMPONENTS {
                    m[i * COMPONENTS + c] = e[i];
                }
            }
            let need: Vec<f64> = target.iter().zip(&have).map(|(&t, &b)| (t - b).max(0.0)).collect();
            // Errors weighted by the slope of the log quantiser, d log2(1 + e) ∝ 1 / (1 + e).
            let wts: Vec<f64> = target.iter().map(|&t| 1.0 / (1.0 + t).powi(2)).collect();
            let power = nnls(&m, COMPONENTS, &need, &wts);
            std::array::from_fn(|c| power[c].sqrt() as f32)
        }
        Target::Variance(var) => {
            // Isotropic: the 4 orientations of a scale share its gain, equal variance per scale.
            let need = (var - variance(&base, &inside)).max(0.0);
            let mut per_scale = [0f64; SCALES];
            for (sc, v) in per_scale.iter_mut().enumerate() {
                let g: [f32; COMPONENTS] = std::array::from_fn(|c| if c / ORIENTATIONS == sc { 1.0 } else { 0.0 });
                if (0..COMPONENTS).any(|c| g[c] > 0.0 && present[c]) {
                    *v = variance(&field(&g, planner), &inside);
                }
            }
            let bands = per_scale.iter().filter(|&&v| v > 0.0).count().max(1) as f64;
            std::array::from_fn(|c| {
                let v = per_scale[c / ORIENTATIONS];
                if v > 0.0 {
                    (need / bands / v).sqrt() as f32
                } else {
                    0.0
                }
            })
        }
    };
    let gain = gain.map(|g| if g.is_finite() { g * strength } else { 0.0 });
    if gain.iter().all(|&g| g == 0.0) {
        return;
    }
    let mut tex = field(&gain, planner);
    if let Some(g) = detail_gain(layout, s, stats, (x0, y0, cw, ch), &inside) {
        tex.iter_mut().zip(&g).for_each(|(t, g)| *t *= g);
    }
    for y in 0..ch {
        for x in 0..cw {
            let i = y * cw + x;
            if inside[i] {
                luma[(y0 + y) * w + x0 + x] += tex[i];
            }
        }
    }
}

/// Largest amplitude gain the detail map may give a cell (×4 = 12 dB above the
/// segment's mean).
const DETAIL_GAIN_MAX: f32 = 4.0;

/// Per pixel of segment `s`'s crop `(x0, y0, cw, ch)`: the amplitude gain that moves its
/// texture to where the prompt's detail map says the detail is, `√(E_cell / Ē)` with `Ē`
/// the mean of `E_cell` over the segment's pixels (so the segment's texture energy, which
/// the statistics fix, is kept), capped at [`DETAIL_GAIN_MAX`]. `None` without a map.
fn detail_gain(
    layout: &Layout,
    s: usize,
    stats: &TextureStats,
    (x0, y0, cw, ch): (usize, usize, usize, usize),
    inside: &[bool],
) -> Option<Vec<f32>> {
    let map = detail_map::SegmentMap::decode(layout.segments.get(s)?, &stats.block_detail)?;
    let wb = layout.wb as u32;
    let energy_at = |x: usize, y: usize| {
        map.value_at((x / layout.block) as u32, (y / layout.block) as u32, wb)
            .map_or(0.0, detail_map::dequantise_detail)
    };
    let mut e = vec![0f64; cw * ch];
    let (mut sum, mut n) = (0f64, 0f64);
    for y in 0..ch {
        for x in 0..cw {
            let i = y * cw + x;
            if inside[i] {
                e[i] = energy_at(x0 + x, y0 + y);
                sum += e[i];
                n += 1.0;
            }
        }
    }
    let mean = sum / n.max(1.0);
    if mean <= 0.0 {
        return None;
    }
    Some(e.iter().map(|&v| ((v / mean).sqrt() as f32).min(DETAIL_GAIN_MAX)).collect())
}

/// Component (`scale · ORIENTATIONS + orientation`) of every bin of a `ch × cw` 2-D FFT,
/// or [`NONE`]. Scale `s` is the radial band around `0.25 / 2^s` cycles/px (where the
/// central difference at that scale responds most), split at geometric midpoints:
/// `[0.177, ∞)`, `[0.088, 0.177)`, `[F_MIN, 0.088)`. The orientation is the nearest of
/// 0°, 45°, 90°, 135° to the frequency vector's direction, which is the gradient
/// direction of a plane wave (describe's θ convention, y pointing down).
fn components(cw: usize, ch: usize) -> Vec<u32> {
    let edge = |s: i32| 0.25 * 2f32.powi(-s) * std::f32::consts::FRAC_1_SQRT_2;
    let freq = |k: usize, n: usize| if k > n / 2 { k as f32 - n as f32 } else { k as f32 } / n as f32;
    let sector = std::f32::consts::FRAC_PI_4;
    let mut out = Vec::with_capacity(cw * ch);
    for ky in 0..ch {
        let fy = freq(ky, ch);
        for kx in 0..cw {
            let fx = freq(kx, cw);
            let r = (fx * fx + fy * fy).sqrt();
            let scale = if r >= edge(0) {
                0
            } else if r >= edge(1) {
                1
            } else if r >= F_MIN {
                2
            } else {
                out.push(NONE);
                continue;
            };
            let angle = fy.atan2(fx).rem_euclid(std::f32::consts::PI);
            let k = ((angle / sector).round() as usize) % ORIENTATIONS;
            out.push((scale * ORIENTATIONS + k) as u32);
        }
    }
    out
}

/// Gradient energy per component (`scale · ORIENTATIONS + orientation`) over the pixels
/// where `inside` holds, exactly as [`crate::prompt::describe`] measures a segment
/// (before quantising). `plane` and `inside` are `h × w`, and the crop must start on a
/// multiple of [`ALIGN`] and end on one or at the image edge.
fn segment_energy(plane: &[f32], w: usize, h: usize, inside: &[bool]) -> [f64; COMPONENTS] {
    let e = gradient_energy(plane, w, h, 1, |x, y| usize::from(!inside[y * w + x]), |_, _, _, _| {});
    flatten(&e[0])
}

fn flatten(e: &[[f64; ORIENTATIONS]; SCALES]) -> [f64; COMPONENTS] {
    std::array::from_fn(|i| e[i / ORIENTATIONS][i % ORIENTATIONS])
}

/// Variance of `v` over the `inside` pixels (0 with none).
fn variance(v: &[f32], inside: &[bool]) -> f64 {
    let (mut n, mut s, mut ss) = (0f64, 0f64, 0f64);
    for (&x, _) in v.iter().zip(inside).filter(|(_, &m)| m) {
        n += 1.0;
        s += x as f64;
        ss += (x as f64) * (x as f64);
    }
    if n > 0.0 {
        (ss / n - (s / n).powi(2)).max(0.0)
    } else {
        0.0
    }
}

/// Non-negative weighted least squares: `argmin_{x ≥ 0} Σ_i wts_i (Σ_c m[i·cols + c] x_c − d_i)²`
/// by cyclic coordinate descent on the normal equations (small, possibly rank-deficient
/// systems: the four orientation energies of any field satisfy `e0 + e90 = e45 + e135`).
fn nnls(m: &[f64], cols: usize, d: &[f64], wts: &[f64]) -> Vec<f64> {
    let rows = d.len();
    let mut a = vec![0f64; cols * cols];
    let mut b = vec![0f64; cols];
    for i in 0..rows {
        for c in 0..cols {
            let mic = m[i * cols + c] * wts[i];
            b[c] += mic * d[i];
            for k in 0..cols {
                a[c * cols + k] += mic * m[i * cols + k];
            }
        }
    }
    let mut x = vec![0f64; cols];
    for _ in 0..500 {
        let mut moved = 0f64;
        for c in 0..cols {
            let acc = a[c * cols + c];
            if !(acc > 0.0 && acc.is_finite()) {
                continue;
            }
            let r: f64 = b[c] - (0..cols).map(|k| a[c * cols + k] * x[k]).sum::<f64>();
            let new = (x[c] + r / acc).max(0.0);
            if new.is_finite() {
                moved = moved.max((new - x[c]).abs() / (new.abs() + 1e-12));
                x[c] = new;
            }
        }
        if moved < 1e-9 {
            break;
        }
    }
    x
}

#[cfg(test)]
mod tests {
    use image::RgbImage;

    use super::super::test_util::*;
    use super::super::{ClassicalFill, GREY};
    use super::*;
    use crate::color::rgb_to_ycbcr;
    use crate::prompt::{describe, non_key_of, PromptDetail};
    use crate::segment::BlockMask;

    /// Energies (quantised) of `img` per segment as describe measures them.
    fn energies(img: &RgbImage, nk: &BlockMask, detail: PromptDetail) -> Vec<Vec<u32>> {
        describe(img, nk, detail).segments.iter().map(|s| s.texture.clone().unwrap().energy).collect()
    }
    #[test]
    fn texture_reaches_the_target_energies_over_the_base() {
        let (w, h) = (160u32, 128u32);
        let img = textured(w, h, 5);
        let truth = rgb_to_ycbcr(&img);
        let no_key = key_mask(w, h, |_, _| false);
        // Key corner 3×2 blocks: the segment then has seams, which the fit accounts for.
        let corner = key_mask(w, h, |bx, by| bx < 3 && by < 2);
        for detail in [PromptDetail::Full, PromptDetail::Reduced] {
            // (analog valid, key mask, analog = the image itself). The last case is a base that
            // already carries all the texture: nothing may be added (no double counting,
            // which would show as +4 steps).
            for (valid, key, full) in
                [(true, &no_key, false), (false, &no_key, false), (true, &corner, false), (true, &no_key, true)]
            {
                let nk = non_key_of(key);
                let prompt = describe(&img, &nk, detail);
                // Flat grey analog base; key pixels from the image.
                let analog = planes(w, h, |x, y| {
                    let i = (y * w + x) as usize;
                    if full || key.is_key_pixel(x, y) {
                        [truth.y[i], truth.cb[i], truth.cr[i]]
                    } else {
                        GREY
                    }
                });
                let out = run(
                    &ClassicalFill { texture_strength: 1.0, ..Default::default() },
                    &analog,
                    valid,
                    key,
                    &prompt,
                    99,
                );
                let (want, got) = (energies(&img, &nk, detail), energies(&out, &nk, detail));
                eprintln!("{detail:?} valid={valid} full={full} key={}:\n  want {want:?}\n  got  {got:?}", key.count());
                for (a, b) in want.iter().flatten().zip(got.iter().flatten()) {
                    assert!(a.abs_diff(*b) <= 2, "{detail:?} valid={valid}: want {want:?} got {got:?}");
                }
            }
        }
    }
    /// With the detail map the texture goes where the sender measured detail: left half of
    /// the frame flat, right half textured, one segment; the segment statistics alone
    /// (Reduced detail, no map) spread the texture evenly over both halves.
    #[test]
    fn detail_map_puts_the_texture_where_the_detail_was() {
        let (w, h) = (128u32, 64u32);
        let tex = textured(w, h, 3);
        let img =
            RgbImage::from_fn(w, h, |x, y| if x < 64 { image::Rgb([128, 128, 128]) } else { *tex.get_pixel(x, y) });
        let key = key_mask(w, h, |_, _| false);
        let nk = non_key_of(&key);
        let analog = planes(w, h, |_, _| GREY);
        // Luma std of the output over the left (flat) and the right (textured) half.
        let halves = |detail: PromptDetail| {
            let prompt = describe(&img, &nk, detail);
            let out = rgb_to_ycbcr(&run(&ClassicalFill::default(), &analog, true, &key, &prompt, 11));
            // Columns 0..32: the flat map cell away from the boundary; 64..128: textured.
            let std = |x0: usize, n: usize| {
                let v: Vec<f64> = (0..h as usize)
                    .flat_map(|y| (x0..x0 + n).map(move |x| (y, x)))
                    .map(|(y, x)| out.y[y * w as usize + x] as f64)
                    .collect();
                let m = v.iter().sum::<f64>() / v.len() as f64;
                (v.iter().map(|a| (a - m).powi(2)).sum::<f64>() / v.len() as f64).sqrt()
            };
            (std(0, 32), std(64, 64))
        };
        let (flat, textured) = halves(PromptDetail::Full);
        eprintln!("with map: flat {flat:.2}, textured {textured:.2}");
        assert!(flat < 0.5 && textured > 5.0, "with map: flat {flat}, textured {textured}");
        let (flat, textured) = halves(PromptDetail::Reduced);
        eprintln!("without map: flat {flat:.2}, textured {textured:.2}");
        assert!(flat > 0.5 * textured, "without map: flat {flat}, textured {textured}");
    }
    #[test]
    fn minimal_detail_matches_the_luma_std() {
        let (w, h) = (128u32, 128u32);
        let img = textured(w, h, 8);
        let key = key_mask(w, h, |_, _| false);
        let nk = non_key_of(&key);
        let prompt = describe(&img, &nk, PromptDetail::Minimal);
        let analog = planes(w, h, |_, _| GREY);
        let out = run(&ClassicalFill { texture_strength: 1.0, ..Default::default() }, &analog, false, &key, &prompt, 4);
        let want = prompt.segments[0].texture.as_ref().unwrap().luma_std as f32;
        let got = describe(&out, &nk, PromptDetail::Minimal).segments[0].texture.as_ref().unwrap().luma_std as f32;
        eprintln!("luma std want {want} got {got}");
        assert!((got - want).abs() <= 1.0 + 0.1 * want, "want {want} got {got}");
    }
    #[test]
    fn energy_measure_matches_describe() {
        // Odd size, a key hole splitting the frame: every segment's quantised energies agree.
        let (w, h) = (100u32, 70u32);
        let img = textured(w, h, 21);
        let nk = non_key_of(&key_mask(w, h, |bx, by| bx == 3 && by < 4));
        let prompt = describe(&img, &nk, PromptDetail::Full);
        let layout = Layout::of(&prompt).unwrap();
        let luma = rgb_to_ycbcr(&img).y;
        for (s, seg) in prompt.segments.iter().enumerate() {
            let inside: Vec<bool> =
                (0..luma.len()).map(|i| layout.label_at(i % w as usize, i / w as usize) == s as u32).collect();
            let e = segment_energy(&luma, w as usize, h as usize, &inside);
            let q: Vec<u32> = e.iter().map(|&v| (ENERGY_PER_OCTAVE as f64 * (1.0 + v).log2()).round() as u32).collect();
            assert_eq!(q, seg.texture.as_ref().unwrap().energy, "segment {s}");
        }
    }
}
