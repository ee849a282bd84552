//! Encoding and decoding: analysis of the image into base and residual coefficients,
//! chunk selection, the analog mapping and its LLSE inverse.

use std::collections::HashMap;

use super::layout::{Coef, Layout};
use super::side::{correction_index, fit_separable, read_side, write_side, SeparableFit, Side, Variances};
use super::{HybridDct, HYBRID_ID};
use crate::analog::{gain, to_symbols, AnalogRx, LambdaQuant};
use crate::color::Planes;
use crate::dct::Dct2d;
use crate::key::{KeyDecoded, KeyEncoder, KeyError, KeySymbols, Prepared};
use crate::segment::BlockMask;

/// Smallest variance used in log2 λ (an all-zero chunk must still have a finite log).
const LAMBDA_FLOOR: f64 = 1e-6;

/// Planned DCTs per block size (interior blocks share one; edge blocks are clipped).
#[derive(Default)]
struct BlockDcts(HashMap<(usize, usize), Dct2d>);

impl BlockDcts {
    fn get(&mut self, h: usize, w: usize) -> Result<&Dct2d, crate::dct::DctError> {
        match self.0.entry((h, w)) {
            std::collections::hash_map::Entry::Occupied(e) => Ok(e.into_mut()),
            std::collections::hash_map::Entry::Vacant(e) => Ok(e.insert(Dct2d::new(h, w)?)),
        }
    }
}

/// Selection both ends make: `(chunk, coefficients sent)` in transmission order,
/// decreasing λ̂ (ties: lower index), the last one possibly partial, `dims` in all.
fn select(layout: &Layout, lambda_hat: &[f64], dims: usize) -> Vec<(usize, usize)> {
    let mut order: Vec<usize> = (0..layout.chunks.len()).collect();
    order.sort_by(|&a, &b| lambda_hat[b].total_cmp(&lambda_hat[a]).then(a.cmp(&b)));
    let mut left = dims;
    let mut out = Vec::new();
    for i in order {
        if left == 0 {
            break;
        }
        let k = layout.chunks[i].len.min(left);
        out.push((i, k));
        left -= k;
    }
    out
}

/// Q8.8 log2 of the power scale.
fn quantise_scale(scale: f64) -> i16 {
    if scale > 0.0 && scale.is_finite() {
        (scale.log2() * 256.0).round().clamp(i16::MIN as f64, i16::MAX as f64) as i16
    } else {
        0
    }
}

struct HybridPrepared {
    layout: Layout,
    means: [u8; 3],
    var: Variances,
    lambda_hat: Vec<f64>,
    /// Full-frame DCT coefficients of each channel (base layer reads its corner).
    frame: [Vec<f32>; 3],
    /// Residual block coefficients per channel: `blocks[k]` is `h × w`.
    residual: [Vec<Vec<f32>>; 3],
}

impl HybridPrepared {
    fn coefficient(&self, channel: usize, c: Coef) -> f32 {
        match c {
            Coef::Frame(i) => self.frame[channel][i],
            Coef::Block(k, i) => self.residual[channel][k][i],
        }
    }
}

impl Prepared for HybridPrepared {
    fn side_len(&self) -> usize {
        self.layout.side_bits().div_ceil(8)
    }

    fn modulate(&self, capacity: usize) -> KeySymbols {
        let dims = (2 * capacity).min(self.layout.total_coefficients());
        let sel = select(&self.layout, &self.lambda_hat, dims);
        // Power scale from the true energy of what is sent: Σ g²·x² = dims/2.
        let mut weighted = 0.0f64;
        for &(i, k) in &sel {
            let chunk = &self.layout.chunks[i];
            let mut e = 0.0f64;
            let mut n = 0;
            self.layout.for_each_coefficient(chunk, |c| {
                if n < k {
                    e += f64::from(self.coefficient(chunk.channel, c)).powi(2);
                    n += 1;
                }
            });
            weighted += e / self.lambda_hat[i].sqrt();
        }
        let scale_q = if weighted > 0.0 { quantise_scale((dims as f64 / 2.0 / weighted).sqrt()) } else { 0 };
        let scale = (f64::from(scale_q) / 256.0).exp2();
        let mut reals: Vec<f32> = Vec::with_capacity(dims + 1);
        for &(i, k) in &sel {
            let chunk = &self.layout.chunks[i];
            let g = gain(scale, self.lambda_hat[i]);
            let mut n = 0;
            self.layout.for_each_coefficient(chunk, |c| {
                if n < k {
                    reals.push((f64::from(self.coefficient(chunk.channel, c)) * g) as f32);
                    n += 1;
                }
            });
        }
        let chunks_sent = sel.iter().filter(|&&(i, k)| k == self.layout.chunks[i].len).count();
        KeySymbols {
            symbols: to_symbols(reals),
            side: write_side(&self.layout, self.means, &self.var, scale_q),
            coefficients: dims,
            chunks_sent,
            chunks_total: self.layout.chunks.len(),
        }
    }
}

impl KeyEncoder for HybridDct {
    fn id(&self) -> u8 {
        HYBRID_ID
    }

    fn name(&self) -> &str {
        "hybrid-dct"
    }

    fn prepare(&self, planes: &Planes, key: &BlockMask) -> Result<Box<dyn Prepared>, KeyError> {
        let (w, h) = (planes.width as usize, planes.height as usize);
        if [&planes.y, &planes.cb, &planes.cr].iter().any(|p| p.len() != w * h) {
            return Err(KeyError::Input(format!("planes do not match {w}x{h}")));
        }
        let layout = Layout::new(w, h, key, &self.cfg)?;
        let dct = Dct2d::new(h, w)?;
        let mut means = [0u8; 3];
        let mut frame: [Vec<f32>; 3] = Default::default();
        let mut residual: [Vec<Vec<f32>>; 3] = Default::default();
        let mut block_dcts = BlockDcts::default();
        for (c, plane) in planes.channels().into_iter().enumerate() {
            let mean = plane.iter().map(|&v| f64::from(v)).sum::<f64>() / plane.len() as f64;
            means[c] = mean.round().clamp(0.0, 255.0) as u8;
            let m = f32::from(means[c]);
            let centred: Vec<f32> = plane.iter().map(|&v| v - m).collect();
            let mut coeffs = centred.clone();
            dct.forward(&mut coeffs)?;
            // Low-pass image = IDCT of the base corner; the residual is what it misses.
            let mut low = vec![0.0f32; w * h];
            for r in 0..layout.hl {
                low[r * w..r * w + layout.wl].copy_from_slice(&coeffs[r * w..r * w + layout.wl]);
            }
            dct.inverse(&mut low)?;
            let mut blocks = Vec::with_capacity(layout.blocks.len());
            for blk in &layout.blocks {
                let mut v = Vec::with_capacity(blk.w * blk.h);
                for y in blk.y0..blk.y0 + blk.h {
                    for x in blk.x0..blk.x0 + blk.w {
                        v.push(centred[y * w + x] - low[y * w + x]);
                    }
                }
                let d = block_dcts.get(blk.h, blk.w)?;
                d.forward(&mut v)?;
                blocks.push(v);
            }
            frame[c] = coeffs;
            residual[c] = blocks;
        }
        let mut prepared = HybridPrepared {
            layout,
            means,
            var: Variances {
                base_q: LambdaQuant { bits: self.cfg.lambda_bits, lo_q: 0, hi_q: 0 },
                base_idx: Vec::new(),
                alpha_q: LambdaQuant { bits: self.cfg.alpha_bits, lo_q: 0, hi_q: 0 },
                alpha_idx: Vec::new(),
                beta_q: LambdaQuant { bits: self.cfg.beta_bits, lo_q: 0, hi_q: 0 },
                beta_idx: Vec::new(),
                gamma_q: LambdaQuant { bits: self.cfg.alpha_bits, lo_q: 0, hi_q: 0 },
                gamma_idx: Vec::new(),
                corr_idx: Vec::new(),
                corr_bits: self.cfg.correction_bits,
            },
            lambda_hat: Vec::new(),
            frame,
            residual,
        };
        // True chunk variances → quantised model.
        let layout = &prepared.layout;
        let lambda: Vec<f64> = layout
            .chunks
            .iter()
            .map(|chunk| {
                let mut e = 0.0f64;
                layout.for_each_coefficient(chunk, |c| e += f64::from(prepared.coefficient(chunk.channel, c)).powi(2));
                (e / chunk.len as f64).max(LAMBDA_FLOOR)
            })
            .collect();
        let base: Vec<f64> = lambda[..layout.base_chunks].to_vec();
        let base_q = LambdaQuant::covering(self.cfg.lambda_bits, base.iter().copied());
        let log_lambda: Vec<f64> = lambda.iter().map(|l| l.log2()).collect();
        let SeparableFit { alpha, beta, gamma } = fit_separable(layout, &log_lambda);
        let gamma_q = LambdaQuant::covering(self.cfg.alpha_bits, gamma.iter().map(|g| g.exp2()));
        let alpha_q = LambdaQuant::covering(self.cfg.alpha_bits, alpha.iter().map(|a| a.exp2()));
        let beta_q = LambdaQuant::covering(self.cfg.beta_bits, beta.iter().map(|b| b.exp2()));
        let mut var = Variances {
            base_idx: base.iter().map(|&l| base_q.index(l)).collect(),
            alpha_idx: alpha.iter().map(|a| alpha_q.index(a.exp2())).collect(),
            beta_idx: beta.iter().map(|b| beta_q.index(b.exp2())).collect(),
            gamma_idx: gamma.iter().map(|g| gamma_q.index(g.exp2())).collect(),
            gamma_q,
            base_q,
            alpha_q,
            beta_q,
            corr_idx: Vec::new(),
            corr_bits: self.cfg.correction_bits,
        };
        if self.cfg.correction_bits > 0 {
            let model = var.model(layout);
            var.corr_idx = (layout.base_chunks..layout.chunks.len())
                .map(|i| correction_index(self.cfg.correction_bits, log_lambda[i] - model[i].log2()))
                .collect();
        }
        prepared.lambda_hat = var.lambda_hat(layout);
        prepared.var = var;
        Ok(Box::new(prepared))
    }

    fn decode(
        &self,
        side: &[u8],
        key: &BlockMask,
        width: u32,
        height: u32,
        analog_symbols: usize,
        rx: AnalogRx<'_>,
    ) -> Result<KeyDecoded, KeyError> {
        let (w, h) = (width as usize, height as usize);
        let layout = Layout::new(w, h, key, &self.cfg)?;
        let Side { means, var, scale } = read_side(&layout, side)?;
        let lambda_hat = var.lambda_hat(&layout);
        let dims = (2 * analog_symbols).min(layout.total_coefficients());
        let sel = select(&layout, &lambda_hat, dims);
        let mut frame: [Vec<f32>; 3] = [vec![0.0; w * h], vec![0.0; w * h], vec![0.0; w * h]];
        let mut residual: [Vec<Vec<f32>>; 3] = Default::default();
        for r in &mut residual {
            *r = layout.blocks.iter().map(|b| vec![0.0; b.w * b.h]).collect();
        }
        let mut t = 0usize; // real-dimension index
        let mut erased = 0usize;
        for &(i, k) in &sel {
            let chunk = &layout.chunks[i];
            let lam = lambda_hat[i];
            let g = gain(scale, lam);
            let mut n = 0;
            layout.for_each_coefficient(chunk, |c| {
                if n >= k {
                    return;
                }
                n += 1;
                let estimate = rx.estimate(t, g, lam);
                if t.is_multiple_of(2) && estimate.is_none() {
                    erased += 1;
                }
                if let Some(x) = estimate {
                    let x = x as f32;
                    match c {
                        Coef::Frame(j) => frame[chunk.channel][j] = x,
                        Coef::Block(b, j) => residual[chunk.channel][b][j] = x,
                    }
                }
                t += 1;
            });
        }
        let dct = Dct2d::new(h, w)?;
        let mut block_dcts = BlockDcts::default();
        let mut out: [Vec<f32>; 3] = Default::default();
        for c in 0..3 {
            let mut plane = std::mem::take(&mut frame[c]);
            dct.inverse(&mut plane)?;
            for (blk, coeffs) in layout.blocks.iter().zip(residual[c].iter_mut()) {
                let d = block_dcts.get(blk.h, blk.w)?;
                d.inverse(coeffs)?;
                for y in 0..blk.h {
                    for x in 0..blk.w {
                        plane[(blk.y0 + y) * w + blk.x0 + x] += coeffs[y * blk.w + x];
                    }
                }
            }
            let m = f32::from(means[c]);
            plane.iter_mut().for_each(|v| *v += m);
            out[c] = plane;
        }
        let [y, cb, cr] = out;
        Ok(KeyDecoded { planes: Planes { width, height, y, cb, cr }, erased_symbols: erased })
    }
}
