//! Channel models. Currently only AWGN; fading comes with a later issue.

use crate::{n0_from_snr_db, PhyError, C32};
use rand_distr::{Distribution, Normal};

/// Additive white Gaussian noise, CN(0, N0): I and Q each get real noise of variance N0/2.
///
/// N0 is validated on construction (finite, ≥ 0), so [`Awgn::apply`] cannot fail.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Awgn {
    n0: f64,
}

impl Awgn {
    /// AWGN with noise power `n0` per complex symbol. `n0 = 0` is a noiseless channel.
    pub fn new(n0: f64) -> Result<Self, PhyError> {
        if !n0.is_finite() || n0 < 0.0 {
            return Err(PhyError::InvalidParameter {
                name: "n0",
                value: n0,
                reason: "noise power must be finite and non-negative",
            });
        }
        Ok(Self { n0 })
    }

    /// AWGN at SNR = Es/N0 (dB) for unit-power symbols. `+inf` dB is noiseless; NaN
    /// and `-inf` are rejected.
    pub fn from_snr_db(snr_db: f64) -> Result<Self, PhyError> {
        if snr_db.is_nan() || snr_db == f64::NEG_INFINITY {
            return Err(PhyError::InvalidParameter {
                name: "snr_db",
                value: snr_db,
                reason: "SNR must be a number above -inf dB",
            });
        }
        Self::new(n0_from_snr_db(snr_db))
    }

    /// Noise power per complex symbol.
    pub fn n0(&self) -> f64 {
        self.n0
    }

    /// Adds CN(0, N0) noise to `symbols` in place.
    pub fn apply(&self, symbols: &mut [C32], rng: &mut impl rand::Rng) {
        if self.n0 == 0.0 {
            return;
        }
        let sigma = (self.n0 / 2.0).sqrt();
        // Normal::new only fails for a non-finite or negative std, excluded by `new`;
        // fall back to the standard normal scaled by hand so there is no panic path.
        let normal = Normal::new(0.0f64, sigma);
        for s in symbols.iter_mut() {
            let (ni, nq) = match &normal {
                Ok(d) => (d.sample(rng), d.sample(rng)),
                Err(_) => {
                    let d = rand_distr::StandardNormal;
                    let a: f64 = d.sample(rng);
                    let b: f64 = d.sample(rng);
                    (a * sigma, b * sigma)
                }
            };
            s.re += ni as f32;
            s.im += nq as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn noise_variance_matches_n0() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let n = 200_000usize;
        for snr_db in [-5.0, 0.0, 10.0, 20.0] {
            let ch = Awgn::from_snr_db(snr_db).unwrap();
            let mut s = vec![C32::new(0.0, 0.0); n];
            ch.apply(&mut s, &mut rng);
            let n0 = ch.n0();
            let (mut ei, mut eq) = (0.0f64, 0.0f64);
            for z in &s {
                ei += (z.re as f64).powi(2);
                eq += (z.im as f64).powi(2);
            }
            let (vi, vq) = (ei / n as f64, eq / n as f64);
            // The sample variance of m Gaussian draws has relative std sqrt(2/m): the total
            // uses m = 2n real draws (0.22 %), each component m = n (0.32 %). 5 sigma keeps
            // false failures below ~1e-6.
            let rel_tol = 5.0 * (1.0 / n as f64).sqrt();
            assert!(((vi + vq) / n0 - 1.0).abs() < rel_tol, "snr {snr_db}: total {}", vi + vq);
            let comp_tol = 5.0 * (2.0 / n as f64).sqrt();
            assert!((vi / (n0 / 2.0) - 1.0).abs() < comp_tol, "I variance {vi}");
            assert!((vq / (n0 / 2.0) - 1.0).abs() < comp_tol, "Q variance {vq}");
        }
    }

    #[test]
    fn rejects_invalid_parameters_and_noiseless_is_identity() {
        assert!(Awgn::new(-1.0).is_err());
        assert!(Awgn::new(f64::NAN).is_err());
        assert!(Awgn::from_snr_db(f64::NAN).is_err());
        let ch = Awgn::from_snr_db(f64::INFINITY).unwrap();
        let mut s = vec![C32::new(0.5, -0.25); 4];
        ch.apply(&mut s, &mut ChaCha8Rng::seed_from_u64(0));
        assert!(s.iter().all(|z| *z == C32::new(0.5, -0.25)));
    }
}
