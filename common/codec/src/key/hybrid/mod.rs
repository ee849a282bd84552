//! Hybrid DCT key encoder: a full-frame low-pass base layer plus a block-DCT residual
//! over the key blocks, all sent SoftCast-style (chunks, g ∝ λ̂^(−1/4), LLSE).
//!
//! # Why hybrid
//! Weighting or masking pixels before a full-frame DCT does not move bandwidth to the
//! key regions: every coefficient still spans the whole frame. A block transform over the
//! key blocks alone spends the analog symbols only there, but 16×16 blocks compact the
//! low frequencies poorly (an 8×8 block DCT loses ≈ 4 dB to a full-frame one on natural images). So the
//! frequencies whose period is longer than a block go in a full-frame layer (cheap: a
//! `(2H/b) × (2W/b)` corner of the DCT, `base_cutoff` = 2), and the detail above goes in per-block DCTs of
//! the residual, only in key blocks. Measured with an idealised prototype on the sample
//! photos at ρ = 1/32, key share 0.25: key-region PSNR +1.7 … +3.8 dB over whole-image
//! SoftCast from 0 to 20 dB, where a 128×128 tile DCT without the base layer lost
//! 0.6–0.8 dB and 32×32 tiles lost 2–3 dB.
//!
//! # Layout (both ends derive it from the image size and the key mask)
//! * Base layer: per YCbCr channel (mean removed), the top-left `hl × wl` full-frame DCT
//!   coefficients, `hl = ⌈f·H/b⌉`, `wl = ⌈f·W/b⌉` (b = mask block side, f = `base_cutoff`;
//!   f = 2 puts the cut-off period at one block; f = 3 traded 0.5–0.8 dB of key PSNR for
//!   +0.03 MS-SSIM at 10–20 dB), cut into a grid of chunks (`base_grid_luma`, `base_grid_chroma`).
//! * Residual: `image − IDCT(base coefficients)` (exact, at the sender), DCT per key block
//!   (edge blocks keep their clipped size). Each block's coefficients are cut into an
//!   `n × n` band grid (`bands_luma`, `bands_chroma`); a chunk is one (channel, band) over
//!   all key blocks of one group of `group × group` blocks, blocks in raster order.
//!
//! # Variances sent (side information)
//! Base chunks: quantised log2 λ per chunk (like SoftCast). Residual chunks: a model
//! `log2 λ̂(c, band, group) = α(Y|C, group) + β(c, band) + γ(group)·log2(1 + i + j)`
//! fitted by least squares (α the group's level, β the typical spectrum, γ the group's
//! spectral slope), optionally corrected per chunk (`correction_bits`, default 0: 2- and
//! 3-bit corrections changed the key PSNR by < 0.3 dB and cost their bits back at low
//! SNR). Far fewer numbers than one λ per chunk, which keeps the side information small
//! at low ρ. Chunks are sent in decreasing λ̂ (ties: lower index) while they fit, then
//! the first coefficients of the next; the receiver repeats the selection from λ̂ and
//! the symbol count, so no selection bitmap is sent. The power scale is computed from
//! the true energies of what is sent and transmitted (Q8.8 log2), so the analog symbols
//! have unit average power exactly, even where λ̂ misses.
//!
//! # Side information bit layout (MSB first)
//! means Y, Cb, Cr 3×8 · base quantiser lo, hi 2×16 (Q8.8 log2) · one index per base
//! chunk (`lambda_bits`) · α quantiser lo, hi 2×16 · one α index per (group with a key
//! block, Y|C) (`alpha_bits`) · β quantiser lo, hi 2×16 · one β index per (channel,
//! band) (`beta_bits`) · γ quantiser lo, hi 2×16 (on 2^γ) · one γ index per group
//! (`alpha_bits`) · one correction per residual chunk (`correction_bits`) · log2 power
//! scale 16 (Q8.8, two's complement); zero padded to bytes.
//!
//! # Code
//! `layout` derives the chunks, `side` quantises their variances and writes or reads the
//! side information, `codec` analyses the image, maps the selected coefficients to
//! symbols and inverts the mapping.

mod codec;
mod layout;
mod side;

use super::KeyError;

/// Key encoder id of [`HybridDct`] in the semantic header.
pub const HYBRID_ID: u8 = 1;

/// Parameters of [`HybridDct`]; both ends must agree (the semantic header carries the
/// encoder id, and the configuration is part of the codec version).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct HybridConfig {
    /// Base-layer corner `⌈f·H/b⌉ × ⌈f·W/b⌉`: 2 puts the cut-off period at one block.
    pub base_cutoff: usize,
    /// Chunk grid over the Y base-layer corner (clamped to its size).
    pub base_grid_luma: (usize, usize),
    /// Chunk grid over each chroma base-layer corner.
    pub base_grid_chroma: (usize, usize),
    /// Band grid side within a key block's DCT, Y and chroma.
    pub bands_luma: usize,
    pub bands_chroma: usize,
    /// Residual chunks pool `group × group` blocks.
    pub group: usize,
    /// Bits of a base chunk's quantised log2 λ, of α, of β.
    pub lambda_bits: u8,
    pub alpha_bits: u8,
    pub beta_bits: u8,
    /// Bits of a per-residual-chunk correction of the model, uniform over
    /// ± `CORRECTION_OCTAVES` (2) in log2 λ; 0 sends the model alone.
    pub correction_bits: u8,
}

impl Default for HybridConfig {
    /// Base grids 8×8 / 4×4; 4×4 luma bands and 2×2 chroma bands per block; groups of
    /// 4×4 blocks (64 px for 16-px blocks: local enough to follow texture changes, coarse
    /// enough that α costs ≤ 15 bits per 64×64 px); 6-bit base λ, 5-bit α and β (steps of
    /// a fraction of an octave: power allocation depends on λ^(1/4) and hardly notices).
    fn default() -> Self {
        Self {
            base_cutoff: 2,
            base_grid_luma: (6, 6),
            base_grid_chroma: (3, 3),
            bands_luma: 4,
            bands_chroma: 2,
            group: 4,
            lambda_bits: 6,
            alpha_bits: 4,
            beta_bits: 5,
            correction_bits: 0,
        }
    }
}

impl HybridConfig {
    pub fn validate(&self) -> Result<(), KeyError> {
        let bad = |s: &str| Err(KeyError::InvalidConfig(s.to_string()));
        let grids = [self.base_grid_luma, self.base_grid_chroma];
        if grids.iter().any(|g| g.0 == 0 || g.1 == 0 || g.0 > 64 || g.1 > 64) {
            return bad("base grids must be 1..=64 on each side");
        }
        if !(1..=16).contains(&self.bands_luma) || !(1..=16).contains(&self.bands_chroma) {
            return bad("bands must be in 1..=16");
        }
        if !(1..=16).contains(&self.base_cutoff) {
            return bad("base_cutoff must be in 1..=16");
        }
        if !(1..=64).contains(&self.group) {
            return bad("group must be in 1..=64");
        }
        if [self.lambda_bits, self.alpha_bits, self.beta_bits].iter().any(|b| !(1..=15).contains(b)) {
            return bad("quantiser bits must be in 1..=15");
        }
        if self.correction_bits > 8 {
            return bad("correction_bits must be in 0..=8");
        }
        Ok(())
    }
}

/// The default key encoder (module docs).
#[derive(Debug, Clone, Default)]
pub struct HybridDct {
    pub cfg: HybridConfig,
}

impl HybridDct {
    pub fn new(cfg: HybridConfig) -> Result<Self, KeyError> {
        cfg.validate()?;
        Ok(Self { cfg })
    }
}

#[cfg(test)]
mod tests;
