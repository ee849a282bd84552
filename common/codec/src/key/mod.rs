//! Key-region encoders (DESIGN §3 "Key regions → latent symbols"): pixels of the key
//! blocks → analog latent symbols, and back at the receiver.
//!
//! An encoder works in two steps so the sender can size the digital link first:
//! [`KeyEncoder::prepare`] fixes the side information (whose size depends only on the
//! image size and the mask), then [`Prepared::modulate`] fills exactly the analog
//! capacity left once pilots and semantics are in. The receiver rebuilds everything from
//! the mask, the side information and the received symbols ([`KeyEncoder::decode`]).
//!
//! Default: [`HybridDct`]. A learned encoder (compact autoencoder, VAE latents) plugs in
//! behind the same trait and also sends analog symbols.

mod hybrid;

pub use hybrid::{HybridConfig, HybridDct, HYBRID_ID};

use crate::color::Planes;
use crate::segment::BlockMask;
use crate::C32;

/// Errors of a key encoder.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key encoder configuration: {0}")]
    InvalidConfig(String),
    #[error("key encoder input: {0}")]
    Input(String),
    #[error("key side information invalid: {0}")]
    SideInfo(String),
    #[error("internal DCT error: {0}")]
    Dct(#[from] crate::dct::DctError),
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
}

/// What the receiver got back.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyDecoded {
    /// Estimate over the whole frame (YCbCr, 0–255 scale); see [`crate::generate`] for
    /// what it holds outside the key blocks.
    pub planes: Planes,
    /// Analog symbols expected but lost or missing.
    pub erased_symbols: usize,
}

/// Analog symbols of one image and what they cost.
#[derive(Debug, Clone, PartialEq)]
pub struct KeySymbols {
    /// Unit average power per complex symbol.
    pub symbols: Vec<C32>,
    /// Side information, complete (the prepared bytes with the power scale filled in).
    pub side: Vec<u8>,
    /// Coefficients (real dimensions) carried.
    pub coefficients: usize,
    /// Chunks sent whole, and all chunks there were.
    pub chunks_sent: usize,
    pub chunks_total: usize,
}

/// Side information fixed, symbols not yet made.
pub trait Prepared {
    /// Bytes of side information the digital link must carry; the same length as the
    /// final `KeySymbols::side`.
    fn side_len(&self) -> usize;
    /// Analog symbols filling at most `capacity` channel uses.
    fn modulate(&self, capacity: usize) -> KeySymbols;
}

/// A key-region encoder/decoder pair.
pub trait KeyEncoder: Send + Sync {
    /// Id carried in the semantic header (one byte on the wire).
    fn id(&self) -> u8;
    fn name(&self) -> &str;
    /// Analyses the image for the given key mask.
    fn prepare(&self, planes: &Planes, key: &BlockMask) -> Result<Box<dyn Prepared>, KeyError>;
    /// Rebuilds the frame estimate from the side information and the received symbols;
    /// `analog_symbols` is how many the sender made (from the semantic header).
    fn decode(
        &self,
        side: &[u8],
        key: &BlockMask,
        width: u32,
        height: u32,
        analog_symbols: usize,
        rx: AnalogRx<'_>,
    ) -> Result<KeyDecoded, KeyError>;
}
