//! Sender: image + non-key mask → structured prompt.

use image::RgbImage;

use super::segments::{segments_with, SegmentOptions};
use super::{
    detail_map, ColourLayout, SegmentPrompt, StructuredPrompt, TextureStats, AC_MAX, AC_STEP, C_DC_STEP, ENERGY_MAX,
    ENERGY_PER_OCTAVE, LUMA_STD_MAX, MAX_GRID, ORIENTATIONS, SCALES, Y_DC_STEP,
};
use crate::segment::BlockMask;

/// How much the prompt says; the sender steps down when the digital budget is short so
/// the prompt degrades before the key symbols starve.
///
/// | level   | segments | colour grid | coefficients Y/Cb/Cr | texture energies | detail map |
/// |---------|----------|-------------|----------------------|------------------|------------|
/// | Full    | ≤ 16     | ≤ 8 × 8     | 6 / 3 / 3            | 12 (3 scales × 4 orientations) | per 2 × 2-block cell |
/// | Reduced | ≤ 8      | ≤ 4 × 4     | 3 / 1 / 1            | 4 (orientations, pooled over scales) | none |
/// | Minimal | ≤ 4      | 1 × 1       | 1 / 1 / 1 (mean)     | none (luma_std only) | none |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PromptDetail {
    Full,
    Reduced,
    Minimal,
}

/// What a [`PromptDetail`] level keeps (the table above).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DetailParams {
    max_segments: usize,
    /// Largest colour-layout grid side.
    max_grid: u32,
    /// Colour-layout coefficients kept for Y and for each chroma channel.
    luma_coefs: usize,
    chroma_coefs: usize,
    /// Texture energies sent.
    energies: usize,
}

impl PromptDetail {
    fn params(self) -> DetailParams {
        let (max_segments, max_grid, luma_coefs, chroma_coefs, energies) = match self {
            PromptDetail::Full => (16, MAX_GRID, 6, 3, SCALES * ORIENTATIONS),
            PromptDetail::Reduced => (8, 4, 3, 1, ORIENTATIONS),
            PromptDetail::Minimal => (4, 1, 1, 1, 0),
        };
        DetailParams { max_segments, max_grid, luma_coefs, chroma_coefs, energies }
    }
}

/// Zig-zag (JPEG) order of a `gh × gw` grid as `(y, x)` pairs.
pub(crate) fn zigzag(gw: usize, gh: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::with_capacity(gw * gh);
    for s in 0..(gw + gh).saturating_sub(1) {
        let lo = s.saturating_sub(gw - 1);
        let hi = s.min(gh - 1);
        if s % 2 == 0 {
            for y in (lo..=hi).rev() {
                out.push((y, s - y));
            }
        } else {
            for y in lo..=hi {
                out.push((y, s - y));
            }
        }
    }
    out
}

/// 1-D DCT-II basis, orthonormal times `1/√n`, so the 2-D DC term is the grid mean.
pub(crate) fn basis(k: usize, i: usize, n: usize) -> f32 {
    // Orthonormal basis times 1/√n: a(0)·(1/√n) = 1/n, a(k)·(1/√n) = √2/n.
    let a = if k == 0 { 1.0 / n as f32 } else { std::f32::consts::SQRT_2 / n as f32 };
    a * (std::f32::consts::PI * (2 * i + 1) as f32 * k as f32 / (2 * n) as f32).cos()
}

/// Grid side for a bounding box of `px` pixels (cells of ≥ 8 pixels, at most `max`).
pub(crate) fn grid_side(px: u32, max: u32) -> u32 {
    (px / 8).clamp(1, max.max(1))
}

#[derive(Clone)]
struct Acc {
    bbox: (u32, u32, u32, u32), // x0, y0, x1, y1 (exclusive) in pixels
    gw: u32,
    gh: u32,
    cells: Vec<[f64; 4]>, // sum Y, Cb, Cr, count
    n: f64,
    sum_y: f64,
    sum_yy: f64,
    sum: [f64; 3],
    /// Mean oriented gradient energy per scale and orientation ([`gradient_energy`]).
    energy: [[f64; ORIENTATIONS]; SCALES],
    /// Per detail-map cell of the segment (ascending cell index): the cell, the sum of
    /// gx² + gy² over the segment's pixels in it and their count.
    detail: Vec<(usize, f64, f64)>,
}

/// Describes the non-key blocks (`true` bits of `non_key`; see [`super::non_key_of`]) of
/// `img`: segments from [`segments_with`] (tiny < 4 blocks, at most the level's segment
/// count), then per segment its geometry, colour layout and texture statistics, computed
/// only over that segment's pixels (quantisers in the module docs). Total: a mask whose
/// grid does not cover the image simply describes the pixels it covers; segments without
/// pixels get a neutral description. Captions are left empty.
pub fn describe(img: &RgbImage, non_key: &BlockMask, detail: PromptDetail) -> StructuredPrompt {
    let DetailParams { max_segments: max_seg, max_grid, luma_coefs: ny, chroma_coefs: nc, energies: ne } =
        detail.params();
    let map = detail == PromptDetail::Full;
    let segs = segments_with(non_key, &SegmentOptions { min_blocks: 4, max_segments: max_seg });
    let (w, h) = img.dimensions();
    let (wb, hb, b) = (non_key.width_blocks(), non_key.height_blocks(), non_key.block());
    let mut block_label = vec![usize::MAX; (wb as usize) * (hb as usize)];
    let mut accs = Vec::with_capacity(segs.len());
    for (s, m) in segs.iter().enumerate() {
        let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0u32, 0u32);
        for (i, _) in m.bits().iter().enumerate().filter(|(_, &v)| v) {
            block_label[i] = s;
            let (bx, by) = (i as u32 % wb, i as u32 / wb);
            x0 = x0.min(bx);
            y0 = y0.min(by);
            x1 = x1.max(bx + 1);
            y1 = y1.max(by + 1);
        }
        let px0 = x0.saturating_mul(b).min(w);
        let py0 = y0.saturating_mul(b).min(h);
        let px1 = x1.saturating_mul(b).min(w);
        let py1 = y1.saturating_mul(b).min(h);
        let gw = grid_side(px1 - px0, max_grid);
        let gh = grid_side(py1 - py0, max_grid);
        accs.push(Acc {
            bbox: (px0, py0, px1, py1),
            gw,
            gh,
            cells: vec![[0.0; 4]; (gw * gh) as usize],
            n: 0.0,
            sum_y: 0.0,
            sum_yy: 0.0,
            sum: [0.0; 3],
            energy: [[0.0; ORIENTATIONS]; SCALES],
            detail: detail_map::segment_cells(m).into_iter().map(|c| (c, 0.0, 0.0)).collect(),
        });
    }
    let label_at = |x: u32, y: u32| -> usize {
        let (bx, by) = (x / b, y / b);
        if bx < wb && by < hb {
            block_label[(by * wb + bx) as usize]
        } else {
            usize::MAX
        }
    };

    // Colour, mean and std at full resolution.
    let planes = crate::color::rgb_to_ycbcr(img);
    for y in 0..h {
        for x in 0..w {
            let l = label_at(x, y);
            if l == usize::MAX {
                continue;
            }
            let a = &mut accs[l];
            let i = (y * w + x) as usize;
            let v = [planes.y[i] as f64, planes.cb[i] as f64, planes.cr[i] as f64];
            let (x0, y0, x1, y1) = a.bbox;
            let cx = ((x - x0) as u64 * a.gw as u64 / (x1 - x0).max(1) as u64) as u32;
            let cy = ((y - y0) as u64 * a.gh as u64 / (y1 - y0).max(1) as u64) as u32;
            let c = &mut a.cells[(cy.min(a.gh - 1) * a.gw + cx.min(a.gw - 1)) as usize];
            for k in 0..3 {
                c[k] += v[k];
                a.sum[k] += v[k];
            }
            c[3] += 1.0;
            a.n += 1.0;
            a.sum_y += v[0];
            a.sum_yy += v[0] * v[0];
        }
    }

    // Texture: oriented gradient energy at scales 1, 2, 4; the detail map from the
    // full-resolution gradients.
    if ne > 0 && !accs.is_empty() {
        let label = |x: usize, y: usize| label_at(x as u32, y as u32);
        let energy = gradient_energy(&planes.y, w as usize, h as usize, accs.len(), label, |x, y, l, proj| {
            if map {
                // proj[0] = gx, proj[2] = gy.
                let a = &mut accs[l];
                let cell = detail_map::cell_of(x as u32 / b, y as u32 / b, wb);
                if let Ok(k) = a.detail.binary_search_by_key(&cell, |d| d.0) {
                    a.detail[k].1 += (proj[0] * proj[0] + proj[2] * proj[2]) as f64;
                    a.detail[k].2 += 1.0;
                }
            }
        });
        for (a, e) in accs.iter_mut().zip(energy) {
            a.energy = e;
        }
    }

    let segments = segs
        .iter()
        .zip(&accs)
        .map(|(m, a)| SegmentPrompt {
            geometry: m.encode(),
            colour: Some(colour_layout(a, ny, nc)),
            texture: Some(texture(a, ne, map)),
            caption: String::new(),
        })
        .collect();
    StructuredPrompt { width: w, height: h, block: b, segments }
}

fn colour_layout(a: &Acc, ny: usize, nc: usize) -> ColourLayout {
    let (gw, gh) = (a.gw as usize, a.gh as usize);
    let mean: [f64; 3] = if a.n > 0.0 { a.sum.map(|s| s / a.n) } else { [128.0; 3] };
    let order = zigzag(gw, gh);
    let mut chans: [Vec<i32>; 3] = Default::default();
    for k in 0..3 {
        let grid: Vec<f32> =
            a.cells.iter().map(|c| if c[3] > 0.0 { (c[k] / c[3]) as f32 } else { mean[k] as f32 }).collect();
        let keep = if k == 0 { ny } else { nc }.min(gw * gh);
        for &(v, u) in order.iter().take(keep) {
            let mut coef = 0f32;
            for y in 0..gh {
                for x in 0..gw {
                    coef += grid[y * gw + x] * basis(u, x, gw) * basis(v, y, gh);
                }
            }
            let q = if u == 0 && v == 0 {
                if k == 0 {
                    (coef / Y_DC_STEP).round().clamp(0.0, (255.0 / Y_DC_STEP).round()) as i32
                } else {
                    let lim = (128.0 / C_DC_STEP).round();
                    ((coef - 128.0) / C_DC_STEP).round().clamp(-lim, lim) as i32
                }
            } else {
                (coef / AC_STEP).round().clamp(-AC_MAX as f32, AC_MAX as f32) as i32
            };
            chans[k].push(q);
        }
    }
    let [y, cb, cr] = chans;
    ColourLayout { grid_w: a.gw, grid_h: a.gh, y, cb, cr }
}

fn quant_energy(e: f64) -> u32 {
    ((ENERGY_PER_OCTAVE as f64 * (1.0 + e.max(0.0)).log2()).round() as u32).min(ENERGY_MAX)
}

fn texture(a: &Acc, ne: usize, map: bool) -> TextureStats {
    let std = if a.n > 0.0 {
        let m = a.sum_y / a.n;
        (a.sum_yy / a.n - m * m).max(0.0).sqrt()
    } else {
        0.0
    };
    let full: Vec<u32> = a.energy.iter().flat_map(|e| e.iter().map(|&v| quant_energy(v))).collect();
    let energy = match ne {
        0 => Vec::new(),
        n if n == ORIENTATIONS => (0..ORIENTATIONS)
            .map(|k| {
                let s: u32 = (0..SCALES).map(|s| full[s * ORIENTATIONS + k]).sum();
                (s as f32 / SCALES as f32).round() as u32
            })
            .collect(),
        _ => full,
    };
    let block_detail = if map {
        let q: Vec<u8> =
            a.detail.iter().map(|&(_, e, n)| if n > 0.0 { detail_map::quantise_detail(e / n) } else { 0 }).collect();
        detail_map::pack(&q)
    } else {
        Vec::new()
    };
    TextureStats { energy, luma_std: (std.round() as u32).min(LUMA_STD_MAX), block_detail }
}

/// Mean squared oriented gradient per region, scale and orientation: the texture
/// statistics before quantising (module docs of [`crate::prompt`]). Box pyramid 1×, 2×,
/// 4× of the `h × w` plane `luma`; at each scale [`oriented_gradient`] restricted to the
/// pixel's region. `label(x, y)` is the region of full-resolution pixel (x, y), anything
/// from `regions` on meaning none; a pyramid pixel takes the region of its top-left
/// full-resolution pixel. `fine(x, y, region, projections)` sees every full-resolution
/// pixel of a region. Regions without pixels at a scale get 0 there.
pub(crate) fn gradient_energy(
    luma: &[f32],
    w: usize,
    h: usize,
    regions: usize,
    label: impl Fn(usize, usize) -> usize,
    mut fine: impl FnMut(usize, usize, usize, &[f32; ORIENTATIONS]),
) -> Vec<[[f64; ORIENTATIONS]; SCALES]> {
    let mut energy = vec![[[0f64; ORIENTATIONS]; SCALES]; regions];
    let mut count = vec![[0f64; SCALES]; regions];
    let mut level = Level { px: luma.to_vec(), width: w, height: h };
    for s in 0..SCALES {
        let step = 1usize << s;
        if s > 0 {
            level = level.half();
        }
        let (plane, lw, lh) = (&level.px, level.width, level.height);
        let lab = |x: usize, y: usize| label(x * step, y * step);
        for y in 0..lh {
            for x in 0..lw {
                let l = lab(x, y);
                if l >= regions {
                    continue;
                }
                let proj = oriented_gradient(plane, lw, lh, x, y, |xx, yy| lab(xx, yy) == l);
                for (acc, p) in energy[l][s].iter_mut().zip(proj) {
                    *acc += (p * p) as f64;
                }
                count[l][s] += 1.0;
                if s == 0 {
                    fine(x, y, l, &proj);
                }
            }
        }
    }
    for (e, n) in energy.iter_mut().zip(&count) {
        for (es, &ns) in e.iter_mut().zip(n) {
            if ns > 0.0 {
                es.iter_mut().for_each(|v| *v /= ns);
            }
        }
    }
    energy
}

/// One level of the box pyramid: a row-major `height × width` plane.
struct Level {
    px: Vec<f32>,
    width: usize,
    height: usize,
}

impl Level {
    /// The next level up: 2×2 means (partial at the right/bottom edge).
    fn half(&self) -> Level {
        let (lw, lh) = (self.width, self.height);
        let (nw, nh) = (lw.div_ceil(2), lh.div_ceil(2));
        let mut next = vec![0f32; nw * nh];
        for y in 0..nh {
            for x in 0..nw {
                let (mut acc, mut n) = (0f32, 0f32);
                for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                    let (sx, sy) = (2 * x + dx, 2 * y + dy);
                    if sx < lw && sy < lh {
                        acc += self.px[sy * lw + sx];
                        n += 1.0;
                    }
                }
                next[y * nw + x] = acc / n;
            }
        }
        Level { px: next, width: nw, height: nh }
    }
}

/// Gradient at (x, y) of an `lw × lh` plane projected on θ = 0°, 45°, 90°, 135°:
/// central differences, one-sided where a neighbour is outside the image or not `same`
/// region (so other regions never leak in).
pub(crate) fn oriented_gradient(
    luma: &[f32],
    lw: usize,
    lh: usize,
    x: usize,
    y: usize,
    same: impl Fn(usize, usize) -> bool,
) -> [f32; ORIENTATIONS] {
    let f = |xx: usize, yy: usize| luma[yy * lw + xx];
    let c = f(x, y);
    let diff = |prev: Option<f32>, next: Option<f32>| match (prev, next) {
        (Some(p), Some(n)) => (n - p) / 2.0,
        (Some(p), None) => c - p,
        (None, Some(n)) => n - c,
        (None, None) => 0.0,
    };
    let left = (x > 0 && same(x - 1, y)).then(|| f(x - 1, y));
    let right = (x + 1 < lw && same(x + 1, y)).then(|| f(x + 1, y));
    let up = (y > 0 && same(x, y - 1)).then(|| f(x, y - 1));
    let down = (y + 1 < lh && same(x, y + 1)).then(|| f(x, y + 1));
    let (gx, gy) = (diff(left, right), diff(up, down));
    let r = std::f32::consts::FRAC_1_SQRT_2;
    [gx, (gx + gy) * r, gy, (gy - gx) * r]
}
