//! Analog transmission pieces shared by SoftCast ([`crate::softcast`]) and the hybrid key
//! encoder ([`crate::key::HybridDct`]): coefficients grouped in chunks of variance λ,
//! sent with gain `g ∝ λ̂^(−1/4)` two per complex symbol, estimated by LLSE at the
//! receiver.
//!
//! * [`LambdaQuant`]: the quantiser of log2 λ both ends use.
//! * [`gain`], [`to_symbols`]: the sender's mapping.
//! * [`AnalogRx`], [`llse`]: the receiver's equalised samples and estimate.

use crate::C32;

/// log2 λ is clamped to this range before quantisation (λ = 0 maps to the floor). Covers
/// every chunk energy an 8-bit image up to 65535² can produce.
pub(crate) const LOG2_LAMBDA_MIN: f64 = -40.0;
pub(crate) const LOG2_LAMBDA_MAX: f64 = 60.0;
/// Fixed-point scale of the transmitted log2 λ range (Q8.8 in an i16).
pub(crate) const LOG2_FIXED_SCALE: f64 = 256.0;

/// Quantised log2 λ: `levels = 2^bits` uniform steps between `lo_q/256` and `hi_q/256`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LambdaQuant {
    pub bits: u8,
    pub lo_q: i16,
    pub hi_q: i16,
}

impl LambdaQuant {
    /// Range covering `log2 λ` of the given chunk energies (clamped), rounded outward to
    /// the Q8.8 grid so every value is inside the transmitted range.
    pub(crate) fn covering(bits: u8, lambdas: impl Iterator<Item = f64>) -> Self {
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for l in lambdas {
            let v = clamp_log2(l);
            lo = lo.min(v);
            hi = hi.max(v);
        }
        if lo > hi {
            (lo, hi) = (0.0, 0.0);
        }
        Self { bits, lo_q: (lo * LOG2_FIXED_SCALE).floor() as i16, hi_q: (hi * LOG2_FIXED_SCALE).ceil() as i16 }
    }

    fn levels_minus_one(&self) -> f64 {
        ((1u32 << self.bits) - 1) as f64
    }

    fn lo_hi(&self) -> (f64, f64) {
        (self.lo_q as f64 / LOG2_FIXED_SCALE, self.hi_q as f64 / LOG2_FIXED_SCALE)
    }

    /// Nearest level index for λ.
    pub(crate) fn index(&self, lambda: f64) -> u16 {
        let (lo, hi) = self.lo_hi();
        if hi <= lo {
            return 0;
        }
        let t = (clamp_log2(lambda) - lo) / (hi - lo) * self.levels_minus_one();
        t.round().clamp(0.0, self.levels_minus_one()) as u16
    }

    /// λ̂ for a level index; what both ends use for power allocation and LLSE.
    pub(crate) fn value(&self, index: u16) -> f64 {
        let (lo, hi) = self.lo_hi();
        let step = if hi > lo { (hi - lo) / self.levels_minus_one() } else { 0.0 };
        (lo + index as f64 * step).exp2()
    }
}

fn clamp_log2(lambda: f64) -> f64 {
    if lambda > 0.0 {
        lambda.log2().clamp(LOG2_LAMBDA_MIN, LOG2_LAMBDA_MAX)
    } else {
        LOG2_LAMBDA_MIN
    }
}

/// Power allocation of SoftCast: a chunk of variance λ̂ is sent with gain
/// `g = scale·λ̂^(−1/4)`, `scale` fixing the average power.
pub(crate) fn gain(scale: f64, lambda_hat: f64) -> f64 {
    scale * lambda_hat.powf(-0.25)
}

/// Scaled coefficients (real dimensions, in order) as complex symbols, I then Q; an odd
/// count is padded with a zero.
pub(crate) fn to_symbols(mut reals: Vec<f32>) -> Vec<C32> {
    if reals.len() % 2 == 1 {
        reals.push(0.0);
    }
    reals.chunks_exact(2).map(|p| C32::new(p[0], p[1])).collect()
}

/// LLSE estimate of a coefficient of variance λ̂ sent with gain `g`, from its equalised
/// sample `y` of noise variance `σ²`: `g·λ̂/(g²·λ̂ + σ²)·y`.
fn llse(g: f64, lambda_hat: f64, sigma2: f64, y: f64) -> f64 {
    g * lambda_hat / (g * g * lambda_hat + sigma2) * y
}

/// Received analog symbols, unequalised (`y = h·x + w`), with the channel estimate and
/// the noise variance of each (from [`semcom_phy::pilots::PilotPattern::extract`]).
/// Lost symbols are NaN; a receiver that got fewer symbols than were sent passes
/// shorter slices (the missing ones count as erased).
#[derive(Debug, Clone, Copy)]
pub struct AnalogRx<'a> {
    pub symbols: &'a [C32],
    pub h: &'a [C32],
    pub noise_var: &'a [f32],
}

impl AnalogRx<'_> {
    /// Equalised sample `z/ĥ` of symbol `s` and its noise variance per real dimension
    /// `σ² = noise_var/(2|ĥ|²)`; `None` for a lost, missing or unusable symbol.
    pub fn equalised(&self, s: usize) -> Option<(C32, f64)> {
        let z = *self.symbols.get(s)?;
        let h = *self.h.get(s)?;
        let nv = f64::from(*self.noise_var.get(s)?);
        let gain = f64::from(h.norm_sqr());
        (z.re.is_finite() && z.im.is_finite() && gain > 1e-12 && nv.is_finite()).then(|| (z / h, nv / (2.0 * gain)))
    }

    /// LLSE estimate of real dimension `t` of the analog stream (the I part of symbol
    /// `t/2` when `t` is even, the Q part when odd) of a coefficient sent with gain `g`
    /// and variance `lambda_hat`; `None` when that symbol is lost or missing.
    pub fn estimate(&self, t: usize, g: f64, lambda_hat: f64) -> Option<f64> {
        let (y, sigma2) = self.equalised(t / 2)?;
        let yr = f64::from(if t.is_multiple_of(2) { y.re } else { y.im });
        Some(llse(g, lambda_hat, sigma2, yr))
    }
}
