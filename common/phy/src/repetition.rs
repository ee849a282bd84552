//! Repetition-coded BPSK: the skeleton's robust path for metadata (LDPC replaces it later).
//!
//! * Mapping: bit 0 → +1, bit 1 → −1 on the real axis (unit power per symbol).
//! * Layout: `nbits · repetitions` symbols; copy `r` of bit `i` sits at index
//!   `r · nbits + i`, so the repeats of a bit are spread over the whole block (a burst of
//!   erasures or a fade hits different bits, not all copies of one bit).
//! * LLR sign convention: positive means bit 0 is more likely.

use crate::{PhyError, C32};

/// Encodes `bits` into `bits.len() · repetitions` BPSK symbols (see the module docs).
/// `repetitions = 0` yields no symbols.
pub fn encode(bits: &[bool], repetitions: usize) -> Vec<C32> {
    let n = bits.len();
    let mut out = Vec::with_capacity(n.saturating_mul(repetitions));
    for _ in 0..repetitions {
        out.extend(bits.iter().map(|&b| C32::new(if b { -1.0 } else { 1.0 }, 0.0)));
    }
    out
}

/// Coherent maximum-ratio combining of the repeats of each bit.
///
/// For `y = h·x + n`, `x ∈ {±1}`, `n ~ CN(0, N0)`, the per-symbol LLR is
/// `ln p(y|+1)/p(y|−1) = 4·Re(conj(h)·y)/N0`; independent repeats add. Returns
/// `(hard bit, combined LLR)` per bit; an LLR of exactly 0 decides bit 0.
///
/// Non-finite received symbols are treated as erasures (they contribute LLR 0) rather than
/// poisoning the sum. Requires `symbols.len() == nbits · repetitions`, `repetitions ≥ 1`,
/// a finite non-zero `h` and a finite `n0 > 0`.
pub fn decode(
    symbols: &[C32],
    nbits: usize,
    repetitions: usize,
    h: C32,
    n0: f64,
) -> Result<Vec<(bool, f64)>, PhyError> {
    if repetitions == 0 {
        return Err(PhyError::InvalidParameter { name: "repetitions", value: 0.0, reason: "must be at least 1" });
    }
    let expected = nbits.checked_mul(repetitions).ok_or(PhyError::InvalidParameter {
        name: "nbits",
        value: nbits as f64,
        reason: "nbits · repetitions overflows",
    })?;
    if symbols.len() != expected {
        return Err(PhyError::LengthMismatch { what: "repetition-coded symbols", got: symbols.len(), expected });
    }
    if !h.re.is_finite() || !h.im.is_finite() || h.norm_sqr() == 0.0 {
        return Err(PhyError::InvalidParameter {
            name: "h",
            value: h.norm() as f64,
            reason: "channel gain must be finite and non-zero",
        });
    }
    if !n0.is_finite() || n0 <= 0.0 {
        return Err(PhyError::InvalidParameter {
            name: "n0",
            value: n0,
            reason: "noise power must be finite and positive for LLRs",
        });
    }
    let scale = 4.0 / n0;
    let (hr, hi) = (h.re as f64, h.im as f64);
    let mut llr = vec![0.0f64; nbits];
    for (k, y) in symbols.iter().enumerate() {
        if !y.re.is_finite() || !y.im.is_finite() {
            continue;
        }
        // Re(conj(h)·y) = hr·yr + hi·yi
        llr[k % nbits.max(1)] += scale * (hr * y.re as f64 + hi * y.im as f64);
    }
    Ok(llr.into_iter().map(|l| (l < 0.0, l)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::Awgn;
    use crate::math::q_function;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn layout_and_mapping() {
        let s = encode(&[false, true, true], 2);
        let re: Vec<f32> = s.iter().map(|z| z.re).collect();
        assert_eq!(re, vec![1.0, -1.0, -1.0, 1.0, -1.0, -1.0]);
        assert!(s.iter().all(|z| z.im == 0.0));
        let d = decode(&s, 3, 2, C32::new(1.0, 0.0), 1.0).unwrap();
        assert_eq!(d.iter().map(|x| x.0).collect::<Vec<_>>(), vec![false, true, true]);
        // Noiseless LLR = 4·r/N0 in magnitude.
        assert!((d[0].1 - 8.0).abs() < 1e-9 && (d[1].1 + 8.0).abs() < 1e-9);
    }

    #[test]
    fn coherent_combining_undoes_a_phase_rotation() {
        let bits = [true, false, true, true, false];
        let h = C32::from_polar(0.5, 2.0);
        let rx: Vec<C32> = encode(&bits, 3).into_iter().map(|x| h * x).collect();
        let d = decode(&rx, bits.len(), 3, h, 0.1).unwrap();
        assert_eq!(d.iter().map(|x| x.0).collect::<Vec<_>>(), bits.to_vec());
    }

    /// Simulated BER vs Q(sqrt(2·r·Es/N0)); the tolerance is 5 binomial standard deviations.
    fn check_ber(snr_db: f64, repetitions: usize, nbits: usize, seed: u64) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let ch = Awgn::from_snr_db(snr_db).unwrap();
        let bits: Vec<bool> = (0..nbits).map(|_| rng.random()).collect();
        let mut s = encode(&bits, repetitions);
        ch.apply(&mut s, &mut rng);
        let d = decode(&s, nbits, repetitions, C32::new(1.0, 0.0), ch.n0()).unwrap();
        let errors = d.iter().zip(&bits).filter(|(a, b)| a.0 != **b).count();
        let ber = errors as f64 / nbits as f64;
        let p = q_function((2.0 * repetitions as f64 / ch.n0()).sqrt());
        let sigma = (p * (1.0 - p) / nbits as f64).sqrt();
        assert!(
            (ber - p).abs() < 5.0 * sigma,
            "snr {snr_db} dB r={repetitions}: BER {ber:.3e} vs theory {p:.3e} (sigma {sigma:.1e})"
        );
    }

    #[test]
    fn uncoded_bpsk_ber_matches_theory() {
        // At 7 dB p ≈ 7.7e-4, so 2e6 bits give ~1500 errors (2.6 % relative std).
        check_ber(0.0, 1, 200_000, 1);
        check_ber(4.0, 1, 500_000, 2);
        check_ber(7.0, 1, 2_000_000, 3);
    }

    #[test]
    fn repetition_ber_matches_theory() {
        // r repeats combined coherently act like one symbol with r times the energy.
        check_ber(0.0, 4, 1_000_000, 4); // p = Q(√8) ≈ 2.3e-3
        check_ber(-6.0, 8, 500_000, 5); // p = Q(√(16·0.251)) ≈ 2.3e-2
        check_ber(-3.0, 3, 500_000, 6);
    }

    #[test]
    fn rejects_bad_inputs_and_erases_nan() {
        let s = encode(&[true, false], 2);
        assert!(decode(&s, 3, 2, C32::new(1.0, 0.0), 1.0).is_err());
        assert!(decode(&s, 2, 0, C32::new(1.0, 0.0), 1.0).is_err());
        assert!(decode(&s, 2, 2, C32::new(0.0, 0.0), 1.0).is_err());
        assert!(decode(&s, 2, 2, C32::new(1.0, 0.0), 0.0).is_err());
        assert!(decode(&s, usize::MAX, 2, C32::new(1.0, 0.0), 1.0).is_err());
        let mut s = s;
        s[0] = C32::new(f32::NAN, 0.0);
        let d = decode(&s, 2, 2, C32::new(1.0, 0.0), 1.0).unwrap();
        assert_eq!(d[0], (true, -4.0));
        assert_eq!(d[1], (false, 8.0));
    }
}
