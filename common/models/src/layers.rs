//! The model's weight-bearing layers and where their weights come from.
//!
//! Every convolution and linear layer is built through [`Weights`], which hides three
//! things from the model code:
//! * the weights themselves (a `VarBuilder`: trainable `VarMap`, safetensors f32/f16, or
//!   the dequantized tensors of an int8 file);
//! * **Q8_0** weights for linear layers: when the source holds a quantized tensor for a
//!   linear layer, it runs through candle's `QMatMul`;
//! * **LoRA** adapters (Hu et al. 2021): with an adapter source, each layer adds
//!   `(α/r)·B·A·x` to `W·x`. `A` is `(r, fan_in)` (for a convolution a `(r, c_in, k, k)`
//!   kernel with the layer's stride and padding), `B` is `(c_out, r)` (a 1×1 kernel), so
//!   the adapter of a convolution is itself a convolution and merges into `W` exactly
//!   ([`crate::lora::merge`]). A trainable adapter starts with `B = 0`: the adapted model
//!   is then the base model.

use std::collections::HashMap;
use std::sync::Arc;

use candle_core::quantized::{QMatMul, QTensor};
use candle_core::{Module, Result, Tensor};
use candle_nn::init::{Init, DEFAULT_KAIMING_NORMAL};
use candle_nn::{Conv2dConfig, GroupNorm, VarBuilder};
use serde::{Deserialize, Serialize};

/// Rank and scale of LoRA adapters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LoraConfig {
    /// Rank `r` of every adapter.
    pub rank: usize,
    /// `α`: the update is scaled by `α / r`.
    pub alpha: f64,
}

impl Default for LoraConfig {
    /// Rank 4, α = 4 (scale 1).
    fn default() -> Self {
        Self { rank: 4, alpha: 4.0 }
    }
}

impl LoraConfig {
    pub fn scale(&self) -> f64 {
        self.alpha / self.rank as f64
    }

    pub fn validate(&self) -> Result<()> {
        if self.rank == 0 || !(self.alpha.is_finite() && self.alpha > 0.0) {
            candle_core::bail!("lora: rank must be ≥ 1 and alpha positive");
        }
        Ok(())
    }
}

/// Where layers get their weights: base weights, optional Q8_0 linear weights, optional
/// LoRA adapters. Cloning is cheap; [`Weights::pp`] descends one name level in all of them.
#[derive(Clone)]
pub struct Weights<'a> {
    vb: VarBuilder<'a>,
    lora: Option<(VarBuilder<'a>, LoraConfig)>,
    q8: Option<Arc<HashMap<String, Arc<QTensor>>>>,
}

impl<'a> Weights<'a> {
    pub fn new(vb: VarBuilder<'a>) -> Self {
        Self { vb, lora: None, q8: None }
    }

    /// Adds LoRA adapters read (or, from a `VarMap` builder, created) through `vb`.
    pub fn with_lora(mut self, vb: VarBuilder<'a>, cfg: LoraConfig) -> Result<Self> {
        cfg.validate()?;
        self.lora = Some((vb, cfg));
        Ok(self)
    }

    /// Quantized linear weights by full name (`"time_embed.lin1.weight"`).
    pub fn with_q8(mut self, q8: Arc<HashMap<String, Arc<QTensor>>>) -> Self {
        self.q8 = Some(q8);
        self
    }

    pub fn pp(&self, s: impl ToString) -> Self {
        let s = s.to_string();
        Self { vb: self.vb.pp(&s), lora: self.lora.as_ref().map(|(vb, c)| (vb.pp(&s), *c)), q8: self.q8.clone() }
    }

    pub fn vb(&self) -> &VarBuilder<'a> {
        &self.vb
    }

    fn lora_pair(&self, a_shape: &[usize], b_shape: &[usize], fan_in: usize) -> Result<Option<Lora>> {
        let Some((vb, cfg)) = &self.lora else {
            return Ok(None);
        };
        let a = vb.get_with_hints(a_shape, "lora_a", Init::Randn { mean: 0.0, stdev: 1.0 / (fan_in as f64).sqrt() })?;
        let b = vb.get_with_hints(b_shape, "lora_b", Init::Const(0.0))?;
        Ok(Some(Lora { a, b, scale: cfg.scale() }))
    }

    /// A convolution with bias, `k×k` kernel, the given stride and padding `k/2`.
    pub fn conv(&self, c_in: usize, c_out: usize, k: usize, stride: usize) -> Result<Conv> {
        let weight = self.vb.get_with_hints((c_out, c_in, k, k), "weight", DEFAULT_KAIMING_NORMAL)?;
        let bound = 1.0 / ((c_in * k * k) as f64).sqrt();
        let bias = self.vb.get_with_hints(c_out, "bias", Init::Uniform { lo: -bound, up: bound })?;
        let cfg = Conv2dConfig { padding: k / 2, stride, ..Default::default() };
        let r = self.lora.as_ref().map_or(0, |(_, c)| c.rank);
        let lora = self.lora_pair(&[r, c_in, k, k], &[c_out, r, 1, 1], c_in * k * k)?;
        Ok(Conv { weight, bias, cfg, lora })
    }

    /// A linear layer with bias.
    pub fn linear(&self, d_in: usize, d_out: usize) -> Result<Lin> {
        let name = format!("{}weight", prefix_dot(&self.vb));
        let weight = match self.q8.as_ref().and_then(|m| m.get(&name)) {
            Some(q) => {
                if q.shape().dims() != [d_out, d_in] {
                    candle_core::bail!("{name}: quantized shape {:?}, expected [{d_out}, {d_in}]", q.shape().dims());
                }
                LinWeight::Q8(QMatMul::from_arc(q.clone())?)
            }
            None => LinWeight::F32(self.vb.get_with_hints((d_out, d_in), "weight", DEFAULT_KAIMING_NORMAL)?),
        };
        let bound = 1.0 / (d_in as f64).sqrt();
        let bias = self.vb.get_with_hints(d_out, "bias", Init::Uniform { lo: -bound, up: bound })?;
        let r = self.lora.as_ref().map_or(0, |(_, c)| c.rank);
        let lora = self.lora_pair(&[r, d_in], &[d_out, r], d_in)?;
        Ok(Lin { weight, bias, lora })
    }

    pub fn group_norm(&self, groups: usize, channels: usize, eps: f64) -> Result<GroupNorm> {
        candle_nn::group_norm(groups, channels, eps, self.vb.clone())
    }
}

fn prefix_dot(vb: &VarBuilder) -> String {
    let p = vb.prefix();
    if p.is_empty() {
        p
    } else {
        format!("{p}.")
    }
}

#[derive(Debug, Clone)]
struct Lora {
    a: Tensor,
    b: Tensor,
    scale: f64,
}

/// 2-D convolution with bias and an optional LoRA adapter.
#[derive(Debug, Clone)]
pub struct Conv {
    weight: Tensor,
    bias: Tensor,
    cfg: Conv2dConfig,
    lora: Option<Lora>,
}

impl Conv {
    /// `(B, c_in, H, W)` → `(B, c_out, H', W')`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let c = &self.cfg;
        let y = x.conv2d(&self.weight, c.padding, c.stride, c.dilation, c.groups)?;
        let mut y = y.broadcast_add(&self.bias.reshape((1, (), 1, 1))?)?;
        if let Some(l) = &self.lora {
            // (B, r, H', W') → (B, c_out, H', W')
            let down = x.conv2d(&l.a, c.padding, c.stride, c.dilation, 1)?;
            let up = down.conv2d(&l.b, 0, 1, 1, 1)?;
            y = (y + (up * l.scale)?)?;
        }
        Ok(y)
    }
}

#[derive(Debug, Clone)]
enum LinWeight {
    F32(Tensor),
    Q8(QMatMul),
}

/// Linear layer `y = x·Wᵀ + b` (f32 or Q8_0 weight) with an optional LoRA adapter.
#[derive(Debug, Clone)]
pub struct Lin {
    weight: LinWeight,
    bias: Tensor,
    lora: Option<Lora>,
}

impl Lin {
    /// `(B, d_in)` → `(B, d_out)`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = match &self.weight {
            LinWeight::F32(w) => x.matmul(&w.t()?)?,
            LinWeight::Q8(q) => q.forward(x)?,
        };
        let mut y = y.broadcast_add(&self.bias)?;
        if let Some(l) = &self.lora {
            let up = x.matmul(&l.a.t()?)?.matmul(&l.b.t()?)?;
            y = (y + (up * l.scale)?)?;
        }
        Ok(y)
    }

    /// True when the weight runs through `QMatMul`.
    pub fn is_quantized(&self) -> bool {
        matches!(self.weight, LinWeight::Q8(_))
    }
}
