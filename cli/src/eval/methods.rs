//! The compared methods behind one trait. Each runs the codec code the daemons run
//! (`semcom_codec`), at the cell's bandwidth ratio and through the cell's channel;
//! another method (a learned JSCC, another codec) is one more implementation.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use image::RgbImage;
use semcom_codec::generate::{ClassicalFill, Generator};
use semcom_codec::semantic::{self, SemanticConfig, SemanticRequest};
use semcom_codec::softcast::{self, ChannelUseSplit, Received, SoftCastConfig};
use semcom_models::{DiffusionSettings, GeneratorKind};

use super::channel::{transmit, ChannelSpec};
use super::jpeg::{JpegCapacity, JpegLdpc};

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

/// What the receiver shows: its reconstruction when it made one of the right size,
/// else mid-grey, flagged undecodable.
fn shown_or_grey(image: Option<RgbImage>, w: u32, h: u32) -> (RgbImage, bool) {
    match image {
        Some(img) if img.dimensions() == (w, h) => (img, false),
        _ => (mid_grey(w, h), true),
    }
}

/// The channel-use budget of a cell, round(ρ·3HW) (DESIGN §2), as the codecs compute it.
pub fn budget(img: &RgbImage, rho: f64) -> usize {
    (rho * 3.0 * f64::from(img.width()) * f64::from(img.height())).round() as usize
}

/// semcom's key mask for an image at this ρ and SNR, per pixel (row-major, `true` =
/// key), and its block share: the region split every method is measured on.
pub fn key_mask(img: &RgbImage, rho: f64, snr_db: f64) -> Result<(Vec<bool>, f64)> {
    let tx = semantic::encode(img, &request(rho, snr_db), &SemanticConfig::default())?;
    Ok((tx.key_mask.pixel_mask(img.width(), img.height()), tx.key_mask.key_share()))
}

fn request(rho: f64, snr_db: f64) -> SemanticRequest {
    SemanticRequest { rho, snr_db: Some(snr_db), ..SemanticRequest::default() }
}

/// The semantic codec with a generator for the non-key regions; the sender is told
/// the cell's SNR as CSI, as `semcom submit --expected-snr` would. `semcom` uses the
/// classical (model-free) fill, `semcom-diffusion` the diffusion generator; the same
/// cell gives both the same key mask, symbols and channel draw, so they differ in the
/// non-key regions only.
pub struct Semcom {
    name: String,
    pub config: SemanticConfig,
    /// Shared by the worker threads (a model is loaded once per sweep).
    pub generator: Arc<dyn Generator>,
}

impl Semcom {
    pub fn new(name: impl Into<String>, generator: Arc<dyn Generator>) -> Self {
        Self { name: name.into(), config: SemanticConfig::default(), generator }
    }

    /// `semcom`: the classical fill.
    pub fn classical() -> Self {
        Self::new(SEMCOM, Arc::new(ClassicalFill::default()))
    }

    /// `semcom-diffusion`: the diffusion generator the receiver builds from these
    /// settings (the embedded int8 model by default).
    pub fn diffusion(settings: &DiffusionSettings) -> Result<Self> {
        let generator = GeneratorKind::Diffusion.build(settings).context(SEMCOM_DIFFUSION)?;
        Ok(Self::new(SEMCOM_DIFFUSION, generator))
    }
}

/// Method names of the semantic codec with the classical and the diffusion generator.
pub const SEMCOM: &str = "semcom";
pub const SEMCOM_DIFFUSION: &str = "semcom-diffusion";

impl Method for Semcom {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn run(&self, cell: &Cell) -> Result<Outcome> {
        let (tx, encode_ms) = timed(|| semantic::encode(cell.image, &request(cell.rho, cell.snr_db), &self.config));
        let tx = tx?;
        let out = transmit(&tx.segments, &cell.channel)?;
        let mut rx = Received::from_segments(&tx.segments, tx.report.mcs);
        rx.stream = out.stream;
        let (rec, decode_ms) = timed(|| semantic::decode(&rx, &self.config, self.generator.as_ref()));
        let (w, h) = cell.image.dimensions();
        // A lost header leaves the receiver nothing to show.
        let (image, undecodable) = shown_or_grey(rec.ok().map(|r| r.image), w, h);
        Ok(Outcome {
            image,
            split: tx.split,
            mcs: Some(tx.report.mcs),
            payload_bytes: Some(tx.report.header_bytes + tx.report.prompt_bytes),
            jpeg: None,
            blocks: None,
            blocks_failed: None,
            undecodable,
            erased_frames: out.erased_frames,
            encode_ms,
            decode_ms,
        })
    }
}

/// Whole-image SoftCast as published (the analog anchor).
#[derive(Default)]
pub struct SoftCast {
    pub config: SoftCastConfig,
}

impl Method for SoftCast {
    fn name(&self) -> String {
        "softcast".into()
    }

    fn run(&self, cell: &Cell) -> Result<Outcome> {
        let (tx, encode_ms) = timed(|| softcast::encode(cell.image, cell.rho, &self.config));
        let tx = tx?;
        let out = transmit(&tx.segments, &cell.channel)?;
        let mut rx = Received::from_segments(&tx.segments, self.config.meta_mcs);
        rx.stream = out.stream;
        let (rec, decode_ms) = timed(|| softcast::decode(&rx, &self.config));
        let (w, h) = cell.image.dimensions();
        // Lost metadata: no chunk layout, nothing to show.
        let (image, undecodable) = shown_or_grey(rec.ok().map(|r| r.image), w, h);
        Ok(Outcome {
            image,
            split: tx.split,
            mcs: Some(self.config.meta_mcs),
            payload_bytes: None,
            jpeg: None,
            blocks: None,
            blocks_failed: None,
            undecodable,
            erased_frames: out.erased_frames,
            encode_ms,
            decode_ms,
        })
    }
}

/// Method names as the CLI takes them; `jpeg-ldpc` stands for one method per MCS of
/// `mcs`, and `jpeg-ldpc-mcsN` names one directly. `semcom-diffusion` loads its model
/// from `diffusion` here, once for the whole sweep.
pub fn build(names: &[String], mcs: &[u8], diffusion: &DiffusionSettings) -> Result<Vec<Box<dyn Method>>> {
    let mut out: Vec<Box<dyn Method>> = Vec::new();
    let mut add = |m: Box<dyn Method>| {
        if !out.iter().any(|o| o.name() == m.name()) {
            out.push(m);
        }
    };
    let mut seen = std::collections::HashSet::new();
    // Each name once (so a model named twice is still loaded once).
    for name in names.iter().map(|n| n.trim()).filter(|n| seen.insert(*n)) {
        match name {
            SEMCOM => add(Box::new(Semcom::classical())),
            SEMCOM_DIFFUSION => add(Box::new(Semcom::diffusion(diffusion)?)),
            "softcast" => add(Box::<SoftCast>::default()),
            "jpeg-ldpc" => {
                if mcs.is_empty() {
                    bail!("jpeg-ldpc needs at least one MCS (--mcs)");
                }
                for &m in mcs {
                    add(Box::new(JpegLdpc::new(m)?));
                }
            }
            "jpeg-capacity" => add(Box::new(JpegCapacity)),
            other => match other.strip_prefix("jpeg-ldpc-mcs").map(str::parse::<u8>) {
                Some(Ok(m)) => add(Box::new(JpegLdpc::new(m)?)),
                _ => bail!(
                    "unknown method {other:?}: semcom, semcom-diffusion, softcast, jpeg-ldpc (one per --mcs), jpeg-ldpc-mcsN, \
                     jpeg-capacity"
                ),
            },
        }
    }
    if out.is_empty() {
        bail!("no methods selected");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| s.to_string()).collect()
    }

    /// Both semantic methods are selectable (and in the default set), each once; a
    /// bad model path for semcom-diffusion is an error naming it.
    #[test]
    fn semantic_methods_with_either_generator() {
        assert!(
            crate::eval::DEFAULT_METHODS.contains(&SEMCOM) && crate::eval::DEFAULT_METHODS.contains(&SEMCOM_DIFFUSION)
        );
        let built =
            build(&names(&["semcom", " semcom-diffusion", "semcom-diffusion"]), &[], &DiffusionSettings::default())
                .expect("methods");
        assert_eq!(built.iter().map(|m| m.name()).collect::<Vec<_>>(), [SEMCOM, SEMCOM_DIFFUSION]);

        let missing = std::path::PathBuf::from("/nonexistent/model.safetensors");
        let settings = DiffusionSettings { weights: Some(missing.clone()), ..DiffusionSettings::default() };
        let err = build(&names(&["semcom-diffusion"]), &[], &settings).err().expect("missing weights");
        let msg = format!("{err:#}");
        assert!(msg.contains(SEMCOM_DIFFUSION) && msg.contains(&missing.display().to_string()), "{msg}");
        let err = build(&names(&["diffusion"]), &[], &DiffusionSettings::default()).err().expect("unknown");
        assert!(format!("{err:#}").contains("semcom-diffusion"), "{err:#}");
    }
}
