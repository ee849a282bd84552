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
//! `decode(symbols[n], gains, noise, mcs) -> bytes[L]` plus block statuses;
//! `decode_lenient(…, len)` also returns the bytes of failed blocks (hard decisions).

use semcom_ldpc::{DecoderConfig, TransportBlockSpec, TransportDecoded};

use crate::bits::{BitReader, BitWriter};
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
    let mut w = BitWriter::<u8>::with_capacity(spec.payload_bits());
    w.put(payload.len() as u64, LEN_BITS as u32);
    for &b in payload {
        w.put(u64::from(b), 8);
    }
    let mut bits = w.into_bits();
    bits.resize(spec.payload_bits(), 0);
    let coded = spec.encode(&bits).map_err(|e| PhyError::Coding(e.to_string()))?;
    mcs.modulation.map(&coded)
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
    let (out, erased) = run_decoder(&spec, symbols, gains, noise, mcs, method)?;
    let mut status = summarise(&out);
    mark_erased(&mut status, &erased);
    Ok(status)
}

/// A code block none of whose bits arrived decodes to the all-zero word, which
/// passes the zero-initialised CRCs (a real link scrambles, 38.211 §7.3.1.1, so
/// there it would fail): report it, and the transport block, as failed.
fn mark_erased(status: &mut Decoded, erased: &[bool]) {
    if erased.iter().any(|&e| e) {
        for (ok, &e) in status.blocks_ok.iter_mut().zip(erased) {
            *ok &= !e;
        }
        status.transport_ok = false;
        status.payload = None;
    }
}

/// Like [`decode`], but also hands back the payload bytes when code blocks failed.
///
/// A real receiver does not throw a corrupt transport block away when the
/// application above can use damaged data (a JPEG decoder conceals errors): it
/// passes on the LDPC decoder's hard decisions. This returns the first
/// `payload_len` bytes after the transport block's 16-bit length prefix, taken
/// from the hard decisions whatever the CRCs say, together with the same
/// [`Decoded`] status as [`decode`] (so failures stay visible). The length
/// prefix itself is ignored: when blocks fail it may be garbage, so a caller
/// that needs the exact length carries it in its own, separately checked header.
///
/// A code block none of whose bits arrived (every LLR exactly 0) is reported as
/// failed, as in [`decode`].
///
/// `payload_len` may be at most [`Mcs::capacity_bytes`]`(symbols.len())`
/// (uncapped by [`MAX_PAYLOAD_BYTES`]: every byte the block holds is readable).
pub fn decode_lenient<'a>(
    symbols: &[C32],
    gains: impl Into<Gains<'a>>,
    noise: impl Into<NoiseVar<'a>>,
    mcs: &Mcs,
    method: DemapMethod,
    payload_len: usize,
) -> Result<(Vec<u8>, Decoded), PhyError> {
    let spec = mcs.spec(symbols.len())?;
    let room = (spec.payload_bits() - LEN_BITS) / 8;
    if payload_len > room {
        return Err(PhyError::InvalidParameter {
            name: "payload_len",
            value: payload_len as f64,
            reason: "more bytes than the transport block holds after its length prefix",
        });
    }
    let (out, erased) = run_decoder(&spec, symbols, gains, noise, mcs, method)?;
    let mut r = BitReader::new(out.bits.get(LEN_BITS..).unwrap_or_default());
    let bytes = (0..payload_len).map(|_| r.get(8).map_or(0, |b| b as u8)).collect();
    let mut status = summarise(&out);
    mark_erased(&mut status, &erased);
    Ok((bytes, status))
}

/// Soft demapping and LDPC decoding of one transport block; every block is
/// decoded and its status reported. Also says which code blocks received no
/// information at all (every LLR exactly 0).
fn run_decoder<'a>(
    spec: &TransportBlockSpec,
    symbols: &[C32],
    gains: impl Into<Gains<'a>>,
    noise: impl Into<NoiseVar<'a>>,
    mcs: &Mcs,
    method: DemapMethod,
) -> Result<(TransportDecoded, Vec<bool>), PhyError> {
    let llr = mcs.modulation.demap_llr(symbols, gains, noise, method)?;
    let mut off = 0;
    let erased = spec
        .blocks()
        .iter()
        .map(|b| {
            let part = llr.get(off..off + b.e()).unwrap_or_default();
            off += b.e();
            part.iter().all(|&l| l == 0.0)
        })
        .collect();
    let mut decoder = spec.decoder(DecoderConfig::default()).map_err(|e| PhyError::Coding(e.to_string()))?;
    let out = spec.decode(&mut decoder, &llr).map_err(|e| PhyError::Coding(e.to_string()))?;
    Ok((out, erased))
}

fn summarise(out: &TransportDecoded) -> Decoded {
    let blocks_ok: Vec<bool> = out.blocks.iter().map(|b| b.crc_ok).collect();
    let iterations = out.blocks.iter().map(|b| b.iterations).max().unwrap_or(0);
    let payload = if out.ok() { unpack(&out.bits) } else { None };
    Decoded { payload, blocks_ok, transport_ok: out.tb_crc_ok, iterations }
}

/// Length prefix, then that many bytes; `None` if the prefix overruns the block.
fn unpack(bits: &[u8]) -> Option<Vec<u8>> {
    let mut r = BitReader::new(bits);
    let len = r.get(LEN_BITS as u32)? as usize;
    if LEN_BITS + 8 * len > bits.len() {
        return None;
    }
    (0..len).map(|_| r.get(8).map(|b| b as u8)).collect()
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

    /// 16-QAM 1/2 half a dB under its threshold: the code blocks fail, yet most
    /// hard-decision bytes are right (at 6.5 dB every block passes for this seed).
    const SNR_LENIENT_DB: f64 = 6.0;

    #[test]
    fn lenient_decode_matches_decode_when_clean() {
        let mut rng = ChaCha8Rng::seed_from_u64(17);
        let mcs = Mcs::from_index(3).expect("mcs");
        let payload: Vec<u8> = (0..2000).map(|_| rng.random()).collect();
        let tx = encode(&payload, &mcs).expect("encode");
        let room = mcs.capacity_bytes(tx.len());
        let (bytes, status) = decode_lenient(&tx, Gains::Unit, 1e-3, &mcs, DemapMethod::MaxLog, room).expect("decode");
        assert_eq!(status.payload.as_deref(), Some(&payload[..]));
        assert_eq!(&bytes[..payload.len()], &payload[..]);
        assert!(bytes[payload.len()..].iter().all(|&b| b == 0), "padding decodes as zeros");
        assert!(decode_lenient(&tx, Gains::Unit, 1e-3, &mcs, DemapMethod::MaxLog, room + 1).is_err());
    }

    /// Just below the threshold some code blocks fail: the status says so, and the
    /// bytes are still the decoder's (mostly right) hard decisions, not dropped.
    #[test]
    fn lenient_decode_passes_on_damaged_blocks() {
        let mut rng = ChaCha8Rng::seed_from_u64(23);
        let mcs = Mcs::from_index(5).expect("mcs"); // 16-QAM 1/2, threshold ≈ 6.5 dB
        let payload: Vec<u8> = (0..6000).map(|_| rng.random()).collect();
        let awgn = Awgn::from_snr_db(SNR_LENIENT_DB).expect("awgn");
        let mut y = encode(&payload, &mcs).expect("encode");
        awgn.apply(&mut y, &mut rng);
        let (bytes, status) =
            decode_lenient(&y, Gains::Unit, awgn.n0(), &mcs, DemapMethod::MaxLog, payload.len()).expect("decode");
        assert!(status.payload.is_none() && status.blocks_ok.len() > 1);
        assert!(status.blocks_ok.iter().any(|ok| !ok), "{:?}", status.blocks_ok);
        assert_eq!(bytes.len(), payload.len());
        let right = bytes.iter().zip(&payload).filter(|(a, b)| a == b).count();
        // Random bytes would agree on 1/256 of them.
        assert!(right * 2 > payload.len(), "{right} of {} bytes right", payload.len());
    }

    /// A code block whose symbols were all erased decodes to the all-zero word, which
    /// passes the zero-initialised CRC; the lenient decoder must still call it failed.
    #[test]
    fn lenient_decode_reports_erased_blocks_as_failed() {
        let mut rng = ChaCha8Rng::seed_from_u64(29);
        let mcs = Mcs::from_index(3).expect("mcs");
        let payload: Vec<u8> = (0..3000).map(|_| rng.random()).collect();
        let mut y = encode(&payload, &mcs).expect("encode");
        let n = y.len();
        for s in &mut y[n / 2..] {
            *s = C32::new(f32::NAN, f32::NAN);
        }
        let (bytes, status) =
            decode_lenient(&y, Gains::Unit, 1e-3, &mcs, DemapMethod::MaxLog, payload.len()).expect("decode");
        assert!(status.blocks_ok.len() > 2);
        assert!(status.blocks_ok[0], "the first block arrived intact");
        assert!(!status.blocks_ok.last().expect("blocks"), "{:?}", status.blocks_ok);
        assert!(!status.transport_ok && status.payload.is_none());
        assert_eq!(bytes[..100], payload[..100]);
        // The strict decoder reports the same statuses.
        let strict = decode(&y, Gains::Unit, 1e-3, &mcs, DemapMethod::MaxLog).expect("decode");
        assert_eq!(strict.blocks_ok, status.blocks_ok);
        // A transport block lost entirely never passes as an (empty) payload.
        let all_lost = vec![C32::new(f32::NAN, f32::NAN); n];
        let lost = decode(&all_lost, Gains::Unit, 1e-3, &mcs, DemapMethod::MaxLog).expect("decode");
        assert!(lost.payload.is_none() && lost.blocks_ok.iter().all(|ok| !ok));
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
