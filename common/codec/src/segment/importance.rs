//! Per-block importance: SDSP saliency combined with edge/detail density.

use image::RgbImage;
use serde::Deserialize;

use super::saliency::{quantile, sdsp};
use super::SegmentError;

/// Parameters of [`importance_map`]. Deserialisable; missing fields take the defaults.
///
/// Weights (defaults `saliency_weight = 0.6`, `detail_weight = 0.4`): saliency says where
/// a viewer looks, so it leads; detail density says where generative fill is weakest
/// (edges, text, fine structure cannot be regenerated from a colour layout and texture
/// statistics), so it is a strong second term. Detail alone would spend the key budget
/// on background texture (foliage, gravel); saliency alone would send smooth salient
/// areas that the generator reproduces well. Both terms are in `[0, 1]` before mixing,
/// and the mix is divided by the weight sum, so the map stays in `[0, 1]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImportanceConfig {
    /// Block side in pixels (1..=4096). Default 16.
    pub block: u32,
    /// Short side of the saliency working resolution (8..=2048). Default 256, as piq's VSI.
    pub saliency_min_side: u32,
    /// Cap on the long side of the working resolution (≥ `saliency_min_side`, ≤ 4096);
    /// more elongated images are squeezed. Default 1024.
    pub saliency_max_side: u32,
    /// Log-Gabor centre frequency ω₀ in cycles/pixel at the working resolution (0, 0.5].
    /// Default 0.021 (SDSP/VSI).
    pub omega0: f32,
    /// Log-Gabor bandwidth σ_F (> 0). Default 1.34 (SDSP/VSI).
    pub sigma_f: f32,
    /// Centre-prior σ_D as a fraction of the working short side (> 0). Default 0.45,
    /// i.e. σ_D ≈ 115 px at 256 px, SDSP's σ_D = 114.
    pub centre_sigma: f32,
    /// Colour-prior σ_C on normalised a\*/b\* (> 0). Default 0.25 (SDSP).
    pub sigma_c: f32,
    /// Floor of the colour prior in `[0, 1]`. Default 0.2: SDSP's multiplicative colour
    /// prior would otherwise zero out cool-coloured (blue/green) objects entirely.
    pub colour_floor: f32,
    /// a\*/b\* spread (1st–99th percentile, Lab units) at which the colour prior takes full
    /// effect; below it the prior fades towards 1 (grey-scale photos carry no colour
    /// evidence). > 0; default 10.
    pub colour_min_spread: f32,
    /// Weight of the saliency term (≥ 0). Default 0.6.
    pub saliency_weight: f32,
    /// Weight of the detail-density term (≥ 0). Default 0.4.
    pub detail_weight: f32,
    /// Quantile of the per-block detail values that maps to 1 (0, 1]; larger values clamp.
    /// Default 0.95: robust to a few extreme blocks, still spreads the rest over [0, 1].
    pub detail_percentile: f32,
}

impl Default for ImportanceConfig {
    fn default() -> Self {
        Self {
            block: 16,
            saliency_min_side: 256,
            saliency_max_side: 1024,
            omega0: 0.021,
            sigma_f: 1.34,
            centre_sigma: 0.45,
            sigma_c: 0.25,
            colour_floor: 0.2,
            colour_min_spread: 10.0,
            saliency_weight: 0.6,
            detail_weight: 0.4,
            detail_percentile: 0.95,
        }
    }
}

impl ImportanceConfig {
    /// Check every field's range.
    pub fn validate(&self) -> Result<(), SegmentError> {
        let pos = |v: f32| v.is_finite() && v > 0.0;
        let err = |m| Err(SegmentError::InvalidConfig(m));
        if !(1..=4096).contains(&self.block) {
            return err("block must be in 1..=4096");
        }
        if !(8..=2048).contains(&self.saliency_min_side) {
            return err("saliency_min_side must be in 8..=2048");
        }
        if self.saliency_max_side < self.saliency_min_side || self.saliency_max_side > 4096 {
            return err("saliency_max_side must be in saliency_min_side..=4096");
        }
        if !(pos(self.omega0) && self.omega0 <= 0.5) {
            return err("omega0 must be in (0, 0.5]");
        }
        if !(pos(self.sigma_f) && pos(self.centre_sigma) && pos(self.sigma_c) && pos(self.colour_min_spread)) {
            return err("sigma_f, centre_sigma, sigma_c and colour_min_spread must be finite and positive");
        }
        if !(0.0..=1.0).contains(&self.colour_floor) {
            return err("colour_floor must be in [0, 1]");
        }
        let w_ok = |w: f32| w.is_finite() && w >= 0.0;
        if !(w_ok(self.saliency_weight) && w_ok(self.detail_weight) && self.saliency_weight + self.detail_weight > 0.0)
        {
            return err("weights must be finite, non-negative and not both zero");
        }
        if !(pos(self.detail_percentile) && self.detail_percentile <= 1.0) {
            return err("detail_percentile must be in (0, 1]");
        }
        Ok(())
    }
}

/// Importance per block, row-major `height_blocks × width_blocks`, values in `[0, 1]`.
///
/// Block `(bx, by)` covers pixels `[bx·block, min((bx+1)·block, image_width))` ×
/// `[by·block, min((by+1)·block, image_height))`; the grid is
/// `ceil(image_width / block) × ceil(image_height / block)`.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportanceMap {
    width_blocks: u32,
    height_blocks: u32,
    block: u32,
    image_width: u32,
    image_height: u32,
    values: Vec<f32>,
}

impl ImportanceMap {
    /// Build a map from external values (e.g. a segmentation model's refinement).
    /// Checks that the grid matches the image size and block, and the value count;
    /// non-finite values become 0 and the rest are clamped to `[0, 1]`.
    pub fn from_values(
        image_width: u32,
        image_height: u32,
        block: u32,
        values: Vec<f32>,
    ) -> Result<Self, SegmentError> {
        if image_width == 0 || image_height == 0 || block == 0 {
            return Err(SegmentError::InvalidDimensions {
                width: image_width,
                height: image_height,
                len: values.len(),
            });
        }
        let (wb, hb) = (image_width.div_ceil(block), image_height.div_ceil(block));
        if values.len() as u64 != wb as u64 * hb as u64 {
            return Err(SegmentError::InvalidDimensions { width: wb, height: hb, len: values.len() });
        }
        let values = values.into_iter().map(|v| if v.is_finite() { v.clamp(0.0, 1.0) } else { 0.0 }).collect();
        Ok(Self { width_blocks: wb, height_blocks: hb, block, image_width, image_height, values })
    }
    /// Grid width in blocks.
    pub fn width_blocks(&self) -> u32 {
        self.width_blocks
    }
    /// Grid height in blocks.
    pub fn height_blocks(&self) -> u32 {
        self.height_blocks
    }
    /// Block side in pixels.
    pub fn block(&self) -> u32 {
        self.block
    }
    /// Width of the image the map describes, in pixels.
    pub fn image_width(&self) -> u32 {
        self.image_width
    }
    /// Height of the image the map describes, in pixels.
    pub fn image_height(&self) -> u32 {
        self.image_height
    }
    /// Row-major values in `[0, 1]`.
    pub fn values(&self) -> &[f32] {
        &self.values
    }
    /// Importance of block `(bx, by)`, `None` outside the grid.
    pub fn get(&self, bx: u32, by: u32) -> Option<f32> {
        (bx < self.width_blocks && by < self.height_blocks)
            .then(|| self.values[by as usize * self.width_blocks as usize + bx as usize])
    }
}

/// Importance map of `img` (see the module docs and [`ImportanceConfig`]).
///
/// Saliency: SDSP at the working resolution, averaged over each block's footprint and
/// divided by the largest block value. Detail: mean Sobel gradient magnitude of the luma
/// over the block at full resolution, divided by the `detail_percentile` quantile over
/// blocks and clamped to 1. Importance = weighted mean of the two.
///
/// Errors: [`SegmentError::EmptyImage`] for a zero side, [`SegmentError::InvalidConfig`].
pub fn importance_map(img: &RgbImage, cfg: &ImportanceConfig) -> Result<ImportanceMap, SegmentError> {
    cfg.validate()?;
    let (w, h) = img.dimensions();
    if w == 0 || h == 0 {
        return Err(SegmentError::EmptyImage { width: w, height: h });
    }
    let block = cfg.block;
    let (wb, hb) = (w.div_ceil(block) as usize, h.div_ceil(block) as usize);

    // Saliency per block via an integral image of the working-resolution map.
    let sal = sdsp(img, cfg);
    let (sw, sh) = (sal.width, sal.height);
    let mut integ = vec![0f64; (sw + 1) * (sh + 1)];
    for y in 0..sh {
        let mut row = 0f64;
        for x in 0..sw {
            row += sal.values[y * sw + x] as f64;
            integ[(y + 1) * (sw + 1) + x + 1] = integ[y * (sw + 1) + x + 1] + row;
        }
    }
    // Pixel span [p0, p1) of an image of size `n` → working span of size `m`.
    let span = |p0: u64, p1: u64, n: u64, m: usize| -> (usize, usize) {
        let a = ((p0 * m as u64) / n) as usize;
        let b = (p1 * m as u64).div_ceil(n) as usize;
        let a = a.min(m - 1);
        (a, b.clamp(a + 1, m))
    };
    let mut s_blocks = vec![0f32; wb * hb];
    for by in 0..hb {
        let (y0, y1) = (by as u64 * block as u64, ((by as u64 + 1) * block as u64).min(h as u64));
        let (sy0, sy1) = span(y0, y1, h as u64, sh);
        for bx in 0..wb {
            let (x0, x1) = (bx as u64 * block as u64, ((bx as u64 + 1) * block as u64).min(w as u64));
            let (sx0, sx1) = span(x0, x1, w as u64, sw);
            let sum = integ[sy1 * (sw + 1) + sx1] - integ[sy0 * (sw + 1) + sx1] - integ[sy1 * (sw + 1) + sx0]
                + integ[sy0 * (sw + 1) + sx0];
            s_blocks[by * wb + bx] = (sum / ((sy1 - sy0) * (sx1 - sx0)) as f64) as f32;
        }
    }
    let s_max = s_blocks.iter().cloned().fold(0f32, f32::max);
    if s_max > 0.0 {
        s_blocks.iter_mut().for_each(|v| *v /= s_max);
    }

    // Detail density: mean Sobel magnitude of the luma per block.
    let d_blocks = detail_density(img, block, wb, hb);
    let q = quantile(&d_blocks, cfg.detail_percentile);
    let d_max = d_blocks.iter().cloned().fold(0f32, f32::max);
    let d_norm = if q > 1e-6 { q } else { d_max };

    let (ws, wd) = (cfg.saliency_weight, cfg.detail_weight);
    let values = s_blocks
        .iter()
        .zip(&d_blocks)
        .map(|(&s, &d)| {
            let d = if d_norm > 1e-6 { (d / d_norm).min(1.0) } else { 0.0 };
            ((ws * s + wd * d) / (ws + wd)).clamp(0.0, 1.0)
        })
        .collect();
    Ok(ImportanceMap {
        width_blocks: wb as u32,
        height_blocks: hb as u32,
        block,
        image_width: w,
        image_height: h,
        values,
    })
}

/// Mean Sobel gradient magnitude (luma 0–255, replicated borders) per block.
fn detail_density(img: &RgbImage, block: u32, wb: usize, hb: usize) -> Vec<f32> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let luma: Vec<f32> =
        img.as_raw().chunks_exact(3).map(|p| 0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32).collect();
    let b = block as usize;
    let mut sums = vec![0f64; wb * hb];
    let at = |x: usize, y: usize| luma[y * w + x];
    for y in 0..h {
        let (ym, yp) = (y.saturating_sub(1), (y + 1).min(h - 1));
        let row_block = (y / b) * wb;
        for x in 0..w {
            let (xm, xp) = (x.saturating_sub(1), (x + 1).min(w - 1));
            let gx = (at(xp, ym) + 2.0 * at(xp, y) + at(xp, yp)) - (at(xm, ym) + 2.0 * at(xm, y) + at(xm, yp));
            let gy = (at(xm, yp) + 2.0 * at(x, yp) + at(xp, yp)) - (at(xm, ym) + 2.0 * at(x, ym) + at(xp, ym));
            sums[row_block + x / b] += ((gx * gx + gy * gy).sqrt() / 8.0) as f64;
        }
    }
    let mut out = vec![0f32; wb * hb];
    for by in 0..hb {
        let bh = (h - by * b).min(b);
        for bx in 0..wb {
            let bw = (w - bx * b).min(b);
            out[by * wb + bx] = (sums[by * wb + bx] / (bw * bh) as f64) as f32;
        }
    }
    out
}
