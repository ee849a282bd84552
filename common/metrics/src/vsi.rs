//! Visual Saliency-induced Index, exactly as `piq.vsi(x, y, data_range=1.)` with defaults.
//!
//! All maps here are on piq's internal 0–255 scale.

use image::RgbImage;
use rustfft::{num_complex::Complex, FftPlanner};
use semcom_dsp::fft::fft2;

use crate::gmsd::gradient_magnitude;
use crate::{check_pair, round_half_even, MetricsError, Plane};

// piq.vsi defaults.
const C1: f64 = 1.27;
const C2: f64 = 386.0;
const C3: f64 = 130.0;
const ALPHA: f64 = 0.4;
const BETA: f64 = 0.02;
// SDSP (saliency) defaults.
const OMEGA_0: f64 = 0.021;
const SIGMA_F: f64 = 1.34;
const SIGMA_D: f64 = 145.0;
const SIGMA_C: f64 = 0.001;
/// SDSP works on a fixed 256×256 resampling.
const SDSP_SIZE: usize = 256;

/// Three planes (R, G, B or converted channels) of the same (h, w).
type Planes = [Plane; 3];

fn rgb_planes_255(img: &RgbImage) -> Planes {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let ch = |c: usize| Plane { w, h, v: img.as_raw().chunks_exact(3).map(|p| p[c] as f64).collect() };
    [ch(0), ch(1), ch(2)]
}

/// Source index and weight of `F.interpolate(mode='bilinear')` along one axis:
/// returns (i0, i1, λ) with value = (1−λ)·in[i0] + λ·in[i1].
fn bilinear_axis(n_in: usize, n_out: usize, align_corners: bool) -> Vec<(usize, usize, f64)> {
    let scale = if align_corners {
        if n_out > 1 {
            (n_in as f64 - 1.0) / (n_out as f64 - 1.0)
        } else {
            0.0
        }
    } else {
        n_in as f64 / n_out as f64
    };
    (0..n_out)
        .map(|d| {
            let src = if align_corners { scale * d as f64 } else { (scale * (d as f64 + 0.5) - 0.5).max(0.0) };
            let i0 = (src.floor() as usize).min(n_in - 1);
            let lambda = (src - i0 as f64).clamp(0.0, 1.0);
            let i1 = if i0 + 1 < n_in { i0 + 1 } else { i0 };
            (i0, i1, lambda)
        })
        .collect()
}

/// torch bilinear resize (no antialiasing), (h, w) → (oh, ow).
fn resize_bilinear(p: &Plane, ow: usize, oh: usize, align_corners: bool) -> Plane {
    let xs = bilinear_axis(p.w, ow, align_corners);
    let ys = bilinear_axis(p.h, oh, align_corners);
    let mut v = Vec::with_capacity(ow * oh);
    for &(y0, y1, ly) in &ys {
        let (r0, r1) = (&p.v[y0 * p.w..(y0 + 1) * p.w], &p.v[y1 * p.w..(y1 + 1) * p.w]);
        for &(x0, x1, lx) in &xs {
            let top = (1.0 - lx) * r0[x0] + lx * r0[x1];
            let bot = (1.0 - lx) * r1[x0] + lx * r1[x1];
            v.push((1.0 - ly) * top + ly * bot);
        }
    }
    Plane { w: ow, h: oh, v }
}

/// piq `rgb2lab(x, data_range=255)`: sRGB (0–255) → linear → XYZ → CIE Lab with the
/// **D50** 2° white point (piq's default illuminant), per pixel.
fn rgb255_to_lab(r: f64, g: f64, b: f64) -> [f64; 3] {
    let lin = |c: f64| {
        let c = c / 255.0;
        if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    let (r, g, b) = (lin(r), lin(g), lin(b));
    let xyz = [
        0.4124564 * r + 0.3575761 * g + 0.1804375 * b,
        0.2126729 * r + 0.7151522 * g + 0.0721750 * b,
        0.0193339 * r + 0.1191920 * g + 0.9503041 * b,
    ];
    let white = [0.9642119944211994, 1.0, 0.8251882845188288];
    let f = |t: f64| {
        if t <= 0.008856 {
            (903.3 * t + 16.0) / 116.0
        } else {
            t.powf(1.0 / 3.0)
        }
    };
    let (fx, fy, fz) = (f(xyz[0] / white[0]), f(xyz[1] / white[1]), f(xyz[2] / white[2]));
    [116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)]
}

/// piq `get_meshgrid((n, n))` coordinate for index i (n even): `(i − n/2)/n`.
fn mesh(i: usize, n: usize) -> f64 {
    (i as f64 - (n / 2) as f64) / n as f64
}

/// Log-Gabor filter in the (ifftshift-ed) frequency domain, piq `_log_gabor`: n × n,
/// `exp(−ln(r/ω0)² / (2σ_f²))` for radius r ≤ 0.5, 0 outside and at DC.
fn log_gabor(n: usize) -> Vec<f64> {
    let mut lg = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            let (u, v) = (mesh(i, n), mesh(j, n));
            let r = (u * u + v * v).sqrt();
            // ifftshift moves centred index i to (i − n/2) mod n (n even).
            let (si, sj) = ((i + n - n / 2) % n, (j + n - n / 2) % n);
            lg[si * n + sj] =
                if r <= 0.5 && r > 0.0 { (-(r / OMEGA_0).ln().powi(2) / (2.0 * SIGMA_F * SIGMA_F)).exp() } else { 0.0 };
        }
    }
    lg[0] = 0.0;
    lg
}

fn min_max(v: &[f64]) -> (f64, f64) {
    v.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| (lo.min(x), hi.max(x)))
}

/// SDSP visual saliency (piq `sdsp`), (h, w) RGB on 0–255 → (h, w) saliency in [0, 1]:
/// bilinear resize to 256×256 → Lab → frequency prior (log-Gabor band-pass, magnitude over
/// the three Lab channels) × location prior `exp(−‖c‖²/σ_d²)` (c = centred pixel coords + 1)
/// × colour prior `1 − exp(−(a'² + b'²)/σ_c²)` (a', b' min–max normalised) → bilinear
/// resize back (align_corners=True) → min–max normalisation.
fn sdsp(rgb: &Planes) -> Plane {
    let n = SDSP_SIZE;
    let eps = f64::EPSILON;
    let small: Vec<Plane> = rgb.iter().map(|p| resize_bilinear(p, n, n, false)).collect();
    // Lab channels, each n × n.
    let mut lab = [vec![0.0; n * n], vec![0.0; n * n], vec![0.0; n * n]];
    for i in 0..n * n {
        let l = rgb255_to_lab(small[0].v[i], small[1].v[i], small[2].v[i]);
        for (ch, v) in lab.iter_mut().zip(l) {
            ch[i] = v;
        }
    }
    // Frequency prior.
    let lg = log_gabor(n);
    let mut planner = FftPlanner::new();
    let mut s_f2 = vec![0.0; n * n];
    for ch in &lab {
        let mut buf: Vec<Complex<f64>> = ch.iter().map(|&x| Complex::new(x, 0.0)).collect();
        fft2(&mut planner, &mut buf, n, n, false);
        buf.iter_mut().zip(&lg).for_each(|(z, &g)| *z *= g);
        fft2(&mut planner, &mut buf, n, n, true);
        let norm = 1.0 / (n * n) as f64;
        s_f2.iter_mut().zip(&buf).for_each(|(s, z)| *s += (z.re * norm).powi(2));
    }
    // Colour prior on min–max normalised a, b.
    let norm_ab: Vec<Vec<f64>> = lab[1..]
        .iter()
        .map(|ch| {
            let (lo, hi) = min_max(ch);
            ch.iter().map(|x| (x - lo) / (hi - lo + eps)).collect()
        })
        .collect();
    let mut vs = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            let k = i * n + j;
            let (ci, cj) = (mesh(i, n) * n as f64 + 1.0, mesh(j, n) * n as f64 + 1.0);
            let s_d = (-(ci * ci + cj * cj) / (SIGMA_D * SIGMA_D)).exp();
            let sq = norm_ab[0][k].powi(2) + norm_ab[1][k].powi(2);
            let s_c = 1.0 - (-sq / (SIGMA_C * SIGMA_C)).exp();
            vs[k] = s_f2[k].sqrt() * s_d * s_c;
        }
    }
    let full = resize_bilinear(&Plane { w: n, h: n, v: vs }, rgb[0].w, rgb[0].h, true);
    let (lo, hi) = min_max(&full.v);
    Plane { w: full.w, h: full.h, v: full.v.iter().map(|x| (x - lo) / (hi - lo + eps)).collect() }
}

/// piq's pre-averaging: replicate-pad k//2 before and (k−1)//2 after on both axes, then k×k
/// average pooling (remainder dropped). k = 1 is the identity.
fn pad_and_pool(p: &Plane, k: usize) -> Plane {
    if k <= 1 {
        return Plane { w: p.w, h: p.h, v: p.v.clone() };
    }
    let (before, after) = (k / 2, (k - 1) / 2);
    let (w, h) = (p.w + before + after, p.h + before + after);
    let clampi = |i: usize, n: usize| i.saturating_sub(before).min(n - 1);
    let mut v = Vec::with_capacity(w * h);
    for y in 0..h {
        let sy = clampi(y, p.h);
        for x in 0..w {
            v.push(p.v[sy * p.w + clampi(x, p.w)]);
        }
    }
    crate::avg_pool(&Plane { w, h, v }, k)
}

/// piq's similarity map `(2xy + c)/(x² + y² + c)`.
fn sim(x: f64, y: f64, c: f64) -> f64 {
    (2.0 * x * y + c) / (x * x + y * y + c)
}

/// Visual saliency-induced index exactly as `piq.vsi` with defaults (higher is better, 1 for
/// identical images). Works on the 0–255 scale, like piq:
///
/// 1. SDSP saliency maps `vs_a`, `vs_b` at full resolution (see `sdsp`);
/// 2. LMN colour space: `L = .06R + .63G + .27B`, `M = .30R + .04G − .35B`,
///    `N = .34R − .60G + .17B`;
/// 3. `k = max(1, round(min(H, W)/256))` (Python rounding); if k > 1, replicate-pad
///    (k//2 before, (k−1)//2 after) and k×k average-pool saliency and LMN maps;
/// 4. Scharr gradient magnitude of L (`[[-3,0,3],[-10,0,10],[-3,0,3]]/16`, zero padding);
/// 5. `S = S_vs · S_gm^0.4 · Re[(S_m S_n)^0.02]` with similarity maps of saliency (c1 = 1.27),
///    gradients (c2 = 386) and M, N (c3 = 130);
/// 6. VSI = `(Σ S·max(vs_a, vs_b) + ε)/(Σ max(vs_a, vs_b) + ε)`, ε = f64 machine epsilon.
pub fn vsi(a: &RgbImage, b: &RgbImage) -> Result<f64, MetricsError> {
    check_pair(a, b)?;
    let (w, h) = (a.width() as usize, a.height() as usize);
    let k = (round_half_even(w.min(h) as f64 / 256.0) as usize).max(1);
    let prep = |img: &RgbImage| -> (Plane, Planes) {
        let rgb = rgb_planes_255(img);
        let vs = sdsp(&rgb);
        let lmn_w = [[0.06, 0.63, 0.27], [0.30, 0.04, -0.35], [0.34, -0.6, 0.17]];
        let lmn = lmn_w.map(|wt| {
            let v = (0..w * h).map(|i| wt[0] * rgb[0].v[i] + wt[1] * rgb[1].v[i] + wt[2] * rgb[2].v[i]).collect();
            pad_and_pool(&Plane { w, h, v }, k)
        });
        (pad_and_pool(&vs, k), lmn)
    };
    let (vs_a, lmn_a) = prep(a);
    let (vs_b, lmn_b) = prep(b);
    let scharr = [[-3.0 / 16.0, 0.0, 3.0 / 16.0], [-10.0 / 16.0, 0.0, 10.0 / 16.0], [-3.0 / 16.0, 0.0, 3.0 / 16.0]];
    let gm_a = gradient_magnitude(&lmn_a[0], &scharr);
    let gm_b = gradient_magnitude(&lmn_b[0], &scharr);
    let (mut num, mut den) = (0.0, 0.0);
    for i in 0..vs_a.v.len() {
        let s_vs = sim(vs_a.v[i], vs_b.v[i], C1);
        let s_gm = sim(gm_a[i], gm_b[i], C2);
        let s_c = sim(lmn_a[1].v[i], lmn_b[1].v[i], C3) * sim(lmn_a[2].v[i], lmn_b[2].v[i], C3);
        // Real part of the principal power of a possibly negative real: |s|^β cos(β·arg s).
        let s_c_pow = s_c.abs().powf(BETA) * (0.0f64.atan2(s_c) * BETA).cos();
        let s = s_vs * s_gm.powf(ALPHA) * s_c_pow;
        let vs_max = vs_a.v[i].max(vs_b.v[i]);
        num += s * vs_max;
        den += vs_max;
    }
    Ok((num + f64::EPSILON) / (den + f64::EPSILON))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bilinear_identity_when_same_size() {
        for ac in [false, true] {
            for (i, &(i0, _, l)) in bilinear_axis(7, 7, ac).iter().enumerate() {
                assert_eq!(i0, i);
                assert!(l.abs() < 1e-12);
            }
        }
    }

    #[test]
    fn lab_of_white_is_l100() {
        // D65 sRGB white under a D50 reference is not neutral, but L is 100.
        let l = rgb255_to_lab(255.0, 255.0, 255.0);
        assert!((l[0] - 100.0).abs() < 1e-3, "{l:?}");
    }
}
