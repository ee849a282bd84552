//! Regions of interest, the key/non-key block mask and the key-share rule.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::{ImportanceMap, SegmentError};

/// Smallest key share [`key_share_for`] returns.
pub const KEY_SHARE_MIN: f64 = 0.05;
/// Largest key share [`key_share_for`] returns.
pub const KEY_SHARE_MAX: f64 = 0.6;

/// A boolean mask, row-major `height × width`, whose size is checked at construction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoiMask {
    width: u32,
    height: u32,
    bits: Vec<bool>,
}

impl RoiMask {
    /// `bits.len()` must equal `width · height`, both sides ≥ 1.
    pub fn new(width: u32, height: u32, bits: Vec<bool>) -> Result<Self, SegmentError> {
        if width == 0 || height == 0 || bits.len() as u64 != width as u64 * height as u64 {
            return Err(SegmentError::InvalidDimensions { width, height, len: bits.len() });
        }
        Ok(Self { width, height, bits })
    }
    /// Width of the mask.
    pub fn width(&self) -> u32 {
        self.width
    }
    /// Height of the mask.
    pub fn height(&self) -> u32 {
        self.height
    }
    /// Row-major bits.
    pub fn bits(&self) -> &[bool] {
        &self.bits
    }
}

/// A region of interest named by a request. Every block it touches is key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Roi {
    /// Rectangle in image pixels; clipped to the image (an empty intersection is no-op).
    Rect { x: u32, y: u32, width: u32, height: u32 },
    /// Per-pixel mask. A mask of a different size than the image is stretched over it
    /// (nearest neighbour, conservatively: every image pixel a set mask pixel covers).
    PixelMask(RoiMask),
    /// Per-block mask on the importance grid; stretched the same way if its size differs.
    BlockMask(RoiMask),
}

/// Key (`true`) / non-key (`false`) per block, row-major `height_blocks × width_blocks`,
/// block side `block` pixels (same grid convention as [`ImportanceMap`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockMask {
    pub(crate) width_blocks: u32,
    pub(crate) height_blocks: u32,
    pub(crate) block: u32,
    pub(crate) bits: Vec<bool>,
}

impl BlockMask {
    /// All sides ≥ 1 and `bits.len() == width_blocks · height_blocks`.
    pub fn new(width_blocks: u32, height_blocks: u32, block: u32, bits: Vec<bool>) -> Result<Self, SegmentError> {
        if width_blocks == 0
            || height_blocks == 0
            || block == 0
            || bits.len() as u64 != width_blocks as u64 * height_blocks as u64
        {
            return Err(SegmentError::InvalidDimensions {
                width: width_blocks,
                height: height_blocks,
                len: bits.len(),
            });
        }
        Ok(Self { width_blocks, height_blocks, block, bits })
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
    /// Row-major key bits.
    pub fn bits(&self) -> &[bool] {
        &self.bits
    }
    /// Whether block `(bx, by)` is key; `None` outside the grid.
    pub fn get(&self, bx: u32, by: u32) -> Option<bool> {
        (bx < self.width_blocks && by < self.height_blocks)
            .then(|| self.bits[by as usize * self.width_blocks as usize + bx as usize])
    }
    /// Whether image pixel `(x, y)` lies in a key block (`false` outside the grid).
    pub fn is_key_pixel(&self, x: u32, y: u32) -> bool {
        self.get(x / self.block, y / self.block).unwrap_or(false)
    }
    /// Per-pixel key flags of a `width × height` image, row-major (region metrics).
    pub fn pixel_mask(&self, width: u32, height: u32) -> Vec<bool> {
        (0..height).flat_map(|y| (0..width).map(move |x| self.is_key_pixel(x, y))).collect()
    }

    /// Number of key blocks.
    pub fn count(&self) -> usize {
        self.bits.iter().filter(|b| **b).count()
    }
    /// Fraction of key blocks in `[0, 1]`.
    pub fn key_share(&self) -> f64 {
        self.count() as f64 / self.bits.len().max(1) as f64
    }
}

/// Key share from the analog bandwidth budget and the channel SNR.
///
/// `budget_symbols_per_pixel`: complex channel uses available to the analog key stream
/// per image pixel (docs/architecture.md §2's ρ is per colour component, so this is `3ρ`); `snr_db`:
/// the channel SNR.
///
/// Rule: `share = budget / ρ_req(SNR)`, clamped to
/// `[KEY_SHARE_MIN, KEY_SHARE_MAX] = [0.05, 0.6]`, with
/// `ρ_req(SNR) = 0.625 · 10^(−(SNR − 10 dB)/33.2)` complex uses per key pixel (every
/// +10 dB halves `ρ_req`, doubling the share).
///
/// Why: fewer key blocks give each key pixel more channel uses (the key regions gain
/// over whole-image SoftCast), more key blocks leave less to the generator (the whole
/// image gains). At high SNR the analog symbols are worth more per use, so the share
/// grows. Calibration (`examples/semantic_vs_softcast.rs`, hybrid key encoder, four
/// natural photos, ρ = 1/32): the share that maximised the key-region gain while keeping
/// whole-image MS-SSIM within 0.05 of SoftCast's was ≈ 0.1 up to 5 dB, 0.15–0.2 at 10 dB
/// and 0.3 at 20 dB; this rule gives 0.075 (→ floor), 0.106, 0.15, 0.3. Four photos are
/// a small sample: recalibrate with `semcom eval` on a larger corpus.
/// SNR is clamped to [−10, 40] dB; a non-positive or NaN budget gives the floor.
/// Monotone non-decreasing in both arguments.
pub fn key_share_for(budget_symbols_per_pixel: f64, snr_db: f64) -> f64 {
    const RHO_REQ_10DB: f64 = 0.625;
    const DB_PER_DECADE: f64 = 33.2;
    if budget_symbols_per_pixel.is_nan() || budget_symbols_per_pixel <= 0.0 {
        return KEY_SHARE_MIN;
    }
    let snr = if snr_db.is_nan() { -10.0 } else { snr_db.clamp(-10.0, 40.0) };
    let rho_req = RHO_REQ_10DB * 10f64.powf(-(snr - 10.0) / DB_PER_DECADE);
    (budget_symbols_per_pixel / rho_req).clamp(KEY_SHARE_MIN, KEY_SHARE_MAX)
}

/// Mark every cell of a `gw × gh` grid of `unit`-sized cells that a set bit of `m`
/// touches, `m` being stretched over a `tw × th` target.
fn mark_mask(m: &RoiMask, tw: u64, th: u64, unit: u64, gw: usize, forced: &mut [bool]) {
    let (mw, mh) = (m.width as u64, m.height as u64);
    for my in 0..mh {
        let y0 = my * th / mh;
        let y1 = ((my + 1) * th).div_ceil(mh).max(y0 + 1).min(th);
        for mx in 0..mw {
            if !m.bits[(my * mw + mx) as usize] {
                continue;
            }
            let x0 = mx * tw / mw;
            let x1 = ((mx + 1) * tw).div_ceil(mw).max(x0 + 1).min(tw);
            for by in y0 / unit..y1.div_ceil(unit) {
                for bx in x0 / unit..x1.div_ceil(unit) {
                    forced[by as usize * gw + bx as usize] = true;
                }
            }
        }
    }
}

/// Blocks forced to key by the ROIs.
fn forced_blocks(map: &ImportanceMap, rois: &[Roi]) -> Vec<bool> {
    let (wb, hb) = (map.width_blocks() as usize, map.height_blocks() as usize);
    let (w, h, b) = (map.image_width() as u64, map.image_height() as u64, map.block() as u64);
    let mut forced = vec![false; wb * hb];
    for roi in rois {
        match roi {
            Roi::Rect { x, y, width, height } => {
                let (x0, y0) = ((*x as u64).min(w), (*y as u64).min(h));
                let (x1, y1) = ((*x as u64 + *width as u64).min(w), (*y as u64 + *height as u64).min(h));
                if x0 >= x1 || y0 >= y1 {
                    continue;
                }
                for by in y0 / b..y1.div_ceil(b) {
                    for bx in x0 / b..x1.div_ceil(b) {
                        forced[by as usize * wb + bx as usize] = true;
                    }
                }
            }
            Roi::PixelMask(m) => mark_mask(m, w, h, b, wb, &mut forced),
            Roi::BlockMask(m) => mark_mask(m, wb as u64, hb as u64, 1, wb, &mut forced),
        }
    }
    forced
}

/// 4-neighbours of block `i` on a `w × h` grid.
fn neighbours(i: usize, w: usize, h: usize) -> impl Iterator<Item = usize> {
    let (x, y) = (i % w, i / w);
    [(x > 0).then(|| i - 1), (x + 1 < w).then(|| i + 1), (y > 0).then(|| i - w), (y + 1 < h).then(|| i + w)]
        .into_iter()
        .flatten()
}

/// Key/non-key mask: the `round(key_share · blocks)` most important blocks.
///
/// 1. ROI blocks are key and count towards the share (if they alone exceed it, the mask
///    is exactly the ROI blocks, plus filled holes).
/// 2. The remaining quota goes to the highest-importance blocks; ties go to the block
///    nearer the grid centre, then to the lower row-major index (deterministic).
/// 3. Clean-up, one pass on that selection: a non-ROI key block with no key 4-neighbour
///    is dropped; a non-key block whose in-grid 4-neighbours are all key is filled.
/// 4. Rebalance to the quota: missing blocks are added from the frontier (non-key blocks
///    touching a key block) in importance order, surplus non-ROI blocks are removed from
///    the region boundary, least important first. So the count is exactly the quota
///    unless the ROIs exceed it.
///
/// `key_share` is clamped to `[0, 1]`; NaN counts as 0.
pub fn key_mask(map: &ImportanceMap, rois: &[Roi], key_share: f64) -> BlockMask {
    let (w, h) = (map.width_blocks() as usize, map.height_blocks() as usize);
    let n = w * h;
    let share = if key_share.is_nan() { 0.0 } else { key_share.clamp(0.0, 1.0) };
    let quota = ((share * n as f64).round() as usize).min(n);
    let forced = forced_blocks(map, rois);

    // Rank: 0 = most important.
    let value = |i: usize| {
        let v = map.values()[i];
        if v.is_finite() {
            v
        } else {
            0.0
        }
    };
    let centre_d2 = |i: usize| {
        let dx = 2 * (i % w) as i64 + 1 - w as i64;
        let dy = 2 * (i / w) as i64 + 1 - h as i64;
        dx * dx + dy * dy
    };
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| {
        value(b).total_cmp(&value(a)).then_with(|| centre_d2(a).cmp(&centre_d2(b))).then_with(|| a.cmp(&b))
    });
    let mut rank = vec![0usize; n];
    for (r, &i) in order.iter().enumerate() {
        rank[i] = r;
    }

    // 1–2: selection.
    let mut bits = forced.clone();
    let mut count = bits.iter().filter(|b| **b).count();
    for &i in &order {
        if count >= quota {
            break;
        }
        if !bits[i] {
            bits[i] = true;
            count += 1;
        }
    }

    // 3: clean-up from a snapshot.
    let snap = bits.clone();
    for i in 0..n {
        let mut nb = neighbours(i, w, h).peekable();
        if nb.peek().is_none() {
            continue; // 1×1 grid
        }
        let (mut any, mut all) = (false, true);
        for j in nb {
            any |= snap[j];
            all &= snap[j];
        }
        if snap[i] && !any && !forced[i] {
            bits[i] = false;
        } else if !snap[i] && all {
            bits[i] = true;
        }
    }
    count = bits.iter().filter(|b| **b).count();

    // 4a: grow from the frontier.
    if count < quota {
        let mut heap: BinaryHeap<Reverse<usize>> = BinaryHeap::new(); // min-rank first
        for i in 0..n {
            if !bits[i] && neighbours(i, w, h).any(|j| bits[j]) {
                heap.push(Reverse(rank[i]));
            }
        }
        let mut fallback = order.iter();
        while count < quota {
            let next = loop {
                match heap.pop() {
                    Some(Reverse(r)) if !bits[order[r]] => break Some(order[r]),
                    Some(_) => continue,
                    None => break fallback.by_ref().copied().find(|&i| !bits[i]),
                }
            };
            let Some(i) = next else { break };
            bits[i] = true;
            count += 1;
            for j in neighbours(i, w, h) {
                if !bits[j] {
                    heap.push(Reverse(rank[j]));
                }
            }
        }
    }
    // 4b: shrink from the boundary.
    if count > quota {
        let removable = |i: usize, bits: &[bool]| bits[i] && !forced[i];
        let mut heap: BinaryHeap<usize> = BinaryHeap::new(); // max-rank (least important) first
        for (i, &r) in rank.iter().enumerate() {
            if removable(i, &bits) && neighbours(i, w, h).any(|j| !bits[j]) {
                heap.push(r);
            }
        }
        let mut fallback = order.iter().rev();
        while count > quota {
            let next = loop {
                match heap.pop() {
                    Some(r) if removable(order[r], &bits) => break Some(order[r]),
                    Some(_) => continue,
                    None => break fallback.by_ref().copied().find(|&i| removable(i, &bits)),
                }
            };
            let Some(i) = next else { break };
            bits[i] = false;
            count -= 1;
            for j in neighbours(i, w, h) {
                if removable(j, &bits) {
                    heap.push(rank[j]);
                }
            }
        }
    }

    BlockMask { width_blocks: w as u32, height_blocks: h as u32, block: map.block(), bits }
}
