//! Receiver: CRC-failed prompt fields → safe prior (docs/architecture.md §3 "Semantic denoising").

use super::codec::{check_fields, grid_of, segment_geometry};
use super::{ColourLayout, PromptLimits, StructuredPrompt, TextureStats, Y_DC_STEP};
use crate::segment::BlockMask;

/// Where a repaired segment's colour/texture came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepairSource {
    /// Block-count-weighted mean of these (valid, 8-adjacent or else nearest) segments.
    Neighbours(Vec<usize>),
    /// Neutral mid-grey, smooth.
    NeutralPrior,
}

/// One repaired segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repair {
    pub segment: usize,
    /// The geometry was unusable and was replaced by the blocks no valid segment claims
    /// (the receiver intersects it with its non-key mask).
    pub geometry_replaced: bool,
    pub source: RepairSource,
}

/// Result of [`safe_prior`].
#[derive(Debug, Clone, PartialEq)]
pub struct Repaired {
    pub prompt: StructuredPrompt,
    pub repairs: Vec<Repair>,
}

/// Replaces the colour layout and texture of segments listed in `failed` (indices from
/// CRC failures; out-of-range indices are ignored) and of any segment whose fields are
/// out of range, with the block-count-weighted mean of valid neighbouring segments
/// (8-adjacent blocks; else the nearest by centroid) or, with none, a neutral prior
/// (mid-grey, no AC, smooth texture). Results are clamped to the quantiser ranges. A
/// failed segment's geometry is kept if it decodes on the grid and does not overlap a
/// valid segment; otherwise it becomes the blocks no valid segment claims. Segments whose
/// geometry is then empty are dropped. Captions of repaired segments are cleared. If the
/// header itself (size, block) is unusable, the prompt comes back without segments.
pub fn safe_prior(prompt: &StructuredPrompt, failed: &[usize]) -> Repaired {
    let limits = PromptLimits::default();
    let mut p = prompt.clone();
    let Ok((wb, hb)) = grid_of(&p, &limits) else {
        p.segments.clear();
        let repairs = (0..prompt.segments.len())
            .map(|segment| Repair { segment, geometry_replaced: true, source: RepairSource::NeutralPrior })
            .collect();
        return Repaired { prompt: p, repairs };
    };
    p.segments.truncate(limits.max_segments);
    let n = p.segments.len();
    let nb = wb as usize * hb as usize;
    let mut geo: Vec<Option<BlockMask>> = (0..n).map(|i| segment_geometry(&p, i, wb, hb).ok()).collect();
    let bad: Vec<bool> = (0..n)
        .map(|i| failed.contains(&i) || geo[i].is_none() || check_fields(&p, i, limits.max_caption_bytes).is_err())
        .collect();
    // Blocks claimed by valid segments (first claim wins); overlapping bad geometry is dropped.
    let mut owner = vec![usize::MAX; nb];
    for pass in [false, true] {
        for i in (0..n).filter(|&i| bad[i] == pass) {
            if let Some(m) = &geo[i] {
                if m.bits().iter().zip(&owner).any(|(&b, &o)| b && o != usize::MAX) {
                    geo[i] = None;
                    continue;
                }
                for (o, &b) in owner.iter_mut().zip(m.bits()) {
                    if b {
                        *o = i;
                    }
                }
            }
        }
    }
    let mut geometry_replaced = vec![false; n];
    let lost: Vec<usize> = (0..n).filter(|&i| bad[i] && geo[i].is_none()).collect();
    for i in lost {
        let free: Vec<bool> = owner.iter().map(|&o| o == usize::MAX).collect();
        if free.iter().any(|&b| b) {
            for o in owner.iter_mut().filter(|o| **o == usize::MAX) {
                *o = i;
            }
            geo[i] = BlockMask::new(wb, hb, p.block, free).ok();
            if let Some(m) = &geo[i] {
                p.segments[i].geometry = m.encode();
            }
        }
        geometry_replaced[i] = true;
    }
    let centroid = |m: &BlockMask| {
        let (mut sx, mut sy, mut c) = (0f64, 0f64, 0f64);
        for (k, _) in m.bits().iter().enumerate().filter(|(_, &b)| b) {
            sx += (k % wb as usize) as f64;
            sy += (k / wb as usize) as f64;
            c += 1.0;
        }
        (sx / c.max(1.0), sy / c.max(1.0))
    };
    let mut repairs = Vec::new();
    for i in (0..n).filter(|&i| bad[i]) {
        let good: Vec<usize> = (0..n).filter(|&j| !bad[j] && geo[j].is_some()).collect();
        let mut nbrs: Vec<usize> = Vec::new();
        if let Some(m) = &geo[i] {
            for k in (0..nb).filter(|&k| m.bits()[k]) {
                let (x, y) = ((k % wb as usize) as i64, (k / wb as usize) as i64);
                for (dx, dy) in [(-1, -1), (0, -1), (1, -1), (-1, 0), (1, 0), (-1, 1), (0, 1), (1, 1)] {
                    let (nx, ny) = (x + dx, y + dy);
                    if nx >= 0 && ny >= 0 && nx < wb as i64 && ny < hb as i64 {
                        let o = owner[(ny * wb as i64 + nx) as usize];
                        if o != usize::MAX && good.contains(&o) && !nbrs.contains(&o) {
                            nbrs.push(o);
                        }
                    }
                }
            }
            if nbrs.is_empty() {
                let c = centroid(m);
                // `good` segments all have geometry; one without would never be the nearest.
                let dist = |j: usize| {
                    geo[j].as_ref().map_or(f64::INFINITY, |g| {
                        let d = centroid(g);
                        (d.0 - c.0).powi(2) + (d.1 - c.1).powi(2)
                    })
                };
                if let Some(j) = good.iter().copied().min_by(|&a, &b| dist(a).total_cmp(&dist(b))) {
                    nbrs.push(j);
                }
            }
        }
        nbrs.sort_unstable();
        let (colour, texture) = if nbrs.is_empty() {
            (neutral_colour(), TextureStats { energy: Vec::new(), luma_std: 0, block_detail: Vec::new() })
        } else {
            blend(&p, &nbrs, &geo)
        };
        let s = &mut p.segments[i];
        s.colour = Some(colour);
        s.texture = Some(texture);
        s.caption.clear();
        repairs.push(Repair {
            segment: i,
            geometry_replaced: geometry_replaced[i],
            source: if nbrs.is_empty() { RepairSource::NeutralPrior } else { RepairSource::Neighbours(nbrs) },
        });
    }
    // Drop segments left without geometry.
    let keep: Vec<bool> = geo.iter().map(|g| g.is_some()).collect();
    let mut k = keep.iter();
    p.segments.retain(|_| k.next().copied().unwrap_or(false));
    Repaired { prompt: p, repairs }
}

fn neutral_colour() -> ColourLayout {
    ColourLayout { grid_w: 1, grid_h: 1, y: vec![(128.0 / Y_DC_STEP) as i32], cb: vec![0], cr: vec![0] }
}

/// Weighted mean colour (DC only, 1×1 grid) and texture of valid segments.
fn blend(p: &StructuredPrompt, nbrs: &[usize], geo: &[Option<BlockMask>]) -> (ColourLayout, TextureStats) {
    let (mut w, mut dc, mut std) = (0f64, [0f64; 3], 0f64);
    let mut energy: Option<Vec<f64>> = None;
    for &j in nbrs {
        let s = &p.segments[j];
        let wt = geo[j].as_ref().map_or(1, |m| m.count()) as f64;
        let (Some(c), Some(t)) = (&s.colour, &s.texture) else { continue };
        w += wt;
        dc[0] += wt * c.y[0] as f64;
        dc[1] += wt * c.cb[0] as f64;
        dc[2] += wt * c.cr[0] as f64;
        std += wt * t.luma_std as f64;
        match &mut energy {
            None => energy = Some(t.energy.iter().map(|&e| wt * e as f64).collect()),
            Some(e) if e.len() == t.energy.len() => e.iter_mut().zip(&t.energy).for_each(|(a, &b)| *a += wt * b as f64),
            Some(e) => e.clear(), // mixed detail levels: fall back to luma_std only
        }
    }
    let w = w.max(1e-9);
    let c_lim = (128.0 / super::C_DC_STEP).round() as f64;
    let colour = ColourLayout {
        grid_w: 1,
        grid_h: 1,
        y: vec![(dc[0] / w).round().clamp(0.0, (255.0 / Y_DC_STEP).round() as f64) as i32],
        cb: vec![(dc[1] / w).round().clamp(-c_lim, c_lim) as i32],
        cr: vec![(dc[2] / w).round().clamp(-c_lim, c_lim) as i32],
    };
    let texture = TextureStats {
        energy: energy.unwrap_or_default().iter().map(|e| ((e / w).round() as u32).min(super::ENERGY_MAX)).collect(),
        luma_std: ((std / w).round() as u32).min(super::LUMA_STD_MAX),
        // A neighbour's map covers other blocks: a repaired segment has none.
        block_detail: Vec::new(),
    };
    (colour, texture)
}
