//! The segment layout of a prompt and the colour layout rendered from it.

use super::{input_err, GREY, NONE};
use crate::color::Planes;
use crate::generate::GenerateError;
use crate::prompt::{
    basis, segment_geometry, validate, zigzag, PromptLimits, StructuredPrompt, AC_STEP, C_DC_STEP, Y_DC_STEP,
};
use crate::segment::BlockMask;

/// Segment geometry of a validated prompt.
pub(super) struct Layout {
    pub(super) width: usize,
    pub(super) height: usize,
    pub(super) block: usize,
    /// Blocks per row of the prompt's grid (`⌈width / block⌉`).
    pub(super) wb: usize,
    /// Segment index per block, [`NONE`] where no segment claims it; `hb × wb`.
    pub(super) block_label: Vec<u32>,
    /// Per segment: pixel bounding box `[x0, y0, x1, y1)`, block aligned, clipped.
    pub(super) bbox: Vec<[usize; 4]>,
    /// Per segment: its blocks (decoded geometry).
    pub(super) segments: Vec<BlockMask>,
}

impl Layout {
    /// Validates the prompt ([`validate`] with default limits; [`crate::prompt::safe_prior`]
    /// output always passes) and decodes every segment's geometry.
    pub(super) fn of(p: &StructuredPrompt) -> Result<Self, GenerateError> {
        validate(p, &PromptLimits::default()).map_err(|e| input_err(format!("prompt: {e}")))?;
        let (w, h, b) = (p.width as usize, p.height as usize, p.block as usize);
        let (wb, hb) = (w.div_ceil(b), h.div_ceil(b));
        let mut block_label = vec![NONE; wb * hb];
        let mut bbox = Vec::with_capacity(p.segments.len());
        let mut segments = Vec::with_capacity(p.segments.len());
        for s in 0..p.segments.len() {
            let m = segment_geometry(p, s, wb as u32, hb as u32).map_err(|e| input_err(format!("prompt: {e}")))?;
            let mut bb = [usize::MAX, usize::MAX, 0, 0];
            for (i, _) in m.bits().iter().enumerate().filter(|(_, &v)| v) {
                block_label[i] = s as u32;
                let (bx, by) = (i % wb, i / wb);
                bb = [bb[0].min(bx), bb[1].min(by), bb[2].max(bx + 1), bb[3].max(by + 1)];
            }
            bbox.push([(bb[0] * b).min(w), (bb[1] * b).min(h), (bb[2] * b).min(w), (bb[3] * b).min(h)]);
            segments.push(m);
        }
        Ok(Self { width: w, height: h, block: b, wb, block_label, bbox, segments })
    }

    /// Segment of pixel `(x, y)` (inside the image), or [`NONE`].
    pub(super) fn label_at(&self, x: usize, y: usize) -> u32 {
        self.block_label[(y / self.block) * self.wb + x / self.block]
    }
}

/// Renders the colour layout of a (valid) prompt over the whole frame, in YCbCr.
///
/// Per segment: the quantised coefficients are dequantised (DC `q·Y_DC_STEP`, or
/// `128 + q·C_DC_STEP` for chroma; AC `q·AC_STEP`) and inverse transformed into the
/// `grid_h × grid_w` cell values (exact inverse of describe's DC-normalised DCT, missing
/// coefficients taken as 0), which are interpolated bilinearly between cell centres
/// (constant beyond the outer centres) over the segment's pixels. Pixels of blocks no
/// segment claims (key blocks, dropped segments) take, per 4-connected region of such
/// blocks, the mean colour of the segment blocks 8-adjacent to it, or mid-grey with none.
///
/// Errors: [`GenerateError::Input`] when the prompt does not validate.
pub fn render_colour_layout(prompt: &StructuredPrompt) -> Result<Planes, GenerateError> {
    Ok(render_layout(prompt, &Layout::of(prompt)?))
}

pub(super) fn render_layout(p: &StructuredPrompt, layout: &Layout) -> Planes {
    let (w, h) = (layout.width, layout.height);
    let mut chans = [vec![GREY[0]; w * h], vec![GREY[1]; w * h], vec![GREY[2]; w * h]];
    for (s, seg) in p.segments.iter().enumerate() {
        let Some(c) = &seg.colour else { continue };
        let (gw, gh) = (c.grid_w.max(1) as usize, c.grid_h.max(1) as usize);
        let order = zigzag(gw, gh);
        let [x0, y0, x1, y1] = layout.bbox[s];
        for (k, coefs) in [&c.y, &c.cb, &c.cr].into_iter().enumerate() {
            // Cell values: grid[y][x] = Σ coef(v,u) · gw·basis(u,x) · gh·basis(v,y), the inverse
            // of describe's coef = Σ grid · basis(u,x) · basis(v,y) (basis = orthonormal / √n).
            let mut grid = vec![0f32; gw * gh];
            for (j, (&q, &(v, u))) in coefs.iter().zip(&order).enumerate() {
                let coef = match (j, k) {
                    (0, 0) => q as f32 * Y_DC_STEP,
                    (0, _) => 128.0 + q as f32 * C_DC_STEP,
                    _ => q as f32 * AC_STEP,
                };
                for gy in 0..gh {
                    let by = gh as f32 * basis(v, gy, gh);
                    for gx in 0..gw {
                        grid[gy * gw + gx] += coef * gw as f32 * basis(u, gx, gw) * by;
                    }
                }
            }
            for y in y0..y1 {
                let CellAxis { lo: cy0, hi: cy1, t: ty } = CellAxis::of(y - y0, y1 - y0, gh);
                for x in x0..x1 {
                    if layout.label_at(x, y) != s as u32 {
                        continue;
                    }
                    let CellAxis { lo: cx0, hi: cx1, t: tx } = CellAxis::of(x - x0, x1 - x0, gw);
                    let top = grid[cy0 * gw + cx0] * (1.0 - tx) + grid[cy0 * gw + cx1] * tx;
                    let bot = grid[cy1 * gw + cx0] * (1.0 - tx) + grid[cy1 * gw + cx1] * tx;
                    chans[k][y * w + x] = top * (1.0 - ty) + bot * ty;
                }
            }
        }
    }
    fill_uncovered(p, layout, &mut chans);
    let [y, cb, cr] = chans;
    Planes { width: w as u32, height: h as u32, y, cb, cr }
}

/// Bilinear position along one axis: the two neighbouring cell indices and the weight
/// of the second.
struct CellAxis {
    lo: usize,
    hi: usize,
    t: f32,
}

impl CellAxis {
    /// Position of pixel offset `p` in a box of `len` px cut into `cells` cells.
    fn of(p: usize, len: usize, cells: usize) -> Self {
        let u = ((p as f32 + 0.5) * cells as f32 / len.max(1) as f32 - 0.5).clamp(0.0, (cells - 1) as f32);
        let lo = (u as usize).min(cells - 1);
        CellAxis { lo, hi: (lo + 1).min(cells - 1), t: u - lo as f32 }
    }
}

/// Fills the blocks no segment claims (see [`render_colour_layout`]).
fn fill_uncovered(p: &StructuredPrompt, layout: &Layout, chans: &mut [Vec<f32>; 3]) {
    let (w, h, b, wb) = (layout.width, layout.height, layout.block, layout.wb);
    let hb = layout.block_label.len() / wb.max(1);
    let block_px = |i: usize| {
        let (bx, by) = (i % wb, i / wb);
        (by * b..((by + 1) * b).min(h)).flat_map(move |y| (bx * b..((bx + 1) * b).min(w)).map(move |x| y * w + x))
    };
    // A claimed block without a colour layout (never after validation) counts as unclaimed.
    let covered = |i: usize| {
        let l = layout.block_label[i];
        l != NONE && p.segments.get(l as usize).is_some_and(|s| s.colour.is_some())
    };
    let mut region = vec![NONE; wb * hb];
    let mut stamp = vec![NONE; wb * hb];
    let mut stack = Vec::new();
    for start in 0..wb * hb {
        if covered(start) || region[start] != NONE {
            continue;
        }
        // Flood the 4-connected region of unclaimed blocks.
        let id = start as u32;
        let mut members = Vec::new();
        region[start] = id;
        stack.push(start);
        while let Some(i) = stack.pop() {
            members.push(i);
            let (x, y) = (i % wb, i / wb);
            for (dx, dy) in [(-1i64, 0i64), (1, 0), (0, -1), (0, 1)] {
                let (nx, ny) = (x as i64 + dx, y as i64 + dy);
                if nx >= 0 && ny >= 0 && (nx as usize) < wb && (ny as usize) < hb {
                    let j = ny as usize * wb + nx as usize;
                    if !covered(j) && region[j] == NONE {
                        region[j] = id;
                        stack.push(j);
                    }
                }
            }
        }
        // Mean colour of the claimed blocks 8-adjacent to the region.
        let (mut sum, mut n) = ([0f64; 3], 0usize);
        for &i in &members {
            let (x, y) = (i % wb, i / wb);
            for dy in -1i64..=1 {
                for dx in -1i64..=1 {
                    let (nx, ny) = (x as i64 + dx, y as i64 + dy);
                    if nx < 0 || ny < 0 || nx as usize >= wb || ny as usize >= hb {
                        continue;
                    }
                    let j = ny as usize * wb + nx as usize;
                    if !covered(j) || stamp[j] == id {
                        continue;
                    }
                    stamp[j] = id;
                    let (mut bs, mut bn) = ([0f64; 3], 0usize);
                    for px in block_px(j) {
                        for k in 0..3 {
                            bs[k] += chans[k][px] as f64;
                        }
                        bn += 1;
                    }
                    if bn > 0 {
                        for k in 0..3 {
                            sum[k] += bs[k] / bn as f64;
                        }
                        n += 1;
                    }
                }
            }
        }
        let fill = if n > 0 { sum.map(|s| (s / n as f64) as f32) } else { GREY };
        for &i in &members {
            for px in block_px(i) {
                for k in 0..3 {
                    chans[k][px] = fill[k];
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use image::{Rgb, RgbImage};

    use super::super::test_util::*;
    use super::*;
    use crate::color::{rgb_to_ycbcr, ycbcr_to_rgb};
    use crate::prompt::{describe, non_key_of, PromptDetail};

    #[test]
    fn colour_layout_inverts_describe_on_smooth_image() {
        // One segment over the whole 128×128 frame → 8×8 grid of 16-px cells. The cosines
        // below have cell means that are exactly single kept DCT terms (Y: (0,1), (1,0);
        // chroma: (0,1) / (1,0)), so truncation costs nothing and the error is:
        // * quantisation: each kept coefficient off by ≤ step/2, orthonormal up to the DC
        //   scaling, so the grid RMS error ≤ √((Y_DC/2)² + 5·(AC/2)²) = 3.5 (Y) and
        //   √((C_DC/2)² + 2·(AC/2)²) = 2.35 (chroma);
        // * bilinear interpolation of the cosines between 16-px cell centres, cell-mean
        //   shrinkage and the flat edge extrapolation: ≤ 0.045 · amplitude = 3.6 (Y, 80),
        //   0.9 (Cb, 20), 0.7 (Cr, 15) grey levels.
        // Bounds: PSNR ≥ 20·log10(255 / (3.5 + 3.6)) = 31.1 dB (Y), ≥ 37.8 dB (Cb), ≥ 38.3 dB (Cr).
        let (w, h) = (128u32, 128u32);
        let c = |v: u32, n: u32| (std::f32::consts::PI * (v as f32 + 0.5) / n as f32).cos();
        let truth = planes(w, h, |x, y| {
            [128.0 + 50.0 * c(x, w) + 30.0 * c(y, h), 128.0 + 20.0 * c(x, w), 128.0 - 15.0 * c(y, h)]
        });
        let img = ycbcr_to_rgb(&truth);
        let truth = rgb_to_ycbcr(&img);
        let nk = non_key_of(&key_mask(w, h, |_, _| false));
        let prompt = describe(&img, &nk, PromptDetail::Full);
        assert_eq!(prompt.segments.len(), 1);
        let r = render_colour_layout(&prompt).unwrap();
        let (py, pb, pr) = (psnr(&r.y, &truth.y), psnr(&r.cb, &truth.cb), psnr(&r.cr, &truth.cr));
        eprintln!("layout PSNR Y {py:.1} Cb {pb:.1} Cr {pr:.1} dB");
        assert!(py >= 31.1 && pb >= 37.8 && pr >= 38.3, "{py} {pb} {pr}");
    }
    #[test]
    fn constant_colour_is_reproduced_within_the_dc_step() {
        // 70×50: partial blocks at the right and bottom edges.
        let img = RgbImage::from_pixel(70, 50, Rgb([200, 120, 40]));
        let truth = rgb_to_ycbcr(&img);
        let nk = non_key_of(&key_mask(70, 50, |_, _| false));
        for detail in [PromptDetail::Full, PromptDetail::Reduced, PromptDetail::Minimal] {
            let r = render_colour_layout(&describe(&img, &nk, detail)).unwrap();
            for i in 0..truth.y.len() {
                assert!((r.y[i] - truth.y[0]).abs() <= Y_DC_STEP / 2.0 + 1e-3, "{detail:?} y {}", r.y[i]);
                assert!((r.cb[i] - truth.cb[0]).abs() <= C_DC_STEP / 2.0 + 1e-3, "{detail:?} cb {}", r.cb[i]);
                assert!((r.cr[i] - truth.cr[0]).abs() <= C_DC_STEP / 2.0 + 1e-3, "{detail:?} cr {}", r.cr[i]);
            }
        }
    }
    #[test]
    fn unclaimed_blocks_take_the_neighbouring_colour_or_grey() {
        // 64×64, 4×4 blocks: columns 0–1 red-ish, column 3 blue-ish, column 2 key.
        let img = RgbImage::from_fn(64, 64, |x, _| if x < 32 { Rgb([200, 60, 40]) } else { Rgb([40, 80, 200]) });
        let red = rgb_to_ycbcr(&RgbImage::from_pixel(1, 1, Rgb([200, 60, 40])));
        let nk = non_key_of(&key_mask(64, 64, |bx, _| bx == 2));
        let mut prompt = describe(&img, &nk, PromptDetail::Full);
        assert_eq!(prompt.segments.len(), 2);
        prompt.segments.remove(1); // the blue segment is lost
        let r = render_colour_layout(&prompt).unwrap();
        for (x, y) in [(40, 5), (56, 60), (63, 0)] {
            let i = y * 64 + x;
            assert!((r.y[i] - red.y[0]).abs() <= 1.5 && (r.cr[i] - red.cr[0]).abs() <= 1.5, "({x},{y}): {}", r.y[i]);
        }
        prompt.segments.clear();
        let r = render_colour_layout(&prompt).unwrap();
        assert!(r.y.iter().chain(&r.cb).chain(&r.cr).all(|&v| v == 128.0));
    }
}
