//! Key-region encoders (docs/architecture.md §3 "Key regions → latent symbols"): pixels of the key
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

use crate::analog::AnalogRx;
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
