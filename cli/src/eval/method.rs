//! What every compared method shares: the cell it is asked to serve, what it delivers,
//! the [`Method`] trait, and the steps of a transmission through the cell's channel.
//! The methods themselves live in [`super::methods`] (the codecs) and `super::jpeg`
//! (the separation baselines); both depend on this module only.

use std::time::Instant;

use anyhow::Result;
use image::RgbImage;
use semcom_codec::stream::{ChannelUseSplit, Received, Section};

use super::channel::{transmit, ChannelSpec};

/// One sweep point for one image: what a method is asked to do.
pub struct Cell<'a> {
    pub image: &'a RgbImage,
    /// Bandwidth ratio, channel uses / (3HW).
    pub rho: f64,
    /// Es/N0 of the channel, dB; also the CSI a method may plan with.
    pub snr_db: f64,
    pub channel: ChannelSpec,
}

/// The JPEG a digital method sent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JpegInfo {
    pub quality: u8,
    pub bytes: usize,
    /// Coded width / image width (1 = no downscale).
    pub scale: f64,
}

/// What a method delivered.
pub struct Outcome {
    /// The reconstruction, same size as the original.
    pub image: RgbImage,
    pub split: ChannelUseSplit,
    pub mcs: Option<u8>,
    pub payload_bytes: Option<usize>,
    pub jpeg: Option<JpegInfo>,
    pub blocks: Option<usize>,
    pub blocks_failed: Option<usize>,
    /// Nothing could be reconstructed; `image` is mid-grey.
    pub undecodable: bool,
    pub erased_frames: usize,
    pub encode_ms: f64,
    pub decode_ms: f64,
}

/// A compared transmission scheme.
pub trait Method: Send + Sync {
    /// Name in the results (`semcom`, `jpeg-ldpc-mcs5`, ...).
    fn name(&self) -> String;
    /// Encodes, sends through `cell.channel` (for methods that use a channel), decodes.
    /// An error means the method cannot serve this cell at all (e.g. the budget is too
    /// small for its overhead); a receiver-side failure is an [`Outcome`] with
    /// `undecodable` set, because that is what a user would get.
    fn run(&self, cell: &Cell) -> Result<Outcome>;
}

/// Milliseconds a closure took, with its result.
pub fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let t = Instant::now();
    let v = f();
    (v, t.elapsed().as_secs_f64() * 1e3)
}

/// What a receiver shows when it decoded nothing (the digital baselines' convention).
pub use semcom_codec::baseline::mid_grey;

/// The channel-use budget of a cell, round(ρ·3HW) (docs/architecture.md §2), as the codecs compute it.
pub fn budget(img: &RgbImage, rho: f64) -> usize {
    (rho * 3.0 * f64::from(img.width()) * f64::from(img.height())).round() as usize
}

/// What the receiver gets from a transmission's sections sent through the cell's
/// channel (digital symbols announced at `meta_mcs`, as the frame headers would), and
/// how many frames the channel erased.
pub fn receive(sections: &[Section], meta_mcs: u8, channel: &ChannelSpec) -> Result<(Received, usize)> {
    let out = transmit(sections, channel)?;
    let mut rx = Received::from_sections(sections, meta_mcs);
    rx.stream = out.stream;
    Ok((rx, out.erased_frames))
}

/// A codec's transmission as the analog methods (semcom, SoftCast) report it.
pub struct Sent<'a> {
    pub sections: &'a [Section],
    pub split: ChannelUseSplit,
    /// MCS of the digital part (the frame headers announce it).
    pub mcs: u8,
    pub payload_bytes: Option<usize>,
    pub encode_ms: f64,
}

/// The rest of an analog method's run once it has encoded: through the cell's channel,
/// `decode` timed, and what the receiver shows: its reconstruction when it made one of
/// the right size, else mid-grey, flagged undecodable (a lost header or metadata leaves
/// it nothing to show).
pub fn deliver(cell: &Cell, sent: Sent, decode: impl FnOnce(&Received) -> Option<RgbImage>) -> Result<Outcome> {
    let (rx, erased_frames) = receive(sent.sections, sent.mcs, &cell.channel)?;
    let (rec, decode_ms) = timed(|| decode(&rx));
    let (w, h) = cell.image.dimensions();
    let (image, undecodable) = match rec {
        Some(img) if img.dimensions() == (w, h) => (img, false),
        _ => (mid_grey(w, h), true),
    };
    Ok(Outcome {
        image,
        split: sent.split,
        mcs: Some(sent.mcs),
        payload_bytes: sent.payload_bytes,
        jpeg: None,
        blocks: None,
        blocks_failed: None,
        undecodable,
        erased_frames,
        encode_ms: sent.encode_ms,
        decode_ms,
    })
}
