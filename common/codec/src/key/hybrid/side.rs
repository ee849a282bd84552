//! Side information: the quantised chunk variances (base λ̂ per chunk, the separable
//! model α + β + γ·φ of the residual chunks, optional corrections) and its bit layout.

use semcom_phy::bits::{pack, unpack, BitReader, BitWriter};

use super::layout::{ChunkKind, Layout};
use crate::analog::LambdaQuant;
use crate::key::KeyError;

impl Layout {
    /// Bits of the side information of this layout.
    pub(super) fn side_bits(&self) -> usize {
        let c = &self.cfg;
        24 + 32
            + self.base_chunks * c.lambda_bits as usize
            + 32
            + self.alphas * c.alpha_bits as usize
            + 32
            + self.betas * c.beta_bits as usize
            + 32
            + self.gammas * c.alpha_bits as usize
            + (self.chunks.len() - self.base_chunks) * c.correction_bits as usize
            + 16
    }
}

/// Quantised variances of every chunk plus the fields that carry them.
#[derive(Debug, Clone)]
pub(super) struct Variances {
    pub(super) base_q: LambdaQuant,
    pub(super) base_idx: Vec<u16>,
    pub(super) alpha_q: LambdaQuant,
    pub(super) alpha_idx: Vec<u16>,
    pub(super) beta_q: LambdaQuant,
    pub(super) beta_idx: Vec<u16>,
    pub(super) gamma_q: LambdaQuant,
    pub(super) gamma_idx: Vec<u16>,
    /// Correction index per residual chunk (empty with `correction_bits = 0`).
    pub(super) corr_idx: Vec<u16>,
    pub(super) corr_bits: u8,
}

/// Range of the per-chunk correction, octaves of λ either side of the model.
pub(crate) const CORRECTION_OCTAVES: f64 = 2.0;

fn correction_value(bits: u8, idx: u16) -> f64 {
    if bits == 0 {
        return 0.0;
    }
    let levels = ((1u32 << bits) - 1) as f64;
    -CORRECTION_OCTAVES + f64::from(idx) * 2.0 * CORRECTION_OCTAVES / levels
}

pub(super) fn correction_index(bits: u8, octaves: f64) -> u16 {
    let levels = ((1u32 << bits) - 1) as f64;
    let t = (octaves.clamp(-CORRECTION_OCTAVES, CORRECTION_OCTAVES) + CORRECTION_OCTAVES) / (2.0 * CORRECTION_OCTAVES);
    (t * levels).round().clamp(0.0, levels) as u16
}

impl Variances {
    pub(super) fn lambda_hat(&self, layout: &Layout) -> Vec<f64> {
        let mut model = self.model(layout);
        for (k, l) in model[layout.base_chunks..].iter_mut().enumerate() {
            if let Some(&c) = self.corr_idx.get(k) {
                *l *= correction_value(self.corr_bits, c).exp2();
            }
        }
        model
    }

    /// λ̂ without the per-chunk corrections.
    pub(super) fn model(&self, layout: &Layout) -> Vec<f64> {
        layout
            .chunks
            .iter()
            .enumerate()
            .map(|(i, c)| match &c.kind {
                ChunkKind::Base { .. } => self.base_q.value(self.base_idx[i]),
                ChunkKind::Residual { alpha, beta, gamma, phi, .. } => {
                    // 2^(α + β + γ·φ), γ carried as the "λ" 2^γ.
                    self.alpha_q.value(self.alpha_idx[*alpha])
                        * self.beta_q.value(self.beta_idx[*beta])
                        * self.gamma_q.value(self.gamma_idx[*gamma]).powf(*phi)
                }
            })
            .collect()
    }
}

/// The separable model's parameters, in log2 λ: α per (group, Y|C), β per (channel,
/// band), γ per group.
pub(super) struct SeparableFit {
    pub(super) alpha: Vec<f64>,
    pub(super) beta: Vec<f64>,
    pub(super) gamma: Vec<f64>,
}

/// Least-squares fit of `log2 λ = α(channel class, group) + β(channel, band) + γ(group)·φ(band)`
/// over the residual chunks, weighted by chunk length: α is the group's level, β the
/// typical spectrum, γ how much flatter or steeper the group's spectrum is (textured
/// blocks are flatter than smooth ones — a level alone cannot say that). Alternating
/// weighted least squares; a few passes converge for this small layout.
pub(super) fn fit_separable(layout: &Layout, log_lambda: &[f64]) -> SeparableFit {
    let mut alpha = vec![0.0f64; layout.alphas];
    let mut beta = vec![0.0f64; layout.betas];
    let mut gamma = vec![0.0f64; layout.gammas];
    // (α index, β index, γ index, φ, log λ, weight)
    let residual: Vec<(usize, usize, usize, f64, f64, f64)> = layout
        .chunks
        .iter()
        .zip(log_lambda)
        .filter_map(|(c, &l)| match c.kind {
            ChunkKind::Residual { alpha, beta, gamma, phi, .. } => Some((alpha, beta, gamma, phi, l, c.len as f64)),
            ChunkKind::Base { .. } => None,
        })
        .collect();
    let mean_into = |params: &mut [f64], sum: &[f64], wsum: &[f64]| {
        for (v, (s, w)) in params.iter_mut().zip(sum.iter().zip(wsum)) {
            if *w > 0.0 {
                *v = s / w;
            }
        }
    };
    for _ in 0..10 {
        let (mut sum, mut wsum) = (vec![0.0f64; beta.len()], vec![0.0f64; beta.len()]);
        for &(a, b, g, phi, l, w) in &residual {
            sum[b] += w * (l - alpha[a] - gamma[g] * phi);
            wsum[b] += w;
        }
        mean_into(&mut beta, &sum, &wsum);
        let (mut sum, mut wsum) = (vec![0.0f64; alpha.len()], vec![0.0f64; alpha.len()]);
        for &(a, b, g, phi, l, w) in &residual {
            sum[a] += w * (l - beta[b] - gamma[g] * phi);
            wsum[a] += w;
        }
        mean_into(&mut alpha, &sum, &wsum);
        // Slope: Σ w φ r / Σ w φ², r the residual of the other terms.
        let (mut sum, mut wsum) = (vec![0.0f64; gamma.len()], vec![0.0f64; gamma.len()]);
        for &(a, b, g, phi, l, w) in &residual {
            sum[g] += w * phi * (l - alpha[a] - beta[b]);
            wsum[g] += w * phi * phi;
        }
        mean_into(&mut gamma, &sum, &wsum);
    }
    SeparableFit { alpha, beta, gamma }
}

/// Side information as read back: the channel means, the quantised variances and the
/// power scale.
pub(super) struct Side {
    pub(super) means: [u8; 3],
    pub(super) var: Variances,
    pub(super) scale: f64,
}

/// Reads the side information for `layout`; every field is range-checked by the reader.
pub(super) fn read_side(layout: &Layout, side: &[u8]) -> Result<Side, KeyError> {
    let need = layout.side_bits().div_ceil(8);
    if side.len() != need {
        return Err(KeyError::SideInfo(format!("{} bytes of side information, the layout needs {need}", side.len())));
    }
    let bits = unpack(side);
    let mut r = BitReader::new(&bits);
    let short = || KeyError::SideInfo("truncated".into());
    let mut means = [0u8; 3];
    for m in &mut means {
        *m = r.get(8).ok_or_else(short)? as u8;
    }
    let c = &layout.cfg;
    let mut read_set = |bits: u8, n: usize| -> Result<(LambdaQuant, Vec<u16>), KeyError> {
        let lo_q = r.get(16).ok_or_else(short)? as u16 as i16;
        let hi_q = r.get(16).ok_or_else(short)? as u16 as i16;
        if hi_q < lo_q {
            return Err(KeyError::SideInfo(format!("quantiser range {lo_q}..{hi_q} reversed")));
        }
        let idx =
            (0..n).map(|_| r.get(u32::from(bits)).map(|v| v as u16).ok_or_else(short)).collect::<Result<_, _>>()?;
        Ok((LambdaQuant { bits, lo_q, hi_q }, idx))
    };
    let (base_q, base_idx) = read_set(c.lambda_bits, layout.base_chunks)?;
    let (alpha_q, alpha_idx) = read_set(c.alpha_bits, layout.alphas)?;
    let (beta_q, beta_idx) = read_set(c.beta_bits, layout.betas)?;
    let (gamma_q, gamma_idx) = read_set(c.alpha_bits, layout.gammas)?;
    let corr_bits = c.correction_bits;
    let corr_idx = if corr_bits == 0 {
        Vec::new()
    } else {
        (layout.base_chunks..layout.chunks.len())
            .map(|_| r.get(u32::from(corr_bits)).map(|v| v as u16).ok_or_else(short))
            .collect::<Result<_, _>>()?
    };
    let scale_q = r.get(16).ok_or_else(short)? as u16 as i16;
    let var =
        Variances { base_q, base_idx, alpha_q, alpha_idx, beta_q, beta_idx, gamma_q, gamma_idx, corr_idx, corr_bits };
    Ok(Side { means, var, scale: (f64::from(scale_q) / 256.0).exp2() })
}

/// Side information of `layout` (module docs of the hybrid encoder), the power scale `scale_q` last.
pub(super) fn write_side(layout: &Layout, means: [u8; 3], var: &Variances, scale_q: i16) -> Vec<u8> {
    let mut w = BitWriter::new();
    for m in means {
        w.put(u64::from(m), 8);
    }
    let v = var;
    let c = &layout.cfg;
    for (q, idx, bits) in [
        (&v.base_q, &v.base_idx, c.lambda_bits),
        (&v.alpha_q, &v.alpha_idx, c.alpha_bits),
        (&v.beta_q, &v.beta_idx, c.beta_bits),
        (&v.gamma_q, &v.gamma_idx, c.alpha_bits),
    ] {
        w.put(q.lo_q as u16 as u64, 16);
        w.put(q.hi_q as u16 as u64, 16);
        for &i in idx {
            w.put(u64::from(i), u32::from(bits));
        }
    }
    for &c in &v.corr_idx {
        w.put(u64::from(c), u32::from(v.corr_bits));
    }
    w.put(scale_q as u16 as u64, 16);
    debug_assert_eq!(w.len(), layout.side_bits());
    pack(&w.into_bits())
}
