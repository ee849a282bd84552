//! SDSP saliency (Zhang, Gong & Zhang, "SDSP: a novel saliency detection method by
//! combining simple priors", ICIP 2013), computed at a reduced resolution like piq's VSI.
//!
//! `S(x) = S_F(x) · S_D(x) · S_C(x)` on the CIE L\*a\*b\* image, where
//! * `S_F` (frequency prior): magnitude of the L\*, a\*, b\* channels band-passed by a
//!   log-Gabor filter `G(f) = exp(−ln²(|f|/ω₀) / (2σ_F²))` (|f| in cycles/pixel, DC and
//!   |f| > 0.5 removed), `ω₀ = 0.021`, `σ_F = 1.34` as in the paper and piq;
//! * `S_D` (centre prior): `exp(−d²/σ_D²)`, `d` the distance to the image centre;
//! * `S_C` (colour prior): `1 − exp(−(â² + b̂²)/σ_C²)` with `â, b̂` the a\*/b\* channels
//!   normalised to `[0, 1]` (warm colours are salient), `σ_C = 0.25` (SDSP; VSI's 0.001
//!   makes the prior a near no-op).
//!
//! Two robustness changes for general photos (documented on [`ImportanceConfig`]): the
//! a\*/b\* normalisation uses the 1st/99th percentiles instead of min/max (a few outlier
//! pixels must not squash the range), and the colour prior is floored and faded out when
//! the image has almost no chroma spread (grey-scale photos would otherwise get zero
//! saliency everywhere).
//!
//! [`ImportanceConfig`]: super::ImportanceConfig

use image::imageops::FilterType;
use image::RgbImage;
use rustfft::num_complex::Complex32;
use rustfft::FftPlanner;
use semcom_dsp::fft::fft2;

use super::ImportanceConfig;

/// A single-channel f32 plane, row-major `height × width`.
#[derive(Debug, Clone)]
pub(crate) struct Plane {
    pub width: usize,
    pub height: usize,
    pub values: Vec<f32>,
}

/// Working resolution: the shorter side becomes `min_side` (up- or down-scaling, so the
/// filter constants keep their meaning), the longer side follows the aspect ratio but is
/// capped at `max_side`.
pub(crate) fn working_size(width: u32, height: u32, min_side: u32, max_side: u32) -> (u32, u32) {
    let short = width.min(height).max(1) as f64;
    let s = min_side as f64 / short;
    let w = ((width as f64 * s).round() as u32).clamp(1, max_side);
    let h = ((height as f64 * s).round() as u32).clamp(1, max_side);
    (w, h)
}

/// sRGB (D65) 8-bit → CIE L\*a\*b\* planes.
fn rgb_to_lab(img: &RgbImage) -> [Vec<f32>; 3] {
    let lut: Vec<f32> = (0..256)
        .map(|v| {
            let c = v as f32 / 255.0;
            if c <= 0.040_45 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        })
        .collect();
    let f = |t: f32| -> f32 {
        const E: f32 = 216.0 / 24389.0; // (6/29)^3
        if t > E {
            t.cbrt()
        } else {
            t * (841.0 / 108.0) + 4.0 / 29.0
        }
    };
    let n = (img.width() as usize) * (img.height() as usize);
    let (mut l, mut a, mut b) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    for p in img.as_raw().chunks_exact(3) {
        let (r, g, bl) = (lut[p[0] as usize], lut[p[1] as usize], lut[p[2] as usize]);
        let x = (0.412_456_4 * r + 0.357_576_1 * g + 0.180_437_5 * bl) / 0.950_47;
        let y = 0.212_672_9 * r + 0.715_152_2 * g + 0.072_175 * bl;
        let z = (0.019_333_9 * r + 0.119_192 * g + 0.950_304_1 * bl) / 1.088_83;
        let (fx, fy, fz) = (f(x), f(y), f(z));
        l.push(116.0 * fy - 16.0);
        a.push(500.0 * (fx - fy));
        b.push(200.0 * (fy - fz));
    }
    [l, a, b]
}

/// Signed FFT bin frequency in cycles/sample for bin `k` of an `n`-point transform.
fn bin_freq(k: usize, n: usize) -> f32 {
    let k = if k > n / 2 { k as f32 - n as f32 } else { k as f32 };
    k / n as f32
}

/// The `q`-quantile (0..=1) of `v` (nearest rank on a sorted copy); 0 for empty input.
pub(crate) fn quantile(v: &[f32], q: f32) -> f32 {
    if v.is_empty() {
        return 0.0;
    }
    let mut s: Vec<f32> = v.iter().map(|x| if x.is_finite() { *x } else { 0.0 }).collect();
    s.sort_by(f32::total_cmp);
    let i = ((s.len() - 1) as f32 * q.clamp(0.0, 1.0)).round() as usize;
    s[i.min(s.len() - 1)]
}

/// SDSP saliency at the working resolution, min-max normalised to `[0, 1]`
/// (all zeros when the image has no band-pass content at all, e.g. a flat image).
pub(crate) fn sdsp(img: &RgbImage, cfg: &ImportanceConfig) -> Plane {
    let (ws, hs) = working_size(img.width(), img.height(), cfg.saliency_min_side, cfg.saliency_max_side);
    let small = if (ws, hs) == img.dimensions() {
        img.clone()
    } else {
        image::imageops::resize(img, ws, hs, FilterType::Triangle)
    };
    let (w, h) = (ws as usize, hs as usize);
    let n = w * h;
    let lab = rgb_to_lab(&small);

    // Log-Gabor transfer function on the FFT grid.
    let (omega0, sigma_f) = (cfg.omega0, cfg.sigma_f);
    let mut lg = vec![0f32; n];
    for y in 0..h {
        let v = bin_freq(y, h);
        for x in 0..w {
            let u = bin_freq(x, w);
            let r = (u * u + v * v).sqrt();
            lg[y * w + x] = if r <= 0.0 || r > 0.5 {
                0.0
            } else {
                let l = (r / omega0).ln();
                (-(l * l) / (2.0 * sigma_f * sigma_f)).exp()
            };
        }
    }

    // Frequency prior: |band-passed (L, a, b)|.
    let mut planner = FftPlanner::<f32>::new();
    let mut sf2 = vec![0f32; n];
    let mut buf = vec![Complex32::new(0.0, 0.0); n];
    for ch in &lab {
        for (b, &v) in buf.iter_mut().zip(ch) {
            *b = Complex32::new(v, 0.0);
        }
        fft2(&mut planner, &mut buf, w, h, false);
        for (b, &g) in buf.iter_mut().zip(&lg) {
            *b *= g;
        }
        fft2(&mut planner, &mut buf, w, h, true);
        let scale = 1.0 / n as f32;
        for (s, b) in sf2.iter_mut().zip(&buf) {
            let re = b.re * scale;
            *s += re * re;
        }
    }

    // Colour prior with percentile normalisation, a floor, and a fade-out for grey images.
    let norm = |ch: &[f32]| -> (Vec<f32>, f32) {
        let (lo, hi) = (quantile(ch, 0.01), quantile(ch, 0.99));
        let span = (hi - lo).max(1e-6);
        (ch.iter().map(|v| ((v - lo) / span).clamp(0.0, 1.0)).collect(), hi - lo)
    };
    let (an, spread_a) = norm(&lab[1]);
    let (bn, spread_b) = norm(&lab[2]);
    // Chroma spread (Lab units) below which the colour prior carries no information.
    let fade = (spread_a.max(spread_b) / cfg.colour_min_spread).clamp(0.0, 1.0);
    let sc2 = cfg.sigma_c * cfg.sigma_c;

    // Centre prior; σ_D relative to the working short side.
    let sigma_d = cfg.centre_sigma * (w.min(h) as f32);
    let sd2 = (sigma_d * sigma_d).max(1e-12);
    let (cx, cy) = ((w as f32 - 1.0) / 2.0, (h as f32 - 1.0) / 2.0);

    let mut out = vec![0f32; n];
    for y in 0..h {
        let dy = y as f32 - cy;
        for x in 0..w {
            let i = y * w + x;
            let dx = x as f32 - cx;
            let s_d = (-(dx * dx + dy * dy) / sd2).exp();
            let c = 1.0 - (-(an[i] * an[i] + bn[i] * bn[i]) / sc2).exp();
            let c = cfg.colour_floor + (1.0 - cfg.colour_floor) * c;
            let s_c = (1.0 - fade) + fade * c;
            out[i] = sf2[i].sqrt() * s_d * s_c;
        }
    }
    let (mn, mx) = out.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
    let range = mx - mn;
    if range.is_finite() && range > 1e-12 {
        out.iter_mut().for_each(|v| *v = (*v - mn) / range);
    } else {
        out.iter_mut().for_each(|v| *v = 0.0);
    }
    Plane { width: w, height: h, values: out }
}
