//! Channel models, shapes `[n]` symbols in, `[n]` symbols out:
//!
//! * [`Awgn`]: `y = x + n`, `n ~ CN(0, N0)`.
//! * [`BlockFading`]: `y = h·x + n` with a flat gain `h` (Rayleigh or Rician, `E|h|² = 1`)
//!   constant over blocks of `coherence` symbols; returns the true `h` per symbol for
//!   perfect-CSI comparisons.
//! * Frame erasures ([`FrameLoss`]): [`Erasures`] (i.i.d.) and [`GilbertElliott`] (bursts),
//!   one decision per frame.

use crate::{n0_from_snr_db, PhyError, C32};
use rand_distr::{Distribution, Normal, StandardNormal};

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

/// Distribution of the block-fading gain `h`. Both have `E|h|² = 1`, so the SNR stays the
/// average received Es/N0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FadingModel {
    /// `h ~ CN(0, 1)`: `|h|` Rayleigh, `|h|²` exponential with mean 1.
    Rayleigh,
    /// `h = √(K/(K+1))·e^{jθ} + √(1/(K+1))·CN(0,1)` with the line-of-sight phase θ drawn
    /// **uniformly at random per block** (the receiver cannot know it without pilots).
    /// So `E[h] = 0` and `E|h|² = 1`: the CN(0,1)-based LMMSE estimator in
    /// [`crate::pilots`] is still the *linear* MMSE estimator. `K = 0` is Rayleigh,
    /// `K = +∞` a pure random-phase LOS (`|h| = 1`).
    Rician {
        /// Ratio of LOS to scattered power (linear, ≥ 0).
        k_factor: f64,
    },
}

/// Flat block fading plus AWGN: `y[i] = h[⌊i/L⌋]·x[i] + n[i]`, `L = coherence`.
///
/// Each call to [`apply`](Self::apply) is one transmission: blocks start at its first
/// symbol and gains are drawn afresh (independent between blocks and between calls).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BlockFading {
    model: FadingModel,
    coherence: usize,
    awgn: Awgn,
}

impl BlockFading {
    /// Block fading with noise power `n0` (N0 = 0 is allowed: fading only).
    /// Fails for `coherence = 0`, a negative or NaN K factor, or an invalid `n0`.
    pub fn new(model: FadingModel, coherence: usize, n0: f64) -> Result<Self, PhyError> {
        if coherence == 0 {
            return Err(PhyError::InvalidParameter {
                name: "coherence",
                value: 0.0,
                reason: "coherence block must hold at least one symbol",
            });
        }
        if let FadingModel::Rician { k_factor } = model {
            if k_factor.is_nan() || k_factor < 0.0 {
                return Err(PhyError::InvalidParameter {
                    name: "k_factor",
                    value: k_factor,
                    reason: "Rician K factor must be >= 0 (+inf allowed)",
                });
            }
        }
        Ok(Self { model, coherence, awgn: Awgn::new(n0)? })
    }

    /// As [`new`](Self::new) with N0 from SNR = Es/N0 in dB (see [`Awgn::from_snr_db`]).
    pub fn from_snr_db(model: FadingModel, coherence: usize, snr_db: f64) -> Result<Self, PhyError> {
        Self::new(model, coherence, Awgn::from_snr_db(snr_db)?.n0())
    }

    /// The gain distribution.
    pub fn model(&self) -> FadingModel {
        self.model
    }

    /// Coherence block length L in symbols.
    pub fn coherence(&self) -> usize {
        self.coherence
    }

    /// Noise power per complex symbol.
    pub fn n0(&self) -> f64 {
        self.awgn.n0()
    }

    /// Draws one gain `h` from the model.
    pub fn draw_gain(&self, rng: &mut impl rand::Rng) -> C32 {
        let mut cn = |var: f64| {
            let s = (var / 2.0).sqrt();
            let a: f64 = StandardNormal.sample(rng);
            let b: f64 = StandardNormal.sample(rng);
            (a * s, b * s)
        };
        match self.model {
            FadingModel::Rayleigh => {
                let (a, b) = cn(1.0);
                C32::new(a as f32, b as f32)
            }
            FadingModel::Rician { k_factor } => {
                // Written with 1/(K+1) so that K = +inf gives LOS 1, scatter 0 (no NaN).
                let scatter = 1.0 / (k_factor + 1.0);
                let los = (1.0 - scatter).sqrt();
                let (a, b) = cn(scatter);
                let theta = rng.random::<f64>() * std::f64::consts::TAU;
                C32::new((los * theta.cos() + a) as f32, (los * theta.sin() + b) as f32)
            }
        }
    }

    /// Applies `y = h·x + n` in place (shape `[n]`) and returns the true gain of every
    /// symbol, shape `[n]` (perfect CSI, for comparisons only).
    pub fn apply(&self, symbols: &mut [C32], rng: &mut impl rand::Rng) -> Vec<C32> {
        let mut h = Vec::with_capacity(symbols.len());
        self.apply_into(symbols, rng, &mut h);
        h
    }

    /// As [`apply`](Self::apply), writing the per-symbol gains into `gains` (cleared
    /// first) so a caller can reuse the buffer.
    pub fn apply_into(&self, symbols: &mut [C32], rng: &mut impl rand::Rng, gains: &mut Vec<C32>) {
        gains.clear();
        gains.reserve(symbols.len());
        for block in symbols.chunks_mut(self.coherence) {
            let h = self.draw_gain(rng);
            for s in block.iter_mut() {
                *s *= h;
            }
            gains.extend(std::iter::repeat_n(h, block.len()));
        }
        self.awgn.apply(symbols, rng);
    }
}

/// A per-frame loss process: lost frames become erasures at the receiver.
pub trait FrameLoss {
    /// Decides whether the next frame is lost.
    fn next_lost(&mut self, rng: &mut dyn rand::RngCore) -> bool;
    /// Long-run fraction of lost frames.
    fn loss_rate(&self) -> f64;
}

fn check_probability(name: &'static str, p: f64) -> Result<(), PhyError> {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(PhyError::InvalidParameter { name, value: p, reason: "must be a probability in [0, 1]" })
    }
}

/// `u < p` for `u` uniform in [0, 1): exactly `p = 0` never and `p = 1` always.
fn bernoulli(rng: &mut dyn rand::RngCore, p: f64) -> bool {
    use rand::Rng;
    rng.random::<f64>() < p
}

/// Independent frame erasures with probability `p` each.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Erasures {
    p: f64,
}

impl Erasures {
    /// Fails unless `0 ≤ p ≤ 1`.
    pub fn new(p: f64) -> Result<Self, PhyError> {
        check_probability("p", p)?;
        Ok(Self { p })
    }

    /// Loss probability per frame.
    pub fn p(&self) -> f64 {
        self.p
    }
}

impl FrameLoss for Erasures {
    fn next_lost(&mut self, rng: &mut dyn rand::RngCore) -> bool {
        bernoulli(rng, self.p)
    }

    fn loss_rate(&self) -> f64 {
        self.p
    }
}

/// Gilbert–Elliott burst erasures: a two-state Markov chain (Good, Bad), one step per frame.
///
/// For each frame the loss is drawn from the current state (probability `loss_good` or
/// `loss_bad`), then the state moves (`G→B` with `p_good_to_bad`, `B→G` with
/// `p_bad_to_good`). The first state is drawn from the stationary distribution, so the
/// loss process is stationary from the first frame:
///
/// * `π_B = p_gb/(p_gb + p_bg)`, `π_G = 1 − π_B`;
/// * loss rate `P(L) = π_G·loss_good + π_B·loss_bad`;
/// * mean burst length (run of consecutive lost frames)
///   `P(L)/P(no loss, then loss)` with
///   `P(no loss, then loss) = Σ_s π_s (1 − l_s) Σ_s' P(s→s') l_s'`; for the classic Gilbert
///   model (`loss_good = 0`, `loss_bad = 1`) this is `1/p_bg`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GilbertElliott {
    p_good_to_bad: f64,
    p_bad_to_good: f64,
    loss_good: f64,
    loss_bad: f64,
    /// `None` until the first frame, then whether the chain is in the Bad state.
    bad: Option<bool>,
}

impl GilbertElliott {
    /// Fails unless all four are probabilities and `p_good_to_bad + p_bad_to_good > 0`
    /// (otherwise the chain never moves and has no unique stationary distribution).
    pub fn new(p_good_to_bad: f64, p_bad_to_good: f64, loss_good: f64, loss_bad: f64) -> Result<Self, PhyError> {
        check_probability("p_good_to_bad", p_good_to_bad)?;
        check_probability("p_bad_to_good", p_bad_to_good)?;
        check_probability("loss_good", loss_good)?;
        check_probability("loss_bad", loss_bad)?;
        if p_good_to_bad + p_bad_to_good <= 0.0 {
            return Err(PhyError::InvalidParameter {
                name: "p_good_to_bad + p_bad_to_good",
                value: 0.0,
                reason: "the chain must be able to move",
            });
        }
        Ok(Self { p_good_to_bad, p_bad_to_good, loss_good, loss_bad, bad: None })
    }

    /// The classic Gilbert model: nothing lost in Good, everything lost in Bad, mean
    /// burst length `mean_burst` frames (≥ 1) and loss rate `loss_rate` (< 1). Fails when
    /// the pair is unreachable (`loss_rate/(1 − loss_rate) > mean_burst`).
    pub fn from_loss_rate_and_burst(loss_rate: f64, mean_burst: f64) -> Result<Self, PhyError> {
        if !(mean_burst >= 1.0 && mean_burst.is_finite()) {
            return Err(PhyError::InvalidParameter {
                name: "mean_burst",
                value: mean_burst,
                reason: "mean burst length must be finite and >= 1",
            });
        }
        if !(0.0..1.0).contains(&loss_rate) {
            return Err(PhyError::InvalidParameter {
                name: "loss_rate",
                value: loss_rate,
                reason: "must be in [0, 1)",
            });
        }
        let p_bg = 1.0 / mean_burst;
        // π_B = p_gb/(p_gb + p_bg) = loss_rate ⇒ p_gb = p_bg·r/(1 − r), which must be ≤ 1.
        let p_gb = p_bg * loss_rate / (1.0 - loss_rate);
        if p_gb > 1.0 {
            return Err(PhyError::InvalidParameter {
                name: "loss_rate",
                value: loss_rate,
                reason: "too high for this mean burst length (needs p_good_to_bad > 1)",
            });
        }
        Self::new(p_gb, p_bg, 0.0, 1.0)
    }

    /// Stationary probability of the Bad state, `p_gb/(p_gb + p_bg)`.
    pub fn stationary_bad(&self) -> f64 {
        self.p_good_to_bad / (self.p_good_to_bad + self.p_bad_to_good)
    }

    /// Mean number of consecutive lost frames in a loss burst (see the type docs);
    /// `+inf` if a started burst never ends, NaN if nothing is ever lost.
    pub fn mean_burst_length(&self) -> f64 {
        let pb = self.stationary_bad();
        let pg = 1.0 - pb;
        let (lg, lb) = (self.loss_good, self.loss_bad);
        // Loss probability of the next frame given the current state.
        let next_g = (1.0 - self.p_good_to_bad) * lg + self.p_good_to_bad * lb;
        let next_b = self.p_bad_to_good * lg + (1.0 - self.p_bad_to_good) * lb;
        let starts = pg * (1.0 - lg) * next_g + pb * (1.0 - lb) * next_b;
        let loss = self.loss_rate();
        if loss == 0.0 {
            f64::NAN
        } else if starts == 0.0 {
            f64::INFINITY
        } else {
            loss / starts
        }
    }

    /// Whether the chain is currently in the Bad state (`None` before the first frame).
    pub fn is_bad(&self) -> Option<bool> {
        self.bad
    }
}

impl FrameLoss for GilbertElliott {
    fn next_lost(&mut self, rng: &mut dyn rand::RngCore) -> bool {
        let bad = match self.bad {
            Some(b) => b,
            None => bernoulli(rng, self.stationary_bad()),
        };
        let lost = bernoulli(rng, if bad { self.loss_bad } else { self.loss_good });
        let flip = bernoulli(rng, if bad { self.p_bad_to_good } else { self.p_good_to_bad });
        self.bad = Some(bad != flip);
        lost
    }

    fn loss_rate(&self) -> f64 {
        let pb = self.stationary_bad();
        (1.0 - pb) * self.loss_good + pb * self.loss_bad
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

    fn bpsk_ber_with_perfect_csi(ch: &BlockFading, n: usize, seed: u64) -> f64 {
        use crate::mapping::{DemapMethod, Modulation};
        use rand::Rng;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let bits: Vec<u8> = (0..n).map(|_| rng.random::<bool>() as u8).collect();
        let mut y = Modulation::Bpsk.map(&bits).unwrap();
        let h = ch.apply(&mut y, &mut rng);
        let llr = Modulation::Bpsk.demap_llr(&y, &h, ch.n0(), DemapMethod::MaxLog).unwrap();
        let errors = llr.iter().zip(&bits).filter(|(l, b)| (**l < 0.0) != (**b == 1)).count();
        errors as f64 / n as f64
    }

    #[test]
    fn block_fading_gains_are_blockwise_constant_with_the_right_moments() {
        let mut rng = ChaCha8Rng::seed_from_u64(21);
        for (model, k) in [
            (FadingModel::Rayleigh, 0.0),
            (FadingModel::Rician { k_factor: 3.0 }, 3.0),
            (FadingModel::Rician { k_factor: f64::INFINITY }, f64::INFINITY),
        ] {
            let ch = BlockFading::new(model, 7, 0.0).unwrap();
            let n = 7 * 40_000 + 3; // last block short
            let mut x = vec![C32::new(1.0, 0.0); n];
            let h = ch.apply(&mut x, &mut rng);
            assert_eq!(h.len(), n);
            assert_eq!(x, h, "noiseless: y = h for x = 1");
            let blocks: Vec<C32> = h.chunks(7).map(|b| b[0]).collect();
            for (b, &g) in h.chunks(7).zip(&blocks) {
                assert!(b.iter().all(|z| *z == g));
            }
            let nb = blocks.len() as f64;
            let g2: Vec<f64> = blocks.iter().map(|z| z.norm_sqr() as f64).collect();
            let mean = g2.iter().sum::<f64>() / nb;
            let var = g2.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (nb - 1.0);
            // |h|² is non-central χ²: mean 1, variance (1 + 2K)/(K + 1)² (1 for Rayleigh,
            // 0 for pure LOS). The sample mean has std √(var/nb) ≈ 0.5 %; 5σ (+ f32 slack).
            let want_var = if k.is_infinite() { 0.0 } else { (1.0 + 2.0 * k) / (k + 1.0).powi(2) };
            assert!((mean - 1.0).abs() < 5.0 * (want_var / nb).sqrt() + 1e-6, "{model:?}: E|h|² {mean}");
            // Var of a sample variance ≈ (μ4 − σ⁴)/nb; for Exp(1) μ4 = 9, so ≤ 8/nb: 5σ ≈ 7 %.
            assert!(
                (var - want_var).abs() < 5.0 * (8.0 / nb).sqrt() * want_var.max(1e-3) + 1e-6,
                "{model:?}: var {var}"
            );
            // E[h] = 0 (random LOS phase): the mean of h has std 1/√nb.
            let hm = blocks.iter().fold(C32::new(0.0, 0.0), |a, b| a + b) / nb as f32;
            assert!((hm.norm() as f64) < 5.0 / nb.sqrt(), "{model:?}: E[h] = {hm}");
        }
    }

    #[test]
    fn rayleigh_bpsk_ber_with_perfect_csi_matches_theory() {
        for (k, snr_db) in [0.0, 10.0, 20.0].into_iter().enumerate() {
            // Coherence 1: every symbol fades independently, so errors are i.i.d.
            let ch = BlockFading::from_snr_db(FadingModel::Rayleigh, 1, snr_db).unwrap();
            let g = 1.0 / ch.n0();
            let p = 0.5 * (1.0 - (g / (1.0 + g)).sqrt());
            let n = 400_000;
            let ber = bpsk_ber_with_perfect_csi(&ch, n, 30 + k as u64);
            let sigma = (p * (1.0 - p) / n as f64).sqrt();
            assert!((ber - p).abs() < 5.0 * sigma, "{snr_db} dB: {ber:.3e} vs {p:.3e}");
        }
    }

    #[test]
    fn rician_ber_falls_from_rayleigh_to_awgn_as_k_grows() {
        use crate::math::q_function;
        let snr_db = 6.0;
        let n = 400_000;
        let ber = |k: f64, seed| {
            let ch = BlockFading::from_snr_db(FadingModel::Rician { k_factor: k }, 1, snr_db).unwrap();
            bpsk_ber_with_perfect_csi(&ch, n, seed)
        };
        let g = 1.0 / n0_from_snr_db(snr_db);
        let awgn = q_function((2.0 * g).sqrt());
        let rayleigh = 0.5 * (1.0 - (g / (1.0 + g)).sqrt());
        let sig = |p: f64| (p * (1.0 - p) / n as f64).sqrt();
        let b0 = ber(0.0, 40);
        assert!((b0 - rayleigh).abs() < 5.0 * sig(rayleigh), "K=0: {b0} vs {rayleigh}");
        let (b3, b30) = (ber(3.0, 41), ber(30.0, 42));
        assert!(b0 > b3 && b3 > b30 && b30 > awgn, "{b0} {b3} {b30} {awgn}");
        // K = ∞: |h| = 1, perfect CSI removes the phase: exactly AWGN.
        let binf = ber(f64::INFINITY, 43);
        assert!((binf - awgn).abs() < 5.0 * sig(awgn), "K=inf: {binf} vs {awgn}");
        // K = 1e4: Var|h|² ≈ 2e-4 raises the BER by ~0.2 % (second order); allow 1 % + 5σ.
        let big = ber(1e4, 44);
        assert!((big - awgn).abs() < 5.0 * sig(awgn) + 0.01 * awgn, "K=1e4: {big} vs {awgn}");
    }

    #[test]
    fn iid_erasure_rate_matches_p() {
        let mut rng = ChaCha8Rng::seed_from_u64(50);
        for p in [0.0, 0.03, 0.5, 1.0] {
            let mut e = Erasures::new(p).unwrap();
            let n = 200_000;
            let lost = (0..n).filter(|_| e.next_lost(&mut rng)).count() as f64;
            let sigma = (p * (1.0 - p) / n as f64).sqrt();
            assert!((lost / n as f64 - p).abs() <= 5.0 * sigma, "p {p}: {}", lost / n as f64);
            assert_eq!(e.loss_rate(), p);
        }
        assert!(Erasures::new(-0.1).is_err() && Erasures::new(f64::NAN).is_err() && Erasures::new(1.1).is_err());
    }

    /// Loss indicators of `n` frames.
    fn run(ge: &mut GilbertElliott, n: usize, seed: u64) -> Vec<bool> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n).map(|_| ge.next_lost(&mut rng)).collect()
    }

    /// Lengths of the runs of consecutive losses.
    fn bursts(lost: &[bool]) -> Vec<f64> {
        let mut out = Vec::new();
        let mut cur = 0usize;
        for &l in lost {
            if l {
                cur += 1;
            } else if cur > 0 {
                out.push(cur as f64);
                cur = 0;
            }
        }
        out
    }

    #[test]
    fn gilbert_elliott_loss_rate_and_burst_length_match_theory() {
        let (p_gb, p_bg, lg, lb) = (0.05, 0.25, 0.01, 0.9);
        let mut ge = GilbertElliott::new(p_gb, p_bg, lg, lb).unwrap();
        let n = 1_000_000;
        let lost = run(&mut ge, n, 60);
        let rate = lost.iter().filter(|l| **l).count() as f64 / n as f64;
        let p = ge.loss_rate();
        let pb = p_gb / (p_gb + p_bg);
        assert!((p - ((1.0 - pb) * lg + pb * lb)).abs() < 1e-15);
        // Losses are correlated through the state: Cov(L_t, L_t+k) = (lb−lg)²·π_G·π_B·λ^k
        // with λ = 1 − p_gb − p_bg, so Var(mean) = [p(1−p) + 2(lb−lg)²π_Gπ_B·λ/(1−λ)]/n.
        let lam = 1.0 - p_gb - p_bg;
        let var = (p * (1.0 - p) + 2.0 * (lb - lg).powi(2) * (1.0 - pb) * pb * lam / (1.0 - lam)) / n as f64;
        assert!((rate - p).abs() < 5.0 * var.sqrt(), "rate {rate} vs {p}");
        // Mean burst length: bursts are nearly independent; use the empirical spread of burst
        // lengths and 6σ for the residual dependence.
        let b = bursts(&lost);
        let nb = b.len() as f64;
        let mean = b.iter().sum::<f64>() / nb;
        let sd = (b.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (nb - 1.0)).sqrt();
        let want = ge.mean_burst_length();
        assert!((mean - want).abs() < 6.0 * sd / nb.sqrt(), "burst {mean} vs {want}");
    }

    #[test]
    fn classic_gilbert_bursts_are_geometric_with_mean_one_over_p_bg() {
        let mut ge = GilbertElliott::from_loss_rate_and_burst(0.1, 4.0).unwrap();
        assert!((ge.loss_rate() - 0.1).abs() < 1e-12);
        assert!((ge.mean_burst_length() - 4.0).abs() < 1e-12);
        let lost = run(&mut ge, 1_000_000, 61);
        // Each burst is one Bad sojourn: i.i.d. geometric, mean 1/p_bg, sd √(1−p_bg)/p_bg.
        let b = bursts(&lost);
        let nb = b.len() as f64;
        let mean = b.iter().sum::<f64>() / nb;
        let sd = (0.75f64).sqrt() / 0.25;
        assert!((mean - 4.0).abs() < 5.0 * sd / nb.sqrt(), "burst {mean}");
        assert!(GilbertElliott::from_loss_rate_and_burst(0.9, 1.0).is_err());
        assert!(GilbertElliott::from_loss_rate_and_burst(0.1, 0.5).is_err());
        assert!(GilbertElliott::new(0.0, 0.0, 0.0, 1.0).is_err());
        assert!(GilbertElliott::new(0.1, 0.2, 1.5, 1.0).is_err());
        // Never lost / never recovering.
        assert!(GilbertElliott::new(0.1, 0.2, 0.0, 0.0).unwrap().mean_burst_length().is_nan());
        assert!(GilbertElliott::new(0.1, 0.2, 1.0, 1.0).unwrap().mean_burst_length().is_infinite());
    }

    #[test]
    fn block_fading_rejects_bad_parameters() {
        assert!(BlockFading::new(FadingModel::Rayleigh, 0, 1.0).is_err());
        assert!(BlockFading::new(FadingModel::Rician { k_factor: -1.0 }, 4, 1.0).is_err());
        assert!(BlockFading::new(FadingModel::Rician { k_factor: f64::NAN }, 4, 1.0).is_err());
        assert!(BlockFading::new(FadingModel::Rayleigh, 4, -1.0).is_err());
        assert!(BlockFading::from_snr_db(FadingModel::Rayleigh, 4, f64::NAN).is_err());
        let ch = BlockFading::from_snr_db(FadingModel::Rayleigh, 4, 10.0).unwrap();
        assert_eq!((ch.coherence(), ch.model()), (4, FadingModel::Rayleigh));
        assert!(ch.apply(&mut [], &mut ChaCha8Rng::seed_from_u64(0)).is_empty());
    }
}
