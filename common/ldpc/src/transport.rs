//! Transport-block processing: payload → CRC-24A → segmentation (CRC-24B per
//! block when C > 1) → per-block LDPC encoding and rate matching to G bits
//! (38.212 §5.1, §5.2.2, §5.4.2.1 E_r split, §5.5 concatenation), and back.
//!
//! Deviation from §7.2.1: we always use CRC-24A for the transport block (the
//! spec uses CRC-16 when A ≤ 3824). The semantic payloads are small and a
//! silently accepted corrupt block is worse than 8 extra bits.

use crate::crc::CrcKind;
use crate::decoder::{DecoderConfig, LdpcDecoder};
use crate::qc::{BaseGraph, QcCode};
use crate::ratematch::{check_qm, segmentation, select_base_graph, CodeBlockSpec, Segmentation};
use crate::LdpcError;

const TB_CRC: CrcKind = CrcKind::Crc24A;
const CB_CRC: CrcKind = CrcKind::Crc24B;

/// Layout of one transport block of A payload bits sent as G coded bits.
#[derive(Debug, Clone)]
pub struct TransportBlockSpec {
    a: usize,
    g: usize,
    qm: usize,
    seg: Segmentation,
    blocks: Vec<CodeBlockSpec>,
}

/// Per-code-block decoding outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockStatus {
    /// The block's CRC passed: CRC-24B when C > 1; the transport CRC-24A when
    /// C = 1 (the block has no CRC of its own).
    pub crc_ok: bool,
    /// The LDPC syndrome was satisfied.
    pub syndrome_ok: bool,
    /// LDPC iterations used.
    pub iterations: usize,
}

/// Decoded transport block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportDecoded {
    /// The A decoded payload bits (hard decisions, also when a CRC failed).
    pub bits: Vec<u8>,
    /// One entry per code block.
    pub blocks: Vec<BlockStatus>,
    /// The transport-block CRC-24A passed.
    pub tb_crc_ok: bool,
}

impl TransportDecoded {
    /// True only if the transport CRC and every block CRC passed.
    pub fn ok(&self) -> bool {
        self.tb_crc_ok && self.blocks.iter().all(|b| b.crc_ok)
    }
}

impl TransportBlockSpec {
    /// A transport block of `payload_bits_a` = A bits sent as `output_bits_g` = G
    /// bits with `qm` bits per symbol (one layer). B = A + 24; the base graph is
    /// chosen as §7.2.2 with R = B/G; segmentation per §5.2.2; E_r per §5.4.2.1.
    pub fn new(payload_bits_a: usize, output_bits_g: usize, qm: usize) -> Result<Self, LdpcError> {
        if payload_bits_a == 0 || output_bits_g == 0 {
            return Err(LdpcError::InvalidSize("A and G must be > 0"));
        }
        check_qm(qm)?;
        if !output_bits_g.is_multiple_of(qm) {
            return Err(LdpcError::NotMultipleOfQm { what: "G", bits: output_bits_g, qm });
        }
        let b = payload_bits_a + TB_CRC.len();
        let bg = select_base_graph(payload_bits_a, b as f64 / output_bits_g as f64);
        Self::with_base_graph(bg, payload_bits_a, output_bits_g, qm)
    }

    /// Like [`new`](Self::new) with an explicit base graph.
    pub fn with_base_graph(
        bg: BaseGraph,
        payload_bits_a: usize,
        output_bits_g: usize,
        qm: usize,
    ) -> Result<Self, LdpcError> {
        if payload_bits_a == 0 || output_bits_g == 0 {
            return Err(LdpcError::InvalidSize("A and G must be > 0"));
        }
        check_qm(qm)?;
        if !output_bits_g.is_multiple_of(qm) {
            return Err(LdpcError::NotMultipleOfQm { what: "G", bits: output_bits_g, qm });
        }
        let seg = segmentation(payload_bits_a + TB_CRC.len(), bg)?;
        let code = QcCode::get(bg, seg.z)?;
        // §5.4.2.1 with N_L = 1 and C' = C: the first C − (G/Qm mod C) blocks get
        // Qm·⌊G/(Qm·C)⌋ bits, the rest Qm·⌈G/(Qm·C)⌉.
        let symbols = output_bits_g / qm;
        let (lo, rem) = (symbols / seg.c, symbols % seg.c);
        if lo == 0 {
            return Err(LdpcError::InvalidSize("G too small: a code block would get no symbols"));
        }
        let small = CodeBlockSpec::from_code(code.clone(), seg.k_prime, lo * qm, qm)?;
        let big = if rem > 0 { Some(CodeBlockSpec::from_code(code, seg.k_prime, (lo + 1) * qm, qm)?) } else { None };
        let blocks = (0..seg.c)
            .map(|r| match (&big, r >= seg.c - rem) {
                (Some(b), true) => b.clone(),
                _ => small.clone(),
            })
            .collect();
        Ok(TransportBlockSpec { a: payload_bits_a, g: output_bits_g, qm, seg, blocks })
    }

    /// Payload bits A.
    pub fn payload_bits(&self) -> usize {
        self.a
    }
    /// Coded bits G.
    pub fn output_bits(&self) -> usize {
        self.g
    }
    /// Bits per symbol.
    pub fn qm(&self) -> usize {
        self.qm
    }
    /// Segmentation (C, K', Z, …).
    pub fn segmentation(&self) -> &Segmentation {
        &self.seg
    }
    /// Per-block specs (E_r in each).
    pub fn blocks(&self) -> &[CodeBlockSpec] {
        &self.blocks
    }
    /// A decoder for this transport block's code (all blocks share one code).
    pub fn decoder(&self, config: DecoderConfig) -> Result<LdpcDecoder, LdpcError> {
        LdpcDecoder::new(QcCode::get(self.seg.bg, self.seg.z)?, config)
    }

    /// Encodes A payload bits (0/1) into G coded bits.
    pub fn encode(&self, payload: &[u8]) -> Result<Vec<u8>, LdpcError> {
        if payload.len() != self.a {
            return Err(LdpcError::Length { what: "payload bits (A)", expected: self.a, got: payload.len() });
        }
        let mut tb = TB_CRC.attach(payload)?;
        tb.resize(tb.len() + self.seg.pad, 0);
        let data = self.seg.k_prime - self.seg.l;
        let mut out = Vec::with_capacity(self.g);
        for (r, blk) in self.blocks.iter().enumerate() {
            let part = &tb[r * data..(r + 1) * data];
            if self.seg.c > 1 {
                blk.encode_append(&CB_CRC.attach(part)?, &mut out)?;
            } else {
                blk.encode_append(part, &mut out)?;
            }
        }
        Ok(out)
    }

    /// Encodes bytes (MSB first); the spec must have A = 8·len.
    pub fn encode_bytes(&self, payload: &[u8]) -> Result<Vec<u8>, LdpcError> {
        self.encode(&crate::bytes_to_bits(payload))
    }

    /// Decodes G LLRs. Every block is decoded; failures are reported in the
    /// result, never hidden.
    pub fn decode(&self, decoder: &mut LdpcDecoder, llr: &[f32]) -> Result<TransportDecoded, LdpcError> {
        if llr.len() != self.g {
            return Err(LdpcError::Length { what: "coded LLRs (G)", expected: self.g, got: llr.len() });
        }
        let data = self.seg.k_prime - self.seg.l;
        let mut tb = Vec::with_capacity(self.seg.c * data);
        let mut blocks = Vec::with_capacity(self.seg.c);
        let (mut scratch, mut bits) = (Vec::new(), Vec::new());
        let mut off = 0;
        for blk in &self.blocks {
            let stats = blk.decode(decoder, &llr[off..off + blk.e()], &mut scratch, &mut bits)?;
            off += blk.e();
            let crc_ok = self.seg.c > 1 && CB_CRC.check(&bits);
            tb.extend_from_slice(&bits[..data]);
            blocks.push(BlockStatus { crc_ok, syndrome_ok: stats.syndrome_ok, iterations: stats.iterations });
        }
        let b = self.a + TB_CRC.len();
        // Padding bits are known zeros: a one there means the last block is wrong.
        let pad_ok = tb[b..].iter().all(|&x| x == 0);
        let tb_crc_ok = TB_CRC.check(&tb[..b]) && pad_ok;
        if self.seg.c == 1 {
            blocks[0].crc_ok = tb_crc_ok;
        } else if !pad_ok {
            if let Some(last) = blocks.last_mut() {
                last.crc_ok = false;
            }
        }
        tb.truncate(self.a);
        Ok(TransportDecoded { bits: tb, blocks, tb_crc_ok })
    }
}
