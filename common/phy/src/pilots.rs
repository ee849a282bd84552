//! Known pilot symbols, pilot framing per coherence block, and LS / LMMSE channel and
//! noise estimation from them.
//!
//! Model over a pilot block: `rx[k] = h · tx[k] + n[k]`, `n[k] ~ CN(0, N0)`, with a single
//! complex gain `h` (flat, constant over the block).
//!
//! [`PilotPattern`] frames a data stream as coherence blocks of `block_len` channel uses,
//! each `P = pilots_per_block` unit-power pilots followed by up to `block_len − P` data
//! symbols; [`PilotPattern::extract`] estimates `h` per block and returns the data with a
//! per-symbol channel estimate and effective noise variance ([`Equalized`]).

use semcom_dsp::rng::SplitMix64;

use crate::mapping::{DemapMethod, Modulation};
use crate::{PhyError, C32};

/// Seed of the pilot generator. Part of the protocol: sender and receiver must agree.
const PILOT_SEED: u64 = 0x5EC0_C0DE_0000_0001;

/// The first `n` symbols of the fixed pilot sequence: unit-modulus QPSK `(±1 ± j)/√2`.
///
/// Deterministic (fixed internal seed), and prefix-consistent: `pilot_sequence(m)` is a
/// prefix of `pilot_sequence(n)` for `m ≤ n`.
pub fn pilot_sequence(n: usize) -> Vec<C32> {
    let a = std::f32::consts::FRAC_1_SQRT_2;
    // SplitMix64: fully specified and independent of any crate version, so the pilot
    // sequence can never change under a dependency upgrade.
    let mut rng = SplitMix64::new(PILOT_SEED);
    let mut out = Vec::with_capacity(n);
    let mut word = 0u64;
    for k in 0..n {
        // 32 QPSK symbols (2 bits each) per 64-bit word.
        if k % 32 == 0 {
            word = rng.next_u64();
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
        return Err(PhyError::LengthMismatch { what: "received pilots", got: rx.len(), expected: tx.len() });
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
    Ok(ChannelEstimate { h: C32::new(hr as f32, hi as f32), n0 })
}

/// Channel estimator used by [`PilotPattern::extract`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Estimator {
    /// Least squares: `ĥ_LS = Σ_k rx_k·conj(p_k) / P` (unit-modulus pilots). Unbiased,
    /// error `ĥ_LS − h ~ CN(0, N0/P)` independent of `h`: MSE = `N0/P`.
    Ls,
    /// Linear MMSE for the prior `h ~ CN(0, 1)` (docs/architecture.md §2; also the linear MMSE for the
    /// random-phase Rician model, which has `E[h] = 0`, `E|h|² = 1`). From
    /// `ĥ_LS = h + e`, `e ~ CN(0, N0/P)`: `ĥ = E|h|²/(E|h|² + N0/P)·ĥ_LS = P/(P + N0)·ĥ_LS`,
    /// MSE = `(N0/P)/(1 + N0/P) = N0/(P + N0)` (< LS, most at low pilot SNR). The error is
    /// orthogonal to `ĥ`.
    #[default]
    Lmmse,
}

/// Where the receiver's channel knowledge comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Csi<'a> {
    /// Estimated from the pilots (the realistic receiver).
    Estimated,
    /// **Perfect CSI, for comparisons only**: the true gain of every channel use, shape
    /// `[rx.len()]` (pilots included), e.g. from [`crate::channel::BlockFading::apply`].
    Perfect(&'a [C32]),
}

/// Data symbols recovered by [`PilotPattern::extract`], with what the demapper or the
/// analog estimator needs. All vectors have shape `[n_data]`.
///
/// The model for data symbol `i` is `symbols[i] = h[i]·x[i] + w[i]`, where `w[i]` lumps the
/// noise and the channel-estimation error and has variance `noise_var[i]`:
///
/// * perfect CSI: `N0`;
/// * LS: `N0 + N0/P` (estimation error `e` treated as extra Gaussian noise, the usual
///   mismatched-decoding approximation; `e·x` has variance `N0/P` for `E|x|² = 1`);
/// * LMMSE: `N0 + N0/(P + N0)`; here the error is independent of `ĥ`, so the variance is
///   exact for constant-modulus `x` and exact on average for QAM.
///
/// `N0` is the hint when one was given, otherwise the pilot estimate.
#[derive(Debug, Clone, PartialEq)]
pub struct Equalized {
    /// Received data symbols `y` (not divided by `ĥ`; see [`Equalized::equalize`]).
    pub symbols: Vec<C32>,
    /// Channel estimate ĥ per data symbol (the true `h` under [`Csi::Perfect`]).
    pub h: Vec<C32>,
    /// Effective noise variance of `w` per data symbol (see the type docs).
    pub noise_var: Vec<f32>,
    /// The N0 that was used: the hint if given, else [`n0_estimate`](Self::n0_estimate).
    pub n0: f64,
    /// Pooled pilot estimate of N0 (`None` if there were too few pilots: with estimated
    /// CSI one pilot per block leaves no degree of freedom for the noise).
    pub n0_estimate: Option<f64>,
    /// True when `h` is the true channel ([`Csi::Perfect`]): label results accordingly.
    pub perfect_csi: bool,
}

impl Equalized {
    /// Number of data symbols.
    pub fn len(&self) -> usize {
        self.symbols.len()
    }

    /// Whether there are no data symbols.
    pub fn is_empty(&self) -> bool {
        self.symbols.is_empty()
    }

    /// Zero-forcing equalised symbols `z = conj(ĥ)·y/|ĥ|²`, shape `[n_data]`
    /// (0 where `ĥ = 0`).
    pub fn equalize(&self) -> Vec<C32> {
        self.symbols
            .iter()
            .zip(&self.h)
            .map(|(y, h)| {
                let g = h.norm_sqr();
                if g > 0.0 {
                    y * h.conj() / g
                } else {
                    C32::new(0.0, 0.0)
                }
            })
            .collect()
    }

    /// Noise variance of [`equalize`](Self::equalize)'s output, `noise_var/|ĥ|²`, shape
    /// `[n_data]` (+inf where `ĥ = 0`). Use it for analog LLSE.
    pub fn equalized_noise_var(&self) -> Vec<f32> {
        self.noise_var
            .iter()
            .zip(&self.h)
            .map(|(v, h)| {
                let g = h.norm_sqr();
                if g > 0.0 {
                    v / g
                } else {
                    f32::INFINITY
                }
            })
            .collect()
    }

    /// LLRs of the data symbols (positive ⇒ bit 0), shape `[n_data·Qm]`, using `ĥ` and the
    /// effective noise variance.
    pub fn llrs(&self, modulation: Modulation, method: DemapMethod) -> Result<Vec<f32>, PhyError> {
        modulation.demap_llr(&self.symbols, &self.h, &self.noise_var, method)
    }
}

/// Pilot framing per coherence block (see the module docs).
///
/// Layout of the transmitted stream, shape `[total_len(n_data)]`: block `b` is
/// `pilots()[0..P]` followed by data symbols `b·D … min((b+1)·D, n_data) − 1`, with
/// `D = block_len − P`. Only the last block may be short, and it always carries at least
/// one data symbol. Every block uses the same `P` pilots ([`pilot_sequence`]`(P)`), unit
/// power, so with unit-power data the whole stream has unit average power. Align the
/// fading coherence with `block_len` (and start both at symbol 0).
#[derive(Debug, Clone, PartialEq)]
pub struct PilotPattern {
    block_len: usize,
    pilots: Vec<C32>,
}

impl PilotPattern {
    /// Needs `pilots_per_block ≥ 1` and `block_len > pilots_per_block` (room for data).
    pub fn new(block_len: usize, pilots_per_block: usize) -> Result<Self, PhyError> {
        if pilots_per_block == 0 {
            return Err(PhyError::TooFewPilots { got: 0, needed: 1 });
        }
        if block_len <= pilots_per_block {
            return Err(PhyError::InvalidParameter {
                name: "block_len",
                value: block_len as f64,
                reason: "a block must hold the pilots and at least one data symbol",
            });
        }
        Ok(Self { block_len, pilots: pilot_sequence(pilots_per_block) })
    }

    /// Channel uses per full block (pilots + data).
    pub fn block_len(&self) -> usize {
        self.block_len
    }

    /// Pilots at the start of every block, P.
    pub fn pilots_per_block(&self) -> usize {
        self.pilots.len()
    }

    /// Data symbols per full block, `block_len − P`.
    pub fn data_per_block(&self) -> usize {
        self.block_len - self.pilots.len()
    }

    /// The `P` known pilot symbols of each block.
    pub fn pilots(&self) -> &[C32] {
        &self.pilots
    }

    /// Number of blocks for `data_len` data symbols, `⌈data_len/D⌉`.
    pub fn num_blocks(&self, data_len: usize) -> usize {
        data_len.div_ceil(self.data_per_block())
    }

    /// Pilot symbols added for `data_len` data symbols: `P·num_blocks`.
    pub fn overhead(&self, data_len: usize) -> usize {
        self.num_blocks(data_len).saturating_mul(self.pilots.len())
    }

    /// Channel uses for `data_len` data symbols: `data_len + overhead`.
    pub fn total_len(&self, data_len: usize) -> usize {
        data_len.saturating_add(self.overhead(data_len))
    }

    /// Inverse of [`total_len`](Self::total_len); fails if no data length gives
    /// `total_len` (a trailing block with only pilots, or fewer than `P` symbols).
    pub fn data_len(&self, total_len: usize) -> Result<usize, PhyError> {
        let (full, rest) = (total_len / self.block_len, total_len % self.block_len);
        let p = self.pilots.len();
        if rest != 0 && rest <= p {
            return Err(PhyError::InvalidParameter {
                name: "received length",
                value: total_len as f64,
                reason: "not a valid pilot-framed length (trailing block has no data)",
            });
        }
        Ok(full * self.data_per_block() + rest.saturating_sub(p))
    }

    /// Inserts the pilots: `data: [n]` → `[total_len(n)]`.
    pub fn insert(&self, data: &[C32]) -> Vec<C32> {
        let mut out = Vec::new();
        self.insert_into(data, &mut out);
        out
    }

    /// As [`insert`](Self::insert), into `out` (cleared first) to reuse its allocation.
    pub fn insert_into(&self, data: &[C32], out: &mut Vec<C32>) {
        out.clear();
        out.reserve(self.total_len(data.len()));
        for chunk in data.chunks(self.data_per_block()) {
            out.extend_from_slice(&self.pilots);
            out.extend_from_slice(chunk);
        }
    }

    /// Removes the pilots from `rx` (shape `[total_len(n)]`), estimates the channel per
    /// block and returns the `n` data symbols with per-symbol `ĥ` and effective noise
    /// variance (see [`Equalized`]).
    ///
    /// * N0: `n0_hint` if given (must be finite, ≥ 0); the pooled pilot estimate
    ///   `N̂0 = Σ_blocks Σ_k |rx_k − ĥ_LS·p_k|² / (B·(P − 1))` is computed whenever
    ///   `P ≥ 2` (each block's LS fit uses one complex degree of freedom, so it is
    ///   unbiased). Under [`Csi::Perfect`] the residual uses the true `h` and divides by
    ///   `B·P`. Estimated CSI with `P = 1` and no hint fails with
    ///   [`PhyError::TooFewPilots`].
    /// * `ĥ` per block from `estimator` (LMMSE uses N0 as above); under [`Csi::Perfect`]
    ///   the true per-symbol `h` and `estimator` is ignored.
    ///
    /// An empty `rx` gives an empty result with `n0 = n0_hint` (or 0).
    ///
    /// Errors: invalid length, non-finite pilots or gains, perfect gains of the wrong
    /// length, invalid hint. Non-finite *data* symbols pass through (the demapper erases
    /// them).
    pub fn extract(
        &self,
        rx: &[C32],
        n0_hint: Option<f64>,
        estimator: Estimator,
        csi: Csi<'_>,
    ) -> Result<Equalized, PhyError> {
        let n_data = self.data_len(rx.len())?;
        if let Some(v) = n0_hint {
            if !v.is_finite() || v < 0.0 {
                return Err(PhyError::InvalidParameter {
                    name: "n0_hint",
                    value: v,
                    reason: "noise power must be finite and non-negative",
                });
            }
        }
        if let Csi::Perfect(h) = csi {
            if h.len() != rx.len() {
                return Err(PhyError::LengthMismatch { what: "perfect-CSI gains", got: h.len(), expected: rx.len() });
            }
            if h.iter().any(|z| !z.re.is_finite() || !z.im.is_finite()) {
                return Err(PhyError::NonFinite("perfect-CSI gains"));
            }
        }
        if rx.is_empty() {
            // Nothing sent: nothing to estimate, and nothing will need N0.
            return Ok(Equalized {
                symbols: Vec::new(),
                h: Vec::new(),
                noise_var: Vec::new(),
                n0: n0_hint.unwrap_or(0.0),
                n0_estimate: None,
                perfect_csi: matches!(csi, Csi::Perfect(_)),
            });
        }
        let p = self.pilots.len();
        let blocks = rx.chunks(self.block_len);
        let n_blocks = blocks.len();
        // Pass 1: LS estimate per block and the pooled pilot residual.
        let mut h_ls = Vec::with_capacity(n_blocks);
        // Blocks whose pilots did not arrive (erased frames: non-finite samples) carry
        // no channel information: their data become erasures (ĥ = 0, infinite noise),
        // and they stay out of the N0 pool.
        let mut erased = vec![false; n_blocks];
        let mut residual = 0f64;
        for (b, block) in blocks.clone().enumerate() {
            let rxp = &block[..p];
            if rxp.iter().any(|z| !z.re.is_finite() || !z.im.is_finite()) {
                erased[b] = true;
                h_ls.push(C32::new(0.0, 0.0));
                continue;
            }
            let hb = match csi {
                Csi::Estimated => ls(rxp, &self.pilots),
                Csi::Perfect(_) => C32::new(0.0, 0.0),
            };
            for (k, (r, t)) in rxp.iter().zip(&self.pilots).enumerate() {
                let href = match csi {
                    Csi::Estimated => hb,
                    Csi::Perfect(h) => h[b * self.block_len + k],
                };
                residual += (r - href * t).norm_sqr() as f64;
            }
            h_ls.push(hb);
        }
        let live_blocks = erased.iter().filter(|e| !**e).count();
        if live_blocks == 0 {
            return Err(PhyError::NonFinite("received pilots (every pilot block erased)"));
        }
        let dof = match csi {
            Csi::Estimated => live_blocks * (p - 1),
            Csi::Perfect(_) => live_blocks * p,
        };
        let n0_estimate = (dof > 0).then(|| residual / dof as f64);
        let n0 = match (n0_hint, n0_estimate) {
            (Some(v), _) => v,
            (None, Some(v)) => v,
            (None, None) => {
                return Err(PhyError::TooFewPilots { got: p, needed: 2 });
            }
        };
        let pf = p as f64;
        // Per-block estimate and effective noise variance (see `Equalized`).
        let (weight, noise_var) = match (csi, estimator) {
            (Csi::Perfect(_), _) => (1.0, n0),
            (Csi::Estimated, Estimator::Ls) => (1.0, n0 + n0 / pf),
            (Csi::Estimated, Estimator::Lmmse) => (pf / (pf + n0), n0 + n0 / (pf + n0)),
        };
        let mut out = Equalized {
            symbols: Vec::with_capacity(n_data),
            h: Vec::with_capacity(n_data),
            noise_var: vec![noise_var as f32; n_data],
            n0,
            n0_estimate,
            perfect_csi: matches!(csi, Csi::Perfect(_)),
        };
        for (b, block) in blocks.enumerate() {
            let data = &block[p..];
            out.symbols.extend_from_slice(data);
            if erased[b] {
                let start = out.h.len();
                out.h.extend(std::iter::repeat_n(C32::new(0.0, 0.0), data.len()));
                out.noise_var[start..start + data.len()].fill(f32::INFINITY);
                continue;
            }
            match csi {
                Csi::Estimated => {
                    let hb = h_ls[b] * weight as f32;
                    out.h.extend(std::iter::repeat_n(hb, data.len()));
                }
                Csi::Perfect(h) => {
                    let start = b * self.block_len + p;
                    out.h.extend_from_slice(&h[start..start + data.len()]);
                }
            }
        }
        Ok(out)
    }
}

/// LS gain `Σ rx·conj(tx) / Σ|tx|²` in f64 (pilots are unit modulus, so Σ|tx|² = P > 0).
fn ls(rx: &[C32], tx: &[C32]) -> C32 {
    let (mut cr, mut ci, mut e) = (0f64, 0f64, 0f64);
    for (r, t) in rx.iter().zip(tx) {
        let (rr, ri, tr, ti) = (r.re as f64, r.im as f64, t.re as f64, t.im as f64);
        cr += rr * tr + ri * ti;
        ci += ri * tr - rr * ti;
        e += tr * tr + ti * ti;
    }
    C32::new((cr / e) as f32, (ci / e) as f32)
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

    use crate::channel::{BlockFading, FadingModel};
    use crate::mapping::{DemapMethod as Dm, Modulation};

    #[test]
    fn pattern_sizes_and_insert_extract_round_trip() {
        let mut rng = ChaCha8Rng::seed_from_u64(70);
        use rand::Rng;
        for (block_len, p) in [(2, 1), (8, 2), (100, 4), (17, 16)] {
            let pat = PilotPattern::new(block_len, p).unwrap();
            let d = block_len - p;
            assert_eq!((pat.block_len(), pat.pilots_per_block(), pat.data_per_block()), (block_len, p, d));
            for n in [0, 1, d - 1, d, d + 1, 3 * d, 3 * d + 1, 1000] {
                if n == 0 && d == 1 {
                    continue;
                }
                let data: Vec<C32> = (0..n).map(|_| C32::new(rng.random(), rng.random())).collect();
                let tx = pat.insert(&data);
                let blocks = n.div_ceil(d);
                assert_eq!(pat.num_blocks(n), blocks);
                assert_eq!(pat.overhead(n), blocks * p);
                assert_eq!(tx.len(), pat.total_len(n));
                assert_eq!(tx.len(), n + blocks * p);
                assert_eq!(pat.data_len(tx.len()).unwrap(), n);
                // Every block starts with the pilots.
                for blk in tx.chunks(block_len) {
                    assert_eq!(&blk[..p], pat.pilots());
                }
                // Noiseless, h = 1, perfect CSI: data back exactly.
                let ones = vec![C32::new(1.0, 0.0); tx.len()];
                let eq = pat.extract(&tx, Some(0.0), Estimator::Lmmse, Csi::Perfect(&ones)).unwrap();
                assert_eq!(eq.symbols, data);
                assert!(eq.perfect_csi && eq.len() == n);
                // Estimated CSI, noiseless, with a rotation: LS recovers h exactly.
                let h = C32::from_polar(0.8, -1.1);
                let rx: Vec<C32> = tx.iter().map(|x| h * x).collect();
                let eq = pat.extract(&rx, Some(0.0), Estimator::Ls, Csi::Estimated).unwrap();
                assert_eq!((eq.h.len(), eq.noise_var.len()), (n, n));
                for (z, x) in eq.equalize().iter().zip(&data) {
                    assert!((z - x).norm() < 1e-5);
                }
            }
        }
        let pat = PilotPattern::new(10, 3).unwrap();
        // Trailing block with only pilots (or part of them) is not a valid length.
        for bad in [3, 10 + 1, 10 + 3] {
            assert!(pat.data_len(bad).is_err());
            assert!(pat.extract(&vec![C32::new(1.0, 0.0); bad], Some(1.0), Estimator::Ls, Csi::Estimated).is_err());
        }
        assert!(PilotPattern::new(4, 0).is_err() && PilotPattern::new(4, 4).is_err());
    }

    /// A faded transmission: the pattern, the data sent, the stream received, the true
    /// gain of every channel use and N0.
    struct FadingRun {
        pat: PilotPattern,
        data: Vec<C32>,
        rx: Vec<C32>,
        h: Vec<C32>,
        n0: f64,
    }

    /// B blocks of Rayleigh fading with P pilots and one data symbol each.
    fn fading_run(p: usize, blocks: usize, snr_db: f64, seed: u64) -> FadingRun {
        use rand::Rng;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let pat = PilotPattern::new(p + 1, p).unwrap();
        let a = std::f32::consts::FRAC_1_SQRT_2;
        let data: Vec<C32> = (0..blocks)
            .map(|_| C32::new(if rng.random() { a } else { -a }, if rng.random() { a } else { -a }))
            .collect();
        let mut rx = pat.insert(&data);
        let ch = BlockFading::from_snr_db(FadingModel::Rayleigh, p + 1, snr_db).unwrap();
        let h = ch.apply(&mut rx, &mut rng);
        FadingRun { pat, data, rx, h, n0: ch.n0() }
    }

    #[test]
    fn ls_and_lmmse_mse_match_theory() {
        let blocks = 20_000;
        for (k, (p, snr_db)) in [(1, -5.0), (1, 5.0), (4, 0.0), (4, 10.0), (2, -10.0)].into_iter().enumerate() {
            let FadingRun { pat, rx, h, n0, .. } = fading_run(p, blocks, snr_db, 80 + k as u64);
            let h_true: Vec<C32> = h.chunks(p + 1).map(|b| b[0]).collect();
            let pf = p as f64;
            for (est, want) in [(Estimator::Ls, n0 / pf), (Estimator::Lmmse, n0 / (pf + n0))] {
                let eq = pat.extract(&rx, Some(n0), est, Csi::Estimated).unwrap();
                let mse = eq.h.iter().zip(&h_true).map(|(a, b)| (a - b).norm_sqr() as f64).sum::<f64>() / blocks as f64;
                // ĥ − h is CN(0, MSE) for both (Gaussian h, linear estimators), so |ĥ − h|²
                // is exponential: the mean over B blocks has relative std 1/√B = 0.7 %.
                let tol = 5.0 / (blocks as f64).sqrt();
                assert!((mse / want - 1.0).abs() < tol, "P={p} {snr_db} dB {est:?}: MSE {mse:.4e} vs {want:.4e}");
            }
        }
    }

    #[test]
    fn n0_estimate_is_unbiased() {
        let (blocks, trials) = (200, 200);
        for (p, snr_db) in [(2, 0.0), (4, 10.0), (8, -5.0)] {
            let (mut est_sum, mut perf_sum) = (0.0, 0.0);
            let mut n0 = 0.0;
            for t in 0..trials {
                let FadingRun { pat, rx, h, n0: n, .. } = fading_run(p, blocks, snr_db, 1000 * p as u64 + t);
                n0 = n;
                let eq = pat.extract(&rx, None, Estimator::Lmmse, Csi::Estimated).unwrap();
                assert_eq!(Some(eq.n0), eq.n0_estimate);
                est_sum += eq.n0;
                perf_sum += pat.extract(&rx, None, Estimator::Ls, Csi::Perfect(&h)).unwrap().n0;
            }
            // Each pooled estimate is N0·χ²(2·dof)/(2·dof): relative std 1/√dof; the mean of
            // `trials` independent ones has relative std 1/√(dof·trials). 5σ.
            let dof_est = (blocks * (p - 1) * trials as usize) as f64;
            let dof_perf = (blocks * p * trials as usize) as f64;
            let m_est = est_sum / trials as f64;
            let m_perf = perf_sum / trials as f64;
            assert!((m_est / n0 - 1.0).abs() < 5.0 / dof_est.sqrt(), "P={p}: {m_est} vs {n0}");
            assert!((m_perf / n0 - 1.0).abs() < 5.0 / dof_perf.sqrt(), "P={p} perfect: {m_perf} vs {n0}");
        }
    }

    #[test]
    fn effective_noise_variance_matches_the_actual_residual() {
        // For unit-modulus data, E|y − ĥ·x|² = N0 + MSE(ĥ): what `noise_var` promises.
        let blocks = 40_000;
        for (k, (p, snr_db)) in [(1, 0.0), (4, 5.0)].into_iter().enumerate() {
            let FadingRun { pat, data, rx, h, n0 } = fading_run(p, blocks, snr_db, 90 + k as u64);
            for (csi, est) in
                [(Csi::Estimated, Estimator::Ls), (Csi::Estimated, Estimator::Lmmse), (Csi::Perfect(&h), Estimator::Ls)]
            {
                let eq = pat.extract(&rx, Some(n0), est, csi).unwrap();
                let res = eq
                    .symbols
                    .iter()
                    .zip(&eq.h)
                    .zip(&data)
                    .map(|((y, hh), x)| (y - hh * x).norm_sqr() as f64)
                    .sum::<f64>()
                    / blocks as f64;
                let want = eq.noise_var[0] as f64;
                assert!(eq.noise_var.iter().all(|v| *v == eq.noise_var[0]));
                // One data symbol per block: independent terms, each a CN(0, want) |·|²
                // (exponential): relative std of the mean 1/√B. 5σ.
                assert!(
                    (res / want - 1.0).abs() < 5.0 / (blocks as f64).sqrt(),
                    "P={p} {est:?} {csi:?}: {res} vs {want}"
                );
            }
        }
    }

    #[test]
    fn qpsk_ber_over_rayleigh_matches_theory_with_perfect_and_lmmse_csi() {
        use rand::Rng;
        let mut rng = ChaCha8Rng::seed_from_u64(95);
        let m = Modulation::Qpsk;
        let pat = PilotPattern::new(64, 4).unwrap();
        let n = 60 * 20_000;
        let bits: Vec<u8> = (0..2 * n).map(|_| rng.random::<bool>() as u8).collect();
        let mut rx = pat.insert(&m.map(&bits).unwrap());
        let ch = BlockFading::from_snr_db(FadingModel::Rayleigh, 64, 10.0).unwrap();
        let h = ch.apply(&mut rx, &mut rng);
        // BER and its σ from per-block error counts: errors are correlated within a block
        // (shared h) but independent between blocks.
        let bits_per_block = 2 * 60;
        let ber = |eq: &Equalized| {
            let llr = eq.llrs(m, Dm::MaxLog).unwrap();
            let counts: Vec<f64> = llr
                .chunks(bits_per_block)
                .zip(bits.chunks(bits_per_block))
                .map(|(l, b)| l.iter().zip(b).filter(|(l, b)| (**l < 0.0) != (**b == 1)).count() as f64)
                .collect();
            let nb = counts.len() as f64;
            let mean = counts.iter().sum::<f64>() / nb;
            let var = counts.iter().map(|c| (c - mean).powi(2)).sum::<f64>() / (nb - 1.0);
            (mean / bits_per_block as f64, var.sqrt() / (bits_per_block as f64 * nb.sqrt()))
        };
        // Each QPSK bit is BPSK at half the symbol SNR; Rayleigh with fading variance s_h
        // and noise s_w gives ½(1 − √(g/(1+g))), g = s_h/(2·s_w).
        let rayleigh = |s_h: f64, s_w: f64| {
            let g = s_h / (2.0 * s_w);
            0.5 * (1.0 - (g / (1.0 + g)).sqrt())
        };
        let n0 = ch.n0();
        let (perfect, sp) = ber(&pat.extract(&rx, None, Estimator::Ls, Csi::Perfect(&h)).unwrap());
        let th = rayleigh(1.0, n0);
        assert!((perfect - th).abs() < 5.0 * sp, "perfect CSI {perfect} vs {th}");
        // LMMSE: h = ĥ + e with ĥ ~ CN(0, 1 − σe²) and e ~ CN(0, σe²) independent, so for
        // |x| = 1, y = ĥx + w with w ~ CN(0, N0 + σe²) exactly: a Rayleigh channel of power
        // 1 − σe² and noise N0 + σe², σe² = N0/(P + N0). (N0 known here: the pooled estimate
        // over 20 000 blocks would add only ~0.4 % jitter.)
        let (lmmse, sl) = ber(&pat.extract(&rx, Some(n0), Estimator::Lmmse, Csi::Estimated).unwrap());
        let se = n0 / (4.0 + n0);
        let th = rayleigh(1.0 - se, n0 + se);
        assert!((lmmse - th).abs() < 5.0 * sl, "LMMSE {lmmse} vs {th}");
        assert!(lmmse > perfect);
    }

    #[test]
    fn extract_rejects_bad_inputs() {
        let pat = PilotPattern::new(6, 1).unwrap();
        let tx = pat.insert(&[C32::new(1.0, 0.0); 10]);
        // One pilot per block and no hint: N0 cannot be estimated.
        assert!(matches!(pat.extract(&tx, None, Estimator::Ls, Csi::Estimated), Err(PhyError::TooFewPilots { .. })));
        assert!(pat.extract(&tx, Some(0.1), Estimator::Ls, Csi::Estimated).is_ok());
        assert!(pat.extract(&tx, Some(-1.0), Estimator::Ls, Csi::Estimated).is_err());
        assert!(pat.extract(&tx, Some(f64::NAN), Estimator::Ls, Csi::Estimated).is_err());
        assert!(pat.extract(&tx, Some(0.1), Estimator::Ls, Csi::Perfect(&tx[..3])).is_err());
        // An erased pilot block erases its data (LLR 0) and leaves the others alone.
        let mut bad = tx.clone();
        bad[0] = C32::new(f32::NAN, 0.0);
        let eq = pat.extract(&bad, Some(0.1), Estimator::Ls, Csi::Estimated).unwrap();
        assert!(eq.noise_var[..5].iter().all(|v| v.is_infinite()) && eq.noise_var[5..].iter().all(|v| v.is_finite()));
        let llr = eq.llrs(Modulation::Bpsk, Dm::Exact).unwrap();
        assert!(llr[..5].iter().all(|l| *l == 0.0) && llr[5..].iter().all(|l| *l != 0.0));
        // Every pilot block erased: nothing to estimate from.
        let mut bad = tx.clone();
        for b in 0..pat.num_blocks(10) {
            bad[b * 6] = C32::new(f32::NAN, 0.0);
        }
        assert!(matches!(pat.extract(&bad, Some(0.1), Estimator::Ls, Csi::Estimated), Err(PhyError::NonFinite(_))));
        // A NaN data symbol passes through (erased by the demapper).
        let mut bad = tx.clone();
        bad[1] = C32::new(f32::NAN, 0.0);
        let eq = pat.extract(&bad, Some(0.1), Estimator::Ls, Csi::Estimated).unwrap();
        assert_eq!(eq.llrs(Modulation::Bpsk, Dm::Exact).unwrap()[0], 0.0);
        let empty = pat.extract(&[], None, Estimator::Lmmse, Csi::Estimated).unwrap();
        assert!(empty.is_empty());
    }
}
