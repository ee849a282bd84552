//! Quasi-cyclic description of the 5G NR LDPC base graphs.
//!
//! The shift values come from `ldpc-toolbox` (which transcribes 38.212 Tables
//! 5.3.2-2 and 5.3.2-3). We expand its parity-check matrix once per (BG, Z) and
//! read back, for each base row, the list of (column block, shift) pairs; the
//! encoder and decoder only ever use this compact form. Results are cached
//! process-wide, so repeated [`QcCode::get`] calls are cheap (`Arc` clone).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use ldpc_toolbox::codes::nr5g::{BaseGraph as TbBaseGraph, LiftingSize};

use crate::LdpcError;

/// All lifting sizes of 38.212 Table 5.3.2-1 (Z = a·2^j ≤ 384,
/// a ∈ {2,3,5,7,9,11,13,15}), ascending.
pub const LIFTING_SIZES: [usize; 51] = [
    2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18, 20, 22, 24, 26, 28, 30, 32, 36, 40, 44, 48, 52, 56, 60, 64,
    72, 80, 88, 96, 104, 112, 120, 128, 144, 160, 176, 192, 208, 224, 240, 256, 288, 320, 352, 384,
];

/// 5G NR LDPC base graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BaseGraph {
    /// BG1: 46 × 68, 22 systematic columns, K = 22Z, max K_cb = 8448.
    Bg1,
    /// BG2: 42 × 52, 10 systematic columns, K = 10Z, max K_cb = 3840.
    Bg2,
}

impl BaseGraph {
    /// Number of base rows (checks per Z).
    pub const fn num_rows(self) -> usize {
        match self {
            BaseGraph::Bg1 => 46,
            BaseGraph::Bg2 => 42,
        }
    }
    /// Number of base columns (variables per Z), including the 2 punctured ones.
    pub const fn num_cols(self) -> usize {
        match self {
            BaseGraph::Bg1 => 68,
            BaseGraph::Bg2 => 52,
        }
    }
    /// Number of systematic base columns (K = this · Z).
    pub const fn info_cols(self) -> usize {
        match self {
            BaseGraph::Bg1 => 22,
            BaseGraph::Bg2 => 10,
        }
    }
    /// Maximum code block size K_cb of §5.2.2 (8448 or 3840).
    pub const fn max_block_size(self) -> usize {
        match self {
            BaseGraph::Bg1 => 8448,
            BaseGraph::Bg2 => 3840,
        }
    }
}

fn toolbox_lifting(z: usize) -> Option<LiftingSize> {
    use LiftingSize::*;
    Some(match z {
        2 => Z2,
        4 => Z4,
        8 => Z8,
        16 => Z16,
        32 => Z32,
        64 => Z64,
        128 => Z128,
        256 => Z256,
        3 => Z3,
        6 => Z6,
        12 => Z12,
        24 => Z24,
        48 => Z48,
        96 => Z96,
        192 => Z192,
        384 => Z384,
        5 => Z5,
        10 => Z10,
        20 => Z20,
        40 => Z40,
        80 => Z80,
        160 => Z160,
        320 => Z320,
        7 => Z7,
        14 => Z14,
        28 => Z28,
        56 => Z56,
        112 => Z112,
        224 => Z224,
        9 => Z9,
        18 => Z18,
        36 => Z36,
        72 => Z72,
        144 => Z144,
        288 => Z288,
        11 => Z11,
        22 => Z22,
        44 => Z44,
        88 => Z88,
        176 => Z176,
        352 => Z352,
        13 => Z13,
        26 => Z26,
        52 => Z52,
        104 => Z104,
        208 => Z208,
        15 => Z15,
        30 => Z30,
        60 => Z60,
        120 => Z120,
        240 => Z240,
        _ => return None,
    })
}

/// A lifted 5G NR LDPC code in quasi-cyclic form.
///
/// Base row `i` owns the edges `row_ptr[i]..row_ptr[i+1]`; edge `e` connects
/// check `i·Z + r` to variable `cols[e]·Z + (r + shifts[e]) mod Z` for every
/// lane `r ∈ 0..Z`. Within a row, edges are sorted by column.
#[derive(Debug)]
pub struct QcCode {
    bg: BaseGraph,
    z: usize,
    row_ptr: Vec<usize>,
    cols: Vec<u16>,
    shifts: Vec<u16>,
    /// Encoder plan: shift x of the first core parity column that survives
    /// summing the 4 core rows (the other two occurrences cancel).
    pub(crate) p1_shift: usize,
    /// Encoder plan: (row, core column) solved in this order after p1.
    pub(crate) core_order: Vec<(usize, usize)>,
}

type Cache = Mutex<HashMap<(BaseGraph, usize), Arc<QcCode>>>;
static CACHE: OnceLock<Cache> = OnceLock::new();

impl QcCode {
    /// The code for (BG, Z), built on first use and cached for the process.
    pub fn get(bg: BaseGraph, z: usize) -> Result<Arc<QcCode>, LdpcError> {
        let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
        // A poisoned lock only means another thread panicked mid-insert of an
        // Arc; the map itself is still consistent.
        if let Some(c) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&(bg, z)) {
            return Ok(Arc::clone(c));
        }
        // Build outside the lock: expansion of BG1 Z=384 takes a few ms.
        let code = Arc::new(Self::build(bg, z)?);
        let mut map = cache.lock().unwrap_or_else(|e| e.into_inner());
        Ok(Arc::clone(map.entry((bg, z)).or_insert(code)))
    }

    fn build(bg: BaseGraph, z: usize) -> Result<QcCode, LdpcError> {
        let lifting = toolbox_lifting(z).ok_or(LdpcError::UnsupportedLiftingSize(z))?;
        let tb = match bg {
            BaseGraph::Bg1 => TbBaseGraph::BG1,
            BaseGraph::Bg2 => TbBaseGraph::BG2,
        };
        let h = tb.h(lifting);
        let mut row_ptr = vec![0];
        let mut cols = Vec::new();
        let mut shifts = Vec::new();
        for i in 0..bg.num_rows() {
            // Row r = 0 of block row i has its 1 at column k·Z + (0 + v) mod Z.
            let mut entries: Vec<(u16, u16)> = h.iter_row(i * z).map(|&c| ((c / z) as u16, (c % z) as u16)).collect();
            entries.sort_unstable();
            for (c, s) in entries {
                cols.push(c);
                shifts.push(s);
            }
            row_ptr.push(cols.len());
        }
        let mut code = QcCode { bg, z, row_ptr, cols, shifts, p1_shift: 0, core_order: Vec::new() };
        code.plan_core();
        Ok(code)
    }

    /// Derives the core (4 × 4 double-diagonal) solving order from the shifts
    /// rather than hard-coding it, so BG1 and BG2 (whose cores differ) share one
    /// encoder.
    fn plan_core(&mut self) {
        let kb = self.bg.info_cols();
        // Sum of the four core rows: each core column's shifts XOR together.
        let mut p1_shifts: Vec<usize> = Vec::new();
        for i in 0..4 {
            for (c, s) in self.row(i) {
                if c == kb {
                    p1_shifts.push(s);
                }
            }
        }
        // The surviving shift appears an odd number of times.
        self.p1_shift =
            p1_shifts.iter().copied().find(|s| p1_shifts.iter().filter(|t| *t == s).count() % 2 == 1).unwrap_or(0);
        let mut known = [true, false, false, false];
        let mut done = [false; 4];
        while self.core_order.len() < 3 {
            let mut progressed = false;
            for (i, row_done) in done.iter_mut().enumerate() {
                if *row_done {
                    continue;
                }
                let unknown: Vec<usize> =
                    self.row(i).filter(|&(c, _)| c >= kb && c < kb + 4 && !known[c - kb]).map(|(c, _)| c).collect();
                if unknown.len() == 1 {
                    known[unknown[0] - kb] = true;
                    *row_done = true;
                    self.core_order.push((i, unknown[0]));
                    progressed = true;
                }
            }
            if !progressed {
                break; // structure_is_as_expected() reports this
            }
        }
    }

    /// Checks the structural assumptions the encoder relies on: the first core
    /// column has one surviving shift, the core can be back-substituted, and
    /// every extension row i ≥ 4 has exactly one parity column, kb + i.
    pub fn structure_is_as_expected(&self) -> bool {
        let kb = self.bg.info_cols();
        let mut p1 = Vec::new();
        for i in 0..4 {
            for (c, s) in self.row(i) {
                if c == kb {
                    p1.push(s)
                }
            }
        }
        let odd = p1.iter().filter(|s| p1.iter().filter(|t| t == s).count() % 2 == 1).count();
        let ext_ok = (4..self.num_base_rows()).all(|i| {
            let ext: Vec<usize> = self.row(i).map(|(c, _)| c).filter(|&c| c >= kb + 4).collect();
            ext == [kb + i]
        });
        odd == 1 && self.core_order.len() == 3 && ext_ok
    }

    /// Base graph.
    pub fn base_graph(&self) -> BaseGraph {
        self.bg
    }
    /// Lifting size Z.
    pub fn z(&self) -> usize {
        self.z
    }
    /// Base rows (46 or 42).
    pub fn num_base_rows(&self) -> usize {
        self.bg.num_rows()
    }
    /// Base columns (68 or 52).
    pub fn num_base_cols(&self) -> usize {
        self.bg.num_cols()
    }
    /// K = 22Z or 10Z systematic bits (fillers included).
    pub fn k(&self) -> usize {
        self.bg.info_cols() * self.z
    }
    /// N = 66Z or 50Z: encoder output length after dropping the first 2Z bits.
    pub fn n(&self) -> usize {
        (self.bg.num_cols() - 2) * self.z
    }
    /// Total number of edges in the base graph.
    pub fn num_edges(&self) -> usize {
        self.cols.len()
    }
    /// (column block, shift) pairs of base row `i` (empty if out of range).
    pub fn row(&self, i: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
        let (s, e) = match (self.row_ptr.get(i), self.row_ptr.get(i + 1)) {
            (Some(&s), Some(&e)) => (s, e),
            _ => (0, 0),
        };
        self.cols[s..e].iter().zip(&self.shifts[s..e]).map(|(&c, &v)| (c as usize, v as usize))
    }
    pub(crate) fn row_range(&self, i: usize) -> std::ops::Range<usize> {
        self.row_ptr[i]..self.row_ptr[i + 1]
    }
    pub(crate) fn edge(&self, e: usize) -> (usize, usize) {
        (self.cols[e] as usize, self.shifts[e] as usize)
    }

    /// Number of base rows that matter when only the first `active_cols` base
    /// columns carry information: the core rows plus one extension row per
    /// extension column (extension row i only touches parity column kb + i).
    pub fn active_rows(&self, active_cols: usize) -> usize {
        active_cols.saturating_sub(self.bg.info_cols()).clamp(4, self.num_base_rows())
    }

    /// True if the full codeword (`num_base_cols · Z` bits, 0/1) satisfies H·c = 0.
    /// Wrong lengths return false.
    pub fn is_codeword(&self, cw: &[u8]) -> bool {
        self.first_rows_satisfied(cw, self.num_base_rows())
    }

    /// True if the first `rows` base rows are satisfied by the first columns of
    /// `cw` (its length must be a multiple of Z covering every column used).
    pub fn first_rows_satisfied(&self, cw: &[u8], rows: usize) -> bool {
        let z = self.z;
        if !cw.len().is_multiple_of(z) || rows > self.num_base_rows() {
            return false;
        }
        let ncols = cw.len() / z;
        let mut par = vec![0u8; z];
        for i in 0..rows {
            par.fill(0);
            for (c, v) in self.row(i) {
                if c >= ncols {
                    return false;
                }
                let x = &cw[c * z..(c + 1) * z];
                for r in 0..z {
                    par[r] ^= x[(r + v) % z] & 1;
                }
            }
            if par.iter().any(|&p| p != 0) {
                return false;
            }
        }
        true
    }

    /// The binary parity-check matrix of the first `rows` base rows and the
    /// columns they touch, as an `ldpc-toolbox` sparse matrix (for
    /// cross-checking and benchmarking against that crate).
    pub fn to_toolbox_matrix(&self, rows: usize) -> ldpc_toolbox::sparse::SparseMatrix {
        let rows = rows.min(self.num_base_rows());
        let z = self.z;
        let ncols = (0..rows).flat_map(|i| self.row(i)).map(|(c, _)| c + 1).max().unwrap_or(0);
        let mut h = ldpc_toolbox::sparse::SparseMatrix::new(rows * z, ncols * z);
        for i in 0..rows {
            for (c, v) in self.row(i) {
                for r in 0..z {
                    h.insert(i * z + r, c * z + (r + v) % z);
                }
            }
        }
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_lifting_sizes_build_with_expected_structure() {
        for bg in [BaseGraph::Bg1, BaseGraph::Bg2] {
            for &z in LIFTING_SIZES.iter() {
                let c = QcCode::get(bg, z).unwrap();
                assert!(c.structure_is_as_expected(), "{bg:?} Z={z}");
                // 38.212 Tables 5.3.2-2/3: 316 and 197 non-zero entries.
                let edges = match bg {
                    BaseGraph::Bg1 => 316,
                    BaseGraph::Bg2 => 197,
                };
                assert_eq!(c.num_edges(), edges);
            }
        }
        assert!(QcCode::get(BaseGraph::Bg1, 17).is_err());
    }

    #[test]
    fn known_shift_values() {
        // 38.212 Table 5.3.2-2, BG1 row 0 column 0: V = 250 for iLS=0 (Z=2^j),
        // 307 for iLS=1 (Z = 3·2^j); applied mod Z.
        let c = QcCode::get(BaseGraph::Bg1, 256).unwrap();
        assert_eq!(c.row(0).next(), Some((0, 250)));
        let c = QcCode::get(BaseGraph::Bg1, 384).unwrap();
        assert_eq!(c.row(0).next(), Some((0, 307)));
        // BG2 row 0 column 0: V = 9 (iLS 0), 174 (iLS 1).
        let c = QcCode::get(BaseGraph::Bg2, 256).unwrap();
        assert_eq!(c.row(0).next(), Some((0, 9)));
        let c = QcCode::get(BaseGraph::Bg2, 384).unwrap();
        assert_eq!(c.row(0).next(), Some((0, 174)));
    }
}
