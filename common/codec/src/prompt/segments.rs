//! Non-key blocks → segments.

use crate::segment::BlockMask;

/// How [`segments_with`] splits the non-key blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentOptions {
    /// Components with fewer blocks are merged into the nearest other segment.
    pub min_blocks: usize,
    /// At most this many segments; the smallest are merged until the count fits (≥ 1).
    pub max_segments: usize,
}

impl Default for SegmentOptions {
    fn default() -> Self {
        Self { min_blocks: 4, max_segments: 16 }
    }
}

/// Inverts a key mask ([`crate::segment::key_mask`]: `true` = key) into the non-key mask
/// (`true` = non-key) that [`segments_of`] and [`super::describe`] take.
pub fn non_key_of(key: &BlockMask) -> BlockMask {
    let bits = key.bits().iter().map(|b| !b).collect();
    BlockMask::new(key.width_blocks(), key.height_blocks(), key.block(), bits).expect("same dimensions")
}

/// [`segments_with`] with the default options (tiny = fewer than 4 blocks, ≤ 16 segments).
pub fn segments_of(non_key: &BlockMask) -> Vec<BlockMask> {
    segments_with(non_key, &SegmentOptions::default())
}

/// Splits the `true` blocks of `non_key` into segments: 4-connected components;
/// components smaller than `min_blocks` (while more than one segment remains) and then the
/// smallest segments beyond `max_segments` are merged into the segment with the nearest
/// centroid (components are never 4-adjacent, so "neighbour" means nearest). Each returned
/// mask has `non_key`'s grid with `true` on the segment's blocks; they are disjoint, cover
/// exactly the non-key blocks, and come in raster order of their first block.
/// Deterministic. No non-key blocks → no segments.
pub fn segments_with(non_key: &BlockMask, opts: &SegmentOptions) -> Vec<BlockMask> {
    let (w, h) = (non_key.width_blocks() as usize, non_key.height_blocks() as usize);
    let bits = non_key.bits();
    let mut label = vec![usize::MAX; bits.len()];
    let mut comps: Vec<Vec<usize>> = Vec::new();
    let mut stack = Vec::new();
    for start in 0..bits.len() {
        if !bits[start] || label[start] != usize::MAX {
            continue;
        }
        let id = comps.len();
        let mut members = Vec::new();
        label[start] = id;
        stack.push(start);
        while let Some(i) = stack.pop() {
            members.push(i);
            let (x, y) = (i % w, i / w);
            let mut visit = |j: usize| {
                if bits[j] && label[j] == usize::MAX {
                    label[j] = id;
                    stack.push(j);
                }
            };
            if x > 0 {
                visit(i - 1);
            }
            if x + 1 < w {
                visit(i + 1);
            }
            if y > 0 {
                visit(i - w);
            }
            if y + 1 < h {
                visit(i + w);
            }
        }
        comps.push(members);
    }
    // Merging: (members, alive).
    let centroid = |m: &[usize]| -> (f64, f64) {
        let n = m.len().max(1) as f64;
        let (sx, sy) = m.iter().fold((0.0, 0.0), |(a, b), &i| (a + (i % w) as f64, b + (i / w) as f64));
        (sx / n, sy / n)
    };
    let max_segments = opts.max_segments.max(1);
    loop {
        let alive: Vec<usize> = (0..comps.len()).filter(|&c| !comps[c].is_empty()).collect();
        if alive.len() <= 1 {
            break;
        }
        // Smallest alive segment (ties: later first block loses, i.e. higher index).
        let Some(&small) = alive.iter().min_by_key(|&&c| (comps[c].len(), usize::MAX - c)) else { break };
        if comps[small].len() >= opts.min_blocks && alive.len() <= max_segments {
            break;
        }
        let cs = centroid(&comps[small]);
        let Some(target) = alive.iter().copied().filter(|&c| c != small).min_by(|&a, &b| {
            let (ca, cb) = (centroid(&comps[a]), centroid(&comps[b]));
            let da = (ca.0 - cs.0).powi(2) + (ca.1 - cs.1).powi(2);
            let db = (cb.0 - cs.0).powi(2) + (cb.1 - cs.1).powi(2);
            da.total_cmp(&db).then(a.cmp(&b))
        }) else {
            break;
        };
        let moved = std::mem::take(&mut comps[small]);
        comps[target].extend(moved);
    }
    let mut out: Vec<(usize, BlockMask)> = comps
        .into_iter()
        .filter_map(|m| {
            // Empty components (merged away) have no first block and are dropped.
            let first = *m.iter().min()?;
            let mut b = vec![false; bits.len()];
            for i in m {
                b[i] = true;
            }
            Some((first, BlockMask::new(w as u32, h as u32, non_key.block(), b).expect("same dimensions")))
        })
        .collect();
    out.sort_by_key(|(f, _)| *f);
    out.into_iter().map(|(_, m)| m).collect()
}
