//! Training examples: random crops of a corpus with the conditions the receiver would
//! have, computed by the codec's own functions (importance map → key mask at the share
//! the sender picks for the drawn budget and SNR, hybrid key encoder → AWGN → LLSE
//! decoder, prompt description of the non-key segments).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use image::imageops::FilterType;
use image::RgbImage;
use semcom_codec::analog::AnalogRx;
use semcom_codec::color::{rgb_to_ycbcr, Planes};
use semcom_codec::image_io::{decode_image, ImageLimits};
use semcom_codec::key::{HybridConfig, HybridDct, KeyEncoder};
use semcom_codec::prompt::{describe, non_key_of, PromptDetail, StructuredPrompt};
use semcom_codec::segment::{importance_map, key_mask, key_share_for, BlockMask, ImportanceConfig};
use semcom_codec::C32;

use crate::rng::NoiseRng;

/// Errors while building training data.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{path}: {msg}")]
    Image { path: PathBuf, msg: String },
    #[error("no usable images (≥ {min}×{min} px) in {0}", min = .1)]
    Empty(PathBuf, u32),
    #[error("codec: {0}")]
    Codec(String),
}

/// Images of a corpus directory (PNG/JPEG, greyscale expanded to RGB), each downscaled
/// so that its longer side is at most `max_side` (photos then show detail at about the
/// scale of the receiver's typical images).
pub struct Corpus {
    pub images: Vec<RgbImage>,
    pub names: Vec<String>,
}

impl Corpus {
    pub fn load(dir: &Path, max_side: u32, min_side: u32) -> Result<Self, DataError> {
        let rd = std::fs::read_dir(dir).map_err(|e| DataError::Image { path: dir.into(), msg: e.to_string() })?;
        let mut paths: Vec<PathBuf> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension()
                    .and_then(|x| x.to_str())
                    .is_some_and(|x| matches!(x.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg"))
            })
            .collect();
        paths.sort();
        let limits =
            ImageLimits { max_width: 16384, max_height: 16384, max_pixels: 64 << 20, max_input_bytes: 64 << 20 };
        let mut images = Vec::new();
        let mut names = Vec::new();
        for p in paths {
            let bytes = std::fs::read(&p).map_err(|e| DataError::Image { path: p.clone(), msg: e.to_string() })?;
            let img =
                decode_image(&bytes, &limits).map_err(|e| DataError::Image { path: p.clone(), msg: e.to_string() })?;
            let img = fit(img, max_side);
            if img.width().min(img.height()) < min_side {
                continue;
            }
            names.push(p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
            images.push(img);
        }
        if images.is_empty() {
            return Err(DataError::Empty(dir.into(), min_side));
        }
        Ok(Self { images, names })
    }

    /// A corpus of images already in memory.
    pub fn from_images(images: Vec<RgbImage>, names: Vec<String>) -> Self {
        Self { images, names }
    }

    /// Splits every image into its top `fraction` of rows and the rest (disjoint pixels):
    /// `(top, bottom)`.
    pub fn split_rows(&self, fraction: f64) -> (Corpus, Corpus) {
        let (mut top, mut bottom) = (Vec::new(), Vec::new());
        for img in &self.images {
            let cut =
                ((f64::from(img.height()) * fraction).round() as u32).clamp(1, img.height().saturating_sub(1).max(1));
            top.push(image::imageops::crop_imm(img, 0, 0, img.width(), cut).to_image());
            bottom.push(image::imageops::crop_imm(img, 0, cut, img.width(), img.height() - cut).to_image());
        }
        (Corpus::from_images(top, self.names.clone()), Corpus::from_images(bottom, self.names.clone()))
    }

    /// Total pixels, for sampling images in proportion to their area.
    fn weights(&self) -> Vec<f64> {
        self.images.iter().map(|i| f64::from(i.width()) * f64::from(i.height())).collect()
    }
}

fn fit(img: RgbImage, max_side: u32) -> RgbImage {
    let long = img.width().max(img.height());
    if long <= max_side {
        return img;
    }
    let s = f64::from(max_side) / f64::from(long);
    let (w, h) =
        (((f64::from(img.width()) * s).round() as u32).max(1), ((f64::from(img.height()) * s).round() as u32).max(1));
    image::imageops::resize(&img, w, h, FilterType::Lanczos3)
}

/// What a generator sees, owned (the codec's `GeneratorInput` borrows).
#[derive(Debug, Clone)]
pub struct ReceivedConditions {
    pub analog: Planes,
    pub analog_valid: bool,
    pub key: BlockMask,
    pub prompt: StructuredPrompt,
}

impl ReceivedConditions {
    pub fn as_input(&self, seed: u64) -> semcom_codec::generate::GeneratorInput<'_> {
        semcom_codec::generate::GeneratorInput {
            analog: &self.analog,
            analog_valid: self.analog_valid,
            key: &self.key,
            prompt: &self.prompt,
            seed,
        }
    }
}

/// A generator that records what the semantic decoder hands it, and fills with the
/// classical fill: how tools get a real transmission's [`ReceivedConditions`] to run
/// other generators on.
#[derive(Default)]
pub struct CaptureInput(Mutex<Option<ReceivedConditions>>);

impl CaptureInput {
    /// The recorded conditions (`None` when the decoder never called the generator).
    pub fn take(self) -> Option<ReceivedConditions> {
        self.0.into_inner().ok().flatten()
    }
}

impl semcom_codec::generate::Generator for CaptureInput {
    fn name(&self) -> &str {
        "capture"
    }

    fn generate(
        &self,
        input: &semcom_codec::generate::GeneratorInput<'_>,
    ) -> Result<RgbImage, semcom_codec::generate::GenerateError> {
        if let Ok(mut g) = self.0.lock() {
            *g = Some(ReceivedConditions {
                analog: input.analog.clone(),
                analog_valid: input.analog_valid,
                key: input.key.clone(),
                prompt: input.prompt.clone(),
            });
        }
        semcom_codec::generate::ClassicalFill::default().generate(input)
    }
}

/// Ranges the conditions are drawn from.
#[derive(Debug, Clone)]
pub struct ConditionRanges {
    /// SNR of the AWGN channel, dB, uniform.
    pub snr_db: (f64, f64),
    /// Budget ρ (channel uses per pixel per colour), log-uniform.
    pub rho: (f64, f64),
    /// Share of the budget the analog symbols get (the rest: pilots, header, prompt).
    pub analog_share: f64,
    /// Probability that the analog stream is lost (the generator then has the colour
    /// layout only).
    pub p_analog_lost: f64,
}

impl Default for ConditionRanges {
    /// SNR −2…22 dB, ρ 1/64…1/16, 70 % of the budget analog, 3 % analog lost.
    fn default() -> Self {
        Self { snr_db: (-2.0, 22.0), rho: (1.0 / 64.0, 1.0 / 16.0), analog_share: 0.7, p_analog_lost: 0.03 }
    }
}

/// The receiver's view of `img` after the semantic codec at a random budget and SNR.
pub fn received_conditions(
    img: &RgbImage,
    ranges: &ConditionRanges,
    rng: &mut NoiseRng,
) -> Result<ReceivedConditions, DataError> {
    let codec = |e: String| DataError::Codec(e);
    let (w, h) = (img.width(), img.height());
    let snr = ranges.snr_db.0 + (ranges.snr_db.1 - ranges.snr_db.0) * rng.next_open01();
    let rho = (ranges.rho.0.ln() + (ranges.rho.1.ln() - ranges.rho.0.ln()) * rng.next_open01()).exp();
    let map = importance_map(img, &ImportanceConfig { block: 16, ..ImportanceConfig::default() })
        .map_err(|e| codec(e.to_string()))?;
    let share = key_share_for(3.0 * rho, snr).clamp(0.05, 0.4);
    let key = key_mask(&map, &[], share);
    let planes = rgb_to_ycbcr(img);
    let encoder = HybridDct::new(HybridConfig::default()).map_err(|e| codec(e.to_string()))?;
    let prepared = encoder.prepare(&planes, &key).map_err(|e| codec(e.to_string()))?;
    let capacity = (ranges.analog_share * rho * 3.0 * f64::from(w) * f64::from(h)) as usize;
    let sent = prepared.modulate(capacity);
    // AWGN at unit symbol power: N0 = 10^(−SNR/10), per real dimension N0/2.
    let n0 = 10f64.powf(-snr / 10.0);
    let sd = (n0 / 2.0).sqrt();
    let rx: Vec<C32> = sent
        .symbols
        .iter()
        .map(|s| C32::new(s.re + (sd * rng.next_normal()) as f32, s.im + (sd * rng.next_normal()) as f32))
        .collect();
    let ones = vec![C32::new(1.0, 0.0); rx.len()];
    let nv = vec![n0 as f32; rx.len()];
    let decoded = encoder
        .decode(&sent.side, &key, w, h, sent.symbols.len(), AnalogRx { symbols: &rx, h: &ones, noise_var: &nv })
        .map_err(|e| codec(e.to_string()))?;
    let detail = match rng.next_open01() {
        u if u < 0.7 => PromptDetail::Full,
        u if u < 0.9 => PromptDetail::Reduced,
        _ => PromptDetail::Minimal,
    };
    let prompt = describe(img, &non_key_of(&key), detail);
    let analog_valid = rng.next_open01() >= ranges.p_analog_lost;
    Ok(ReceivedConditions { analog: decoded.planes, analog_valid, key, prompt })
}

/// A random `size×size` crop (horizontally flipped half of the time) of a corpus image
/// drawn in proportion to its area.
pub fn random_crop(corpus: &Corpus, size: u32, rng: &mut NoiseRng) -> RgbImage {
    let weights = corpus.weights();
    let total: f64 = weights.iter().sum();
    let mut u = rng.next_open01() * total;
    let mut idx = 0;
    for (i, w) in weights.iter().enumerate() {
        idx = i;
        if u < *w {
            break;
        }
        u -= w;
    }
    let img = &corpus.images[idx];
    let (cw, ch) = (size.min(img.width()), size.min(img.height()));
    let x = (rng.next_open01() * f64::from(img.width() - cw + 1)) as u32;
    let y = (rng.next_open01() * f64::from(img.height() - ch + 1)) as u32;
    let mut crop = image::imageops::crop_imm(img, x.min(img.width() - cw), y.min(img.height() - ch), cw, ch).to_image();
    if rng.next_open01() < 0.5 {
        image::imageops::flip_horizontal_in_place(&mut crop);
    }
    crop
}
