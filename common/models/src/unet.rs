//! A compact conditional UNet that works on **8×8 pixel patches** (space-to-depth) and
//! predicts the DDIM "velocity" `v` of the non-key regions' detail (issue 6).
//!
//! What it denoises: the residual `r = s·(x − a)` between the image `x` and the receiver's
//! analog estimate `a` (both in `[-1, 1]`), scaled by [`Config::residual_scale`] to about
//! unit variance. Outside the key blocks `a` is the hybrid encoder's low-pass base layer,
//! so `r` is the missing detail the generator must invent; in key blocks `a` is already
//! the key pixels.
//!
//! Why patches: a 512×512 image is 64×64 positions of 8×8×3 = 192 values, so every 3×3
//! convolution costs 64× fewer positions than in pixel space, which is what makes ≤ 10
//! steps over a 512×512 image fit in about a second on two CPU cores (the model card has
//! the measurements). Texture inside a patch comes out of the 1×1 output projection.
//!
//! Inputs at patch resolution `(h, w) = (H/8, W/8)`:
//!
//! | tensor    | shape                 | content                                         |
//! |-----------|-----------------------|-------------------------------------------------|
//! | `r_t`     | `(B, 3·p², h, w)`     | the noisy residual at timestep `t`              |
//! | `analog`  | `(B, 3·p², h, w)`     | the analog estimate `a`                         |
//! | `mask`    | `(B, 1, h, w)`        | 1 = key patch (known), 0 = to generate          |
//! | `texture` | `(B, F, h, w)`        | the prompt's texture features per patch         |
//! | `t`       | `(B,)`                | timesteps (training-timestep units)             |
//!
//! The timestep enters every residual block through FiLM (per-channel scale and shift
//! from its embedding); the texture features through a **spatial** scale and shift (a
//! 1×1 convolution of the feature map at the block's resolution), because one image
//! holds several segments with different statistics.
//!
//! Weight names follow the module tree, e.g. `down.1.res.0.conv1.weight`,
//! `up.0.upsample.conv.bias`.

use candle_core::{DType, Result, Tensor, D};
use candle_nn::GroupNorm;
use serde::{Deserialize, Serialize};

use crate::layers::{Conv, Lin, Weights};

/// Channels of an RGB image.
pub const IMAGE_CHANNELS: usize = 3;

/// Architecture of the UNet. Serialised next to the weights (JSON) so a weight file is
/// always loaded with the architecture it was trained with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Side of the square pixel patches folded into channels (space-to-depth).
    pub patch: usize,
    /// Channels of the first level.
    pub base_channels: usize,
    /// Channel multiplier per level (level `i` has `base_channels · channel_mults[i]`
    /// channels at `1/2^i` of the patch resolution).
    pub channel_mults: Vec<usize>,
    /// Residual blocks per level on the way down (the way up has one more, as in DDPM).
    pub blocks_per_level: usize,
    /// Texture features per patch (scale-shift conditioning); 0 disables it.
    pub texture_features: usize,
    /// Groups of every GroupNorm; must divide every level's channel count.
    pub groups: usize,
    /// Self-attention in the middle block (lowest resolution). Off by default: the
    /// model is trained on crops and run on whole images, and global attention would
    /// see a different context at run time.
    pub attention: bool,
    /// Heads of that attention; must divide the lowest level's channel count.
    pub attention_heads: usize,
    pub norm_eps: f64,
    /// `s` in `r = s·(x − a)`: brings the residual to about unit variance (set by the
    /// training command from the corpus).
    pub residual_scale: f64,
    /// Patch-spectrum gate: `v̂ += Dᵀ(g ⊙ D·r_t)`, with `D` the orthonormal 2-D DCT of
    /// every p×p patch of every colour channel and `g` a 1×1 convolution of the last
    /// features (see [`UNet::forward`]). Missing in files written before it: `false`.
    #[serde(default)]
    pub spectral_gate: bool,
}

impl Default for Config {
    /// The embedded default: 8×8 patches, 64 → 128 channels over two levels, one block
    /// per level, 16 texture features (`semcom_codec::prompt::TEXTURE_FEATURES`), no
    /// attention.
    fn default() -> Self {
        Self {
            patch: 8,
            base_channels: 64,
            channel_mults: vec![1, 2],
            blocks_per_level: 1,
            texture_features: 16,
            groups: 8,
            attention: false,
            attention_heads: 4,
            norm_eps: 1e-5,
            residual_scale: 6.0,
            spectral_gate: true,
        }
    }
}

impl Config {
    /// A tiny configuration for tests: 4×4 patches, 8 → 16 channels, attention on.
    pub fn tiny() -> Self {
        Self {
            patch: 4,
            base_channels: 8,
            channel_mults: vec![1, 2],
            blocks_per_level: 1,
            texture_features: 3,
            groups: 4,
            attention: true,
            attention_heads: 2,
            ..Self::default()
        }
    }

    pub fn levels(&self) -> usize {
        self.channel_mults.len()
    }

    /// Channels of `r_t`, `analog` and of the output: `3·p²`.
    pub fn patch_channels(&self) -> usize {
        IMAGE_CHANNELS * self.patch * self.patch
    }

    /// Image height and width must be multiples of this: `patch · 2^(levels−1)`.
    pub fn size_multiple(&self) -> usize {
        self.patch << self.levels().saturating_sub(1)
    }

    /// Dimension of the timestep embedding: `4 · base_channels`.
    pub fn time_embed_dim(&self) -> usize {
        4 * self.base_channels
    }

    pub fn validate(&self) -> Result<()> {
        if self.patch == 0 || self.base_channels == 0 {
            candle_core::bail!("unet config: patch and base_channels must be positive");
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
        if !(self.residual_scale.is_finite() && self.residual_scale > 0.0) {
            candle_core::bail!("unet config: residual_scale must be positive");
        }
        Ok(())
    }
}

/// Space-to-depth: `(B, C, H, W)` → `(B, C·p², H/p, W/p)`; channel `c·p² + dy·p + dx`
/// holds pixel `(p·i + dy, p·j + dx)` of channel `c`.
pub fn space_to_depth(x: &Tensor, p: usize) -> Result<Tensor> {
    let (b, c, h, w) = x.dims4()?;
    if h % p != 0 || w % p != 0 {
        candle_core::bail!("space_to_depth: {h}x{w} is not a multiple of {p}");
    }
    x.reshape((b, c, h / p, p, w / p, p))?.permute((0, 1, 3, 5, 2, 4))?.reshape((b, c * p * p, h / p, w / p))
}

/// Inverse of [`space_to_depth`].
pub fn depth_to_space(x: &Tensor, p: usize) -> Result<Tensor> {
    let (b, cp, h, w) = x.dims4()?;
    if cp % (p * p) != 0 {
        candle_core::bail!("depth_to_space: {cp} channels are not a multiple of {}", p * p);
    }
    let c = cp / (p * p);
    x.reshape((b, c, p, p, h, w))?.permute((0, 1, 4, 2, 5, 3))?.reshape((b, c, h * p, w * p))
}

/// Sinusoidal embedding of (continuous) timesteps: `[cos(t·f_i), sin(t·f_i)]` with
/// `f_i = 10000^(-i/half)`. `t`: `(B,)` → `(B, dim)`.
pub fn timestep_embedding(t: &Tensor, dim: usize) -> Result<Tensor> {
    let half = dim / 2;
    let freqs: Vec<f32> = (0..half).map(|i| (-(10000f64.ln()) * i as f64 / half as f64).exp() as f32).collect();
    let freqs = Tensor::from_vec(freqs, (1, half), t.device())?;
    // (B, 1) * (1, half) → (B, half)
    let args = t.to_dtype(DType::F32)?.unsqueeze(1)?.broadcast_mul(&freqs)?;
    Tensor::cat(&[args.cos()?, args.sin()?], 1)
}

/// Timestep embedding: sinusoid → Linear → SiLU → Linear → SiLU.
#[derive(Debug, Clone)]
pub struct TimeEmbedding {
    lin1: Lin,
    lin2: Lin,
    sin_dim: usize,
}

impl TimeEmbedding {
    pub fn new(cfg: &Config, w: &Weights) -> Result<Self> {
        let emb = cfg.time_embed_dim();
        Ok(Self {
            lin1: w.pp("time_embed.lin1").linear(cfg.base_channels, emb)?,
            lin2: w.pp("time_embed.lin2").linear(emb, emb)?,
            sin_dim: cfg.base_channels,
        })
    }

    /// `t`: `(B,)` → `(B, time_embed_dim)`.
    pub fn forward(&self, t: &Tensor) -> Result<Tensor> {
        let e = timestep_embedding(t, self.sin_dim)?;
        self.lin2.forward(&self.lin1.forward(&e)?.silu()?)?.silu()
    }
}

/// Residual block: GroupNorm → SiLU → Conv3x3 → GroupNorm → FiLM(t) → scale-shift(texture)
/// → SiLU → Conv3x3, plus a 1×1 skip convolution when the channel count changes.
#[derive(Debug, Clone)]
pub struct ResBlock {
    norm1: GroupNorm,
    conv1: Conv,
    film: Lin,
    texture: Option<Conv>,
    norm2: GroupNorm,
    conv2: Conv,
    skip: Option<Conv>,
    c_out: usize,
}

impl ResBlock {
    pub fn new(cfg: &Config, c_in: usize, c_out: usize, w: &Weights) -> Result<Self> {
        Ok(Self {
            norm1: w.pp("norm1").group_norm(cfg.groups, c_in, cfg.norm_eps)?,
            conv1: w.pp("conv1").conv(c_in, c_out, 3, 1)?,
            film: w.pp("film").linear(cfg.time_embed_dim(), 2 * c_out)?,
            texture: if cfg.texture_features > 0 {
                Some(w.pp("texture").conv(cfg.texture_features, 2 * c_out, 1, 1)?)
            } else {
                None
            },
            norm2: w.pp("norm2").group_norm(cfg.groups, c_out, cfg.norm_eps)?,
            conv2: w.pp("conv2").conv(c_out, c_out, 3, 1)?,
            skip: if c_in != c_out { Some(w.pp("skip").conv(c_in, c_out, 1, 1)?) } else { None },
            c_out,
        })
    }

    /// `x`: `(B, c_in, h, w)`, `emb`: `(B, E)`, `texture`: `(B, F, h, w)` → `(B, c_out, h, w)`.
    pub fn forward(&self, x: &Tensor, emb: &Tensor, texture: Option<&Tensor>) -> Result<Tensor> {
        let h = self.conv1.forward(&x.apply(&self.norm1)?.silu()?)?;
        // (B, 2·c_out) → scale, shift: (B, c_out, 1, 1)
        let ss = self.film.forward(emb)?.unsqueeze(2)?.unsqueeze(3)?;
        let mut scale = ss.narrow(1, 0, self.c_out)?;
        let mut shift = ss.narrow(1, self.c_out, self.c_out)?;
        if let (Some(conv), Some(tex)) = (&self.texture, texture) {
            // (B, 2·c_out, h, w)
            let st = conv.forward(tex)?;
            scale = scale.broadcast_add(&st.narrow(1, 0, self.c_out)?)?;
            shift = shift.broadcast_add(&st.narrow(1, self.c_out, self.c_out)?)?;
        }
        let h = h.apply(&self.norm2)?;
        let h = h.broadcast_mul(&(scale + 1.0)?)?.broadcast_add(&shift)?;
        let h = self.conv2.forward(&h.silu()?)?;
        let skip = match &self.skip {
            Some(s) => s.forward(x)?,
            None => x.clone(),
        };
        skip + h
    }
}

/// Multi-head self-attention over the positions of a feature map, with a residual
/// connection. Uses `candle_nn::ops::softmax` (`softmax_last_dim` has no backward pass in
/// candle 0.11).
#[derive(Debug, Clone)]
pub struct AttentionBlock {
    norm: GroupNorm,
    q: Lin,
    k: Lin,
    v: Lin,
    proj: Lin,
    heads: usize,
}

impl AttentionBlock {
    pub fn new(cfg: &Config, channels: usize, w: &Weights) -> Result<Self> {
        Ok(Self {
            norm: w.pp("norm").group_norm(cfg.groups, channels, cfg.norm_eps)?,
            q: w.pp("q").linear(channels, channels)?,
            k: w.pp("k").linear(channels, channels)?,
            v: w.pp("v").linear(channels, channels)?,
            proj: w.pp("proj").linear(channels, channels)?,
            heads: cfg.attention_heads,
        })
    }

    /// `x`: `(B, C, h, w)` → `(B, C, h, w)`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (b, c, h, w) = x.dims4()?;
        let (nh, hd) = (self.heads, c / self.heads);
        // (B, C, h, w) → (B·hw, C)
        let t = x.apply(&self.norm)?.flatten_from(2)?.transpose(1, 2)?.reshape((b * h * w, c))?;
        // (B·hw, C) → (B, nh, hw, hd)
        let heads =
            |l: &Lin| -> Result<Tensor> { l.forward(&t)?.reshape((b, h * w, nh, hd))?.transpose(1, 2)?.contiguous() };
        let (q, k, v) = (heads(&self.q)?, heads(&self.k)?, heads(&self.v)?);
        // (B, nh, hw, hw)
        let att = (q.matmul(&k.t()?)? * (1.0 / (hd as f64).sqrt()))?;
        let att = candle_nn::ops::softmax(&att, D::Minus1)?;
        // (B, nh, hw, hd) → (B·hw, C)
        let o = att.matmul(&v)?.transpose(1, 2)?.reshape((b * h * w, c))?;
        let o = self.proj.forward(&o)?;
        // → (B, C, h, w)
        let o = o.reshape((b, h * w, c))?.transpose(1, 2)?.reshape((b, c, h, w))?;
        x + o
    }
}

/// Nearest-neighbour ×2 upsampling then a 3×3 convolution to the next level's channels.
#[derive(Debug, Clone)]
pub struct Upsample {
    conv: Conv,
}

impl Upsample {
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (_, _, h, w) = x.dims4()?;
        self.conv.forward(&x.upsample_nearest2d(2 * h, 2 * w)?)
    }
}

#[derive(Debug, Clone)]
struct DownLevel {
    res: Vec<ResBlock>,
    /// Stride-2 3×3 convolution.
    downsample: Option<Conv>,
}

#[derive(Debug, Clone)]
struct UpLevel {
    res: Vec<ResBlock>,
    upsample: Option<Upsample>,
}

/// The conditional patch UNet (see the module documentation).
#[derive(Debug, Clone)]
pub struct UNet {
    cfg: Config,
    time: TimeEmbedding,
    conv_in: Conv,
    down: Vec<DownLevel>,
    mid_res: ResBlock,
    mid_attn: Option<AttentionBlock>,
    up: Vec<UpLevel>,
    norm_out: GroupNorm,
    conv_out: Conv,
    /// The patch-spectrum gate and its DCT matrix `(3·p², 3·p²)` ([`Config::spectral_gate`]).
    gate: Option<(Conv, Tensor)>,
}

/// The conditioning of one batch at patch resolution (see the module table).
#[derive(Debug, Clone, Copy)]
pub struct Conditioning<'a> {
    pub analog: &'a Tensor,
    pub mask: &'a Tensor,
    pub texture: Option<&'a Tensor>,
}

impl UNet {
    /// Builds the UNet, fetching (or, from a `VarMap`, creating) every weight by name.
    pub fn new(cfg: &Config, w: &Weights) -> Result<Self> {
        cfg.validate()?;
        let time = TimeEmbedding::new(cfg, w)?;
        let base = cfg.base_channels;
        let pc = cfg.patch_channels();
        // 1×1 patch embedding of [r_t, analog, mask].
        let conv_in = w.pp("conv_in").conv(2 * pc + 1, base, 1, 1)?;

        let mut skip_ch = vec![base];
        let mut ch = base;
        let mut down = Vec::with_capacity(cfg.levels());
        for (i, &m) in cfg.channel_mults.iter().enumerate() {
            let wl = w.pp(format!("down.{i}"));
            let c_out = base * m;
            let mut res = Vec::with_capacity(cfg.blocks_per_level);
            for j in 0..cfg.blocks_per_level {
                res.push(ResBlock::new(cfg, ch, c_out, &wl.pp(format!("res.{j}")))?);
                ch = c_out;
                skip_ch.push(ch);
            }
            let downsample = if i + 1 < cfg.levels() {
                skip_ch.push(ch);
                Some(wl.pp("downsample").conv(ch, ch, 3, 2)?)
            } else {
                None
            };
            down.push(DownLevel { res, downsample });
        }

        let mid_res = ResBlock::new(cfg, ch, ch, &w.pp("mid.res"))?;
        let mid_attn = if cfg.attention { Some(AttentionBlock::new(cfg, ch, &w.pp("mid.attn"))?) } else { None };

        let mut up = Vec::with_capacity(cfg.levels());
        for (i, &m) in cfg.channel_mults.iter().enumerate().rev() {
            let wl = w.pp(format!("up.{i}"));
            let c_out = base * m;
            let mut res = Vec::with_capacity(cfg.blocks_per_level + 1);
            for j in 0..=cfg.blocks_per_level {
                let s = skip_ch.pop().ok_or_else(|| candle_core::Error::Msg("unet: skip bookkeeping".into()))?;
                res.push(ResBlock::new(cfg, ch + s, c_out, &wl.pp(format!("res.{j}")))?);
                ch = c_out;
            }
            let upsample = if i > 0 {
                let next = base * cfg.channel_mults[i - 1];
                let u = Upsample { conv: wl.pp("upsample.conv").conv(ch, next, 3, 1)? };
                ch = next;
                Some(u)
            } else {
                None
            };
            up.push(UpLevel { res, upsample });
        }

        let norm_out = w.pp("norm_out").group_norm(cfg.groups, ch, cfg.norm_eps)?;
        let conv_out = w.pp("conv_out").conv(ch, pc, 1, 1)?;
        let gate = if cfg.spectral_gate {
            Some((w.pp("gate").conv(ch, pc, 1, 1)?, patch_dct_matrix(cfg.patch, w.vb().device())?))
        } else {
            None
        };
        Ok(Self { cfg: cfg.clone(), time, conv_in, down, mid_res, mid_attn, up, norm_out, conv_out, gate })
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Predicts `v` for the noisy residual `r_t`: `(B, 3·p², h, w)`.
    ///
    /// Errors on inconsistent shapes or when `(h, w)` is not a multiple of `2^(levels−1)`.
    pub fn forward(&self, r_t: &Tensor, t: &Tensor, cond: &Conditioning) -> Result<Tensor> {
        let (b, c, h, w) = r_t.dims4()?;
        let pc = self.cfg.patch_channels();
        let m = 1usize << (self.cfg.levels() - 1);
        if c != pc {
            candle_core::bail!("unet: expected {pc} residual channels, got {c}");
        }
        if h == 0 || w == 0 || h % m != 0 || w % m != 0 {
            candle_core::bail!("unet: {h}x{w} patches is not a positive multiple of {m}");
        }
        if cond.analog.dims4()? != (b, pc, h, w) || cond.mask.dims4()? != (b, 1, h, w) {
            candle_core::bail!(
                "unet: analog {:?} / mask {:?} do not match ({b}, {pc}, {h}, {w})",
                cond.analog.dims(),
                cond.mask.dims()
            );
        }
        if t.dims1()? != b {
            candle_core::bail!("unet: {b} images but {} timesteps", t.dims1()?);
        }
        let f = self.cfg.texture_features;
        let mut texture = match (f, cond.texture) {
            (0, None) => None,
            (0, Some(_)) => {
                candle_core::bail!("unet: texture features given but the model takes none")
            }
            (_, None) => candle_core::bail!("unet: the model needs {f} texture features per patch"),
            (_, Some(tx)) => {
                if tx.dims4()? != (b, f, h, w) {
                    candle_core::bail!("unet: texture {:?}, expected ({b}, {f}, {h}, {w})", tx.dims());
                }
                Some(tx.clone())
            }
        };
        // (B, E)
        let emb = self.time.forward(t)?;

        let x = Tensor::cat(&[r_t, cond.analog, cond.mask], 1)?;
        let mut x = self.conv_in.forward(&x)?;
        let mut skips = vec![x.clone()];
        // Texture maps per level, finest first.
        let mut textures = vec![texture.clone()];
        for level in &self.down {
            for r in &level.res {
                x = r.forward(&x, &emb, texture.as_ref())?;
                skips.push(x.clone());
            }
            if let Some(d) = &level.downsample {
                x = d.forward(&x)?;
                skips.push(x.clone());
                texture = texture.map(|tx| tx.avg_pool2d(2)).transpose()?;
                textures.push(texture.clone());
            }
        }

        x = self.mid_res.forward(&x, &emb, texture.as_ref())?;
        if let Some(a) = &self.mid_attn {
            x = a.forward(&x)?;
        }

        for level in &self.up {
            let tex = textures.pop().flatten();
            for r in &level.res {
                let s = skips.pop().ok_or_else(|| candle_core::Error::Msg("unet: skip bookkeeping".into()))?;
                x = r.forward(&Tensor::cat(&[&x, &s], 1)?, &emb, tex.as_ref())?;
            }
            if let Some(u) = &level.upsample {
                x = u.forward(&x)?;
            }
        }
        // (B, base, h, w) → (B, 3·p², h, w)
        let x = x.apply(&self.norm_out)?.silu()?;
        let out = self.conv_out.forward(&x)?;
        match &self.gate {
            None => Ok(out),
            // The output projection has rank ≤ base per patch, so on its own the model
            // cannot touch the other 3·p² − base dimensions of r_t, and DDIM carries their
            // initial noise to the end unchanged (white noise at full amplitude, wherever
            // the detail is). The gate scales every patch-DCT coefficient of r_t by a
            // learned, position- and timestep-dependent factor: a full-rank,
            // per-frequency Wiener-style shrinkage.
            Some((g, dct)) => out + per_patch(&(g.forward(&x)? * per_patch(r_t, dct)?)?, &dct.t()?),
        }
    }
}

/// Orthonormal 2-D DCT-II of each `p × p` patch of each colour channel, as a
/// `(3·p², 3·p²)` matrix in [`space_to_depth`]'s channel order `c·p² + dy·p + dx`:
/// `D[(c,u,v), (c,dy,dx)] = C[u][dy]·C[v][dx]`.
pub fn patch_dct_matrix(p: usize, device: &candle_core::Device) -> Result<Tensor> {
    let c1 = |k: usize, i: usize| {
        let a = if k == 0 { (1.0 / p as f64).sqrt() } else { (2.0 / p as f64).sqrt() };
        a * (std::f64::consts::PI * (2 * i + 1) as f64 * k as f64 / (2 * p) as f64).cos()
    };
    let n = IMAGE_CHANNELS * p * p;
    let mut d = vec![0f32; n * n];
    for c in 0..IMAGE_CHANNELS {
        for u in 0..p {
            for v in 0..p {
                let row = c * p * p + u * p + v;
                for dy in 0..p {
                    for dx in 0..p {
                        d[row * n + c * p * p + dy * p + dx] = (c1(u, dy) * c1(v, dx)) as f32;
                    }
                }
            }
        }
    }
    Tensor::from_vec(d, (n, n), device)
}

/// `m · x` for every patch position: `x (B, n, h, w)`, `m (n, n)` → `(B, n, h, w)`.
fn per_patch(x: &Tensor, m: &Tensor) -> Result<Tensor> {
    let (b, n, h, w) = x.dims4()?;
    // (B, n, h·w) → (B, h·w, n) · mᵀ → (B, h·w, n) → (B, n, h, w)
    let y = x.reshape((b, n, h * w))?.transpose(1, 2)?.contiguous()?.broadcast_matmul(&m.t()?)?;
    y.transpose(1, 2)?.reshape((b, n, h, w))
}
