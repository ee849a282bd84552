//! Structured prompt for the non-key regions (sender side and receiver repair; docs/architecture.md §3
//! "Non-key regions → structured prompt").
//!
//! One [`SegmentPrompt`] per non-key segment: its block geometry ([`BlockMask::encode`] of
//! the segment's blocks), a colour layout (a few quantised low-frequency DCT coefficients
//! per YCbCr channel over the segment's bounding box), texture statistics (quantised log
//! gradient energy per scale × orientation, plus the luma standard deviation) and an
//! optional caption. The messages are the protobuf types of `semcom.v1.prompt`.
//!
//! * [`segments_of`]: non-key blocks → segments (4-connected components, tiny ones merged,
//!   count capped).
//! * [`describe`]: image + non-key mask → [`StructuredPrompt`] at a [`PromptDetail`] level.
//! * [`encode_prompt`] / [`decode_prompt`]: bytes for the digital link (prost + deflate)
//!   and bounded, validating decoding of untrusted bytes.
//! * [`render_text`]: readable text prompt ("sky blue, smooth; dark green, coarse, vertical").
//! * [`safe_prior`]: receiver repair of segments whose fields failed CRC.
//!
//! # Quantisers (shared by sender and receiver)
//!
//! Colour layout (values on the 0–255 YCbCr scale of [`crate::color`]): the segment's
//! bounding box (block aligned, clipped to the image) is cut into a `grid_w × grid_h` grid
//! of cells; each cell holds the mean of the segment's pixels in it, and cells without
//! segment pixels hold the segment's mean ("mean-filled"). The grid gets an orthonormal
//! 2-D DCT-II scaled by `1/√(grid_w·grid_h)`, so the DC term is the cell mean and an AC
//! term is an amplitude in grey levels. Quantisation (uniform, round to nearest):
//! * luma DC: `round(mean_Y / Y_DC_STEP)`, `Y_DC_STEP = 2` → 0..=128;
//! * chroma DC: `round((mean_C − 128) / C_DC_STEP)`, `C_DC_STEP = 2` → −64..=64;
//! * every AC term: `round(coef / AC_STEP)`, `AC_STEP = 3` grey levels.
//!
//! Coefficients are kept in JPEG zig-zag order over the `grid_h × grid_w` grid.
//!
//! Texture: luma at three scales (1×, 2× and 4× box-downsampled). At each scale the
//! central-difference gradient `(gx, gy)` (one-sided at the segment's border, so key
//! pixels never leak in) is projected on four directions θ = 0°, 45°, 90°, 135°
//! (θ is the *gradient* direction: θ = 0° means intensity changes along x, i.e. vertical
//! structures). `energy[s·4 + k] = round(ENERGY_PER_OCTAVE · log2(1 + mean((gx cos θ + gy sin θ)²)))`,
//! `ENERGY_PER_OCTAVE = 4` (quarter-octave steps ≈ 0.75 dB), clamped to `0..=ENERGY_MAX`.
//! Reduced detail sends the four orientation values averaged over the scales.
//! `luma_std = round(std(Y))` in grey levels, clamped to `0..=LUMA_STD_MAX`.
//!
//! Detail map (Full detail only, [`detail_map`]): per cell of `DETAIL_CELL × DETAIL_CELL`
//! blocks (32 × 32 px with 16-px blocks) that holds a block of the segment, in raster
//! order of the cells, `round(DETAIL_PER_OCTAVE · log2(1 + mean(gx² + gy²)))` over the
//! segment's pixels in the cell at full resolution (the same segment-restricted central
//! differences), `DETAIL_PER_OCTAVE = 1`, clamped to `0..=DETAIL_MAX` = 15 and packed
//! two values per byte. The segment statistics say what the texture is like; the map
//! says where it is: a segment is usually most of the background, and its sky and its
//! foliage need very different amounts of detail. A 512 × 512 image with 85 % non-key
//! blocks costs about 110 bytes.

mod codec;
mod describe;
pub mod detail_map;
mod features;
mod json;
mod repair;
mod segments;
mod text;

pub use codec::{decode_prompt, encode_prompt, validate, PromptLimits};
pub use describe::{describe, PromptDetail};
pub use features::{texture_features, TEXTURE_FEATURES};
pub use json::prompt_to_json;
pub use repair::{safe_prior, Repair, RepairSource, Repaired};
pub use segments::{non_key_of, segments_of, segments_with, SegmentOptions};
pub use semcom_wire::v1::prompt::{ColourLayout, SegmentPrompt, StructuredPrompt, TextureStats};
pub use text::{mean_rgb, render_text};

// Shared with the receiver's colour-layout renderer (crate::generate), which must invert
// exactly these conventions.
pub(crate) use codec::segment_geometry;
pub(crate) use describe::{basis, gradient_energy, zigzag};

use crate::segment::SegmentError;

/// Luma DC quantiser step (grey levels).
pub const Y_DC_STEP: f32 = 2.0;
/// Chroma DC quantiser step (grey levels, around the 128 offset).
pub const C_DC_STEP: f32 = 2.0;
/// AC quantiser step (grey levels of amplitude).
pub const AC_STEP: f32 = 3.0;
/// Texture energy steps per octave of gradient energy.
pub const ENERGY_PER_OCTAVE: f32 = 4.0;
/// Largest quantised texture energy (log2(1 + 255²) ≈ 16 octaves).
pub const ENERGY_MAX: u32 = 64;
/// Detail-map steps per octave of gradient energy (one octave: 3 dB).
pub const DETAIL_PER_OCTAVE: f32 = 1.0;
/// Largest quantised detail value (a nibble; the largest central-difference gradient
/// energy, 2·127.5², is just below 15 octaves).
pub const DETAIL_MAX: u8 = 15;
/// Side of a detail-map cell, in blocks.
pub const DETAIL_CELL: u32 = 2;
/// Largest luma standard deviation (grey levels).
pub const LUMA_STD_MAX: u32 = 128;
/// Orientations per scale.
pub const ORIENTATIONS: usize = 4;
/// Scales of the texture statistics.
pub const SCALES: usize = 3;
/// Largest colour-layout grid side.
pub const MAX_GRID: u32 = 8;
/// Largest |AC| quantised value (±255 grey levels of amplitude).
pub const AC_MAX: i32 = 85;

/// Errors of the prompt module.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PromptError {
    /// Input longer than the limits allow.
    #[error("prompt is {len} bytes, more than the allowed {max}")]
    TooLarge { len: usize, max: usize },
    /// Empty input or unknown format byte.
    #[error("bad prompt header: {0}")]
    BadHeader(&'static str),
    /// The compressed payload does not inflate (corrupt, truncated or too large).
    #[error("prompt decompression failed")]
    Decompress,
    /// The payload is not a valid protobuf message.
    #[error("prompt protobuf decoding failed: {0}")]
    Protobuf(String),
    /// A field is out of range or the structure is inconsistent.
    #[error("invalid prompt: {0}")]
    Invalid(String),
    /// A segment's geometry does not decode.
    #[error("segment {segment}: bad geometry: {source}")]
    Geometry { segment: usize, source: SegmentError },
}
