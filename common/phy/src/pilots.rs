//! Known pilot symbols and least-squares channel / noise estimation from them.
//!
//! Model over the pilot block: `rx[k] = h · tx[k] + n[k]`, `n[k] ~ CN(0, N0)`, with a single
//! complex gain `h` (flat, constant over the block).

use crate::{PhyError, C32};

/// Seed of the pilot generator. Part of the protocol: sender and receiver must agree.
const PILOT_SEED: u64 = 0x5EC0_C0DE_0000_0001;

/// SplitMix64 step. Chosen because it is tiny, fully specified and independent of any crate
/// version, so the pilot sequence can never change under a dependency upgrade.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The first `n` symbols of the fixed pilot sequence: unit-modulus QPSK `(±1 ± j)/√2`.
///
/// Deterministic (fixed internal seed), and prefix-consistent: `pilot_sequence(m)` is a
/// prefix of `pilot_sequence(n)` for `m ≤ n`.
pub fn pilot_sequence(n: usize) -> Vec<C32> {
    let a = std::f32::consts::FRAC_1_SQRT_2;
    let mut state = PILOT_SEED;
    let mut out = Vec::with_capacity(n);
    let mut word = 0u64;
    for k in 0..n {
        // 32 QPSK symbols (2 bits each) per 64-bit word.
        if k % 32 == 0 {
            word = splitmix64(&mut state);
        }
        let bits = (word >> (2 * (k % 32))) & 0b11;
        let re = if bits & 1 == 0 { a } else { -a };
        let im = if bits & 2 == 0 { a } else { -a };
        out.push(C32::new(re, im));
    }
    out
}

/// Result of a pilot-based estimate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChannelEstimate {
    /// Least-squares complex channel gain ĥ.
    pub h: C32,
    /// Unbiased estimate of the noise power N0 per complex symbol.
    pub n0: f64,
}

impl ChannelEstimate {
    /// Estimated received SNR |ĥ|²/N̂0 in dB (Es = 1). `+inf` when N̂0 = 0.
    pub fn snr_db(&self) -> f64 {
        let g = self.h.norm_sqr() as f64;
        10.0 * (g / self.n0).log10()
    }
}

/// Least-squares estimate of `h` and an unbiased estimate of N0 from received pilots.
///
/// * `ĥ = Σ rx·conj(tx) / Σ |tx|²` (the mean of `rx·conj(tx)` for unit-modulus pilots).
/// * `N̂0 = Σ |rx − ĥ·tx|² / (n − 1)`: fitting one complex parameter removes one complex
///   degree of freedom from the residual, so `E[Σ|r|²] = (n−1)·N0` for unit-modulus pilots.
///
/// Needs `n ≥ 2` pilots, equal lengths and finite values.
pub fn estimate_channel(rx: &[C32], tx: &[C32]) -> Result<ChannelEstimate, PhyError> {
    if rx.len() != tx.len() {
        return Err(PhyError::LengthMismatch {
            what: "received pilots",
            got: rx.len(),
            expected: tx.len(),
        });
    }
    let n = rx.len();
    if n < 2 {
        return Err(PhyError::TooFewPilots { got: n, needed: 2 });
    }
    if rx.iter().any(|z| !z.re.is_finite() || !z.im.is_finite()) {
        return Err(PhyError::NonFinite("received pilots"));
    }
    if tx.iter().any(|z| !z.re.is_finite() || !z.im.is_finite()) {
        return Err(PhyError::NonFinite("reference pilots"));
    }
    // Accumulate in f64: the sums of thousands of f32 products lose digits otherwise.
    let (mut cr, mut ci, mut e) = (0.0f64, 0.0f64, 0.0f64);
    for (r, t) in rx.iter().zip(tx) {
        let (rr, ri, tr, ti) = (r.re as f64, r.im as f64, t.re as f64, t.im as f64);
        // r · conj(t)
        cr += rr * tr + ri * ti;
        ci += ri * tr - rr * ti;
        e += tr * tr + ti * ti;
    }
    if e <= 0.0 {
        return Err(PhyError::ZeroPilotEnergy);
    }
    let (hr, hi) = (cr / e, ci / e);
    let mut res = 0.0f64;
    for (r, t) in rx.iter().zip(tx) {
        let (tr, ti) = (t.re as f64, t.im as f64);
        let dr = r.re as f64 - (hr * tr - hi * ti);
        let di = r.im as f64 - (hr * ti + hi * tr);
        res += dr * dr + di * di;
    }
    let n0 = res / (n - 1) as f64;
    if !n0.is_finite() || !hr.is_finite() || !hi.is_finite() {
        return Err(PhyError::NonFinite("channel estimate"));
    }
    Ok(ChannelEstimate {
        h: C32::new(hr as f32, hi as f32),
        n0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::Awgn;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn pilot_sequence_is_fixed_unit_modulus_qpsk_and_prefix_consistent() {
        let p = pilot_sequence(100);
        assert_eq!(p.len(), 100);
        for z in &p {
            assert!((z.norm_sqr() - 1.0).abs() < 1e-6);
            assert!((z.re.abs() - z.im.abs()).abs() < 1e-7);
        }
        assert_eq!(&pilot_sequence(37)[..], &p[..37]);
        // All four constellation points occur and are roughly balanced.
        let mut counts = [0usize; 4];
        for z in pilot_sequence(4000) {
            counts[(z.re < 0.0) as usize + 2 * (z.im < 0.0) as usize] += 1;
        }
        // Binomial(4000, 1/4): std ≈ 27, allow 5 sigma.
        assert!(counts.iter().all(|&c| (c as i64 - 1000).abs() < 140), "{counts:?}");
    }

    #[test]
    fn estimates_are_unbiased_and_h_error_variance_is_n0_over_n() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let n = 64usize;
        let trials = 4000usize;
        let tx = pilot_sequence(n);
        let h = C32::new(0.6, -0.8) * 1.3;
        for snr_db in [0.0, 10.0] {
            let ch = Awgn::from_snr_db(snr_db).unwrap();
            let n0 = ch.n0();
            let (mut n0_sum, mut herr) = (0.0f64, 0.0f64);
            for _ in 0..trials {
                let mut rx: Vec<C32> = tx.iter().map(|t| h * t).collect();
                ch.apply(&mut rx, &mut rng);
                let est = estimate_channel(&rx, &tx).unwrap();
                n0_sum += est.n0;
                herr += (est.h - h).norm_sqr() as f64;
            }
            // N̂0·2(n−1)/N0 ~ χ²(2(n−1)), so N̂0 has std N0/sqrt(n−1); the mean over
            // `trials` has std N0/sqrt((n−1)·trials) ≈ 0.2 %. Allow 5 sigma.
            let n0_mean = n0_sum / trials as f64;
            let tol = 5.0 / (((n - 1) * trials) as f64).sqrt();
            assert!((n0_mean / n0 - 1.0).abs() < tol, "snr {snr_db}: mean N0 {n0_mean} vs {n0}");
            // |ĥ−h|² is N0/n · χ²(2)/2 (exponential), so its mean over trials has relative
            // std 1/sqrt(trials) ≈ 1.6 %. Allow 5 sigma.
            let herr_mean = herr / trials as f64;
            let want = n0 / n as f64;
            let tol = 5.0 / (trials as f64).sqrt();
            assert!((herr_mean / want - 1.0).abs() < tol, "snr {snr_db}: h err {herr_mean} vs {want}");
        }
    }

    #[test]
    fn noiseless_estimate_is_exact_and_snr_is_infinite() {
        let tx = pilot_sequence(16);
        let h = C32::new(-0.3, 0.4);
        let rx: Vec<C32> = tx.iter().map(|t| h * t).collect();
        let est = estimate_channel(&rx, &tx).unwrap();
        assert!((est.h - h).norm() < 1e-6);
        assert!(est.n0 < 1e-12);
        assert!(est.snr_db() > 60.0);
    }

    #[test]
    fn rejects_bad_inputs() {
        let tx = pilot_sequence(8);
        assert!(matches!(estimate_channel(&tx[..7], &tx), Err(PhyError::LengthMismatch { .. })));
        assert!(matches!(estimate_channel(&tx[..1], &tx[..1]), Err(PhyError::TooFewPilots { .. })));
        let mut rx = tx.clone();
        rx[3].re = f32::NAN;
        assert!(matches!(estimate_channel(&rx, &tx), Err(PhyError::NonFinite(_))));
        let zeros = vec![C32::new(0.0, 0.0); 8];
        assert_eq!(estimate_channel(&tx, &zeros), Err(PhyError::ZeroPilotEnergy));
    }
}
