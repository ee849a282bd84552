//! Segmentation (sender side, docs/architecture.md §3): which 16×16 blocks are *key* (sent as analog
//! latent symbols) and which are *non-key* (described by a structured prompt and
//! regenerated at the receiver). Needs no model weights.
//!
//! Pipeline and conventions:
//!
//! 1. [`importance_map`]: one importance value in `[0, 1]` per block (row-major,
//!    `height_blocks × width_blocks`, block side `block` pixels; partial blocks at the
//!    right/bottom edges are full members of the grid). It combines SDSP saliency
//!    (frequency, colour and centre priors; Zhang, Gong & Zhang, ICIP 2013) with the
//!    block's edge/detail density (Sobel gradient magnitude).
//! 2. [`Roi`]: regions of interest named by a request (pixel rectangles, a per-pixel mask
//!    or a per-block mask). Every block they touch is key.
//! 3. [`key_mask`]: the `key_share` most important blocks (ROI blocks first and counted in
//!    the share), cleaned morphologically so key regions are compact.
//!    [`key_share_for`] picks the share from the bandwidth budget and the channel SNR.
//! 4. [`BlockMask::encode`] / [`BlockMask::decode`]: compact run-length code of the mask
//!    for the digital link (header + adaptive Elias-gamma / Golomb-Rice runs, or raw bits
//!    when shorter).
//!
//! Everything here is deterministic (no threads, no randomness) and total on untrusted
//! input: errors are [`SegmentError`] values, never panics.

mod coding;
mod importance;
mod mask;
mod saliency;

pub use importance::{importance_map, ImportanceConfig, ImportanceMap};
pub use mask::{key_mask, key_share_for, BlockMask, Roi, RoiMask, KEY_SHARE_MAX, KEY_SHARE_MIN};

/// Errors of the segmentation module.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SegmentError {
    /// The image has a zero side.
    #[error("empty image ({width}x{height})")]
    EmptyImage { width: u32, height: u32 },
    /// An [`ImportanceConfig`] field is out of range.
    #[error("invalid importance configuration: {0}")]
    InvalidConfig(&'static str),
    /// Dimensions and data length disagree, or a dimension is zero.
    #[error("invalid dimensions {width}x{height} for {len} values")]
    InvalidDimensions { width: u32, height: u32, len: usize },
    /// A coded mask announces more blocks than the caller allows.
    #[error("coded mask has {blocks} blocks, more than the allowed {max}")]
    TooManyBlocks { blocks: u64, max: usize },
    /// The coded mask ends early.
    #[error("coded mask is truncated")]
    Truncated,
    /// The coded mask is not well formed.
    #[error("malformed coded mask: {0}")]
    Malformed(&'static str),
}
