//! A compact conditional UNet that predicts the noise ε of a noisy image, for
//! inpainting-style regeneration of the non-key regions (DESIGN.md §3, issue 6).
//!
//! Input channels (in this order, see [`assemble_input`]):
//!
//! | channels | content                                                            |
//! |----------|--------------------------------------------------------------------|
//! | 0..3     | the noisy image `x_t`                                              |
//! | 3..6     | the known (key) pixels, multiplied by the mask (0 where unknown)   |
//! | 6        | the mask: 1 = known key pixel, 0 = to be generated                 |
//! | 7..10    | the colour-layout base (low-frequency DCT reconstruction)          |
//!
//! All images are in `[-1, 1]`, layout `(B, C, H, W)`. Output: predicted ε, `(B, 3, H, W)`.
//!
//! Conditioning that is not spatial — the timestep and a vector such as the texture
//! statistics — enters every residual block through FiLM (per-channel scale and shift).
//!
//! Spatial sizes: `H` and `W` must be multiples of [`Config::size_multiple`]
//! (`2^(levels-1)`); other sizes are **rejected** with an error, not padded. Callers that
//! tile an image choose tile sizes that are multiples (or pad themselves).
//!
//! Weight names follow the module tree, e.g. `down.1.res.0.conv1.weight`,
//! `mid.attn.q.weight`, `up.0.upsample.conv.bias`.

use candle_core::{DType, Module, Result, Tensor, D};
use candle_nn::{conv2d, group_norm, linear, linear_no_bias, Conv2d, Conv2dConfig, GroupNorm, Linear, VarBuilder};
use serde::{Deserialize, Serialize};

/// Channels of the noisy image and of the predicted noise.
pub const IMAGE_CHANNELS: usize = 3;
/// Total input channels: noisy image (3) + masked known pixels (3) + mask (1) + colour layout (3).
pub const INPUT_CHANNELS: usize = 10;

/// Architecture of the UNet. Serialised next to the weights (e.g. as JSON) so a weight
/// file can be loaded with the architecture it was trained with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Input channels; [`INPUT_CHANNELS`] (10) for the inpainting layout above.
    pub in_channels: usize,
    /// Output channels (the predicted noise): 3.
    pub out_channels: usize,
    /// Channels of the first level.
    pub base_channels: usize,
    /// Channel multiplier per level (level `i` has `base_channels * channel_mults[i]`
    /// channels and resolution `H / 2^i`).
    pub channel_mults: Vec<usize>,
    /// Residual blocks per level on the way down (the way up has one more, as in DDPM).
    pub blocks_per_level: usize,
    /// Dimension of the conditioning vector fed through FiLM (texture statistics);
    /// 0 disables it.
    pub cond_dim: usize,
    /// Groups of every GroupNorm; must divide every level's channel count.
    pub groups: usize,
    /// Self-attention in the middle block (lowest resolution).
    pub attention: bool,
    /// Heads of that attention; must divide the lowest level's channel count.
    pub attention_heads: usize,
    /// Epsilon of the GroupNorms.
    pub norm_eps: f64,
}

impl Default for Config {
    /// The embedded default: 32 base channels, three levels (×1, ×2, ×4 → 32/64/128
    /// channels at full, ½ and ¼ resolution), one residual block per level, 8 groups,
    /// attention with 4 heads at ¼ resolution, and a 13-dimensional conditioning
    /// vector: the codec's texture statistics (3 scales × 4 orientations of gradient
    /// energy, plus the luma standard deviation).
    fn default() -> Self {
        Self {
            in_channels: INPUT_CHANNELS,
            out_channels: IMAGE_CHANNELS,
            base_channels: 32,
            channel_mults: vec![1, 2, 4],
            blocks_per_level: 1,
            cond_dim: 13,
            groups: 8,
            attention: true,
            attention_heads: 4,
            norm_eps: 1e-5,
        }
    }
}

impl Config {
    /// A tiny configuration for tests: 8 base channels, two levels, 4 groups, attention on.
    pub fn tiny() -> Self {
        Self {
            base_channels: 8,
            channel_mults: vec![1, 2],
            blocks_per_level: 1,
            cond_dim: 4,
            groups: 4,
            attention: true,
            attention_heads: 2,
            ..Self::default()
        }
    }

    /// Number of resolution levels.
    pub fn levels(&self) -> usize {
        self.channel_mults.len()
    }

    /// Height and width must be multiples of this (`2^(levels-1)`).
    pub fn size_multiple(&self) -> usize {
        1 << self.levels().saturating_sub(1)
    }

    /// Dimension of the timestep (+ condition) embedding: `4 * base_channels`.
    pub fn time_embed_dim(&self) -> usize {
        4 * self.base_channels
    }

    /// Checks the configuration's internal consistency.
    pub fn validate(&self) -> Result<()> {
        if self.in_channels == 0 || self.out_channels == 0 || self.base_channels == 0 {
            candle_core::bail!("unet config: channel counts must be positive");
        }
        if self.channel_mults.is_empty() || self.channel_mults.contains(&0) {
            candle_core::bail!("unet config: channel_mults must be non-empty and positive");
        }
        if self.blocks_per_level == 0 {
            candle_core::bail!("unet config: blocks_per_level must be at least 1");
        }
        if !self.base_channels.is_multiple_of(2) {
            candle_core::bail!("unet config: base_channels must be even (sinusoidal embedding)");
        }
        if self.groups == 0 {
            candle_core::bail!("unet config: groups must be positive");
        }
        for &m in &self.channel_mults {
            let c = self.base_channels * m;
            if !c.is_multiple_of(self.groups) {
                candle_core::bail!("unet config: groups {} do not divide {c} channels", self.groups);
            }
        }
        if self.attention {
            let c = self.base_channels * self.channel_mults[self.levels() - 1];
            if self.attention_heads == 0 || !c.is_multiple_of(self.attention_heads) {
                candle_core::bail!("unet config: attention_heads {} do not divide {c} channels", self.attention_heads);
            }
        }
        Ok(())
    }
}

/// Concatenates the conditioning channels into the UNet's 10-channel input.
///
/// `x_t`, `known`, `layout`: `(B, 3, H, W)`; `mask`: `(B, 1, H, W)` with 1 = known.
/// `known` is multiplied by the mask here, so the caller may pass the full image.
pub fn assemble_input(x_t: &Tensor, known: &Tensor, mask: &Tensor, layout: &Tensor) -> Result<Tensor> {
    let known = known.broadcast_mul(mask)?;
    // (B, 10, H, W)
    Tensor::cat(&[x_t, &known, mask, layout], 1)
}

/// Sinusoidal embedding of (continuous) timesteps, as in "Attention is all you need" /
/// DDPM: `[cos(t·f_i), sin(t·f_i)]` with `f_i = 10000^(-i/half)`.
///
/// `t`: `(B,)` f32 → `(B, dim)`.
pub fn timestep_embedding(t: &Tensor, dim: usize) -> Result<Tensor> {
    let half = dim / 2;
    let freqs: Vec<f32> = (0..half).map(|i| (-(10000f64.ln()) * i as f64 / half as f64).exp() as f32).collect();
    let freqs = Tensor::from_vec(freqs, (1, half), t.device())?;
    // (B, 1) * (1, half) → (B, half)
    let args = t.to_dtype(DType::F32)?.unsqueeze(1)?.broadcast_mul(&freqs)?;
    Tensor::cat(&[args.cos()?, args.sin()?], 1)
}

fn conv3x3(c_in: usize, c_out: usize, stride: usize, vb: VarBuilder) -> Result<Conv2d> {
    let cfg = Conv2dConfig { padding: 1, stride, ..Default::default() };
    conv2d(c_in, c_out, 3, cfg, vb)
}

/// Timestep (+ condition) embedding: sinusoid → Linear → SiLU → Linear, plus
/// Linear(cond) when a condition vector is configured; the sum goes through SiLU once
/// more so every block's FiLM projection sees a non-linear embedding.
#[derive(Debug, Clone)]
pub struct TimeCondEmbedding {
    lin1: Linear,
    lin2: Linear,
    cond: Option<Linear>,
    sin_dim: usize,
}

impl TimeCondEmbedding {
    pub fn new(cfg: &Config, vb: VarBuilder) -> Result<Self> {
        let sin_dim = cfg.base_channels;
        let emb = cfg.time_embed_dim();
        let lin1 = linear(sin_dim, emb, vb.pp("time_embed.lin1"))?;
        let lin2 = linear(emb, emb, vb.pp("time_embed.lin2"))?;
        let cond = if cfg.cond_dim > 0 { Some(linear(cfg.cond_dim, emb, vb.pp("cond_embed"))?) } else { None };
        Ok(Self { lin1, lin2, cond, sin_dim })
    }

    /// `t`: `(B,)`, `cond`: `(B, cond_dim)` → `(B, time_embed_dim)`.
    pub fn forward(&self, t: &Tensor, cond: Option<&Tensor>) -> Result<Tensor> {
        let e = timestep_embedding(t, self.sin_dim)?;
        let mut e = self.lin2.forward(&self.lin1.forward(&e)?.silu()?)?;
        match (&self.cond, cond) {
            (Some(lin), Some(c)) => e = (e + lin.forward(c)?)?,
            (Some(_), None) => candle_core::bail!("unet: a conditioning vector is required (cond_dim > 0)"),
            (None, Some(_)) => candle_core::bail!("unet: a conditioning vector was given but cond_dim = 0"),
            (None, None) => {}
        }
        e.silu()
    }
}

/// Residual block: GroupNorm → SiLU → Conv3x3 → GroupNorm → FiLM(emb) → SiLU → Conv3x3,
/// plus a 1×1 skip convolution when the channel count changes.
#[derive(Debug, Clone)]
pub struct ResBlock {
    norm1: GroupNorm,
    conv1: Conv2d,
    film: Linear,
    norm2: GroupNorm,
    conv2: Conv2d,
    skip: Option<Conv2d>,
    c_out: usize,
}

impl ResBlock {
    pub fn new(cfg: &Config, c_in: usize, c_out: usize, vb: VarBuilder) -> Result<Self> {
        let norm1 = group_norm(cfg.groups, c_in, cfg.norm_eps, vb.pp("norm1"))?;
        let conv1 = conv3x3(c_in, c_out, 1, vb.pp("conv1"))?;
        let film = linear(cfg.time_embed_dim(), 2 * c_out, vb.pp("film"))?;
        let norm2 = group_norm(cfg.groups, c_out, cfg.norm_eps, vb.pp("norm2"))?;
        let conv2 = conv3x3(c_out, c_out, 1, vb.pp("conv2"))?;
        let skip = if c_in != c_out { Some(conv2d(c_in, c_out, 1, Default::default(), vb.pp("skip"))?) } else { None };
        Ok(Self { norm1, conv1, film, norm2, conv2, skip, c_out })
    }

    /// `x`: `(B, c_in, H, W)`, `emb`: `(B, E)` → `(B, c_out, H, W)`.
    pub fn forward(&self, x: &Tensor, emb: &Tensor) -> Result<Tensor> {
        let h = self.conv1.forward(&self.norm1.forward(x)?.silu()?)?;
        // (B, 2·c_out) → scale, shift: (B, c_out, 1, 1)
        let ss = self.film.forward(emb)?.unsqueeze(2)?.unsqueeze(3)?;
        let scale = ss.narrow(1, 0, self.c_out)?;
        let shift = ss.narrow(1, self.c_out, self.c_out)?;
        let h = self.norm2.forward(&h)?;
        let h = h.broadcast_mul(&(scale + 1.0)?)?.broadcast_add(&shift)?;
        let h = self.conv2.forward(&h.silu()?)?;
        let skip = match &self.skip {
            Some(s) => s.forward(x)?,
            None => x.clone(),
        };
        skip + h
    }
}

/// Multi-head self-attention over the pixels of a (low-resolution) feature map, with a
/// residual connection. Uses `candle_nn::ops::softmax` (not `softmax_last_dim`, whose
/// backward pass is missing in candle 0.11).
#[derive(Debug, Clone)]
pub struct AttentionBlock {
    norm: GroupNorm,
    q: Linear,
    k: Linear,
    v: Linear,
    proj: Linear,
    heads: usize,
}

impl AttentionBlock {
    pub fn new(cfg: &Config, channels: usize, vb: VarBuilder) -> Result<Self> {
        let norm = group_norm(cfg.groups, channels, cfg.norm_eps, vb.pp("norm"))?;
        // Separate q/k/v projections (not one fused qkv tensor) so that the gradient
        // test sees a missing gradient through the softmax in q and k individually.
        let q = linear(channels, channels, vb.pp("q"))?;
        // No key bias: it would add the same logit to every key of a query, which the
        // softmax cancels, so it could never receive a gradient.
        let k = linear_no_bias(channels, channels, vb.pp("k"))?;
        let v = linear(channels, channels, vb.pp("v"))?;
        let proj = linear(channels, channels, vb.pp("proj"))?;
        Ok(Self { norm, q, k, v, proj, heads: cfg.attention_heads })
    }

    /// `x`: `(B, C, H, W)` → `(B, C, H, W)`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (b, c, h, w) = x.dims4()?;
        let (nh, hd) = (self.heads, c / self.heads);
        // (B, C, H, W) → (B, HW, C)
        let t = self.norm.forward(x)?.flatten_from(2)?.transpose(1, 2)?;
        // (B, HW, C) → (B, nh, HW, hd)
        let heads = |l: &Linear| -> Result<Tensor> {
            l.forward(&t)?.reshape((b, h * w, nh, hd))?.transpose(1, 2)?.contiguous()
        };
        let (q, k, v) = (heads(&self.q)?, heads(&self.k)?, heads(&self.v)?);
        // (B, nh, HW, HW)
        let att = (q.matmul(&k.t()?)? * (1.0 / (hd as f64).sqrt()))?;
        let att = candle_nn::ops::softmax(&att, D::Minus1)?;
        // (B, nh, HW, hd) → (B, HW, C)
        let o = att.matmul(&v)?.transpose(1, 2)?.reshape((b, h * w, c))?;
        let o = self.proj.forward(&o)?;
        // (B, HW, C) → (B, C, H, W)
        let o = o.transpose(1, 2)?.reshape((b, c, h, w))?;
        x + o
    }
}

/// Stride-2 3×3 convolution: `(B, C, H, W)` → `(B, C, H/2, W/2)`.
#[derive(Debug, Clone)]
pub struct Downsample {
    conv: Conv2d,
}

impl Downsample {
    pub fn new(channels: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self { conv: conv3x3(channels, channels, 2, vb.pp("conv"))? })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.conv.forward(x)
    }
}

/// Nearest-neighbour ×2 upsampling then a 3×3 convolution: `(B, C, H, W)` → `(B, C, 2H, 2W)`.
#[derive(Debug, Clone)]
pub struct Upsample {
    conv: Conv2d,
}

impl Upsample {
    pub fn new(channels: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self { conv: conv3x3(channels, channels, 1, vb.pp("conv"))? })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (_, _, h, w) = x.dims4()?;
        self.conv.forward(&x.upsample_nearest2d(2 * h, 2 * w)?)
    }
}

#[derive(Debug, Clone)]
struct DownLevel {
    res: Vec<ResBlock>,
    downsample: Option<Downsample>,
}

#[derive(Debug, Clone)]
struct UpLevel {
    res: Vec<ResBlock>,
    upsample: Option<Upsample>,
}

/// The conditional UNet (see the module documentation).
#[derive(Debug, Clone)]
pub struct UNet {
    cfg: Config,
    embed: TimeCondEmbedding,
    conv_in: Conv2d,
    down: Vec<DownLevel>,
    mid_res1: ResBlock,
    mid_attn: Option<AttentionBlock>,
    mid_res2: ResBlock,
    up: Vec<UpLevel>,
    norm_out: GroupNorm,
    conv_out: Conv2d,
}

impl UNet {
    /// Builds the UNet, fetching (or, with a `VarMap`-backed builder, creating) every
    /// weight by name through `vb`.
    pub fn new(cfg: &Config, vb: VarBuilder) -> Result<Self> {
        cfg.validate()?;
        let embed = TimeCondEmbedding::new(cfg, vb.clone())?;
        let base = cfg.base_channels;
        let conv_in = conv3x3(cfg.in_channels, base, 1, vb.pp("conv_in"))?;

        // Channel counts of the skip activations, in push order.
        let mut skip_ch = vec![base];
        let mut ch = base;
        let mut down = Vec::with_capacity(cfg.levels());
        for (i, &m) in cfg.channel_mults.iter().enumerate() {
            let vbl = vb.pp(format!("down.{i}"));
            let c_out = base * m;
            let mut res = Vec::with_capacity(cfg.blocks_per_level);
            for j in 0..cfg.blocks_per_level {
                res.push(ResBlock::new(cfg, ch, c_out, vbl.pp(format!("res.{j}")))?);
                ch = c_out;
                skip_ch.push(ch);
            }
            let downsample = if i + 1 < cfg.levels() {
                skip_ch.push(ch);
                Some(Downsample::new(ch, vbl.pp("downsample"))?)
            } else {
                None
            };
            down.push(DownLevel { res, downsample });
        }

        let mid_res1 = ResBlock::new(cfg, ch, ch, vb.pp("mid.res1"))?;
        let mid_attn = if cfg.attention { Some(AttentionBlock::new(cfg, ch, vb.pp("mid.attn"))?) } else { None };
        let mid_res2 = ResBlock::new(cfg, ch, ch, vb.pp("mid.res2"))?;

        // Up levels are stored deepest first (execution order) but named by level index.
        let mut up = Vec::with_capacity(cfg.levels());
        for (i, &m) in cfg.channel_mults.iter().enumerate().rev() {
            let vbl = vb.pp(format!("up.{i}"));
            let c_out = base * m;
            let mut res = Vec::with_capacity(cfg.blocks_per_level + 1);
            for j in 0..=cfg.blocks_per_level {
                let s = skip_ch.pop().expect("skip channel bookkeeping");
                res.push(ResBlock::new(cfg, ch + s, c_out, vbl.pp(format!("res.{j}")))?);
                ch = c_out;
            }
            let upsample = if i > 0 { Some(Upsample::new(ch, vbl.pp("upsample"))?) } else { None };
            up.push(UpLevel { res, upsample });
        }
        debug_assert!(skip_ch.is_empty());

        let norm_out = group_norm(cfg.groups, ch, cfg.norm_eps, vb.pp("norm_out"))?;
        let conv_out = conv3x3(ch, cfg.out_channels, 1, vb.pp("conv_out"))?;
        Ok(Self { cfg: cfg.clone(), embed, conv_in, down, mid_res1, mid_attn, mid_res2, up, norm_out, conv_out })
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Predicts the noise.
    ///
    /// `x`: `(B, in_channels, H, W)` (see [`assemble_input`]); `t`: `(B,)` timesteps
    /// (any float dtype, in training-timestep units); `cond`: `(B, cond_dim)` or `None`
    /// when `cond_dim == 0`. Returns `(B, out_channels, H, W)`.
    ///
    /// Errors when `H` or `W` is not a multiple of [`Config::size_multiple`].
    pub fn forward(&self, x: &Tensor, t: &Tensor, cond: Option<&Tensor>) -> Result<Tensor> {
        let (b, c, h, w) = x.dims4()?;
        let m = self.cfg.size_multiple();
        if c != self.cfg.in_channels {
            candle_core::bail!("unet: expected {} input channels, got {c}", self.cfg.in_channels);
        }
        if h == 0 || w == 0 || h % m != 0 || w % m != 0 {
            candle_core::bail!("unet: spatial size {h}x{w} is not a positive multiple of {m}");
        }
        if t.dims1()? != b {
            candle_core::bail!("unet: {b} images but {} timesteps", t.dims1()?);
        }
        if let Some(c) = cond {
            let (cb, cd) = c.dims2()?;
            if cb != b || cd != self.cfg.cond_dim {
                candle_core::bail!("unet: condition of shape ({cb}, {cd}), expected ({b}, {})", self.cfg.cond_dim);
            }
        }
        // (B, E)
        let emb = self.embed.forward(t, cond)?;

        let mut h = self.conv_in.forward(x)?;
        let mut skips = vec![h.clone()];
        for level in &self.down {
            for r in &level.res {
                h = r.forward(&h, &emb)?;
                skips.push(h.clone());
            }
            if let Some(d) = &level.downsample {
                h = d.forward(&h)?;
                skips.push(h.clone());
            }
        }

        h = self.mid_res1.forward(&h, &emb)?;
        if let Some(a) = &self.mid_attn {
            h = a.forward(&h)?;
        }
        h = self.mid_res2.forward(&h, &emb)?;

        for level in &self.up {
            for r in &level.res {
                let s = skips.pop().expect("skip bookkeeping");
                h = r.forward(&Tensor::cat(&[&h, &s], 1)?, &emb)?;
            }
            if let Some(u) = &level.upsample {
                h = u.forward(&h)?;
            }
        }
        // (B, base, H, W) → (B, out, H, W)
        self.conv_out.forward(&self.norm_out.forward(&h)?.silu()?)
    }
}
