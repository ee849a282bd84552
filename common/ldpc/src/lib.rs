//! # semcom-ldpc — 5G NR channel coding (pure FEC)
//!
//! This crate implements the parts of 3GPP TS 38.212 that the semcom digital
//! PHY needs, and nothing about modulation or sockets:
//!
//! * [`crc`]: CRC-24A, CRC-24B and CRC-16 (§5.1) over bit slices;
//! * [`qc`]: the quasi-cyclic description of LDPC base graphs 1 and 2 for every
//!   lifting size of Table 5.3.2-1 ([`QcCode`], built once per (BG, Z) and cached);
//! * the systematic encoder exploiting the double-diagonal core (§5.3.2),
//!   [`QcCode::encode`];
//! * [`decoder`]: a layered normalised (or offset) min-sum decoder working on
//!   Z-wide vectors with early termination ([`LdpcDecoder`]);
//! * [`ratematch`]: code-block segmentation (§5.2.2), rate matching without
//!   limited buffer for RV0 with the bit interleaver (§5.4.2), and the inverse
//!   for LLRs ([`CodeBlockSpec`], [`segmentation`]);
//! * [`transport`]: payload → CRC-24A → segmentation (CRC-24B per block when
//!   there is more than one) → per-block encoding and rate matching to a total of
//!   G bits, and the decoder side reporting every block's CRC status honestly
//!   ([`TransportBlockSpec`]).
//!
//! ## Conventions
//!
//! * **Bits** are `u8` values 0 or 1, one bit per element, most significant bit
//!   first when converted from bytes ([`bytes_to_bits`]). Entry points that take
//!   bits reject any other value with [`LdpcError::InvalidBit`].
//! * **LLRs** are `f32` with `LLR = ln P(bit = 0) / P(bit = 1)`: **positive means
//!   0**. (Sionna uses the opposite sign; MATLAB and ldpc-toolbox use this one.)
//!   Hard decision: bit = sign bit of the LLR (so `+0.0` decides 0).
//!   An LLR of 0 means "no information" (punctured or not transmitted).
//! * **Codeword layout**: a "full codeword" is the lifted base-graph codeword of
//!   `num_base_cols · Z` bits, *including* the first 2Z systematic bits that
//!   38.212 never transmits. [`QcCode::encode`] returns the 38.212 output
//!   `d` (first 2Z dropped, N = 66Z or 50Z bits).
//! * **Shifts**: a base-graph entry `(column block k, shift v)` in base row `i`
//!   means check `i·Z + r` involves variable `k·Z + (r + v) mod Z`
//!   (the identity matrix cyclically shifted right by `v`, as in 38.212 §5.3.2).

pub mod crc;
pub mod decoder;
pub mod qc;
pub mod ratematch;
pub mod transport;

mod encoder;
mod error;

pub use decoder::{CheckRule, DecodeStats, DecoderConfig, LdpcDecoder};
pub use error::LdpcError;
pub use qc::{BaseGraph, QcCode, LIFTING_SIZES};
pub use ratematch::{segmentation, select_base_graph, CodeBlockSpec, Segmentation};
pub use transport::{BlockStatus, TransportBlockSpec, TransportDecoded};

/// Magnitude used for "known" bits (filler / padding positions) and the clamp
/// applied to every input LLR. Large enough to dominate any channel LLR, small
/// enough that sums of a few hundred of them stay exact-ish and finite in `f32`.
pub const LLR_KNOWN: f32 = 1.0e6;

/// Converts bytes to bits, most significant bit first.
pub fn bytes_to_bits(bytes: &[u8]) -> Vec<u8> {
    let mut bits = Vec::with_capacity(bytes.len() * 8);
    for &b in bytes {
        for i in (0..8).rev() {
            bits.push((b >> i) & 1);
        }
    }
    bits
}

/// Converts bits (MSB first) back to bytes. Errors if the length is not a
/// multiple of 8 or a value is not 0/1.
pub fn bits_to_bytes(bits: &[u8]) -> Result<Vec<u8>, LdpcError> {
    if !bits.len().is_multiple_of(8) {
        return Err(LdpcError::Length {
            what: "bit count for bits_to_bytes (must be a multiple of 8)",
            expected: bits.len().div_ceil(8) * 8,
            got: bits.len(),
        });
    }
    check_bits(bits)?;
    Ok(bits.chunks_exact(8).map(|c| c.iter().fold(0u8, |acc, &b| (acc << 1) | b)).collect())
}

/// Rejects any element that is not 0 or 1.
pub(crate) fn check_bits(bits: &[u8]) -> Result<(), LdpcError> {
    match bits.iter().position(|&b| b > 1) {
        Some(index) => Err(LdpcError::InvalidBit { index, value: bits[index] }),
        None => Ok(()),
    }
}
