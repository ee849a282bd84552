//! The detail map: where a segment's texture is. One value per map cell (`DETAIL_CELL`
//! × `DETAIL_CELL` blocks) that holds a block of the segment, in raster order of the
//! cells; each value is a quantised log gradient energy, packed two per byte (high
//! nibble first) because a record travels as raw protobuf on the digital link.

use super::{DETAIL_CELL, DETAIL_MAX, DETAIL_PER_OCTAVE};
use crate::segment::BlockMask;

/// Width of the map's cell grid for a block grid `wb` blocks wide.
pub fn cell_grid_width(wb: u32) -> u32 {
    wb.div_ceil(DETAIL_CELL)
}

/// The map cell of block `(bx, by)`, as an index into the cell grid.
pub fn cell_of(bx: u32, by: u32, wb: u32) -> usize {
    ((by / DETAIL_CELL) * cell_grid_width(wb) + bx / DETAIL_CELL) as usize
}

/// The cells that hold at least one block of `segment`, ascending (the map's order).
pub fn segment_cells(segment: &BlockMask) -> Vec<usize> {
    let wb = segment.width_blocks();
    let mut cells: Vec<usize> = segment
        .bits()
        .iter()
        .enumerate()
        .filter(|(_, &v)| v)
        .map(|(i, _)| cell_of(i as u32 % wb, i as u32 / wb, wb))
        .collect();
    cells.sort_unstable();
    cells.dedup();
    cells
}

/// A segment's decoded map: its cells (ascending) and their quantised values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentMap {
    cells: Vec<usize>,
    values: Vec<u8>,
}

impl SegmentMap {
    /// Decodes `bytes` (a segment's `block_detail`) for `segment`; `None` when the map is
    /// absent or does not hold one value per cell of the segment.
    pub fn decode(segment: &BlockMask, bytes: &[u8]) -> Option<Self> {
        if bytes.is_empty() {
            return None;
        }
        let cells = segment_cells(segment);
        let values = unpack(bytes, cells.len())?;
        Some(Self { cells, values })
    }

    /// The quantised value of the cell holding block `(bx, by)` of a grid `wb` blocks
    /// wide; `None` when that cell is not the segment's.
    pub fn value_at(&self, bx: u32, by: u32, wb: u32) -> Option<u8> {
        self.cells.binary_search(&cell_of(bx, by, wb)).ok().map(|k| self.values[k])
    }
}

/// `round(DETAIL_PER_OCTAVE · log2(1 + e))`, clamped to `0..=DETAIL_MAX`.
pub fn quantise_detail(e: f64) -> u8 {
    ((f64::from(DETAIL_PER_OCTAVE) * (1.0 + e.max(0.0)).log2()).round() as u32).min(u32::from(DETAIL_MAX)) as u8
}

/// Inverse of [`quantise_detail`]: the mean `gx² + gy²` of the cell.
pub fn dequantise_detail(q: u8) -> f64 {
    2f64.powf(f64::from(q) / f64::from(DETAIL_PER_OCTAVE)) - 1.0
}

/// Packs values (each ≤ 15) two per byte, high nibble first.
pub fn pack(values: &[u8]) -> Vec<u8> {
    values.chunks(2).map(|c| (c[0].min(15) << 4) | c.get(1).map_or(0, |v| (*v).min(15))).collect()
}

/// Bytes [`pack`] makes of `n` values.
pub fn packed_len(n: usize) -> usize {
    n.div_ceil(2)
}

/// Unpacks `n` values from [`pack`]'s bytes; `None` unless `bytes` holds exactly `n`.
pub fn unpack(bytes: &[u8], n: usize) -> Option<Vec<u8>> {
    if bytes.len() != packed_len(n) {
        return None;
    }
    Some((0..n).map(|i| if i % 2 == 0 { bytes[i / 2] >> 4 } else { bytes[i / 2] & 0x0f }).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_round_trip_and_length_check() {
        let v = vec![0u8, 15, 7, 3, 9];
        let p = pack(&v);
        assert_eq!(p.len(), 3);
        assert_eq!(unpack(&p, 5), Some(v));
        assert_eq!(unpack(&p, 4), None);
        assert_eq!(unpack(&p, 7), None);
    }

    #[test]
    fn quantiser_inverts_at_the_levels() {
        for q in 0..=DETAIL_MAX {
            assert_eq!(quantise_detail(dequantise_detail(q)), q);
        }
        assert_eq!(quantise_detail(1e12), DETAIL_MAX);
        assert_eq!(quantise_detail(-3.0), 0);
    }

    #[test]
    fn cells_of_a_segment_in_raster_order() {
        // 5 × 3 blocks; the segment holds blocks (0,0), (1,0), (4,2): cells 0 and (2,1).
        let mut bits = vec![false; 15];
        bits[0] = true;
        bits[1] = true;
        bits[14] = true;
        let m = BlockMask::new(5, 3, 16, bits).expect("mask");
        assert_eq!(cell_grid_width(5), 3);
        assert_eq!(segment_cells(&m), vec![0, 5]);
        let map = SegmentMap::decode(&m, &pack(&[3, 9])).expect("map");
        assert_eq!((map.value_at(1, 0, 5), map.value_at(4, 2, 5), map.value_at(2, 0, 5)), (Some(3), Some(9), None));
        assert_eq!(SegmentMap::decode(&m, &[]), None);
        assert_eq!(SegmentMap::decode(&m, &pack(&[3, 9, 1])), None);
    }
}
