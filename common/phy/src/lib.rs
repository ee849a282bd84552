//! Physical layer: complex symbols, modulation, channels, pilots, the LDPC-coded digital link.
//!
//! Composable blocks in the spirit of Sionna's PHY API, each with explicit shapes:
//! [`mapping`] (Gray QAM mapper, hard and soft demapper), [`channel`] (AWGN, block
//! fading, frame erasures), [`pilots`] (pilot framing, LS/LMMSE channel estimation),
//! [`digital`] (bytes over CRC + 5G NR LDPC + QAM), [`link_channel`] (the frame-level
//! channel the daemons and the evaluation share), [`bits`] (MSB-first bit fields).
//!
//! # Conventions (docs/architecture.md §2)
//!
//! * Complex baseband. One **channel use** is one complex symbol ([`C32`]).
//! * Average transmit power is normalised to 1 per complex symbol: every constellation
//!   has unit average energy **Es = 1**, and pilots have unit power.
//! * **SNR = Es/N0** in dB; AWGN is CN(0, N0) with N0 = 10^(−SNR/10), i.e. each of
//!   the I and Q components carries independent real noise of variance N0/2.
//! * Fading: `y = h·x + n` with `E|h|² = 1`, so SNR is the *average* received Es/N0.
//! * **LLR = ln P(b = 0)/P(b = 1)**: positive means bit 0. This is the opposite of
//!   Sionna's sign convention.
//! * A "perfect CSI" receiver (true `h`) exists only for comparisons and is labelled so.

pub mod bits;
pub mod channel;
pub mod digital;
pub mod link_channel;
pub mod mapping;
pub mod math;
pub mod pilots;

/// One complex baseband symbol (one channel use).
pub type C32 = num_complex::Complex32;

/// Errors raised by the physical layer on invalid input.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PhyError {
    /// Two sequences that must be aligned have different lengths.
    #[error("length mismatch: {what} has {got} symbols, expected {expected}")]
    LengthMismatch { what: &'static str, got: usize, expected: usize },
    /// Too few pilot symbols to estimate both the channel and the noise level.
    #[error("need at least {needed} pilot symbols, got {got}")]
    TooFewPilots { got: usize, needed: usize },
    /// The known transmitted pilot sequence has zero energy (cannot divide by it).
    #[error("pilot sequence has zero energy")]
    ZeroPilotEnergy,
    /// A received or reference symbol is NaN or infinite where a finite value is needed.
    #[error("non-finite value in {0}")]
    NonFinite(&'static str),
    /// A sequence's length must be a multiple of some block size.
    #[error("{what} has length {len}, which is not a multiple of {multiple_of}")]
    InvalidLength { what: &'static str, len: usize, multiple_of: usize },
    /// A modulation name that [`mapping::Modulation`] does not know.
    #[error("unknown modulation (expected bpsk, qpsk, 16qam, 64qam or 256qam)")]
    UnknownModulation,
    /// The channel code (semcom-ldpc) refused its input.
    #[error("channel coding: {0}")]
    Coding(String),
    /// A scalar parameter is out of its valid range.
    #[error("invalid parameter {name} = {value}: {reason}")]
    InvalidParameter { name: &'static str, value: f64, reason: &'static str },
}

/// Noise power N0 for a given SNR = Es/N0 in dB, assuming Es = 1.
///
/// `+inf` dB gives N0 = 0 (noiseless); NaN propagates (callers validate).
pub fn n0_from_snr_db(snr_db: f64) -> f64 {
    10f64.powf(-snr_db / 10.0)
}

/// Mean of |s|² over a symbol slice, accumulated in f64. Returns 0 for an empty slice.
pub fn average_power(s: &[C32]) -> f64 {
    if s.is_empty() {
        return 0.0;
    }
    let e: f64 = s.iter().map(|z| (z.re as f64) * (z.re as f64) + (z.im as f64) * (z.im as f64)).sum();
    e / s.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn n0_matches_definition() {
        assert!((n0_from_snr_db(0.0) - 1.0).abs() < 1e-15);
        assert!((n0_from_snr_db(10.0) - 0.1).abs() < 1e-15);
        assert!((n0_from_snr_db(-3.0) - 1.995_262_314_968_879_6).abs() < 1e-12);
        assert_eq!(n0_from_snr_db(f64::INFINITY), 0.0);
    }

    #[test]
    fn average_power_of_known_symbols() {
        let s = [C32::new(1.0, 0.0), C32::new(0.0, -2.0), C32::new(3.0, 4.0)];
        assert!((average_power(&s) - (1.0 + 4.0 + 25.0) / 3.0).abs() < 1e-12);
        assert_eq!(average_power(&[]), 0.0);
    }
}
