//! The digital link: bytes in → CRC-24A, 5G NR LDPC, rate matching and bit
//! interleaving (semcom-ldpc) → Gray QAM symbols ([`crate::mapping`]) → … →
//! soft demapping → decoding → bytes out, with the CRC status of every code block.
//!
//! # Transport block
//! The A payload bits of one transport block are a 16-bit big-endian byte count,
//! the payload bytes (MSB first) and zero padding. A is a function of the number
//! of channel uses and the MCS alone ([`Mcs::payload_bits`]), so a receiver that
//! knows the symbol count and the MCS id (both PHY-level facts a frame header may
//! carry) knows the code, the way 5G derives its transport block size from the
//! allocation.
//!
//! Shapes: `encode(bytes[L], mcs) -> symbols[n]` with `n = mcs.symbols_for(L)`;
//! `decode(symbols[n], gains, noise, mcs) -> bytes[L]` plus block statuses.

use semcom_ldpc::{DecoderConfig, TransportBlockSpec};

use crate::mapping::{DemapMethod, Gains, Modulation, NoiseVar};
use crate::{PhyError, C32};

/// Bits of the length prefix inside the transport block.
const LEN_BITS: usize = 16;
/// CRC-24A appended by the transport block.
const TB_CRC_BITS: usize = 24;
/// Largest payload one transport block carries (the length prefix is 16 bits).
pub const MAX_PAYLOAD_BYTES: usize = u16::MAX as usize;

/// A modulation and coding scheme.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mcs {
    /// Index in [`MCS_TABLE`], carried as the frame header's modulation id.
    pub index: u8,
    pub modulation: Modulation,
    /// Target code rate (payload + CRC bits / coded bits).
    pub rate: f64,
}

/// The MCS table, from the most robust to the fastest. Rates follow the 5G NR
/// MCS tables' spirit (38.214 Table 5.1.3.1-2) rounded to simple fractions; BPSK
/// at 1/5 reaches below QPSK's range for semantics that must survive a deep fade.
pub const MCS_TABLE: [Mcs; 13] = [
    Mcs { index: 0, modulation: Modulation::Bpsk, rate: 1.0 / 5.0 },
    Mcs { index: 1, modulation: Modulation::Qpsk, rate: 1.0 / 5.0 },
    Mcs { index: 2, modulation: Modulation::Qpsk, rate: 1.0 / 3.0 },
    Mcs { index: 3, modulation: Modulation::Qpsk, rate: 1.0 / 2.0 },
    Mcs { index: 4, modulation: Modulation::Qpsk, rate: 2.0 / 3.0 },
    Mcs { index: 5, modulation: Modulation::Qam16, rate: 1.0 / 2.0 },
    Mcs { index: 6, modulation: Modulation::Qam16, rate: 2.0 / 3.0 },
    Mcs { index: 7, modulation: Modulation::Qam16, rate: 3.0 / 4.0 },
    Mcs { index: 8, modulation: Modulation::Qam64, rate: 2.0 / 3.0 },
    Mcs { index: 9, modulation: Modulation::Qam64, rate: 3.0 / 4.0 },
    Mcs { index: 10, modulation: Modulation::Qam64, rate: 5.0 / 6.0 },
    Mcs { index: 11, modulation: Modulation::Qam256, rate: 3.0 / 4.0 },
    Mcs { index: 12, modulation: Modulation::Qam256, rate: 5.0 / 6.0 },
];

impl Mcs {
    pub fn from_index(index: u8) -> Result<Mcs, PhyError> {
        MCS_TABLE.get(usize::from(index)).copied().ok_or(PhyError::InvalidParameter {
            name: "mcs",
            value: f64::from(index),
            reason: "not in the MCS table",
        })
    }

    /// Information bits per channel use (payload + CRC).
    pub fn spectral_efficiency(&self) -> f64 {
        self.rate * self.modulation.bits_per_symbol() as f64
    }

    /// Transport-block payload bits A carried by `symbols` channel uses
    /// (0 if they cannot even hold the CRC and the length prefix).
    pub fn payload_bits(&self, symbols: usize) -> usize {
        let g = symbols * self.modulation.bits_per_symbol();
        let a = (g as f64 * self.rate).floor() as usize;
        a.saturating_sub(TB_CRC_BITS)
    }

    /// Channel uses needed for `payload_bytes` bytes: the fewest whose
    /// [`payload_bits`](Self::payload_bits) hold the length prefix and the payload.
    pub fn symbols_for(&self, payload_bytes: usize) -> usize {
        let need = LEN_BITS + 8 * payload_bytes;
        let qm = self.modulation.bits_per_symbol();
        let mut n = ((need + TB_CRC_BITS) as f64 / (self.rate * qm as f64)).ceil() as usize;
        // Floating-point rounding may leave it one short.
        while self.payload_bits(n) < need {
            n += 1;
        }
        n
    }

    /// Largest payload in bytes that `symbols` channel uses carry.
    pub fn capacity_bytes(&self, symbols: usize) -> usize {
        (self.payload_bits(symbols).saturating_sub(LEN_BITS) / 8).min(MAX_PAYLOAD_BYTES)
    }

    fn spec(&self, symbols: usize) -> Result<TransportBlockSpec, PhyError> {
        let qm = self.modulation.bits_per_symbol();
        let a = self.payload_bits(symbols);
        if a < LEN_BITS {
            return Err(PhyError::InvalidLength { what: "digital link symbols", len: symbols, multiple_of: 1 });
        }
        TransportBlockSpec::new(a, symbols * qm, qm).map_err(|e| PhyError::Coding(e.to_string()))
    }
}

/// Encodes `payload` at `mcs`: exactly `mcs.symbols_for(payload.len())` symbols.
pub fn encode(payload: &[u8], mcs: &Mcs) -> Result<Vec<C32>, PhyError> {
    if payload.len() > MAX_PAYLOAD_BYTES {
        return Err(PhyError::InvalidParameter {
            name: "payload bytes",
            value: payload.len() as f64,
            reason: "more than one transport block carries (65535)",
        });
    }
    let n = mcs.symbols_for(payload.len());
    let spec = mcs.spec(n)?;
    let mut bits = Vec::with_capacity(spec.payload_bits());
    push_bits(&mut bits, payload.len() as u64, LEN_BITS);
    for &b in payload {
        push_bits(&mut bits, u64::from(b), 8);
    }
    bits.resize(spec.payload_bits(), 0);
    let coded = spec.encode(&bits).map_err(|e| PhyError::Coding(e.to_string()))?;
    mcs.modulation.map(&coded)
}

fn push_bits(out: &mut Vec<u8>, value: u64, n: usize) {
    for i in (0..n).rev() {
        out.push(((value >> i) & 1) as u8);
    }
}

/// What came out of the decoder.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// The payload, only when every CRC passed and the length prefix is
    /// consistent: a failed block is never passed on as data.
    pub payload: Option<Vec<u8>>,
    /// CRC status of each code block.
    pub blocks_ok: Vec<bool>,
    /// Transport-block CRC-24A status.
    pub transport_ok: bool,
    /// Largest number of LDPC iterations any block used.
    pub iterations: usize,
}

/// Decodes `symbols` (y = h·x + w, unequalised) sent at `mcs`, given the channel
/// per symbol and the noise variance of `w` (see [`crate::pilots::Equalized`]).
pub fn decode<'a>(
    symbols: &[C32],
    gains: impl Into<Gains<'a>>,
    noise: impl Into<NoiseVar<'a>>,
    mcs: &Mcs,
    method: DemapMethod,
) -> Result<Decoded, PhyError> {
    let spec = mcs.spec(symbols.len())?;
    let llr = mcs.modulation.demap_llr(symbols, gains, noise, method)?;
    let mut decoder = spec.decoder(DecoderConfig::default()).map_err(|e| PhyError::Coding(e.to_string()))?;
    let out = spec.decode(&mut decoder, &llr).map_err(|e| PhyError::Coding(e.to_string()))?;
    let blocks_ok: Vec<bool> = out.blocks.iter().map(|b| b.crc_ok).collect();
    let iterations = out.blocks.iter().map(|b| b.iterations).max().unwrap_or(0);
    let payload = if out.ok() { unpack(&out.bits) } else { None };
    Ok(Decoded { payload, blocks_ok, transport_ok: out.tb_crc_ok, iterations })
}

/// Length prefix, then that many bytes; `None` if the prefix overruns the block.
fn unpack(bits: &[u8]) -> Option<Vec<u8>> {
    let read = |from: usize, n: usize| -> u64 { bits[from..from + n].iter().fold(0, |acc, &b| (acc << 1) | u64::from(b)) };
    if bits.len() < LEN_BITS {
        return None;
    }
    let len = read(0, LEN_BITS) as usize;
    if LEN_BITS + 8 * len > bits.len() {
        return None;
    }
    Some((0..len).map(|i| read(LEN_BITS + 8 * i, 8) as u8).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::Awgn;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn sizes_are_consistent_for_every_mcs() {
        for mcs in MCS_TABLE {
            for len in [0usize, 1, 7, 100, 1000, 5000] {
                let n = mcs.symbols_for(len);
                assert!(mcs.capacity_bytes(n) >= len, "{mcs:?} len {len}");
                // One symbol fewer would not do: the size is tight.
                assert!(n == 0 || mcs.payload_bits(n - 1) < LEN_BITS + 8 * len, "{mcs:?} len {len} not tight");
            }
        }
        assert!(Mcs::from_index(13).is_err());
    }

    #[test]
    fn noiseless_round_trip_for_every_mcs() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        for mcs in MCS_TABLE {
            for len in [0usize, 3, 200, 1500] {
                let payload: Vec<u8> = (0..len).map(|_| rng.random()).collect();
                let tx = encode(&payload, &mcs).expect("encode");
                assert_eq!(tx.len(), mcs.symbols_for(len));
                let out = decode(&tx, Gains::Unit, 1e-3, &mcs, DemapMethod::MaxLog).expect("decode");
                assert_eq!(out.payload.as_deref(), Some(&payload[..]), "{mcs:?} len {len}");
                assert!(out.transport_ok && out.blocks_ok.iter().all(|&b| b));
            }
        }
    }

    /// Far below the MCS's threshold the decoder must say it failed, never hand
    /// back wrong bytes as good.
    #[test]
    fn failure_is_reported_not_hidden() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mcs = Mcs::from_index(9).expect("mcs"); // 64-QAM 3/4 needs ≈ 15 dB
        let payload: Vec<u8> = (0..800).map(|_| rng.random()).collect();
        let awgn = Awgn::from_snr_db(0.0).expect("awgn");
        for _ in 0..20 {
            let mut y = encode(&payload, &mcs).expect("encode");
            awgn.apply(&mut y, &mut rng);
            let out = decode(&y, Gains::Unit, awgn.n0(), &mcs, DemapMethod::MaxLog).expect("decode");
            assert!(out.payload.is_none() && !out.transport_ok);
        }
    }

    /// Erased symbols (NaN: a lost frame) are tolerated by the code when few.
    #[test]
    fn a_few_erasures_are_corrected() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mcs = Mcs::from_index(1).expect("mcs"); // QPSK 1/5
        let payload: Vec<u8> = (0..300).map(|_| rng.random()).collect();
        let mut y = encode(&payload, &mcs).expect("encode");
        let awgn = Awgn::from_snr_db(3.0).expect("awgn");
        awgn.apply(&mut y, &mut rng);
        let n = y.len();
        for s in &mut y[n / 3..n / 3 + n / 5] {
            *s = C32::new(f32::NAN, f32::NAN);
        }
        let out = decode(&y, Gains::Unit, awgn.n0(), &mcs, DemapMethod::MaxLog).expect("decode");
        assert_eq!(out.payload.as_deref(), Some(&payload[..]));
    }
}
