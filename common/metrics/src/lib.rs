//! Image quality metrics following the reference definitions of the Python package `piq`
//! (0.8.0, default parameters), plus a texture-realism measure (multi-scale sliced
//! Wasserstein distance, Karras et al. 2018).
//!
//! Conventions shared by all metrics:
//! * inputs are two 8-bit sRGB [`image::RgbImage`]s of identical dimensions (a = reference,
//!   b = distorted; every metric here except SWD subsampling is symmetric);
//! * pixel values are scaled to [0, 1] (`v / 255`, piq's `data_range = 1`) unless a metric
//!   documents otherwise (VSI works on the 0–255 scale like piq does internally);
//! * computation is in f64 (the piq fixtures are generated with float64 tensors);
//! * colour conversions are piq's: luminance `Y = 0.299 R + 0.587 G + 0.114 B` (YIQ) for GMSD,
//!   LMN and CIE Lab (sRGB → XYZ → Lab, D50 white) for VSI.
//!
//! | metric | better | range |
//! |---|---|---|
//! | [`psnr`] | higher | dB, capped at [`PSNR_CAP_DB`] |
//! | [`ssim`], [`ms_ssim`], [`vsi`] | higher | ≤ 1 (1 = identical) |
//! | [`gmsd`] | lower | ≥ 0 (0 = identical) |
//! | [`swd()`] | lower | ≥ 0 (0 = identical) |

use image::RgbImage;

mod gmsd;
mod ms_ssim;
mod report;
mod swd;
mod vsi;

pub use gmsd::gmsd;
pub use ms_ssim::{ms_ssim, MS_SSIM_MIN_SIZE, MS_SSIM_WEIGHTS};
pub use report::{report, Report, REPORT_SWD_SEED};
pub use swd::{mask_from_gray, swd, swd_with_config, SwdConfig, SwdReport};
pub use vsi::vsi;

/// PSNR reported for identical images (MSE = 0), instead of +inf, so results stay finite
/// and can be averaged and serialised.
pub const PSNR_CAP_DB: f64 = 100.0;

/// Errors for metric computation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetricsError {
    /// The two images must have the same width and height.
    #[error("image dimensions differ: {a_width}x{a_height} vs {b_width}x{b_height}")]
    DimensionMismatch { a_width: u32, a_height: u32, b_width: u32, b_height: u32 },
    /// Zero-sized images have no pixels to compare.
    #[error("image is empty ({width}x{height})")]
    Empty { width: u32, height: u32 },
    /// SSIM needs at least one full 11×11 window after the automatic downsampling.
    #[error(
        "image too small for SSIM: {width}x{height} after downsampling by {factor} \
         is smaller than the {kernel}x{kernel} window"
    )]
    TooSmallForSsim { width: u32, height: u32, factor: u32, kernel: u32 },
    /// MS-SSIM needs `(kernel − 1)·2^(levels − 1) + 1 = 161` pixels on each side.
    #[error("image too small for MS-SSIM: {width}x{height}, need at least {min}x{min}")]
    TooSmallForMsSsim { width: u32, height: u32, min: u32 },
    /// SWD needs a pyramid level of at least [`swd::MIN_LEVEL_SIZE`] pixels on the short side.
    #[error("image too small for SWD: {width}x{height}, need at least {min} pixels on each side")]
    TooSmallForSwd { width: u32, height: u32, min: u32 },
    /// A mask must have one entry per pixel (row-major, width × height).
    #[error("mask has {got} entries, expected {expected} (width x height)")]
    MaskSizeMismatch { got: usize, expected: usize },
    /// The mask selects too few whole 7×7 patches at the finest level.
    #[error("mask selects {got} patch centres at the finest level, need at least {min}")]
    MaskTooSmall { got: usize, min: usize },
}

pub(crate) fn check_pair(a: &RgbImage, b: &RgbImage) -> Result<(), MetricsError> {
    if a.dimensions() != b.dimensions() {
        return Err(MetricsError::DimensionMismatch {
            a_width: a.width(),
            a_height: a.height(),
            b_width: b.width(),
            b_height: b.height(),
        });
    }
    if a.width() == 0 || a.height() == 0 {
        return Err(MetricsError::Empty { width: a.width(), height: a.height() });
    }
    Ok(())
}

/// Mean squared error over all pixels and channels, on the 0–255 scale.
pub fn mse(a: &RgbImage, b: &RgbImage) -> Result<f64, MetricsError> {
    check_pair(a, b)?;
    let sum: f64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(&x, &y)| {
            let d = x as f64 - y as f64;
            d * d
        })
        .sum();
    Ok(sum / a.as_raw().len() as f64)
}

/// Peak signal-to-noise ratio in dB with data range 255, over all three channels:
/// `10·log10(255² / MSE)`. Identical images give [`PSNR_CAP_DB`] (100 dB) instead of +inf;
/// any real difference gives at most 10·log10(255²·3HW) which is below the cap for images
/// under ~10^5 Mpx.
pub fn psnr(a: &RgbImage, b: &RgbImage) -> Result<f64, MetricsError> {
    let m = mse(a, b)?;
    if m == 0.0 {
        return Ok(PSNR_CAP_DB);
    }
    Ok((10.0 * (255.0f64 * 255.0 / m).log10()).min(PSNR_CAP_DB))
}

/// PSNR (as [`psnr`]) over the pixels where `mask` is true (row-major, one entry per
/// pixel): the region metric of key or non-key areas. `None` when the mask selects no
/// pixel.
pub fn psnr_masked(a: &RgbImage, b: &RgbImage, mask: &[bool]) -> Result<Option<f64>, MetricsError> {
    check_pair(a, b)?;
    let expected = a.width() as usize * a.height() as usize;
    if mask.len() != expected {
        return Err(MetricsError::MaskSizeMismatch { got: mask.len(), expected });
    }
    let (mut sum, mut n) = (0.0f64, 0usize);
    for ((pa, pb), &m) in a.as_raw().chunks_exact(3).zip(b.as_raw().chunks_exact(3)).zip(mask) {
        if m {
            sum += pa.iter().zip(pb).map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2)).sum::<f64>();
            n += 3;
        }
    }
    if n == 0 {
        return Ok(None);
    }
    let m = sum / n as f64;
    Ok(Some(if m == 0.0 { PSNR_CAP_DB } else { (10.0 * (255.0f64 * 255.0 / m).log10()).min(PSNR_CAP_DB) }))
}

/// SSIM window size and Gaussian width (piq defaults).
pub(crate) const KERNEL_SIZE: usize = 11;
const KERNEL_SIGMA: f64 = 1.5;
const K1: f64 = 0.01;
const K2: f64 = 0.03;

/// Python's `round()`: half to even. Rust's `f64::round` rounds half away from zero, which
/// differs e.g. for 2.5 (Python 2, Rust 3) and would change piq's downsampling factor.
pub(crate) fn round_half_even(x: f64) -> f64 {
    x.round_ties_even()
}

/// Downsampling factor piq uses: `max(1, round(min(H, W) / 256))` with Python rounding.
pub fn ssim_downsample_factor(width: u32, height: u32) -> u32 {
    let m = width.min(height) as f64;
    (round_half_even(m / 256.0) as u32).max(1)
}

/// One channel as an f64 plane scaled to [0, 1], row-major.
pub(crate) struct Plane {
    pub(crate) w: usize,
    pub(crate) h: usize,
    pub(crate) v: Vec<f64>,
}

pub(crate) fn channel_plane(img: &RgbImage, c: usize) -> Plane {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let v = img.as_raw().chunks_exact(3).map(|p| p[c] as f64 / 255.0).collect();
    Plane { w, h, v }
}

/// `F.avg_pool2d(kernel_size=f)`: stride f, no padding, trailing rows/columns dropped.
pub(crate) fn avg_pool(p: &Plane, f: usize) -> Plane {
    let (w, h) = (p.w / f, p.h / f);
    let mut v = vec![0.0; w * h];
    let inv = 1.0 / (f * f) as f64;
    for y in 0..h {
        for x in 0..w {
            let mut s = 0.0;
            for dy in 0..f {
                let row = (y * f + dy) * p.w + x * f;
                s += p.v[row..row + f].iter().sum::<f64>();
            }
            v[y * w + x] = s * inv;
        }
    }
    Plane { w, h, v }
}

/// Normalised 1-D Gaussian; piq's 2-D kernel is the normalised outer product of the same
/// coordinates, which equals the outer product of this normalised 1-D kernel, so the
/// filter is applied separably.
pub(crate) fn gaussian_1d() -> [f64; KERNEL_SIZE] {
    let mut g = [0.0; KERNEL_SIZE];
    let c = (KERNEL_SIZE as f64 - 1.0) / 2.0;
    for (i, gi) in g.iter_mut().enumerate() {
        let d = i as f64 - c;
        *gi = (-(d * d) / (2.0 * KERNEL_SIGMA * KERNEL_SIGMA)).exp();
    }
    let s: f64 = g.iter().sum();
    g.iter_mut().for_each(|x| *x /= s);
    g
}

/// 'Valid' 2-D correlation with the separable Gaussian: output (h−10)×(w−10).
fn filter_valid(p: &Plane, g: &[f64; KERNEL_SIZE]) -> Plane {
    let k = KERNEL_SIZE;
    let ow = p.w + 1 - k;
    let oh = p.h + 1 - k;
    // Horizontal pass: h × ow.
    let mut tmp = vec![0.0; p.h * ow];
    for y in 0..p.h {
        let row = &p.v[y * p.w..(y + 1) * p.w];
        for x in 0..ow {
            tmp[y * ow + x] = g.iter().zip(&row[x..x + k]).map(|(a, b)| a * b).sum();
        }
    }
    // Vertical pass: oh × ow.
    let mut v = vec![0.0; oh * ow];
    for y in 0..oh {
        for (i, gi) in g.iter().enumerate() {
            let src = &tmp[(y + i) * ow..(y + i + 1) * ow];
            for (o, s) in v[y * ow..(y + 1) * ow].iter_mut().zip(src) {
                *o += gi * s;
            }
        }
    }
    Plane { w: ow, h: oh, v }
}

/// Per-channel `(ssim, cs)`: means of the SSIM map and of the contrast-structure map
/// (piq's `_ssim_per_channel`).
pub(crate) fn ssim_channel(x: &Plane, y: &Plane, g: &[f64; KERNEL_SIZE]) -> (f64, f64) {
    let (map, cs) = ssim_maps(x, y, g);
    let n = map.v.len() as f64;
    (map.v.iter().sum::<f64>() / n, cs.iter().sum::<f64>() / n)
}

/// The SSIM map and the contrast-structure map ('valid' positions, `(h−10) × (w−10)`).
fn ssim_maps(x: &Plane, y: &Plane, g: &[f64; KERNEL_SIZE]) -> (Plane, Vec<f64>) {
    let c1 = K1 * K1;
    let c2 = K2 * K2;
    let sq = |p: &Plane| Plane { w: p.w, h: p.h, v: p.v.iter().map(|a| a * a).collect() };
    let xy = Plane { w: x.w, h: x.h, v: x.v.iter().zip(&y.v).map(|(a, b)| a * b).collect() };
    let mu_x = filter_valid(x, g);
    let mu_y = filter_valid(y, g);
    let e_xx = filter_valid(&sq(x), g);
    let e_yy = filter_valid(&sq(y), g);
    let e_xy = filter_valid(&xy, g);
    let n = mu_x.v.len();
    let mut map = Vec::with_capacity(n);
    let mut cs_map = Vec::with_capacity(n);
    for i in 0..n {
        let (mx, my) = (mu_x.v[i], mu_y.v[i]);
        let (mxx, myy, mxy) = (mx * mx, my * my, mx * my);
        let sxx = e_xx.v[i] - mxx;
        let syy = e_yy.v[i] - myy;
        let sxy = e_xy.v[i] - mxy;
        let cs = (2.0 * sxy + c2) / (sxx + syy + c2);
        map.push((2.0 * mxy + c1) / (mxx + myy + c1) * cs);
        cs_map.push(cs);
    }
    (Plane { w: mu_x.w, h: mu_x.h, v: map }, cs_map)
}

/// Structural similarity exactly as `piq.ssim(x/255, y/255, data_range=1.)` with defaults:
///
/// 1. scale to [0, 1];
/// 2. `f = max(1, round(min(H, W)/256))` (Python half-to-even rounding); if `f > 1`,
///    average-pool with kernel and stride `f` (no padding, remainder dropped);
/// 3. per channel, 'valid' (unpadded) 11×11 Gaussian filtering with σ = 1.5 of x, y, x², y²,
///    xy; `c1 = 0.01²`, `c2 = 0.03²`;
///    `ssim = (2μxμy + c1)/(μx² + μy² + c1) · (2σxy + c2)/(σx² + σy² + c2)`;
/// 4. mean of the map over pixels, then mean over the three channels.
///
/// Errors if dimensions differ or the (downsampled) image is smaller than 11×11.
pub fn ssim(a: &RgbImage, b: &RgbImage) -> Result<f64, MetricsError> {
    check_pair(a, b)?;
    let f = ssim_downsample_factor(a.width(), a.height());
    let (dw, dh) = (a.width() / f, a.height() / f);
    if (dw as usize) < KERNEL_SIZE || (dh as usize) < KERNEL_SIZE {
        return Err(MetricsError::TooSmallForSsim { width: dw, height: dh, factor: f, kernel: KERNEL_SIZE as u32 });
    }
    let g = gaussian_1d();
    let mut total = 0.0;
    for c in 0..3 {
        let mut x = channel_plane(a, c);
        let mut y = channel_plane(b, c);
        if f > 1 {
            x = avg_pool(&x, f as usize);
            y = avg_pool(&y, f as usize);
        }
        total += ssim_channel(&x, &y, &g).0;
    }
    Ok(total / 3.0)
}

/// SSIM (as [`ssim`]) averaged over the map positions whose window centre lies in
/// `mask` (row-major, one entry per pixel; with downsampling, the centre pixel of the
/// pooled cell decides): the region metric of key or non-key areas. An all-true mask
/// gives exactly [`ssim`]; `None` when no window centre is selected.
pub fn ssim_masked(a: &RgbImage, b: &RgbImage, mask: &[bool]) -> Result<Option<f64>, MetricsError> {
    check_pair(a, b)?;
    let expected = a.width() as usize * a.height() as usize;
    if mask.len() != expected {
        return Err(MetricsError::MaskSizeMismatch { got: mask.len(), expected });
    }
    let f = ssim_downsample_factor(a.width(), a.height());
    let (dw, dh) = (a.width() / f, a.height() / f);
    if (dw as usize) < KERNEL_SIZE || (dh as usize) < KERNEL_SIZE {
        return Err(MetricsError::TooSmallForSsim { width: dw, height: dh, factor: f, kernel: KERNEL_SIZE as u32 });
    }
    let (f, w) = (f as usize, a.width() as usize);
    let half = KERNEL_SIZE / 2;
    let g = gaussian_1d();
    let mut total = 0.0;
    let mut count = 0usize;
    for c in 0..3 {
        let mut x = channel_plane(a, c);
        let mut y = channel_plane(b, c);
        if f > 1 {
            x = avg_pool(&x, f);
            y = avg_pool(&y, f);
        }
        let (map, _) = ssim_maps(&x, &y, &g);
        let (mut sum, mut n) = (0.0, 0usize);
        for my in 0..map.h {
            for mx in 0..map.w {
                let (px, py) = ((mx + half) * f + f / 2, (my + half) * f + f / 2);
                if mask[py * w + px] {
                    sum += map.v[my * map.w + mx];
                    n += 1;
                }
            }
        }
        if n == 0 {
            return Ok(None);
        }
        total += sum / n as f64;
        count += 1;
    }
    Ok(Some(total / count as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_ssim_is_ssim_on_the_selected_windows() {
        // Left half distorted, right half identical.
        let a = RgbImage::from_fn(64, 48, |x, y| image::Rgb([(x * 4) as u8, (y * 5) as u8, ((x + y) * 2) as u8]));
        let b = RgbImage::from_fn(64, 48, |x, y| {
            let p = a.get_pixel(x, y).0;
            if x < 32 {
                image::Rgb([p[0] / 2, p[1], 255 - p[2]])
            } else {
                image::Rgb(p)
            }
        });
        let all = vec![true; 64 * 48];
        let whole = ssim(&a, &b).unwrap();
        assert!((ssim_masked(&a, &b, &all).unwrap().unwrap() - whole).abs() < 1e-12);
        let right: Vec<bool> = (0..64 * 48).map(|i| i % 64 >= 48).collect();
        let left: Vec<bool> = (0..64 * 48).map(|i| i % 64 < 16).collect();
        let r = ssim_masked(&a, &b, &right).unwrap().unwrap();
        let l = ssim_masked(&a, &b, &left).unwrap().unwrap();
        assert!((r - 1.0).abs() < 1e-9, "windows fully inside the identical half: {r}");
        assert!(l < whole && whole < r, "{l} < {whole} < {r}");
        assert_eq!(ssim_masked(&a, &b, &vec![false; 64 * 48]).unwrap(), None);
        assert!(ssim_masked(&a, &b, &all[1..]).is_err());
    }

    #[test]
    fn python_rounding() {
        assert_eq!(round_half_even(0.5), 0.0);
        assert_eq!(round_half_even(1.5), 2.0);
        assert_eq!(round_half_even(2.5), 2.0);
        assert_eq!(round_half_even(2.6), 3.0);
        assert_eq!(round_half_even(1.49), 1.0);
        // 640/256 = 2.5 → Python round gives 2 (Rust's round would give 3).
        assert_eq!(ssim_downsample_factor(640, 960), 2);
        assert_eq!(ssim_downsample_factor(384, 384), 2);
        assert_eq!(ssim_downsample_factor(383, 1000), 1);
        assert_eq!(ssim_downsample_factor(100, 100), 1);
        assert_eq!(ssim_downsample_factor(896, 1000), 4); // 3.5 → 4 (even)
    }

    #[test]
    fn gaussian_kernel_is_normalised_and_symmetric() {
        let g = gaussian_1d();
        assert!((g.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        for i in 0..KERNEL_SIZE {
            assert!((g[i] - g[KERNEL_SIZE - 1 - i]).abs() < 1e-15);
        }
        assert!(g[5] > g[4] && g[4] > g[0]);
    }
}
