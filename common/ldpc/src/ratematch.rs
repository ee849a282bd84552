//! Code-block segmentation (38.212 §5.2.2), base-graph selection (§7.2.2) and
//! rate matching (§5.4.2.1 without limited buffer, RV0, plus the §5.4.2.2 bit
//! interleaver), with the inverse for LLRs.
//!
//! Rate matching is precomputed as one index map: output bit `i` (after
//! interleaving) is full-codeword bit `positions[i]`. Encoding is then a gather
//! and de-rate-matching a scatter-add, so repeated bits' LLRs add up, punctured
//! bits (the first 2Z and every parity bit never read) stay 0, and filler bits
//! are set to +[`LLR_KNOWN`](crate::LLR_KNOWN) (known zeros).

use std::sync::Arc;

use crate::decoder::{DecodeStats, DecoderConfig, LdpcDecoder};
use crate::qc::{BaseGraph, QcCode, LIFTING_SIZES};
use crate::{check_bits, LdpcError, LLR_KNOWN};

/// Base graph selection of 38.212 §7.2.2 (PDSCH/PUSCH): BG2 if A ≤ 292, or
/// A ≤ 3824 and R ≤ 0.67, or R ≤ 0.25; BG1 otherwise. `payload_bits_a` is the
/// payload size A before its CRC and `rate` the target code rate R.
pub fn select_base_graph(payload_bits_a: usize, rate: f64) -> BaseGraph {
    if payload_bits_a <= 292 || (payload_bits_a <= 3824 && rate <= 0.67) || rate <= 0.25 {
        BaseGraph::Bg2
    } else {
        BaseGraph::Bg1
    }
}

/// Result of code-block segmentation (38.212 §5.2.2) of B bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segmentation {
    /// Base graph.
    pub bg: BaseGraph,
    /// Number of code blocks C.
    pub c: usize,
    /// CRC bits per code block L (0 if C = 1, else 24).
    pub l: usize,
    /// Bits per code block K' (data plus its CRC-24B).
    pub k_prime: usize,
    /// Zero padding appended to the B input bits so that C divides them.
    /// 0 whenever B + C·L is a multiple of C (always for 38.212 TB sizes);
    /// our extension for arbitrary lengths, at most C − 1 bits.
    pub pad: usize,
    /// K_b of §5.2.2 (22 for BG1; 10, 9, 8 or 6 for BG2).
    pub kb: usize,
    /// Lifting size Z: the smallest in Table 5.3.2-1 with K_b·Z ≥ K'.
    pub z: usize,
    /// K = 22Z (BG1) or 10Z (BG2).
    pub k: usize,
    /// Filler bits per code block F = K − K'.
    pub filler: usize,
}

/// Segments B bits (payload including its CRC) for base graph `bg`.
pub fn segmentation(b: usize, bg: BaseGraph) -> Result<Segmentation, LdpcError> {
    if b == 0 {
        return Err(LdpcError::InvalidSize("B must be > 0"));
    }
    let kcb = bg.max_block_size();
    let (l, c) = if b <= kcb { (0, 1) } else { (24, b.div_ceil(kcb - 24)) };
    let data_per_block = b.div_ceil(c);
    let pad = c * data_per_block - b;
    let k_prime = data_per_block + l;
    let kb = match bg {
        BaseGraph::Bg1 => 22,
        BaseGraph::Bg2 => match b {
            b if b > 640 => 10,
            b if b > 560 => 9,
            b if b > 192 => 8,
            _ => 6,
        },
    };
    let z = LIFTING_SIZES.iter().copied().find(|&z| kb * z >= k_prime).ok_or(LdpcError::BlockTooLarge {
        k: k_prime,
        max: kcb,
        bg,
    })?;
    let k = bg.info_cols() * z;
    Ok(Segmentation { bg, c, l, k_prime, pad, kb, z, k, filler: k - k_prime })
}

pub(crate) fn check_qm(qm: usize) -> Result<(), LdpcError> {
    match qm {
        1 | 2 | 4 | 6 | 8 => Ok(()),
        _ => Err(LdpcError::ModulationOrder(qm)),
    }
}

/// One LDPC code block: K' information bits ↔ E rate-matched, interleaved bits.
#[derive(Debug, Clone)]
pub struct CodeBlockSpec {
    code: Arc<QcCode>,
    k_prime: usize,
    e: usize,
    qm: usize,
    active_cols: usize,
    positions: Arc<[u32]>,
}

impl CodeBlockSpec {
    /// A single code block of `info_bits_k` = K' bits (everything the block
    /// carries, CRC included) sent as `output_bits_e` = E bits with `qm` bits
    /// per symbol. The base graph is chosen as in §7.2.2 with A = K' and
    /// R = K'/E; K_b and Z as in §5.2.2 with C = 1.
    pub fn new(info_bits_k: usize, output_bits_e: usize, qm: usize) -> Result<Self, LdpcError> {
        if output_bits_e == 0 {
            return Err(LdpcError::InvalidSize("E must be > 0"));
        }
        let bg = select_base_graph(info_bits_k, info_bits_k as f64 / output_bits_e as f64);
        Self::with_base_graph(bg, info_bits_k, output_bits_e, qm)
    }

    /// Like [`new`](Self::new) with an explicit base graph.
    pub fn with_base_graph(
        bg: BaseGraph,
        info_bits_k: usize,
        output_bits_e: usize,
        qm: usize,
    ) -> Result<Self, LdpcError> {
        if info_bits_k > bg.max_block_size() {
            return Err(LdpcError::BlockTooLarge { k: info_bits_k, max: bg.max_block_size(), bg });
        }
        let seg = segmentation(info_bits_k, bg)?;
        Self::from_code(QcCode::get(bg, seg.z)?, info_bits_k, output_bits_e, qm)
    }

    /// A block of K' bits on an explicit code (fillers = K − K').
    pub fn from_code(
        code: Arc<QcCode>,
        info_bits_k: usize,
        output_bits_e: usize,
        qm: usize,
    ) -> Result<Self, LdpcError> {
        check_qm(qm)?;
        if info_bits_k == 0 || info_bits_k > code.k() {
            return Err(LdpcError::InvalidSize("K' must be in 1..=K"));
        }
        if output_bits_e == 0 {
            return Err(LdpcError::InvalidSize("E must be > 0"));
        }
        if !output_bits_e.is_multiple_of(qm) {
            return Err(LdpcError::NotMultipleOfQm { what: "E", bits: output_bits_e, qm });
        }
        if output_bits_e > u32::MAX as usize / 2 {
            return Err(LdpcError::InvalidSize("E too large"));
        }
        let z = code.z();
        let (k, n) = (code.k(), code.n());
        // §5.4.2.1 bit selection from the circular buffer d (N_cb = N, k0 = 0
        // for RV0), skipping <NULL> fillers. d_j is full-codeword bit j + 2Z.
        let mut e_seq = Vec::with_capacity(output_bits_e);
        let mut j = 0usize;
        while e_seq.len() < output_bits_e {
            let idx = 2 * z + j % n;
            if !(info_bits_k..k).contains(&idx) {
                e_seq.push(idx as u32);
            }
            j += 1;
        }
        // §5.4.2.2: f[i + j·Qm] = e[i·E/Qm + j].
        let rows = output_bits_e / qm;
        let mut positions = vec![0u32; output_bits_e];
        for jj in 0..rows {
            for i in 0..qm {
                positions[i + jj * qm] = e_seq[i * rows + jj];
            }
        }
        let kb = code.base_graph().info_cols();
        let max_pos = e_seq.iter().copied().max().unwrap_or(0) as usize;
        let active_cols = (max_pos / z + 1).max(kb + 4);
        Ok(CodeBlockSpec { code, k_prime: info_bits_k, e: output_bits_e, qm, active_cols, positions: positions.into() })
    }

    /// The lifted code.
    pub fn code(&self) -> &Arc<QcCode> {
        &self.code
    }
    /// Base graph.
    pub fn base_graph(&self) -> BaseGraph {
        self.code.base_graph()
    }
    /// Lifting size Z.
    pub fn z(&self) -> usize {
        self.code.z()
    }
    /// Information bits per block K' (what [`encode`](Self::encode) takes).
    pub fn k_prime(&self) -> usize {
        self.k_prime
    }
    /// K = 22Z / 10Z (K' plus fillers).
    pub fn k(&self) -> usize {
        self.code.k()
    }
    /// Filler bits F = K − K'.
    pub fn filler_bits(&self) -> usize {
        self.code.k() - self.k_prime
    }
    /// Encoder output length N = 66Z / 50Z (= N_cb here).
    pub fn n(&self) -> usize {
        self.code.n()
    }
    /// Rate-matched length E.
    pub fn e(&self) -> usize {
        self.e
    }
    /// Bits per modulation symbol Q_m.
    pub fn qm(&self) -> usize {
        self.qm
    }
    /// Code rate K'/E.
    pub fn rate(&self) -> f64 {
        self.k_prime as f64 / self.e as f64
    }
    /// Base columns of the full codeword that E can reach (≥ info_cols + 4);
    /// [`derate_match`](Self::derate_match) returns this many Z-blocks.
    pub fn active_base_cols(&self) -> usize {
        self.active_cols
    }
    /// Full-codeword index of every output bit (after interleaving).
    pub fn positions(&self) -> &[u32] {
        &self.positions
    }

    /// Encodes K' bits (0/1) into E rate-matched, interleaved bits.
    pub fn encode(&self, info: &[u8]) -> Result<Vec<u8>, LdpcError> {
        let mut out = Vec::with_capacity(self.e);
        self.encode_append(info, &mut out)?;
        Ok(out)
    }

    /// Like [`encode`](Self::encode), appending to `out`.
    pub fn encode_append(&self, info: &[u8], out: &mut Vec<u8>) -> Result<(), LdpcError> {
        if info.len() != self.k_prime {
            return Err(LdpcError::Length {
                what: "code block information bits (K')",
                expected: self.k_prime,
                got: info.len(),
            });
        }
        check_bits(info)?;
        let mut sys = vec![0u8; self.code.k()];
        sys[..self.k_prime].copy_from_slice(info);
        let mut cw = Vec::new();
        self.code.encode_full_into(&sys, self.active_cols, &mut cw)?;
        out.extend(self.positions.iter().map(|&p| cw[p as usize]));
        Ok(())
    }

    /// Inverse of rate matching + interleaving for E LLRs: returns full-codeword
    /// LLRs for the first [`active_base_cols`](Self::active_base_cols)·Z bits
    /// (repetitions summed, punctured 0, fillers +LLR_KNOWN), ready for
    /// [`LdpcDecoder::decode`].
    pub fn derate_match(&self, llr: &[f32]) -> Result<Vec<f32>, LdpcError> {
        let mut out = Vec::new();
        self.derate_match_into(llr, &mut out)?;
        Ok(out)
    }

    /// Like [`derate_match`](Self::derate_match) into a reusable buffer.
    pub fn derate_match_into(&self, llr: &[f32], out: &mut Vec<f32>) -> Result<(), LdpcError> {
        if llr.len() != self.e {
            return Err(LdpcError::Length { what: "rate-matched LLRs (E)", expected: self.e, got: llr.len() });
        }
        out.clear();
        out.resize(self.active_cols * self.code.z(), 0.0);
        out[self.k_prime..self.code.k()].fill(LLR_KNOWN);
        for (&p, &x) in self.positions.iter().zip(llr) {
            out[p as usize] += x;
        }
        Ok(())
    }

    /// A decoder for this block's code.
    pub fn decoder(&self, config: DecoderConfig) -> Result<LdpcDecoder, LdpcError> {
        LdpcDecoder::new(Arc::clone(&self.code), config)
    }

    /// De-rate-matches and decodes E LLRs; `info_out` receives the K' decoded
    /// bits. `scratch` is a reusable buffer.
    pub fn decode(
        &self,
        decoder: &mut LdpcDecoder,
        llr: &[f32],
        scratch: &mut Vec<f32>,
        info_out: &mut Vec<u8>,
    ) -> Result<DecodeStats, LdpcError> {
        let dc = decoder.code();
        if dc.base_graph() != self.base_graph() || dc.z() != self.z() {
            return Err(LdpcError::CodeMismatch {
                bg: self.base_graph(),
                z: self.z(),
                got_bg: dc.base_graph(),
                got_z: dc.z(),
            });
        }
        self.derate_match_into(llr, scratch)?;
        let stats = decoder.decode(scratch, info_out)?;
        info_out.truncate(self.k_prime);
        Ok(stats)
    }
}
