//! Gray-mapped modulation (3GPP TS 38.211 §5.1), hard decisions and soft demapping to LLRs.
//!
//! # Shapes and bit order
//!
//! * [`Modulation::map`]: `bits: [n·Qm]` → `symbols: [n]`, with `Qm =`
//!   [`Modulation::bits_per_symbol`]. Symbol `i` carries bits `b(i·Qm) … b(i·Qm + Qm − 1)`
//!   in the order of 38.211 (`b0` first).
//! * [`Modulation::demap_hard`]: equalised `symbols: [n]` → `bits: [n·Qm]` (same order).
//! * [`Modulation::demap_llr`]: received `symbols: [n]`, gains `h: [n]` or scalar, noise
//!   variance `[n]` or scalar → `llrs: [n·Qm]` (same order).
//!
//! # Constellations (unit average energy Es = 1)
//!
//! * BPSK: **plain real** BPSK, `b → 1 − 2b` (bit 0 → +1, bit 1 → −1). This is *not* the
//!   38.211 §5.1.2 BPSK, which is rotated by 45° (`(1−2b)(1+j)/√2`); the two have the same
//!   error performance.
//! * QPSK, 16-, 64-, 256-QAM: exactly 38.211 §5.1.3–5.1.6, e.g. 16-QAM
//!   `d = {(1−2b0)[2−(1−2b2)] + j(1−2b1)[2−(1−2b3)]}/√10`. Even bits `b0, b2, …` drive the
//!   in-phase axis and odd bits `b1, b3, …` the quadrature axis, each axis a Gray-labelled
//!   PAM, normalised by `√(2(M−1)/3)` (√2, √10, √42, √170).
//!
//! # LLRs
//!
//! `LLR(b) = ln P(b = 0 | y) / P(b = 1 | y)` with equiprobable bits: **positive means bit 0**.
//! (Sionna uses the opposite sign.) For `y = h·x + w`, `w ~ CN(0, σ²)`:
//!
//! `LLR(b) = ln Σ_{x: b=0} exp(−|y − h·x|²/σ²) − ln Σ_{x: b=1} exp(−|y − h·x|²/σ²)`.
//!
//! Since `|y − h·x|² = |h|²·|z − x|²` with `z = y/h`, this is the same as equalising
//! (`z = conj(h)·y/|h|²`, noise variance `σ²/|h|²`) and then demapping with the scale
//! `|h|²/σ²`. For square QAM the metric separates into the I and Q axes, so the exact
//! LLR of an I bit depends only on `Re z` (and likewise for Q): the per-axis (PAM)
//! computation used here is exact, not an approximation. [`DemapMethod::MaxLog`] replaces
//! each log-sum-exp by its largest term.
//!
//! Edge cases: a non-finite received symbol, `h = 0` or `σ² = +∞` carry no information
//! and give LLR 0 (an erasure); `σ² = 0` gives hard decisions of magnitude [`LLR_MAX`].
//! All LLRs are clipped to `±LLR_MAX`.

use crate::bits::Bit;
use crate::math::q_function;
use crate::{PhyError, C32};
use std::fmt;
use std::str::FromStr;

/// Magnitude at which LLRs are clipped (keeps f32 finite for near-noiseless links).
pub const LLR_MAX: f32 = 1.0e4;

/// Largest number of PAM levels per axis (256-QAM: 16).
const MAX_LEVELS: usize = 16;

/// A Gray-mapped modulation scheme (see the module docs for the exact constellations).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Modulation {
    /// Real BPSK, 1 bit/symbol.
    Bpsk,
    /// QPSK (38.211 §5.1.3), 2 bits/symbol.
    Qpsk,
    /// 16-QAM (38.211 §5.1.4), 4 bits/symbol.
    Qam16,
    /// 64-QAM (38.211 §5.1.5), 6 bits/symbol.
    Qam64,
    /// 256-QAM (38.211 §5.1.6), 8 bits/symbol.
    Qam256,
}

/// How [`Modulation::demap_llr`] computes LLRs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DemapMethod {
    /// Log-sum-exp over the constellation (bitwise MAP), computed stably.
    Exact,
    /// Max-log approximation: `ln Σ exp(a_i) ≈ max a_i`. Its sign is always the bit of the
    /// nearest constellation point; it overestimates |LLR| by at most `ln(levels/2)`.
    #[default]
    MaxLog,
}

/// Channel gains seen by the demapper: `y = h·x + w`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Gains<'a> {
    /// `h = 1` (AWGN, or symbols that are already equalised with `σ²` the post-equaliser
    /// noise variance).
    Unit,
    /// One gain for all symbols.
    Scalar(C32),
    /// One gain per symbol, shape `[n]`.
    PerSymbol(&'a [C32]),
}

impl From<C32> for Gains<'_> {
    fn from(h: C32) -> Self {
        Gains::Scalar(h)
    }
}

impl<'a> From<&'a [C32]> for Gains<'a> {
    fn from(h: &'a [C32]) -> Self {
        Gains::PerSymbol(h)
    }
}

impl<'a> From<&'a Vec<C32>> for Gains<'a> {
    fn from(h: &'a Vec<C32>) -> Self {
        Gains::PerSymbol(h)
    }
}

/// Variance `σ²` of the complex noise `w ~ CN(0, σ²)` in `y = h·x + w` (N0 for AWGN).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NoiseVar<'a> {
    /// One variance for all symbols.
    Scalar(f64),
    /// One variance per symbol, shape `[n]`.
    PerSymbol(&'a [f32]),
}

impl From<f64> for NoiseVar<'_> {
    fn from(n0: f64) -> Self {
        NoiseVar::Scalar(n0)
    }
}

impl<'a> From<&'a [f32]> for NoiseVar<'a> {
    fn from(v: &'a [f32]) -> Self {
        NoiseVar::PerSymbol(v)
    }
}

impl<'a> From<&'a Vec<f32>> for NoiseVar<'a> {
    fn from(v: &'a Vec<f32>) -> Self {
        NoiseVar::PerSymbol(v)
    }
}

/// One axis of the constellation: a Gray-labelled PAM with `n = 2^m` levels.
///
/// Axis label: the `m` bits of that axis (`b0, b2, …` for I; `b1, b3, …` for Q) read as an
/// integer, first bit most significant.
struct Pam {
    /// Bits per axis.
    m: usize,
    /// Levels per axis.
    n: usize,
    /// Amplitude of the level with rank `r` (ascending) is `(2r − (n−1))·scale`.
    scale: f64,
    /// Axis label of the level with rank `r`.
    label_of_rank: [u8; MAX_LEVELS],
    /// Normalised amplitude of each axis label.
    level_of_label: [f32; MAX_LEVELS],
}

impl Pam {
    fn new(modulation: Modulation) -> Self {
        let (m, scale) = match modulation {
            Modulation::Bpsk => (1, 1.0),
            Modulation::Qpsk => (1, 1.0 / 2f64.sqrt()),
            Modulation::Qam16 => (2, 1.0 / 10f64.sqrt()),
            Modulation::Qam64 => (3, 1.0 / 42f64.sqrt()),
            Modulation::Qam256 => (4, 1.0 / 170f64.sqrt()),
        };
        let n = 1usize << m;
        let mut label_of_rank = [0u8; MAX_LEVELS];
        let mut level_of_label = [0f32; MAX_LEVELS];
        for (label, level) in level_of_label.iter_mut().enumerate().take(n) {
            // 38.211 nesting: s_j = 1 − 2a_j; amp = s_0·(2^{m−1} − s_1·(2^{m−2} − … (2 − s_{m−1}))).
            let s = |j: usize| 1 - 2 * ((label >> (m - 1 - j)) & 1) as i32;
            let mut t = 1i32;
            for j in (1..m).rev() {
                t = (1 << (m - j)) - s(j) * t;
            }
            let amp = s(0) * t;
            let rank = ((amp + n as i32 - 1) / 2) as usize;
            label_of_rank[rank] = label as u8;
            *level = (amp as f64 * scale) as f32;
        }
        Self { m, n, scale, label_of_rank, level_of_label }
    }

    fn level_of_rank(&self, r: usize) -> f64 {
        (2.0 * r as f64 - (self.n - 1) as f64) * self.scale
    }

    /// Rank of the nearest level to `z` (non-finite → rank 0 is never used; callers check).
    fn slice(&self, z: f64) -> usize {
        let r = ((z / self.scale + (self.n - 1) as f64) / 2.0).round();
        r.clamp(0.0, (self.n - 1) as f64) as usize
    }

    /// Writes the `m` LLRs of one axis value `z` (equalised) with metric scale `alpha`
    /// (= |h|²/σ², finite and > 0) into `out[j·stride]`.
    fn llrs(&self, z: f64, alpha: f64, method: DemapMethod, out: &mut [f32], stride: usize) {
        // Negative metrics −α(z − a_r)², one per level.
        let mut metric = [0f64; MAX_LEVELS];
        for (r, mr) in metric.iter_mut().enumerate().take(self.n) {
            let d = z - self.level_of_rank(r);
            *mr = -alpha * d * d;
        }
        for j in 0..self.m {
            let bit_pos = self.m - 1 - j;
            let (mut max0, mut max1) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
            for (&label, &mr) in self.label_of_rank.iter().zip(&metric).take(self.n) {
                if (label >> bit_pos) & 1 == 0 {
                    max0 = max0.max(mr);
                } else {
                    max1 = max1.max(mr);
                }
            }
            let llr = match method {
                DemapMethod::MaxLog => max0 - max1,
                DemapMethod::Exact => {
                    // Stable log-sum-exp: factor out each side's maximum so every exp ≤ 1.
                    let (mut s0, mut s1) = (0f64, 0f64);
                    for (&label, &mr) in self.label_of_rank.iter().zip(&metric).take(self.n) {
                        if (label >> bit_pos) & 1 == 0 {
                            s0 += (mr - max0).exp();
                        } else {
                            s1 += (mr - max1).exp();
                        }
                    }
                    (max0 - max1) + (s0.ln() - s1.ln())
                }
            };
            out[j * stride] = clip(llr);
        }
    }

    /// Hard-decision LLRs (±LLR_MAX, 0 on a tie) for the noiseless limit σ² → 0.
    fn hard_llrs(&self, z: f64, out: &mut [f32], stride: usize) {
        self.llrs(z, 1.0, DemapMethod::MaxLog, out, stride);
        for j in 0..self.m {
            let v = &mut out[j * stride];
            *v = if *v > 0.0 {
                LLR_MAX
            } else if *v < 0.0 {
                -LLR_MAX
            } else {
                0.0
            };
        }
    }
}

fn clip(x: f64) -> f32 {
    if x.is_nan() {
        0.0
    } else {
        x.clamp(-(LLR_MAX as f64), LLR_MAX as f64) as f32
    }
}

fn finite(z: C32) -> bool {
    z.re.is_finite() && z.im.is_finite()
}

impl Modulation {
    /// All schemes, lowest order first.
    pub const ALL: [Modulation; 5] =
        [Modulation::Bpsk, Modulation::Qpsk, Modulation::Qam16, Modulation::Qam64, Modulation::Qam256];

    /// Qm, the number of bits per symbol.
    pub fn bits_per_symbol(self) -> usize {
        match self {
            Modulation::Bpsk => 1,
            Modulation::Qpsk => 2,
            Modulation::Qam16 => 4,
            Modulation::Qam64 => 6,
            Modulation::Qam256 => 8,
        }
    }

    /// Constellation size M = 2^Qm.
    pub fn order(self) -> usize {
        1 << self.bits_per_symbol()
    }

    /// The scheme with `qm` bits per symbol, if any.
    pub fn from_bits_per_symbol(qm: usize) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.bits_per_symbol() == qm)
    }

    /// Short lower-case name (`bpsk`, `qpsk`, `16qam`, `64qam`, `256qam`); parsed back by
    /// [`FromStr`].
    pub fn name(self) -> &'static str {
        match self {
            Modulation::Bpsk => "bpsk",
            Modulation::Qpsk => "qpsk",
            Modulation::Qam16 => "16qam",
            Modulation::Qam64 => "64qam",
            Modulation::Qam256 => "256qam",
        }
    }

    /// All M points, shape `[M]`: entry `k` is the symbol of the bit pattern `b0 … b(Qm−1)`
    /// read as an integer with `b0` most significant.
    pub fn constellation(self) -> Vec<C32> {
        let qm = self.bits_per_symbol();
        let mut bits = vec![0u8; qm];
        (0..self.order())
            .map(|k| {
                for (i, b) in bits.iter_mut().enumerate() {
                    *b = ((k >> (qm - 1 - i)) & 1) as u8;
                }
                let mut out = [C32::new(0.0, 0.0)];
                // Cannot fail: the length is Qm and every entry is 0 or 1.
                let _ = self.map_into(&bits, &mut out);
                out[0]
            })
            .collect()
    }

    /// Maps `bits` (shape `[n·Qm]`) to `n` symbols. Fails if the length is not a multiple
    /// of Qm or a `u8` is neither 0 nor 1.
    pub fn map<B: Bit>(self, bits: &[B]) -> Result<Vec<C32>, PhyError> {
        let qm = self.bits_per_symbol();
        let mut out = vec![C32::new(0.0, 0.0); bits.len() / qm];
        self.map_into(bits, &mut out)?;
        Ok(out)
    }

    /// [`map`](Self::map) into a caller-provided buffer of exactly `bits.len()/Qm` symbols.
    pub fn map_into<B: Bit>(self, bits: &[B], out: &mut [C32]) -> Result<(), PhyError> {
        let qm = self.bits_per_symbol();
        if !bits.len().is_multiple_of(qm) {
            return Err(PhyError::InvalidLength { what: "bits", len: bits.len(), multiple_of: qm });
        }
        if out.len() != bits.len() / qm {
            return Err(PhyError::LengthMismatch { what: "symbol buffer", got: out.len(), expected: bits.len() / qm });
        }
        let pam = Pam::new(self);
        for (chunk, o) in bits.chunks_exact(qm).zip(out.iter_mut()) {
            let (mut li, mut lq) = (0usize, 0usize);
            for (i, b) in chunk.iter().enumerate() {
                let b = b.to_bit().ok_or(PhyError::InvalidParameter {
                    name: "bits",
                    value: f64::NAN,
                    reason: "a u8 bit must be 0 or 1",
                })? as usize;
                if i % 2 == 0 || self == Modulation::Bpsk {
                    li = (li << 1) | b;
                } else {
                    lq = (lq << 1) | b;
                }
            }
            *o = if self == Modulation::Bpsk {
                C32::new(pam.level_of_label[li], 0.0)
            } else {
                C32::new(pam.level_of_label[li], pam.level_of_label[lq])
            };
        }
        Ok(())
    }

    /// Nearest-point (minimum distance) hard decisions on **equalised** symbols, shape
    /// `[n]` → `[n·Qm]` bits (0/1). Per-axis slicing is exact for square QAM. BPSK looks
    /// at the real part only. Non-finite symbols decide all-zero bits.
    pub fn demap_hard(self, symbols: &[C32]) -> Vec<u8> {
        let qm = self.bits_per_symbol();
        let pam = Pam::new(self);
        let mut out = vec![0u8; symbols.len() * qm];
        for (z, o) in symbols.iter().zip(out.chunks_exact_mut(qm)) {
            if !finite(*z) {
                continue;
            }
            let li = pam.label_of_rank[pam.slice(z.re as f64)];
            let lq = pam.label_of_rank[pam.slice(z.im as f64)];
            for j in 0..pam.m {
                let shift = pam.m - 1 - j;
                if self == Modulation::Bpsk {
                    o[0] = li & 1;
                } else {
                    o[2 * j] = (li >> shift) & 1;
                    o[2 * j + 1] = (lq >> shift) & 1;
                }
            }
        }
        out
    }

    /// Soft demapping to LLRs (positive ⇒ bit 0), shape `[n]` → `[n·Qm]`.
    ///
    /// `symbols` are the received `y = h·x + w`; `h` the channel gains (true or estimated)
    /// and `noise` the variance σ² of `w`. With an estimated gain pass the *effective*
    /// noise variance (N0 plus the estimation-error variance, see
    /// [`crate::pilots::Equalized`]). See the module docs for the formula and edge cases.
    ///
    /// Errors: a per-symbol `h` or `noise` of the wrong length, a non-finite `h`, or a
    /// negative / NaN noise variance.
    pub fn demap_llr<'a>(
        self,
        symbols: &[C32],
        h: impl Into<Gains<'a>>,
        noise: impl Into<NoiseVar<'a>>,
        method: DemapMethod,
    ) -> Result<Vec<f32>, PhyError> {
        let mut out = vec![0f32; symbols.len() * self.bits_per_symbol()];
        self.demap_llr_into(symbols, h, noise, method, &mut out)?;
        Ok(out)
    }

    /// [`demap_llr`](Self::demap_llr) into a caller buffer of exactly `n·Qm` LLRs.
    pub fn demap_llr_into<'a>(
        self,
        symbols: &[C32],
        h: impl Into<Gains<'a>>,
        noise: impl Into<NoiseVar<'a>>,
        method: DemapMethod,
        out: &mut [f32],
    ) -> Result<(), PhyError> {
        let (h, noise) = (h.into(), noise.into());
        let n = symbols.len();
        let qm = self.bits_per_symbol();
        if out.len() != n * qm {
            return Err(PhyError::LengthMismatch { what: "LLR buffer", got: out.len(), expected: n * qm });
        }
        match h {
            Gains::Unit => {}
            Gains::Scalar(g) => {
                if !finite(g) {
                    return Err(PhyError::NonFinite("channel gain"));
                }
            }
            Gains::PerSymbol(g) => {
                if g.len() != n {
                    return Err(PhyError::LengthMismatch { what: "channel gains", got: g.len(), expected: n });
                }
                if !g.iter().all(|z| finite(*z)) {
                    return Err(PhyError::NonFinite("channel gains"));
                }
            }
        }
        let bad_noise = |v: f64| v.is_nan() || v < 0.0;
        let noise_err = |v: f64| PhyError::InvalidParameter {
            name: "noise variance",
            value: v,
            reason: "must be >= 0 (use +inf for no information)",
        };
        match noise {
            NoiseVar::Scalar(v) if bad_noise(v) => return Err(noise_err(v)),
            NoiseVar::Scalar(_) => {}
            NoiseVar::PerSymbol(v) => {
                if v.len() != n {
                    return Err(PhyError::LengthMismatch { what: "noise variances", got: v.len(), expected: n });
                }
                if let Some(&bad) = v.iter().find(|x| bad_noise(**x as f64)) {
                    return Err(noise_err(bad as f64));
                }
            }
        }
        let pam = Pam::new(self);
        let bpsk = self == Modulation::Bpsk;
        for (i, (y, o)) in symbols.iter().zip(out.chunks_exact_mut(qm)).enumerate() {
            let g = match h {
                Gains::Unit => C32::new(1.0, 0.0),
                Gains::Scalar(g) => g,
                Gains::PerSymbol(g) => g[i],
            };
            let s2 = match noise {
                NoiseVar::Scalar(v) => v,
                NoiseVar::PerSymbol(v) => v[i] as f64,
            };
            let g2 = (g.re as f64).powi(2) + (g.im as f64).powi(2);
            if !finite(*y) || g2 == 0.0 || s2 == f64::INFINITY {
                o.fill(0.0);
                continue;
            }
            // z = conj(h)·y/|h|²: the equalised symbol; the metric scale is |h|²/σ².
            let (yr, yi, gr, gi) = (y.re as f64, y.im as f64, g.re as f64, g.im as f64);
            let zr = (gr * yr + gi * yi) / g2;
            let zi = (gr * yi - gi * yr) / g2;
            let alpha = g2 / s2;
            // I bits sit at even positions, Q bits at odd ones (stride 2); BPSK has one.
            let stride = if bpsk { 1 } else { 2 };
            if alpha.is_finite() {
                pam.llrs(zr, alpha, method, o, stride);
                if !bpsk {
                    pam.llrs(zi, alpha, method, &mut o[1..], 2);
                }
            } else {
                pam.hard_llrs(zr, o, stride);
                if !bpsk {
                    pam.hard_llrs(zi, &mut o[1..], 2);
                }
            }
        }
        Ok(())
    }

    /// Theoretical symbol error rate in AWGN at noise power `n0` (Es = 1), ML detection:
    /// BPSK `Q(√(2/N0))`; square M-QAM `1 − (1 − P)²` with
    /// `P = 2(1 − 1/√M)·Q(√(3/((M−1)·N0)))` (QPSK included).
    pub fn ser_awgn(self, n0: f64) -> f64 {
        if self == Modulation::Bpsk {
            return q_function((2.0 / n0).sqrt());
        }
        let m = self.order() as f64;
        let p = 2.0 * (1.0 - 1.0 / m.sqrt()) * q_function((3.0 / ((m - 1.0) * n0)).sqrt());
        1.0 - (1.0 - p) * (1.0 - p)
    }

    /// Exact theoretical bit error rate of these Gray mappings in AWGN at noise power `n0`
    /// (Es = 1) with minimum-distance decisions: sums, per axis, the probability of each
    /// decision region times the Hamming distance of the labels (I and Q are identical
    /// and independent, so the per-axis BER is the BER). BPSK gives `Q(√(2/N0))`, QPSK
    /// `Q(√(1/N0))`; at high SNR it approaches `SER/Qm`.
    pub fn ber_awgn(self, n0: f64) -> f64 {
        let pam = Pam::new(self);
        let sigma = (n0 / 2.0).sqrt();
        let n = pam.n;
        let mut errors = 0.0;
        for r in 0..n {
            let a = pam.level_of_rank(r);
            for k in 0..n {
                if k == r {
                    continue;
                }
                // Decision region of rank k: between the midpoints to its neighbours.
                let lo = if k == 0 { f64::NEG_INFINITY } else { pam.level_of_rank(k) - pam.scale };
                let hi = if k == n - 1 { f64::INFINITY } else { pam.level_of_rank(k) + pam.scale };
                let p = q_function((lo - a) / sigma) - q_function((hi - a) / sigma);
                let d = (pam.label_of_rank[r] ^ pam.label_of_rank[k]).count_ones() as f64;
                errors += p * d;
            }
        }
        errors / (n * pam.m) as f64
    }
}

impl fmt::Display for Modulation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Modulation {
    type Err = PhyError;

    /// Accepts the [`Modulation::name`]s, case-insensitively, plus `qam16`-style aliases.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().replace(['-', '_'], "").as_str() {
            "bpsk" => Ok(Modulation::Bpsk),
            "qpsk" | "4qam" | "qam4" => Ok(Modulation::Qpsk),
            "16qam" | "qam16" => Ok(Modulation::Qam16),
            "64qam" | "qam64" => Ok(Modulation::Qam64),
            "256qam" | "qam256" => Ok(Modulation::Qam256),
            _ => Err(PhyError::UnknownModulation),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::Awgn;
    use crate::math::q_function;
    use crate::n0_from_snr_db;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use rand_distr::{Distribution, StandardNormal};

    fn random_bits(rng: &mut impl Rng, n: usize) -> Vec<u8> {
        (0..n).map(|_| rng.random::<bool>() as u8).collect()
    }

    fn cn(rng: &mut impl Rng, var: f64) -> C32 {
        let s = (var / 2.0).sqrt();
        let a: f64 = StandardNormal.sample(rng);
        let b: f64 = StandardNormal.sample(rng);
        C32::new((a * s) as f32, (b * s) as f32)
    }

    /// 38.211 §5.1 written out literally, as an independent reference for `map`.
    fn ts38211(m: Modulation, b: &[u8]) -> C32 {
        let s = |i: usize| 1.0 - 2.0 * b[i] as f64;
        let (re, im) = match m {
            Modulation::Bpsk => (s(0), 0.0),
            Modulation::Qpsk => (s(0) / 2f64.sqrt(), s(1) / 2f64.sqrt()),
            Modulation::Qam16 => {
                let k = 10f64.sqrt();
                (s(0) * (2.0 - s(2)) / k, s(1) * (2.0 - s(3)) / k)
            }
            Modulation::Qam64 => {
                let k = 42f64.sqrt();
                (s(0) * (4.0 - s(2) * (2.0 - s(4))) / k, s(1) * (4.0 - s(3) * (2.0 - s(5))) / k)
            }
            Modulation::Qam256 => {
                let k = 170f64.sqrt();
                (
                    s(0) * (8.0 - s(2) * (4.0 - s(4) * (2.0 - s(6)))) / k,
                    s(1) * (8.0 - s(3) * (4.0 - s(5) * (2.0 - s(7)))) / k,
                )
            }
        };
        C32::new(re as f32, im as f32)
    }

    fn label_bits(k: usize, qm: usize) -> Vec<u8> {
        (0..qm).map(|i| ((k >> (qm - 1 - i)) & 1) as u8).collect()
    }

    #[test]
    fn constellations_follow_38211_and_have_unit_energy() {
        for m in Modulation::ALL {
            let c = m.constellation();
            assert_eq!(c.len(), m.order());
            for (k, z) in c.iter().enumerate() {
                let want = ts38211(m, &label_bits(k, m.bits_per_symbol()));
                assert!((z - want).norm() < 1e-6, "{m} label {k}: {z} vs {want}");
            }
            let e = crate::average_power(&c);
            assert!((e - 1.0).abs() < 1e-6, "{m}: Es = {e}");
            // All points distinct.
            for i in 0..c.len() {
                for j in 0..i {
                    assert!((c[i] - c[j]).norm() > 1e-3);
                }
            }
        }
    }

    #[test]
    fn gray_property_nearest_neighbours_differ_in_one_bit() {
        for m in Modulation::ALL {
            let c = m.constellation();
            let dmin = (0..c.len())
                .flat_map(|i| (0..i).map(move |j| (i, j)))
                .map(|(i, j)| (c[i] - c[j]).norm())
                .fold(f32::INFINITY, f32::min);
            let mut pairs = 0;
            for i in 0..c.len() {
                for j in 0..i {
                    if (c[i] - c[j]).norm() < dmin * 1.01 {
                        pairs += 1;
                        assert_eq!((i ^ j).count_ones(), 1, "{m}: labels {i} and {j} are neighbours");
                    }
                }
            }
            // A √M×√M grid has 2√M(√M−1) horizontal+vertical neighbour pairs (BPSK: 1).
            let want = if m == Modulation::Bpsk {
                1
            } else {
                let s = (m.order() as f64).sqrt() as usize;
                2 * s * (s - 1)
            };
            assert_eq!(pairs, want, "{m}");
        }
    }

    #[test]
    fn map_and_hard_demap_round_trip_and_reject_bad_input() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        for m in Modulation::ALL {
            let bits = random_bits(&mut rng, 240 * m.bits_per_symbol());
            let s = m.map(&bits).unwrap();
            assert_eq!(s.len(), 240);
            assert_eq!(m.demap_hard(&s), bits);
            let bools: Vec<bool> = bits.iter().map(|&b| b == 1).collect();
            assert_eq!(m.map(&bools).unwrap(), s);
            assert!(m.map(&[0u8; 0]).unwrap().is_empty());
        }
        assert!(matches!(
            Modulation::Qam16.map(&[0u8; 6]),
            Err(PhyError::InvalidLength { len: 6, multiple_of: 4, .. })
        ));
        assert!(Modulation::Qpsk.map(&[0u8, 2]).is_err());
        assert!(Modulation::Qpsk.map_into(&[0u8, 1], &mut []).is_err());
        for m in Modulation::ALL {
            assert_eq!(m.name().parse::<Modulation>().unwrap(), m);
            assert_eq!(Modulation::from_bits_per_symbol(m.bits_per_symbol()), Some(m));
        }
        assert_eq!("QAM-16".parse::<Modulation>().unwrap(), Modulation::Qam16);
        assert!("8psk".parse::<Modulation>().is_err());
    }

    /// Brute force over all M points in 2-D, f64 log-sum-exp (or max) per bit.
    fn brute_llr(m: Modulation, y: C32, h: C32, s2: f64, method: DemapMethod) -> Vec<f64> {
        let c = m.constellation();
        let qm = m.bits_per_symbol();
        let metric: Vec<f64> = c
            .iter()
            .map(|x| {
                let d = y - h * x;
                -((d.re as f64).powi(2) + (d.im as f64).powi(2)) / s2
            })
            .collect();
        (0..qm)
            .map(|b| {
                let side = |v: usize| -> f64 {
                    let vals: Vec<f64> =
                        (0..c.len()).filter(|k| (k >> (qm - 1 - b)) & 1 == v).map(|k| metric[k]).collect();
                    let mx = vals.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                    match method {
                        DemapMethod::MaxLog => mx,
                        DemapMethod::Exact => mx + vals.iter().map(|v| (v - mx).exp()).sum::<f64>().ln(),
                    }
                };
                (side(0) - side(1)).clamp(-(LLR_MAX as f64), LLR_MAX as f64)
            })
            .collect()
    }

    #[test]
    fn llrs_match_brute_force_reference_with_fading_and_per_symbol_noise() {
        let mut rng = ChaCha8Rng::seed_from_u64(12);
        for m in Modulation::ALL {
            for snr_db in [-5.0, 5.0, 15.0, 25.0] {
                let n = 300;
                let n0 = n0_from_snr_db(snr_db);
                let bits = random_bits(&mut rng, n * m.bits_per_symbol());
                let x = m.map(&bits).unwrap();
                let h: Vec<C32> = (0..n).map(|_| cn(&mut rng, 1.0)).collect();
                // Per-symbol noise variances spread over a decade around N0.
                let s2: Vec<f32> = (0..n).map(|_| (n0 * 10f64.powf(rng.random::<f64>() - 0.5)) as f32).collect();
                let y: Vec<C32> = (0..n).map(|i| h[i] * x[i] + cn(&mut rng, s2[i] as f64)).collect();
                for method in [DemapMethod::Exact, DemapMethod::MaxLog] {
                    let llr = m.demap_llr(&y, &h, &s2, method).unwrap();
                    for i in 0..n {
                        let want = brute_llr(m, y[i], h[i], s2[i] as f64, method);
                        for (b, w) in want.iter().enumerate() {
                            let got = llr[i * m.bits_per_symbol() + b] as f64;
                            // f32 inputs/outputs: allow ~1e-4 relative plus a small floor.
                            assert!(
                                (got - w).abs() <= 1e-4 * w.abs() + 1e-3,
                                "{m} {snr_db} dB {method:?} sym {i} bit {b}: {got} vs {w}"
                            );
                        }
                    }
                }
            }
        }
    }

    /// Noisy AWGN symbols for sign/agreement tests.
    fn noisy(m: Modulation, snr_db: f64, n: usize, seed: u64) -> (Vec<C32>, f64) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let bits = random_bits(&mut rng, n * m.bits_per_symbol());
        let mut y = m.map(&bits).unwrap();
        let ch = Awgn::from_snr_db(snr_db).unwrap();
        ch.apply(&mut y, &mut rng);
        (y, ch.n0())
    }

    #[test]
    fn llr_signs_agree_with_hard_decisions() {
        for m in Modulation::ALL {
            for snr_db in [-3.0, 8.0, 20.0] {
                let (y, n0) = noisy(m, snr_db, 20_000, 13);
                let hard = m.demap_hard(&y);
                // Max-log: the sign is the bit of the nearest point, so it must agree with
                // the hard decision for every bit of every symbol (ties give 0: skipped).
                let ml = m.demap_llr(&y, Gains::Unit, n0, DemapMethod::MaxLog).unwrap();
                for (l, b) in ml.iter().zip(&hard) {
                    assert!(*l == 0.0 || (*l < 0.0) == (*b == 1), "{m} {snr_db} dB max-log");
                }
            }
            // Exact (bitwise MAP) may legitimately differ from the nearest point near a
            // decision boundary at low SNR; at high SNR the far points are negligible.
            let (y, n0) = noisy(m, 30.0, 20_000, 14);
            let hard = m.demap_hard(&y);
            let ex = m.demap_llr(&y, Gains::Unit, n0, DemapMethod::Exact).unwrap();
            for (l, b) in ex.iter().zip(&hard) {
                assert!(*l == 0.0 || (*l < 0.0) == (*b == 1), "{m} exact at 30 dB");
            }
        }
    }

    #[test]
    fn exact_and_maxlog_agree() {
        for m in Modulation::ALL {
            let half_levels = if m == Modulation::Bpsk { 1.0 } else { (m.order() as f64).sqrt() / 2.0 };
            let mut checked_high = false;
            for snr_db in [0.0, 10.0, 20.0, 30.0, 35.0] {
                let (y, n0) = noisy(m, snr_db, 20_000, 15);
                let ex = m.demap_llr(&y, Gains::Unit, n0, DemapMethod::Exact).unwrap();
                let ml = m.demap_llr(&y, Gains::Unit, n0, DemapMethod::MaxLog).unwrap();
                let mut worst_rel = 0f64;
                for (e, l) in ex.iter().zip(&ml) {
                    let (e, l) = (*e as f64, *l as f64);
                    // Always: max ≤ log-sum-exp ≤ max + ln(#terms), on both sides of the ratio.
                    assert!((e - l).abs() <= half_levels.ln() + 1e-3, "{m} {snr_db} dB: {e} vs {l}");
                    if e.abs() >= 1.0 {
                        worst_rel = worst_rel.max((e - l).abs() / e.abs());
                    }
                }
                // "High SNR" grows with the constellation: from 12 dB + 10·log10((M−1)/3),
                // where half the minimum distance, √(3/((M−1)N0)), is ≈ 4 noise σ per axis.
                let high = snr_db >= 10.0 * ((m.order() as f64 - 1.0) / 3.0).log10() + 12.0;
                if high {
                    // Sign identical everywhere, magnitude within 3 % where |LLR| ≥ 1.
                    for (e, l) in ex.iter().zip(&ml) {
                        assert!((*e >= 0.0) == (*l >= 0.0) || e.abs() < 1e-6, "{m} {snr_db} dB sign");
                    }
                    assert!(worst_rel < 0.03, "{m} {snr_db} dB: worst relative gap {worst_rel}");
                    checked_high = true;
                }
            }
            assert!(checked_high, "{m}: no SNR counted as high");
        }
    }

    /// Error rates measured over `n` symbols.
    struct Rates {
        ser: f64,
        ber: f64,
        /// σ of the BER estimate.
        ber_sigma: f64,
    }

    /// Simulates `n` symbols.
    fn simulate(m: Modulation, snr_db: f64, n: usize, seed: u64) -> Rates {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let qm = m.bits_per_symbol();
        let bits = random_bits(&mut rng, n * qm);
        let mut y = m.map(&bits).unwrap();
        Awgn::from_snr_db(snr_db).unwrap().apply(&mut y, &mut rng);
        let hard = m.demap_hard(&y);
        let (mut sym_err, mut e1, mut e2) = (0usize, 0f64, 0f64);
        for (a, b) in hard.chunks_exact(qm).zip(bits.chunks_exact(qm)) {
            let e = a.iter().zip(b).filter(|(x, y)| x != y).count() as f64;
            sym_err += (e > 0.0) as usize;
            e1 += e;
            e2 += e * e;
        }
        let nf = n as f64;
        let ber = e1 / (nf * qm as f64);
        // Bit errors within a symbol are correlated: use the per-symbol error-count
        // variance, σ(BER) = sd(e)/(Qm·√n).
        let var_e = e2 / nf - (e1 / nf).powi(2);
        Rates { ser: sym_err as f64 / nf, ber, ber_sigma: var_e.sqrt() / (qm as f64 * nf.sqrt()) }
    }

    #[test]
    fn bpsk_and_qpsk_ber_match_q_function() {
        for (m, snrs) in [(Modulation::Bpsk, [0.0, 4.0, 7.0]), (Modulation::Qpsk, [3.0, 7.0, 10.0])] {
            for (k, snr_db) in snrs.into_iter().enumerate() {
                let n0 = n0_from_snr_db(snr_db);
                let eb_n0 = 1.0 / (n0 * m.bits_per_symbol() as f64);
                let p = q_function((2.0 * eb_n0).sqrt());
                // Enough symbols for ≥ ~800 expected bit errors.
                let n = ((800.0 / (p * m.bits_per_symbol() as f64)) as usize).max(100_000);
                let ber = simulate(m, snr_db, n, 100 + k as u64).ber;
                let sigma = (p * (1.0 - p) / (n * m.bits_per_symbol()) as f64).sqrt();
                assert!((ber - p).abs() < 5.0 * sigma, "{m} {snr_db} dB: {ber:.3e} vs {p:.3e}");
                assert!((m.ber_awgn(n0) / p - 1.0).abs() < 1e-6);
            }
        }
    }

    #[test]
    fn qam_ser_and_ber_match_closed_forms() {
        let cases = [
            (Modulation::Qpsk, [4.0, 8.0, 11.0]),
            (Modulation::Qam16, [10.0, 14.0, 17.0]),
            (Modulation::Qam64, [16.0, 20.0, 23.0]),
            (Modulation::Qam256, [22.0, 26.0, 29.0]),
        ];
        for (m, snrs) in cases {
            let mm = m.order() as f64;
            for (k, snr_db) in snrs.into_iter().enumerate() {
                let n0 = n0_from_snr_db(snr_db);
                let p_axis = 2.0 * (1.0 - 1.0 / mm.sqrt()) * q_function((3.0 / ((mm - 1.0) * n0)).sqrt());
                let ser_th = 1.0 - (1.0 - p_axis).powi(2);
                let n = ((1500.0 / ser_th) as usize).clamp(100_000, 1_500_000);
                let Rates { ser, ber, ber_sigma } =
                    simulate(m, snr_db, n, 200 + 10 * k as u64 + m.bits_per_symbol() as u64);
                let ser_sigma = (ser_th * (1.0 - ser_th) / n as f64).sqrt();
                assert!((ser - ser_th).abs() < 5.0 * ser_sigma, "{m} {snr_db} dB SER {ser:.3e} vs {ser_th:.3e}");
                // Exact Gray BER (per-axis region sums) against simulation.
                let ber_th = m.ber_awgn(n0);
                assert!((ber - ber_th).abs() < 5.0 * ber_sigma, "{m} {snr_db} dB BER {ber:.3e} vs {ber_th:.3e}");
                // Gray: BER ≈ SER/Qm at high SNR (the last, highest SNR of each row, where
                // SER ≲ 1e-3): nearly every symbol error is to a neighbour, one bit off.
                if k == 2 {
                    let approx = ser_th / m.bits_per_symbol() as f64;
                    assert!((ber_th / approx - 1.0).abs() < 0.02, "{m}: {ber_th:.3e} vs SER/Qm {approx:.3e}");
                    assert!(
                        (ber - approx).abs() < 5.0 * ber_sigma + 0.02 * approx,
                        "{m}: sim {ber:.3e} vs {approx:.3e}"
                    );
                }
            }
        }
    }

    #[test]
    fn llr_edge_cases_and_errors() {
        let m = Modulation::Qam16;
        let x = m.map(&[0u8, 1, 1, 0, 1, 1, 0, 0]).unwrap();
        // Noiseless: ±LLR_MAX with the right signs.
        let l = m.demap_llr(&x, Gains::Unit, 0.0, DemapMethod::Exact).unwrap();
        let want = [0u8, 1, 1, 0, 1, 1, 0, 0];
        for (v, b) in l.iter().zip(want) {
            assert_eq!(*v, if b == 0 { LLR_MAX } else { -LLR_MAX });
        }
        // h = 0, σ² = ∞ and NaN symbols are erasures.
        let l = m.demap_llr(&x, C32::new(0.0, 0.0), 1.0, DemapMethod::MaxLog).unwrap();
        assert!(l.iter().all(|v| *v == 0.0));
        let l = m.demap_llr(&x, Gains::Unit, f64::INFINITY, DemapMethod::Exact).unwrap();
        assert!(l.iter().all(|v| *v == 0.0));
        let y = [C32::new(f32::NAN, 0.0), x[1]];
        let l = m.demap_llr(&y, Gains::Unit, 0.1, DemapMethod::Exact).unwrap();
        assert!(l[..4].iter().all(|v| *v == 0.0) && l[4..].iter().all(|v| *v != 0.0));
        // A phase rotation is undone by passing h.
        let h = C32::from_polar(0.7, 2.5);
        let y: Vec<C32> = x.iter().map(|s| h * s).collect();
        let l = m.demap_llr(&y, h, 0.01, DemapMethod::MaxLog).unwrap();
        assert!(l.iter().zip(want).all(|(v, b)| (*v < 0.0) == (b == 1)));
        // BPSK LLR = 4·Re(conj(h)·y)/N0.
        let l = Modulation::Bpsk.demap_llr(&[C32::new(0.3, 0.8)], C32::new(0.0, 1.0), 0.5, DemapMethod::Exact).unwrap();
        assert!((l[0] - 4.0 * 0.8 / 0.5).abs() < 1e-5);
        // Errors.
        assert!(m.demap_llr(&x, Gains::Unit, -1.0, DemapMethod::Exact).is_err());
        assert!(m.demap_llr(&x, Gains::Unit, f64::NAN, DemapMethod::Exact).is_err());
        assert!(m.demap_llr(&x, &vec![C32::new(1.0, 0.0); 3], 1.0, DemapMethod::Exact).is_err());
        assert!(m.demap_llr(&x, Gains::Unit, &vec![1.0f32; 1], DemapMethod::Exact).is_err());
        assert!(m.demap_llr(&x, C32::new(f32::INFINITY, 0.0), 1.0, DemapMethod::Exact).is_err());
        assert!(m.demap_llr_into(&x, Gains::Unit, 1.0, DemapMethod::Exact, &mut [0.0; 3]).is_err());
    }
}
