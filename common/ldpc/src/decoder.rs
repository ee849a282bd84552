//! Layered min-sum decoder over the quasi-cyclic structure.
//!
//! Schedule: one layer = one base row = Z independent check nodes that touch
//! disjoint variables, so a whole layer is processed as Z-wide vector
//! operations. For every edge (column block k, shift v) of the layer the lane
//! `r` reads variable `k·Z + (r + v) mod Z`; the modulo is removed by splitting
//! each Z block into the two contiguous runs `[v, Z)` and `[0, v)`, so every
//! inner loop is a straight zip over equal-length `f32` slices that the
//! compiler auto-vectorises.
//!
//! Memory: `app` (a-posteriori LLRs, one per codeword bit), `c2v` (one Z-vector
//! per edge, contiguous), and per-layer scratch; nothing is allocated per call
//! once the decoder exists.
//!
//! Check-node rule ([`CheckRule`]): by default a corrected min-sum on the
//! three smallest magnitudes per check (box-plus of the three smallest
//! *other* inputs, with a cheap polynomial for `ln(1+e^{−x})`, evaluated once
//! per check, not per edge), followed by a light normalisation / offset
//! `α · max(m − β, 0)`; optionally plain offset min-sum,
//! `R = α · max(min_{others}|t| − β, 0) · Π sign(t)`. The outgoing sign is
//! always `Π_{others} sign(t)`.

use std::sync::Arc;

use crate::qc::QcCode;
use crate::{LdpcError, LLR_KNOWN};

const SIGN: u32 = 0x8000_0000;

/// Check-node update rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CheckRule {
    /// Offset / normalised min-sum on the two smallest magnitudes.
    MinSum,
    /// Corrected min-sum on the three smallest magnitudes: the outgoing
    /// magnitude is the box-plus (`|a ⊞ b| = min + ln(1+e^{−(a+b)}) −
    /// ln(1+e^{−|a−b|})`, correction term from a cubic approximation) of the
    /// three smallest *other* inputs: `m2⊞m3` for the argmin edge, `m1⊞m3`
    /// for the second argmin, `m1⊞m2⊞m3` for the rest. α and β are applied to
    /// the result (residual correction for the ignored larger inputs).
    #[default]
    Corrected3,
}

/// Decoder parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DecoderConfig {
    /// Check-node rule. Default [`CheckRule::Corrected3`].
    pub rule: CheckRule,
    /// Maximum number of full iterations (all layers once). Default 20.
    pub max_iterations: usize,
    /// Normalisation factor α, in (0, 1], applied to the outgoing magnitude
    /// after the offset: `α · max(m − β, 0)`. Default 0.95.
    pub alpha: f32,
    /// Offset β (LLR units, applied before α), ≥ 0. Default 0.1. β assumes
    /// true-scale channel LLRs.
    ///
    /// Why these defaults (BG2 K'=1000 R=1/2 QPSK/AWGN, identical noise,
    /// examples/bler_compare, see BENCH.md): with [`CheckRule::Corrected3`],
    /// (α, β) = (0.95, 0.1) gave 378/20000 errors at 1.25 dB and 40/20000 at
    /// 1.5 dB; (1, 0) 370/10000 and 34/10000; (1, 0.5) 4390/10000. For
    /// [`CheckRule::MinSum`] use [`DecoderConfig::min_sum`] (α = 1, β = 0.5,
    /// the best plain offset min-sum we found: 660/10000 at 1.25 dB).
    pub beta: f32,
}

impl DecoderConfig {
    /// Plain offset min-sum (α = 1, β = 0.5), ≤ 20 iterations: slightly
    /// faster per iteration, ≈ 0.15 dB worse than the default at BLER 1e-2.
    pub fn min_sum() -> Self {
        DecoderConfig { rule: CheckRule::MinSum, max_iterations: 20, alpha: 1.0, beta: 0.5 }
    }
}

impl Default for DecoderConfig {
    fn default() -> Self {
        DecoderConfig { rule: CheckRule::default(), max_iterations: 20, alpha: 0.95, beta: 0.1 }
    }
}

/// What a decode call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeStats {
    /// Iterations run (1 ..= max_iterations).
    pub iterations: usize,
    /// True if the hard decision satisfies every active parity check. This is
    /// not a guarantee of correctness: check a CRC.
    pub syndrome_ok: bool,
}

/// Layered (corrected) min-sum LDPC decoder for one (BG, Z).
#[derive(Debug)]
pub struct LdpcDecoder {
    code: Arc<QcCode>,
    config: DecoderConfig,
    /// Z rounded up to a multiple of [`LANES`]: every per-lane array has this
    /// stride so the arithmetic loops have no remainder; the padding lanes
    /// compute garbage that is never written back to `app`.
    zp: usize,
    app: Vec<f32>,
    c2v: Vec<f32>,
    /// app − c2v for every edge of the current layer (max degree × zp), in
    /// check-lane order (already un-shifted).
    t: Vec<f32>,
    min1: Vec<f32>,
    min2: Vec<f32>,
    min3: Vec<f32>,
    idx: Vec<u32>,
    idx2: Vec<u32>,
    sgn: Vec<u32>,
    use_avx2: bool,
}

const LANES: usize = 8;

/// Branch-free float minimum (compiles to `minps`).
#[inline(always)]
fn fmin(a: f32, b: f32) -> f32 {
    if a < b {
        a
    } else {
        b
    }
}

/// Bit-mask select: all-ones mask picks `a`.
#[inline(always)]
fn select(mask: u32, a: u32, b: u32) -> u32 {
    (a & mask) | (b & !mask)
}

/// Lane-wise over one edge: t −= msg, then fold |t| and sign(t) into the
/// layer's running (min1, min2, argmin, sign product). Slices have equal
/// length, a multiple of LANES.
#[inline(always)]
fn fold_edge(t: &mut [f32], msg: &[f32], min1: &mut [f32], min2: &mut [f32], idx: &mut [u32], sgn: &mut [u32], d: u32) {
    let n = t.len();
    let (msg, min1, min2, idx, sgn) = (&msg[..n], &mut min1[..n], &mut min2[..n], &mut idx[..n], &mut sgn[..n]);
    for c in (0..n).step_by(LANES) {
        let (t, msg) = (&mut t[c..c + LANES], &msg[c..c + LANES]);
        let (m1, m2) = (&mut min1[c..c + LANES], &mut min2[c..c + LANES]);
        let (ix, sg) = (&mut idx[c..c + LANES], &mut sgn[c..c + LANES]);
        for l in 0..LANES {
            let x = t[l] - msg[l];
            t[l] = x;
            let a = f32::from_bits(x.to_bits() & !SIGN);
            let lt = ((a < m1[l]) as u32).wrapping_neg();
            // New second minimum: min(min2, max(min1, a)).
            let hi = if a < m1[l] { m1[l] } else { a };
            m2[l] = fmin(m2[l], hi);
            m1[l] = fmin(m1[l], a);
            ix[l] = select(lt, d, ix[l]);
            sg[l] ^= x.to_bits();
        }
    }
}

/// Like [`fold_edge`] but also tracks the third minimum and the second argmin.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn fold_edge3(
    t: &mut [f32],
    msg: &[f32],
    min1: &mut [f32],
    min2: &mut [f32],
    min3: &mut [f32],
    idx: &mut [u32],
    idx2: &mut [u32],
    sgn: &mut [u32],
    d: u32,
) {
    let n = t.len();
    let (msg, min1, min2, min3) = (&msg[..n], &mut min1[..n], &mut min2[..n], &mut min3[..n]);
    let (idx, idx2, sgn) = (&mut idx[..n], &mut idx2[..n], &mut sgn[..n]);
    for c in (0..n).step_by(LANES) {
        let (t, msg) = (&mut t[c..c + LANES], &msg[c..c + LANES]);
        let (m1, m2, m3) = (&mut min1[c..c + LANES], &mut min2[c..c + LANES], &mut min3[c..c + LANES]);
        let (ix, ix2, sg) = (&mut idx[c..c + LANES], &mut idx2[c..c + LANES], &mut sgn[c..c + LANES]);
        for l in 0..LANES {
            let x = t[l] - msg[l];
            t[l] = x;
            let a = f32::from_bits(x.to_bits() & !SIGN);
            let lt1 = ((a < m1[l]) as u32).wrapping_neg();
            let lt2 = ((a < m2[l]) as u32).wrapping_neg();
            let hi2 = if a < m2[l] { m2[l] } else { a };
            m3[l] = fmin(m3[l], hi2);
            let hi1 = if a < m1[l] { m1[l] } else { a };
            m2[l] = fmin(m2[l], hi1);
            m1[l] = fmin(m1[l], a);
            ix2[l] = select(lt1, ix[l], select(lt2, d, ix2[l]));
            ix[l] = select(lt1, d, ix[l]);
            sg[l] ^= x.to_bits();
        }
    }
}

/// Like [`update_edge`] with three magnitudes: `ma` for the argmin edge,
/// `mb` for the second argmin, `mc` for every other edge.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn update_edge3(
    t: &mut [f32],
    msg: &mut [f32],
    ma: &[f32],
    mb: &[f32],
    mc: &[f32],
    idx: &[u32],
    idx2: &[u32],
    sgn: &[u32],
    d: u32,
) {
    let n = t.len();
    let (msg, ma, mb, mc) = (&mut msg[..n], &ma[..n], &mb[..n], &mc[..n]);
    let (idx, idx2, sgn) = (&idx[..n], &idx2[..n], &sgn[..n]);
    for c in (0..n).step_by(LANES) {
        let (t, msg) = (&mut t[c..c + LANES], &mut msg[c..c + LANES]);
        let (ma, mb, mc) = (&ma[c..c + LANES], &mb[c..c + LANES], &mc[c..c + LANES]);
        let (ix, ix2, sg) = (&idx[c..c + LANES], &idx2[c..c + LANES], &sgn[c..c + LANES]);
        for l in 0..LANES {
            let own = ((ix[l] == d) as u32).wrapping_neg();
            let own2 = ((ix2[l] == d) as u32).wrapping_neg();
            let mag = select(own, ma[l].to_bits(), select(own2, mb[l].to_bits(), mc[l].to_bits()));
            let s = (sg[l] ^ t[l].to_bits()) & SIGN;
            let new = f32::from_bits(mag | s);
            msg[l] = new;
            t[l] += new;
        }
    }
}

/// `ln(1 + e^{−x})` for x ≥ 0, approximated by `ln2·max(0, 1 − x/4.61)³`
/// (max abs error 0.02).
#[inline(always)]
fn softplus_neg(x: f32) -> f32 {
    let u = 1.0 - x * (1.0 / 4.61);
    let u = if u > 0.0 { u } else { 0.0 };
    std::f32::consts::LN_2 * u * u * u
}

/// Magnitude of the box-plus of two magnitudes `a ≤ b`.
#[inline(always)]
fn boxplus_mag(a: f32, b: f32) -> f32 {
    let r = a + softplus_neg(a + b) - softplus_neg(b - a);
    if r > 0.0 {
        r
    } else {
        0.0
    }
}

/// Lane-wise over one edge: new check message, and t += message (t becomes
/// the updated a-posteriori LLR, still in check-lane order).
#[inline(always)]
fn update_edge(t: &mut [f32], msg: &mut [f32], m1: &[f32], m2: &[f32], idx: &[u32], sgn: &[u32], d: u32) {
    let n = t.len();
    let (msg, m1, m2, idx, sgn) = (&mut msg[..n], &m1[..n], &m2[..n], &idx[..n], &sgn[..n]);
    for c in (0..n).step_by(LANES) {
        let (t, msg) = (&mut t[c..c + LANES], &mut msg[c..c + LANES]);
        let (m1, m2) = (&m1[c..c + LANES], &m2[c..c + LANES]);
        let (ix, sg) = (&idx[c..c + LANES], &sgn[c..c + LANES]);
        for l in 0..LANES {
            let own = ((ix[l] == d) as u32).wrapping_neg();
            let mag = select(own, m2[l].to_bits(), m1[l].to_bits());
            // Product of the other edges' signs = total sign XOR own sign.
            let s = (sg[l] ^ t[l].to_bits()) & SIGN;
            let new = f32::from_bits(mag | s);
            msg[l] = new;
            t[l] += new;
        }
    }
}

/// The iteration loop; instantiated twice (generic and AVX2) so the
/// compiler can use 8-wide vectors where the CPU has them.
#[inline(always)]
fn iterate(dec: &mut LdpcDecoder, code: &QcCode, rows: usize) -> DecodeStats {
    let mut stats = DecodeStats { iterations: 0, syndrome_ok: false };
    for it in 1..=dec.config.max_iterations {
        for i in 0..rows {
            dec.layer(code, i);
        }
        stats.iterations = it;
        if dec.syndrome_ok(code, rows) {
            stats.syndrome_ok = true;
            break;
        }
    }
    stats
}

fn iterate_generic(dec: &mut LdpcDecoder, code: &QcCode, rows: usize) -> DecodeStats {
    iterate(dec, code, rows)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn iterate_avx2(dec: &mut LdpcDecoder, code: &QcCode, rows: usize) -> DecodeStats {
    iterate(dec, code, rows)
}

impl LdpcDecoder {
    /// Builds a decoder (allocates all working memory once).
    pub fn new(code: Arc<QcCode>, config: DecoderConfig) -> Result<Self, LdpcError> {
        if config.max_iterations == 0 {
            return Err(LdpcError::InvalidConfig("max_iterations must be ≥ 1"));
        }
        if !(config.alpha > 0.0 && config.alpha <= 1.0) {
            return Err(LdpcError::InvalidConfig("alpha must be in (0, 1]"));
        }
        if !(config.beta >= 0.0 && config.beta.is_finite()) {
            return Err(LdpcError::InvalidConfig("beta must be finite and ≥ 0"));
        }
        let z = code.z();
        let max_deg = (0..code.num_base_rows()).map(|i| code.row(i).count()).max().unwrap_or(0);
        let zp = z.div_ceil(LANES) * LANES;
        #[cfg(target_arch = "x86_64")]
        let use_avx2 = std::arch::is_x86_feature_detected!("avx2");
        #[cfg(not(target_arch = "x86_64"))]
        let use_avx2 = false;
        Ok(LdpcDecoder {
            zp,
            app: vec![0.0; code.num_base_cols() * z],
            c2v: vec![0.0; code.num_edges() * zp],
            t: vec![0.0; max_deg * zp],
            min1: vec![0.0; zp],
            min2: vec![0.0; zp],
            min3: vec![0.0; zp],
            idx: vec![0; zp],
            idx2: vec![0; zp],
            sgn: vec![0; zp],
            code,
            config,
            use_avx2,
        })
    }

    /// The code this decoder was built for.
    pub fn code(&self) -> &Arc<QcCode> {
        &self.code
    }

    /// Current configuration.
    pub fn config(&self) -> DecoderConfig {
        self.config
    }

    /// A-posteriori LLRs of the last decode (full codeword layout, active columns).
    pub fn posterior(&self) -> &[f32] {
        &self.app
    }

    /// Decodes one codeword.
    ///
    /// `llr` holds the channel LLRs of the full codeword (first 2Z punctured
    /// bits included, as 0) for the first `llr.len() / Z` base columns; it must
    /// cover at least the systematic and core parity columns
    /// (`(info_cols + 4)·Z`) and at most all `num_base_cols·Z`. Columns beyond
    /// it are treated as not transmitted, and the extension rows that only they
    /// would complete are skipped (exact: a check with an erased degree-1
    /// variable sends zero messages). Values are clamped to ±[`LLR_KNOWN`].
    ///
    /// On return `info_bits` holds the K = 22Z / 10Z hard-decided systematic
    /// bits (filler positions included).
    pub fn decode(&mut self, llr: &[f32], info_bits: &mut Vec<u8>) -> Result<DecodeStats, LdpcError> {
        let code = Arc::clone(&self.code);
        let z = code.z();
        let kb = code.base_graph().info_cols();
        let (min, max) = ((kb + 4) * z, code.num_base_cols() * z);
        if !llr.len().is_multiple_of(z) || llr.len() < min || llr.len() > max {
            return Err(LdpcError::LlrLength { len: llr.len(), z, min, max });
        }
        if let Some(index) = llr.iter().position(|x| x.is_nan()) {
            return Err(LdpcError::NanLlr { index });
        }
        let active_cols = llr.len() / z;
        let rows = code.active_rows(active_cols);
        for (a, &x) in self.app.iter_mut().zip(llr) {
            *a = x.clamp(-LLR_KNOWN, LLR_KNOWN);
        }
        let used_edges = code.row_range(rows - 1).end;
        self.c2v[..used_edges * self.zp].fill(0.0);

        #[cfg(target_arch = "x86_64")]
        let stats = if self.use_avx2 {
            // SAFETY: AVX2 support was detected at run time in `new`.
            unsafe { iterate_avx2(self, &code, rows) }
        } else {
            iterate_generic(self, &code, rows)
        };
        #[cfg(not(target_arch = "x86_64"))]
        let stats = iterate_generic(self, &code, rows);
        info_bits.clear();
        info_bits.extend(self.app[..kb * z].iter().map(|x| (x.to_bits() >> 31) as u8));
        Ok(stats)
    }

    #[inline(always)]
    fn layer(&mut self, code: &QcCode, row: usize) {
        match self.config.rule {
            CheckRule::MinSum => self.layer_min_sum(code, row),
            CheckRule::Corrected3 => self.layer_corrected3(code, row),
        }
    }

    #[inline(always)]
    fn layer_corrected3(&mut self, code: &QcCode, row: usize) {
        let (z, zp) = (code.z(), self.zp);
        let range = code.row_range(row);
        let (alpha, beta) = (self.config.alpha, self.config.beta);
        self.min1.fill(f32::MAX);
        self.min2.fill(f32::MAX);
        self.min3.fill(f32::MAX);
        self.idx.fill(u32::MAX);
        self.idx2.fill(u32::MAX);
        self.sgn.fill(0);
        for (d, e) in range.clone().enumerate() {
            let (k, v) = code.edge(e);
            let src = &self.app[k * z..(k + 1) * z];
            let t = &mut self.t[d * zp..(d + 1) * zp];
            t[..z - v].copy_from_slice(&src[v..]);
            t[z - v..z].copy_from_slice(&src[..v]);
            let msg = &self.c2v[e * zp..(e + 1) * zp];
            fold_edge3(
                t,
                msg,
                &mut self.min1,
                &mut self.min2,
                &mut self.min3,
                &mut self.idx,
                &mut self.idx2,
                &mut self.sgn,
                d as u32,
            );
        }
        let post = |x: f32| {
            let y = alpha * (x - beta);
            if y > 0.0 {
                y
            } else {
                0.0
            }
        };
        // Per check lane (not per edge): three outgoing magnitudes.
        for ((m1, m2), m3) in self.min1.iter_mut().zip(self.min2.iter_mut()).zip(self.min3.iter_mut()) {
            let (a, b, c) = (*m1, *m2, *m3);
            *m1 = post(boxplus_mag(b, c));
            *m2 = post(boxplus_mag(a, c));
            // a ⊞ b ≤ a ≤ c, as boxplus_mag wants.
            *m3 = post(boxplus_mag(boxplus_mag(a, b), c));
        }
        for (d, e) in range.enumerate() {
            let (k, v) = code.edge(e);
            let t = &mut self.t[d * zp..(d + 1) * zp];
            let msg = &mut self.c2v[e * zp..(e + 1) * zp];
            update_edge3(t, msg, &self.min1, &self.min2, &self.min3, &self.idx, &self.idx2, &self.sgn, d as u32);
            let dst = &mut self.app[k * z..(k + 1) * z];
            dst[v..].copy_from_slice(&t[..z - v]);
            dst[..v].copy_from_slice(&t[z - v..z]);
        }
    }

    #[inline(always)]
    fn layer_min_sum(&mut self, code: &QcCode, row: usize) {
        let (z, zp) = (code.z(), self.zp);
        let range = code.row_range(row);
        let (alpha, beta) = (self.config.alpha, self.config.beta);
        self.min1.fill(f32::MAX);
        self.min2.fill(f32::MAX);
        self.idx.fill(0);
        self.sgn.fill(0);
        for (d, e) in range.clone().enumerate() {
            let (k, v) = code.edge(e);
            let src = &self.app[k * z..(k + 1) * z];
            let t = &mut self.t[d * zp..(d + 1) * zp];
            // Un-shift: lane r reads variable (r + v) mod Z — two memcpys.
            t[..z - v].copy_from_slice(&src[v..]);
            t[z - v..z].copy_from_slice(&src[..v]);
            let msg = &self.c2v[e * zp..(e + 1) * zp];
            fold_edge(t, msg, &mut self.min1, &mut self.min2, &mut self.idx, &mut self.sgn, d as u32);
        }
        for (m1, m2) in self.min1.iter_mut().zip(self.min2.iter_mut()) {
            let a = alpha * (*m1 - beta);
            let b = alpha * (*m2 - beta);
            *m1 = if a > 0.0 { a } else { 0.0 };
            *m2 = if b > 0.0 { b } else { 0.0 };
        }
        for (d, e) in range.enumerate() {
            let (k, v) = code.edge(e);
            let t = &mut self.t[d * zp..(d + 1) * zp];
            let msg = &mut self.c2v[e * zp..(e + 1) * zp];
            update_edge(t, msg, &self.min1, &self.min2, &self.idx, &self.sgn, d as u32);
            // Re-shift the updated LLRs back into variable order.
            let dst = &mut self.app[k * z..(k + 1) * z];
            dst[v..].copy_from_slice(&t[..z - v]);
            dst[..v].copy_from_slice(&t[z - v..z]);
        }
    }

    /// Exact syndrome of the hard decision over the active rows; stops at the
    /// first unsatisfied base row (cheap while decoding is still converging).
    #[inline(always)]
    fn syndrome_ok(&mut self, code: &QcCode, rows: usize) -> bool {
        let z = code.z();
        for i in 0..rows {
            let par = &mut self.sgn[..z];
            par.fill(0);
            for e in code.row_range(i) {
                let (k, v) = code.edge(e);
                let src = &self.app[k * z..(k + 1) * z];
                let (pa, pb) = par.split_at_mut(z - v);
                for (p, x) in pa.iter_mut().zip(&src[v..]) {
                    *p ^= x.to_bits();
                }
                for (p, x) in pb.iter_mut().zip(&src[..v]) {
                    *p ^= x.to_bits();
                }
            }
            if par.iter().fold(0u32, |acc, p| acc | p) & SIGN != 0 {
                return false;
            }
        }
        true
    }
}
