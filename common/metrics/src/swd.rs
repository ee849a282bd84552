//! Multi-scale sliced Wasserstein distance (SWD) between Laplacian-pyramid patch
//! distributions, after Karras et al. 2018 ("Progressive Growing of GANs", metric code
//! `metrics/sliced_wasserstein.py`). A texture-realism measure that needs no network.
//!
//! Differences from the reference code, which compares two large *sets* of images, all
//! forced by comparing a single pair (optionally restricted to a mask):
//! * instead of 128 random neighbourhoods per image, every whole 7×7 patch whose centre lies
//!   in the mask is a candidate; if there are more than [`SwdConfig::max_patches`], a seeded
//!   random subset is used — the **same** positions in both images, so identical images give
//!   exactly 0;
//! * pyramid levels of odd size: `pyr_down` keeps `ceil(n/2)` samples and `pyr_up` output is
//!   cropped back to the finer level's size (the reference assumes powers of two);
//! * distances are reported raw; multiply by 1e3 to compare with the paper's tables.

use image::{GrayImage, RgbImage};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use serde::Serialize;

use crate::{check_pair, MetricsError};

/// Patch side (7×7 neighbourhoods).
const NHOOD: usize = 7;
const HALF: usize = NHOOD / 2;
/// The pyramid stops at the coarsest level whose short side is at least 16 pixels (the
/// reference code's lowest resolution).
pub const MIN_LEVEL_SIZE: usize = 16;
/// A level needs at least this many patch centres in the mask to be used.
const MIN_PATCHES: usize = 16;

/// SWD parameters; [`Default`] gives the reference values.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SwdConfig {
    /// Random unit directions per repeat (reference: 128).
    pub dirs_per_repeat: usize,
    /// Repeats, each with fresh directions; the level distance is their mean (reference: 4).
    pub dir_repeats: usize,
    /// Cap on patches per level and image (seeded subset, same positions in both images).
    pub max_patches: usize,
    /// Seed for patch subsampling and projection directions.
    pub seed: u64,
}

impl Default for SwdConfig {
    fn default() -> Self {
        Self { dirs_per_repeat: 128, dir_repeats: 4, max_patches: 4096, seed: 0 }
    }
}

/// Per-level and mean SWD (lower is better, 0 for identical images).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SwdReport {
    /// Distance per Laplacian level, finest (full resolution, highest frequencies) first.
    /// Coarse levels on which the mask selects fewer than 16 patch centres are omitted.
    pub per_level: Vec<f64>,
    /// Mean of `per_level`.
    pub mean: f64,
}

/// Mask from a grayscale image: a pixel is inside iff its value is non-zero.
pub fn mask_from_gray(mask: &GrayImage) -> Vec<bool> {
    mask.as_raw().iter().map(|&v| v != 0).collect()
}

/// One pyramid level: 3 channels of (h, w), row-major.
struct Level {
    w: usize,
    h: usize,
    c: [Vec<f64>; 3],
}

/// scipy.ndimage 'mirror' boundary: reflect about the edge samples (…c b | a b c … | …).
fn mirror(i: isize, n: usize) -> usize {
    if n == 1 {
        return 0;
    }
    let period = 2 * (n as isize - 1);
    let m = i.rem_euclid(period);
    (if m < n as isize { m } else { period - m }) as usize
}

/// Separable 5-tap binomial filter `[1 4 6 4 1]/16` (the reference 5×5 /256 kernel),
/// mirror boundary, scaled by `gain`.
fn blur(v: &[f64], w: usize, h: usize, gain: f64) -> Vec<f64> {
    const K: [f64; 5] = [1.0 / 16.0, 4.0 / 16.0, 6.0 / 16.0, 4.0 / 16.0, 1.0 / 16.0];
    let mut tmp = vec![0.0; w * h];
    for y in 0..h {
        for x in 0..w {
            tmp[y * w + x] = (0..5).map(|k| K[k] * v[y * w + mirror(x as isize + k as isize - 2, w)]).sum();
        }
    }
    let mut out = vec![0.0; w * h];
    for y in 0..h {
        for x in 0..w {
            out[y * w + x] =
                gain * (0..5).map(|k| K[k] * tmp[mirror(y as isize + k as isize - 2, h) * w + x]).sum::<f64>();
        }
    }
    out
}

/// `pyr_down`: blur then keep even rows/columns, (h, w) → (ceil(h/2), ceil(w/2)).
fn pyr_down(v: &[f64], w: usize, h: usize) -> (Vec<f64>, usize, usize) {
    let b = blur(v, w, h, 1.0);
    let (dw, dh) = (w.div_ceil(2), h.div_ceil(2));
    let mut out = Vec::with_capacity(dw * dh);
    for y in 0..dh {
        for x in 0..dw {
            out.push(b[2 * y * w + 2 * x]);
        }
    }
    (out, dw, dh)
}

/// `pyr_up`: zero-insert to (2h, 2w), blur with gain 4, crop to (oh, ow).
fn pyr_up(v: &[f64], w: usize, h: usize, ow: usize, oh: usize) -> Vec<f64> {
    let (uw, uh) = (2 * w, 2 * h);
    let mut up = vec![0.0; uw * uh];
    for y in 0..h {
        for x in 0..w {
            up[2 * y * uw + 2 * x] = v[y * w + x];
        }
    }
    let b = blur(&up, uw, uh, 4.0);
    let mut out = Vec::with_capacity(ow * oh);
    for y in 0..oh {
        out.extend_from_slice(&b[y * uw..y * uw + ow]);
    }
    out
}

/// Laplacian pyramid (finest first) of an RGB image on [0, 1] with `levels` levels; the last
/// level is the Gaussian residual.
fn laplacian_pyramid(img: &RgbImage, levels: usize) -> Vec<Level> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let ch = |c: usize| img.as_raw().chunks_exact(3).map(|p| p[c] as f64 / 255.0).collect::<Vec<_>>();
    let mut gauss = vec![Level { w, h, c: [ch(0), ch(1), ch(2)] }];
    for _ in 1..levels {
        let Some(prev) = gauss.last() else { break };
        let (mut c, mut dims) = ([Vec::new(), Vec::new(), Vec::new()], (0, 0));
        for (k, plane) in prev.c.iter().enumerate() {
            let (v, dw, dh) = pyr_down(plane, prev.w, prev.h);
            c[k] = v;
            dims = (dw, dh);
        }
        gauss.push(Level { w: dims.0, h: dims.1, c });
    }
    // Laplacian: L_i = G_i − up(G_{i+1}); last level keeps G.
    let mut lap = Vec::with_capacity(gauss.len());
    for i in 0..gauss.len() {
        let g = &gauss[i];
        let c = if let Some(next) = gauss.get(i + 1) {
            std::array::from_fn(|k| {
                let up = pyr_up(&next.c[k], next.w, next.h, g.w, g.h);
                g.c[k].iter().zip(&up).map(|(a, b)| a - b).collect()
            })
        } else {
            g.c.clone()
        };
        lap.push(Level { w: g.w, h: g.h, c });
    }
    lap
}

/// Descriptors (n × 147, order channel, dy, dx) for patch centres, each channel normalised
/// to zero mean and unit (population) std over all its n·49 values (reference
/// `finalize_descriptors`; a constant channel is only centred).
fn descriptors(level: &Level, centres: &[(usize, usize)]) -> Vec<f64> {
    let dim = 3 * NHOOD * NHOOD;
    let mut d = Vec::with_capacity(centres.len() * dim);
    for &(cx, cy) in centres {
        for c in 0..3 {
            for y in cy - HALF..=cy + HALF {
                d.extend_from_slice(&level.c[c][y * level.w + cx - HALF..=y * level.w + cx + HALF]);
            }
        }
    }
    let per = NHOOD * NHOOD;
    for c in 0..3 {
        let vals = || d.chunks_exact(dim).flat_map(|row| &row[c * per..(c + 1) * per]);
        let n = (centres.len() * per) as f64;
        let mean = vals().sum::<f64>() / n;
        let var = vals().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
        let inv = if var > 0.0 { 1.0 / var.sqrt() } else { 1.0 };
        for row in d.chunks_exact_mut(dim) {
            row[c * per..(c + 1) * per].iter_mut().for_each(|v| *v = (*v - mean) * inv);
        }
    }
    d
}

/// Sliced Wasserstein-1 distance between two equal-size descriptor sets (n × dim):
/// mean over repeats of the mean over directions and sorted projections of |pA − pB|.
fn sliced_wasserstein(a: &[f64], b: &[f64], dim: usize, cfg: &SwdConfig, rng: &mut ChaCha8Rng) -> f64 {
    let n = a.len() / dim;
    let nd = cfg.dirs_per_repeat;
    if n == 0 || nd == 0 || cfg.dir_repeats == 0 {
        return 0.0;
    }
    let mut total = 0.0;
    for _ in 0..cfg.dir_repeats {
        // Directions as a (dim × nd) matrix, each column a unit vector.
        let mut dirs: Vec<f64> = (0..dim * nd).map(|_| rng.sample::<f64, _>(StandardNormal)).collect();
        for j in 0..nd {
            let norm = (0..dim).map(|k| dirs[k * nd + j].powi(2)).sum::<f64>().sqrt().max(f64::MIN_POSITIVE);
            (0..dim).for_each(|k| dirs[k * nd + j] /= norm);
        }
        // Projections, stored per direction: (nd × n), each column sorted.
        let project = |d: &[f64]| {
            let mut p = vec![0.0; nd * n];
            let mut acc = vec![0.0; nd];
            for (i, row) in d.chunks_exact(dim).enumerate() {
                acc.iter_mut().for_each(|v| *v = 0.0);
                for (k, &x) in row.iter().enumerate() {
                    acc.iter_mut().zip(&dirs[k * nd..(k + 1) * nd]).for_each(|(s, &dk)| *s += x * dk);
                }
                for (j, &v) in acc.iter().enumerate() {
                    p[j * n + i] = v;
                }
            }
            p.chunks_exact_mut(n).for_each(|col| col.sort_unstable_by(f64::total_cmp));
            p
        };
        let (pa, pb) = (project(a), project(b));
        total += pa.iter().zip(&pb).map(|(x, y)| (x - y).abs()).sum::<f64>() / (n * nd) as f64;
    }
    total / cfg.dir_repeats as f64
}

/// SWD with the reference parameters ([`SwdConfig::default`]) and the given seed.
///
/// `mask` (optional, row-major `width × height`, `true` = inside; see [`mask_from_gray`])
/// restricts the comparison to patches whose centre lies in the mask; at pyramid level l,
/// sample (x, y) sits at full-resolution pixel (x·2^l, y·2^l).
///
/// Errors: dimension mismatch, short side below 16, wrong mask length, or fewer than 16 whole
/// 7×7 patches with centre in the mask at full resolution.
pub fn swd(a: &RgbImage, b: &RgbImage, mask: Option<&[bool]>, seed: u64) -> Result<SwdReport, MetricsError> {
    swd_with_config(a, b, mask, &SwdConfig { seed, ..SwdConfig::default() })
}

/// [`swd`] with explicit parameters.
pub fn swd_with_config(
    a: &RgbImage,
    b: &RgbImage,
    mask: Option<&[bool]>,
    cfg: &SwdConfig,
) -> Result<SwdReport, MetricsError> {
    check_pair(a, b)?;
    let (w, h) = (a.width() as usize, a.height() as usize);
    if w.min(h) < MIN_LEVEL_SIZE {
        return Err(MetricsError::TooSmallForSwd { width: a.width(), height: a.height(), min: MIN_LEVEL_SIZE as u32 });
    }
    if let Some(m) = mask {
        if m.len() != w * h {
            return Err(MetricsError::MaskSizeMismatch { got: m.len(), expected: w * h });
        }
    }
    // Levels while the short side stays ≥ 16: sizes n, ceil(n/2), …
    let mut levels = 1;
    let (mut lw, mut lh) = (w, h);
    while lw.div_ceil(2).min(lh.div_ceil(2)) >= MIN_LEVEL_SIZE {
        lw = lw.div_ceil(2);
        lh = lh.div_ceil(2);
        levels += 1;
    }
    let pa = laplacian_pyramid(a, levels);
    let pb = laplacian_pyramid(b, levels);
    let dim = 3 * NHOOD * NHOOD;
    let mut per_level = Vec::with_capacity(levels);
    for (l, (la, lb)) in pa.iter().zip(&pb).enumerate() {
        // Candidate centres: whole patch inside the level, centre inside the mask.
        let mut centres = Vec::new();
        for y in HALF..la.h - HALF {
            for x in HALF..la.w - HALF {
                let inside = mask.is_none_or(|m| m[(y << l) * w + (x << l)]);
                if inside {
                    centres.push((x, y));
                }
            }
        }
        if centres.len() < MIN_PATCHES {
            if l == 0 {
                return Err(MetricsError::MaskTooSmall { got: centres.len(), min: MIN_PATCHES });
            }
            break;
        }
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        rng.set_stream(l as u64);
        if centres.len() > cfg.max_patches {
            // Partial Fisher–Yates: a uniform random subset of max_patches centres.
            for i in 0..cfg.max_patches {
                let j = rng.random_range(i..centres.len());
                centres.swap(i, j);
            }
            centres.truncate(cfg.max_patches);
        }
        let (da, db) = (descriptors(la, &centres), descriptors(lb, &centres));
        per_level.push(sliced_wasserstein(&da, &db, dim, cfg, &mut rng));
    }
    let mean = per_level.iter().sum::<f64>() / per_level.len() as f64;
    Ok(SwdReport { per_level, mean })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirror_boundary_matches_scipy() {
        let idx: Vec<usize> = (-3..8).map(|i| mirror(i, 5)).collect();
        assert_eq!(idx, vec![3, 2, 1, 0, 1, 2, 3, 4, 3, 2, 1]);
        assert_eq!(mirror(-1, 1), 0);
    }

    #[test]
    fn pyramid_of_constant_image_is_flat() {
        let img = RgbImage::from_pixel(37, 20, image::Rgb([100, 50, 200]));
        let p = laplacian_pyramid(&img, 2);
        assert_eq!((p[1].w, p[1].h), (19, 10));
        for v in &p[0].c[0] {
            assert!(v.abs() < 1e-12);
        }
        assert!((p[1].c[2][5] - 200.0 / 255.0).abs() < 1e-12);
    }
}
