//! The compared codecs (the semantic codec with either generator, SoftCast) and the
//! selection of a sweep's methods by name. Each runs the codec code the daemons run
//! (`semcom_codec`), at the cell's bandwidth ratio and through the cell's channel;
//! another method (a learned JSCC, another codec) is one more implementation of
//! [`Method`].

use std::sync::Arc;

use anyhow::{bail, Context, Result};
use image::RgbImage;
use semcom_codec::generate::{ClassicalFill, Generator};
use semcom_codec::semantic::{self, SemanticConfig, SemanticRequest};
use semcom_codec::softcast::{self, SoftCastConfig};
use semcom_models::{DiffusionSettings, GeneratorKind};

use super::jpeg::{JpegCapacity, JpegLdpc};
use super::method::{deliver, timed, Cell, Method, Outcome, Sent};
use super::oracle::{SoftCastOracle, SOFTCAST_ORACLE};

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
        let sent = Sent {
            sections: &tx.sections,
            split: tx.split,
            mcs: tx.report.mcs,
            payload_bytes: Some(tx.report.header_bytes + tx.report.prompt_bytes),
            encode_ms,
        };
        deliver(cell, sent, |rx| semantic::decode(rx, &self.config, self.generator.as_ref()).ok().map(|r| r.image))
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
        let sent =
            Sent { sections: &tx.sections, split: tx.split, mcs: self.config.meta_mcs, payload_bytes: None, encode_ms };
        deliver(cell, sent, |rx| softcast::decode(rx, &self.config).ok().map(|r| r.image))
    }
}

/// A method as the command line and [`EvalOptions`](super::EvalOptions) name it: by the
/// name of its rows, or `jpeg-ldpc` for one method per MCS of `--mcs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MethodChoice {
    /// `semcom`: the semantic codec with the classical (model-free) fill.
    Semcom,
    /// `semcom-diffusion`: the semantic codec with the diffusion generator.
    SemcomDiffusion,
    /// `softcast`: whole-image SoftCast.
    SoftCast,
    /// `softcast-oracle`: the idealised-SoftCast reference line (perfect CSI, free side
    /// information).
    SoftCastOracle,
    /// `jpeg-ldpc`: one `jpeg-ldpc-mcsN` per MCS of `--mcs`.
    JpegLdpc,
    /// `jpeg-ldpc-mcsN`: JPEG + LDPC at MCS N.
    JpegLdpcMcs(u8),
    /// `jpeg-capacity`: the JPEG-at-capacity reference line.
    JpegCapacity,
}

/// The methods of a sweep unless told otherwise: all of them.
pub const DEFAULT_METHODS: [MethodChoice; 6] = [
    MethodChoice::Semcom,
    MethodChoice::SemcomDiffusion,
    MethodChoice::SoftCast,
    MethodChoice::SoftCastOracle,
    MethodChoice::JpegLdpc,
    MethodChoice::JpegCapacity,
];

impl std::str::FromStr for MethodChoice {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self> {
        Ok(match s.trim() {
            SEMCOM => MethodChoice::Semcom,
            SEMCOM_DIFFUSION => MethodChoice::SemcomDiffusion,
            "softcast" => MethodChoice::SoftCast,
            SOFTCAST_ORACLE => MethodChoice::SoftCastOracle,
            "jpeg-ldpc" => MethodChoice::JpegLdpc,
            "jpeg-capacity" => MethodChoice::JpegCapacity,
            other => match other.strip_prefix("jpeg-ldpc-mcs").map(str::parse::<u8>) {
                Some(Ok(m)) => MethodChoice::JpegLdpcMcs(m),
                _ => bail!(
                    "unknown method {other:?}: semcom, semcom-diffusion, softcast, softcast-oracle, jpeg-ldpc (one per --mcs), jpeg-ldpc-mcsN, \
                     jpeg-capacity"
                ),
            },
        })
    }
}

/// Parses a comma list of methods (`semcom,softcast,jpeg-ldpc-mcs5`); empty items are
/// skipped.
pub fn parse_methods(s: &str) -> Result<Vec<MethodChoice>> {
    s.split(',').filter(|m| !m.trim().is_empty()).map(str::parse).collect()
}

/// The methods of a sweep, each once, in the order chosen. `semcom-diffusion` loads its
/// model from `diffusion` here, once for the whole sweep.
pub fn build(choices: &[MethodChoice], mcs: &[u8], diffusion: &DiffusionSettings) -> Result<Vec<Box<dyn Method>>> {
    let mut out: Vec<Box<dyn Method>> = Vec::new();
    let mut add = |m: Box<dyn Method>| {
        if !out.iter().any(|o| o.name() == m.name()) {
            out.push(m);
        }
    };
    let mut seen = std::collections::HashSet::new();
    // Each choice once (so a model named twice is still loaded once).
    for &choice in choices.iter().filter(|c| seen.insert(**c)) {
        match choice {
            MethodChoice::Semcom => add(Box::new(Semcom::classical())),
            MethodChoice::SemcomDiffusion => add(Box::new(Semcom::diffusion(diffusion)?)),
            MethodChoice::SoftCast => add(Box::<SoftCast>::default()),
            MethodChoice::SoftCastOracle => add(Box::new(SoftCastOracle)),
            MethodChoice::JpegLdpc => {
                if mcs.is_empty() {
                    bail!("jpeg-ldpc needs at least one MCS (--mcs)");
                }
                for &m in mcs {
                    add(Box::new(JpegLdpc::new(m)?));
                }
            }
            MethodChoice::JpegLdpcMcs(m) => add(Box::new(JpegLdpc::new(m)?)),
            MethodChoice::JpegCapacity => add(Box::new(JpegCapacity)),
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

    fn names(n: &[&str]) -> Vec<MethodChoice> {
        n.iter().map(|s| s.parse().expect("method")).collect()
    }

    /// Both semantic methods are selectable (and in the default set), each once; a
    /// bad model path for semcom-diffusion is an error naming it.
    #[test]
    fn semantic_methods_with_either_generator() {
        assert!(
            DEFAULT_METHODS.contains(&MethodChoice::Semcom) && DEFAULT_METHODS.contains(&MethodChoice::SemcomDiffusion)
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
        assert_eq!(
            parse_methods(" semcom,,jpeg-ldpc-mcs5, jpeg-ldpc ,").expect("methods"),
            [MethodChoice::Semcom, MethodChoice::JpegLdpcMcs(5), MethodChoice::JpegLdpc]
        );
        assert_eq!(parse_methods("softcast-oracle").expect("methods"), [MethodChoice::SoftCastOracle]);
        let at = |c| DEFAULT_METHODS.iter().position(|m| *m == c);
        assert_eq!(at(MethodChoice::SoftCastOracle), at(MethodChoice::SoftCast).map(|i| i + 1));
        let err = "diffusion".parse::<MethodChoice>().expect_err("unknown");
        assert!(format!("{err:#}").contains("semcom-diffusion"), "{err:#}");
    }
}
