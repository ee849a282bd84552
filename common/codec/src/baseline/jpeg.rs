//! The strongest JPEG that fits a byte budget, JPEG decoding of untrusted bytes, and
//! the abbreviated (tables-agreed) form the digital baselines transmit.
//!
//! # Search ([`best_jpeg`])
//! A fair engineer fitting JPEG into a small budget trades resolution for quantisation:
//! at a few hundred bytes a downscaled image at a moderate quality beats the full-size
//! image at quality 1 by several dB. So the search walks a half-octave ladder of scales
//! (1, 1/√2, 1/2, 1/(2√2), …, down to a shorter side of 8 px), finds the highest quality
//! that fits at each scale by binary search (JPEG size grows with quality, close enough
//! to monotone that bisection lands on the largest fitting quality or next to it; only
//! qualities whose actual encoding fits are ever kept), decodes and upscales each scale's
//! candidate to the original size and keeps the one with the highest PSNR. PSNR over
//! scale is unimodal in practice, so the ladder stops once a scale is more than
//! [`LADDER_STOP_DB`] below the best so far.
//!
//! # Abbreviated form ([`JpegChoice::wire_len`])
//! The `image` crate's encoder writes baseline JPEG with the standard (Annex K) Huffman
//! tables and quantisation tables that are a function of the quality alone, so ≈ 600
//! bytes of every file (JFIF, DQT, DHT, SOF, SOS markers) are known to a receiver that
//! knows the quality and the coded size. ITU-T T.81 allows exactly this ("abbreviated
//! format for compressed image data", B.4: tables agreed out of band). At the budgets of
//! interest (≈ 1.5 kB for a 512×512 image at ρ = 1/64 and QPSK 1/2, ≈ 40 kB at ρ = 1/16
//! and 256-QAM 5/6) those 620 bytes would be a 40 %-to-2 % tax that turns the baseline
//! into a straw man exactly where it matters, so the digital baselines send only the
//! entropy-coded scan plus quality and coded size ([`WIRE_SIDE_BYTES`]) and the receiver
//! rebuilds the byte-identical file. [`best_jpeg`] itself keeps the plain meaning: the
//! whole file fits `max_bytes`.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::imageops::{self, FilterType};
use image::{ImageFormat, ImageReader, Rgb, RgbImage};

/// Highest quality searched (above 95 the size explodes for a fraction of a dB).
pub const MAX_QUALITY: u8 = 95;
/// Shortest side, in pixels, a downscaled candidate may have.
pub const MIN_SIDE: u32 = 8;
/// The scale ladder stops at the first scale this many dB below the best so far.
pub const LADDER_STOP_DB: f64 = 1.0;
/// Side information the abbreviated form needs besides the scan: quality (1 byte) and
/// coded width and height (2 bytes each).
pub const WIRE_SIDE_BYTES: usize = 5;

/// Largest JPEG [`decode_jpeg`] accepts, and the decoded-size caps it applies: corrupted
/// data may claim any frame size up to 65535², which must not turn into a 12 GB buffer.
const MAX_INPUT_BYTES: usize = 32 << 20;
const MAX_DECODED_SIDE: u32 = 8192;
const MAX_DECODED_PIXELS: u64 = 16 << 20;

/// Resampling filter for downscaling before encoding and upscaling after decoding.
const FILTER: FilterType = FilterType::CatmullRom;

/// A JPEG chosen by [`best_jpeg`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JpegChoice {
    /// The complete baseline JPEG file.
    pub bytes: Vec<u8>,
    /// Encoder quality, 1..=[`MAX_QUALITY`].
    pub quality: u8,
    /// Size the image was downscaled to before encoding (the JPEG's frame size).
    pub coded_width: u32,
    pub coded_height: u32,
}

impl JpegChoice {
    /// Bytes the abbreviated form takes on a link: the entropy-coded scan plus
    /// [`WIRE_SIDE_BYTES`] (see the module docs). `None` if the file is not laid out
    /// the way this crate's encoder writes it (never for a [`best_jpeg`] result).
    pub fn wire_len(&self) -> Option<usize> {
        abbreviate(self).map(|scan| scan.len() + WIRE_SIDE_BYTES)
    }
}

/// Strongest JPEG of `img` that fits `max_bytes`: searches quality (1..=95, binary
/// search per scale) and downscale (a half-octave ladder 1, 1/√2, 1/2, … down to a
/// minimum side of 8 px), keeps the candidate whose decoded-and-upscaled image has the
/// highest PSNR against `img`. `None` if not even the smallest fits, or if `img` has a
/// side of 0 or above 65535 (JPEG's limit).
pub fn best_jpeg(img: &RgbImage, max_bytes: usize) -> Option<JpegChoice> {
    best_jpeg_by(img, |jpeg| jpeg.len() <= max_bytes)
}

/// [`best_jpeg`] with the budget expressed as a predicate on the encoded file, so the
/// abbreviated form's budget can be checked on the scan length.
pub(crate) fn best_jpeg_by(img: &RgbImage, fits: impl Fn(&[u8]) -> bool) -> Option<JpegChoice> {
    let (width, height) = img.dimensions();
    if width == 0 || height == 0 || width > u32::from(u16::MAX) || height > u32::from(u16::MAX) {
        return None;
    }
    let mut best: Option<(f64, JpegChoice)> = None;
    for (cw, ch) in scale_ladder(width, height) {
        let scaled;
        let source = if (cw, ch) == (width, height) {
            img
        } else {
            scaled = imageops::resize(img, cw, ch, FILTER);
            &scaled
        };
        let Some((quality, bytes)) = highest_fitting_quality(source, &fits) else {
            // Nothing fits at this scale; a smaller one may.
            continue;
        };
        let Some(rec) = decode_jpeg(&bytes, width, height) else { continue };
        // PSNR from the metrics' MSE, uncapped: `semcom_metrics::psnr` stops at 100 dB,
        // which would tie near-lossless candidates that this ranking tells apart.
        let Ok(mse) = semcom_metrics::mse(img, &rec) else { continue };
        let score = 10.0 * (255.0 * 255.0 / mse).log10();
        if let Some((top, _)) = &best {
            if score < top - LADDER_STOP_DB {
                break;
            }
            if score <= *top {
                continue;
            }
        }
        best = Some((score, JpegChoice { bytes, quality, coded_width: cw, coded_height: ch }));
    }
    best.map(|(_, choice)| choice)
}

/// Decodes JPEG bytes (bounded, untrusted) and resizes to `width`×`height` (Catmull-Rom);
/// `None` if undecodable or if a target side is 0.
///
/// Unlike [`crate::image_io::decode_image`] this does not insist on an end-of-image
/// marker: the digital baselines hand it damaged data on purpose, and a real JPEG
/// decoder conceals what it can rather than showing nothing. Frame sizes above 8192 per
/// side or 16 Mpx are refused before any pixel buffer exists.
pub fn decode_jpeg(bytes: &[u8], width: u32, height: u32) -> Option<RgbImage> {
    if bytes.is_empty() || bytes.len() > MAX_INPUT_BYTES || width == 0 || height == 0 {
        return None;
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), ImageFormat::Jpeg);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_DECODED_SIDE);
    limits.max_image_height = Some(MAX_DECODED_SIDE);
    // RGB8 output plus the decoder's working memory.
    limits.max_alloc = Some(MAX_DECODED_PIXELS * 8 + (64 << 20));
    reader.limits(limits);
    let decoded = reader.decode().ok()?;
    if u64::from(decoded.width()) * u64::from(decoded.height()) > MAX_DECODED_PIXELS {
        return None;
    }
    let rgb = decoded.into_rgb8();
    if rgb.dimensions() == (width, height) {
        Some(rgb)
    } else {
        Some(imageops::resize(&rgb, width, height, FILTER))
    }
}

/// A uniform mid-grey (128) image: what a receiver shows when it has nothing.
pub fn mid_grey(width: u32, height: u32) -> RgbImage {
    RgbImage::from_pixel(width, height, Rgb([128, 128, 128]))
}

/// Half-octave scales from 1 down while the shorter side stays ≥ [`MIN_SIDE`] (full
/// size is always included, however small the image). Consecutive duplicates (tiny
/// images) are dropped.
fn scale_ladder(width: u32, height: u32) -> Vec<(u32, u32)> {
    let mut out = vec![(width, height)];
    for step in 1.. {
        let s = 0.5f64.powf(f64::from(step) / 2.0);
        let dims = (((f64::from(width) * s).round() as u32).max(1), ((f64::from(height) * s).round() as u32).max(1));
        if dims.0.min(dims.1) < MIN_SIDE {
            break;
        }
        if out.last() != Some(&dims) {
            out.push(dims);
        }
    }
    out
}

/// The highest quality in 1..=[`MAX_QUALITY`] whose encoding `fits`, and that encoding.
/// Bisection between a fitting and a non-fitting quality; every returned file was
/// checked.
fn highest_fitting_quality(img: &RgbImage, fits: &impl Fn(&[u8]) -> bool) -> Option<(u8, Vec<u8>)> {
    let lowest = encode(img, 1)?;
    if !fits(&lowest) {
        return None;
    }
    let highest = encode(img, MAX_QUALITY)?;
    if fits(&highest) {
        return Some((MAX_QUALITY, highest));
    }
    let (mut lo, mut hi, mut best) = (1u8, MAX_QUALITY, lowest);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        let bytes = encode(img, mid)?;
        if fits(&bytes) {
            (lo, best) = (mid, bytes);
        } else {
            hi = mid;
        }
    }
    Some((lo, best))
}

/// Baseline JPEG of `img` at `quality`; `None` if the encoder refuses (size limits).
pub(crate) fn encode(img: &RgbImage, quality: u8) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(4096);
    JpegEncoder::new_with_quality(&mut out, quality).encode_image(img).ok()?;
    Some(out)
}

// ---- Abbreviated form -------------------------------------------------------------

const SOI: u8 = 0xD8;
const EOI: u8 = 0xD9;
const SOF0: u8 = 0xC0;
const SOS: u8 = 0xDA;

/// Offset of the first byte after the SOS segment (where the entropy-coded scan
/// starts) and of the SOF0 segment's marker, walking the marker segments of a file
/// laid out as this crate's encoder writes it: SOI, then length-prefixed segments up
/// to and including one SOS.
fn scan_start(jpeg: &[u8]) -> Option<(usize, usize)> {
    if jpeg.get(..2)? != [0xFF, SOI] {
        return None;
    }
    let (mut pos, mut sof) = (2usize, None);
    loop {
        let [0xFF, marker, hi, lo] = *jpeg.get(pos..pos + 4)? else { return None };
        let len = usize::from(u16::from_be_bytes([hi, lo]));
        if len < 2 {
            return None;
        }
        if marker == SOF0 {
            sof = Some(pos);
        }
        pos += 2 + len;
        if marker == SOS {
            return Some((pos.min(jpeg.len()), sof?));
        }
    }
}

/// The header bytes (SOI … end of SOS) the encoder writes for `quality` and a
/// `width`×`height` frame: those of a tiny image with the SOF0 frame size patched.
fn header_for(quality: u8, width: u16, height: u16) -> Option<Vec<u8>> {
    let probe = encode(&RgbImage::new(8, 8), quality)?;
    let (start, sof) = scan_start(&probe)?;
    let mut header = probe[..start].to_vec();
    // SOF0: FF C0, length (2), precision (1), height (2), width (2).
    header.get_mut(sof + 5..sof + 9)?.copy_from_slice(&[height.to_be_bytes(), width.to_be_bytes()].concat());
    Some(header)
}

/// The entropy-coded scan of `choice` (what goes on the wire besides quality and coded
/// size), after checking that the rest of the file is exactly what [`expand`] rebuilds.
pub(crate) fn abbreviate(choice: &JpegChoice) -> Option<&[u8]> {
    let (start, _) = scan_start(&choice.bytes)?;
    let body = choice.bytes.strip_suffix(&[0xFF, EOI])?;
    let w = u16::try_from(choice.coded_width).ok()?;
    let h = u16::try_from(choice.coded_height).ok()?;
    let header = header_for(choice.quality, w, h)?;
    (header.len() == start && header[..] == choice.bytes[..start]).then(|| body.get(start..)).flatten()
}

/// Rebuilds the complete JPEG file from the abbreviated form (the inverse of
/// [`abbreviate`]); `None` for a quality or size the encoder would not have used.
pub(crate) fn expand(quality: u8, width: u16, height: u16, scan: &[u8]) -> Option<Vec<u8>> {
    if !(1..=MAX_QUALITY).contains(&quality) || width == 0 || height == 0 {
        return None;
    }
    let mut jpeg = header_for(quality, width, height)?;
    jpeg.reserve(scan.len() + 2);
    jpeg.extend_from_slice(scan);
    jpeg.extend_from_slice(&[0xFF, EOI]);
    Some(jpeg)
}

/// Bytes of a complete file beyond its scan: what the abbreviated form saves, less
/// [`WIRE_SIDE_BYTES`]. Constant for this encoder (fixed-size tables and frame header).
pub(crate) fn tables_overhead() -> Option<usize> {
    Some(header_for(MAX_QUALITY, 8, 8)?.len() + 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| Rgb([(x * 7 % 256) as u8, (y * 5 % 256) as u8, ((x + y) % 256) as u8]))
    }

    #[test]
    fn ladder_halves_every_two_steps_and_stops_at_min_side() {
        let l = scale_ladder(512, 300);
        assert_eq!(l[0], (512, 300));
        assert_eq!(l[2], (256, 150));
        assert_eq!(l[4], (128, 75));
        assert!(l.iter().skip(1).all(|&(w, h)| w.min(h) >= MIN_SIDE));
        assert_eq!(scale_ladder(5, 3), vec![(5, 3)]);
    }

    #[test]
    fn abbreviated_form_round_trips_exactly() {
        let img = gradient(37, 23);
        for q in [1u8, 40, 95] {
            let bytes = encode(&img, q).expect("encode");
            let choice = JpegChoice { bytes, quality: q, coded_width: 37, coded_height: 23 };
            let scan = abbreviate(&choice).expect("abbreviate");
            assert_eq!(choice.bytes.len() - scan.len(), tables_overhead().expect("overhead"));
            assert_eq!(expand(q, 37, 23, scan).expect("expand"), choice.bytes);
            // The wrong quality rebuilds a different file: the quality is not redundant.
            assert!(abbreviate(&JpegChoice { quality: q % 95 + 1, ..choice.clone() }).is_none());
        }
        assert!(expand(0, 8, 8, &[]).is_none() && expand(96, 8, 8, &[]).is_none() && expand(50, 0, 8, &[]).is_none());
    }

    #[test]
    fn highest_quality_is_the_largest_that_fits() {
        let img = gradient(64, 64);
        let sizes: Vec<usize> = (1..=MAX_QUALITY).map(|q| encode(&img, q).expect("encode").len()).collect();
        let budget = sizes[59]; // quality 60
        let (q, bytes) = highest_fitting_quality(&img, &|b: &[u8]| b.len() <= budget).expect("fits");
        assert!(bytes.len() <= budget && q >= 60, "q {q}");
        assert!(highest_fitting_quality(&img, &|b: &[u8]| b.len() < sizes[0]).is_none());
    }
}
