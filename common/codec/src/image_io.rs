//! Bounded decoding of untrusted PNG/JPEG input, and PNG encoding.
//!
//! The header is parsed first and checked against [`ImageLimits`] before any pixel buffer
//! is allocated, so a small file claiming a huge size is rejected cheaply.

use image::{ImageDecoder, ImageFormat, ImageReader, RgbImage};
use std::io::Cursor;

/// Resource limits for decoding untrusted images.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct ImageLimits {
    /// Maximum width in pixels.
    pub max_width: u32,
    /// Maximum height in pixels.
    pub max_height: u32,
    /// Maximum `width · height`.
    pub max_pixels: u64,
    /// Maximum size of the encoded input in bytes.
    pub max_input_bytes: usize,
}

impl Default for ImageLimits {
    /// 8192×8192 per side, 16 Mpx in total, 32 MiB of encoded input.
    fn default() -> Self {
        Self { max_width: 8192, max_height: 8192, max_pixels: 16 * 1024 * 1024, max_input_bytes: 32 * 1024 * 1024 }
    }
}

/// Why an input image was rejected.
#[derive(Debug, thiserror::Error)]
pub enum ImageInputError {
    #[error("image input is empty")]
    Empty,
    #[error("image input is {bytes} bytes, more than the limit of {limit} bytes")]
    TooLarge { bytes: usize, limit: usize },
    #[error("unrecognised image format (only PNG and JPEG are accepted)")]
    UnknownFormat,
    #[error("image has zero size ({width}x{height})")]
    ZeroSize { width: u32, height: u32 },
    #[error(
        "image dimensions {width}x{height} exceed the limits \
         (max {max_width}x{max_height}, {max_pixels} pixels)"
    )]
    DimensionsTooLarge { width: u32, height: u32, max_width: u32, max_height: u32, max_pixels: u64 },
    #[error("image data is truncated: {0}")]
    Truncated(String),
    #[error("image data is corrupt: {0}")]
    Corrupt(String),
    #[error("failed to encode PNG: {0}")]
    Encode(String),
}

/// Maps a decoder error to Truncated or Corrupt. Decoders report a premature end of data
/// either as an io `UnexpectedEof` or as a decoding error whose text mentions EOF.
fn classify(e: image::ImageError) -> ImageInputError {
    let text = e.to_string();
    let eof = match &e {
        image::ImageError::IoError(io) => io.kind() == std::io::ErrorKind::UnexpectedEof,
        _ => false,
    } || {
        let t = text.to_ascii_lowercase();
        t.contains("eof") || t.contains("end of file") || t.contains("unexpected end") || t.contains("no more bytes")
    };
    if eof {
        ImageInputError::Truncated(text)
    } else {
        ImageInputError::Corrupt(text)
    }
}

/// Decodes a PNG or JPEG (format guessed from content, never from a name) into 8-bit RGB.
///
/// Order of checks: empty → input size → format → header dimensions against `limits` →
/// decode with `image::Limits` also applied (defence in depth for decoder allocations).
pub fn decode_image(bytes: &[u8], limits: &ImageLimits) -> Result<RgbImage, ImageInputError> {
    if bytes.is_empty() {
        return Err(ImageInputError::Empty);
    }
    if bytes.len() > limits.max_input_bytes {
        return Err(ImageInputError::TooLarge { bytes: bytes.len(), limit: limits.max_input_bytes });
    }
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| ImageInputError::Corrupt(e.to_string()))?;
    let format = reader.format();
    match format {
        Some(ImageFormat::Png) => {
            // The png crate rejects a zero dimension as a generic format error; read the IHDR
            // ourselves so the caller gets the specific ZeroSize error.
            if let Some((width, height)) = png_ihdr_size(bytes) {
                if width == 0 || height == 0 {
                    return Err(ImageInputError::ZeroSize { width, height });
                }
            }
        }
        Some(ImageFormat::Jpeg) => {
            // The JPEG decoder conceals missing entropy-coded data (fills it grey) instead of
            // failing, so a cut-off upload would silently decode; require an EOI marker.
            if !jpeg_has_eoi_after_last_scan(bytes) {
                return Err(ImageInputError::Truncated("JPEG has no end-of-image marker after its last scan".into()));
            }
        }
        _ => return Err(ImageInputError::UnknownFormat),
    }
    let too_large = |width: u32, height: u32| ImageInputError::DimensionsTooLarge {
        width,
        height,
        max_width: limits.max_width,
        max_height: limits.max_height,
        max_pixels: limits.max_pixels,
    };
    // Worst case decoded buffer is RGBA16 (8 bytes/px) plus decoder working memory.
    let max_alloc = limits.max_pixels.saturating_mul(8).saturating_add(64 << 20);
    let mut header_limits = image::Limits::default();
    header_limits.max_alloc = Some(max_alloc);
    let mut reader = reader;
    reader.limits(header_limits);
    // Parses only the header (PNG IHDR / JPEG SOF); no pixel buffer exists yet. Width and
    // height limits are applied by us right after, so the error can name the real size.
    let mut decoder = reader.into_decoder().map_err(classify)?;
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(ImageInputError::ZeroSize { width, height });
    }
    if width > limits.max_width || height > limits.max_height || (width as u64) * (height as u64) > limits.max_pixels {
        return Err(too_large(width, height));
    }
    let mut il = image::Limits::default();
    il.max_image_width = Some(limits.max_width);
    il.max_image_height = Some(limits.max_height);
    il.max_alloc = Some(max_alloc);
    decoder.set_limits(il).map_err(|e| match e {
        image::ImageError::Limits(_) => too_large(width, height),
        e => classify(e),
    })?;
    let img = image::DynamicImage::from_decoder(decoder).map_err(|e| match e {
        image::ImageError::Limits(_) => too_large(width, height),
        e => classify(e),
    })?;
    Ok(img.into_rgb8())
}

/// Width and height from a PNG's IHDR, if the first chunk is a complete IHDR header.
fn png_ihdr_size(bytes: &[u8]) -> Option<(u32, u32)> {
    // 8-byte signature, 4-byte length, "IHDR", then width and height (big endian).
    if bytes.get(12..16)? != b"IHDR" {
        return None;
    }
    let be = |r: std::ops::Range<usize>| -> Option<u32> { Some(u32::from_be_bytes(bytes.get(r)?.try_into().ok()?)) };
    Some((be(16..20)?, be(20..24)?))
}

/// True if an EOI marker (FF D9) follows the last start-of-scan marker (FF DA).
/// Inside entropy-coded data 0xFF is always followed by 0x00 (stuffing) or a restart marker
/// (D0–D7), so neither marker can appear there by accident; searching for the last SOS
/// skips EOIs of embedded EXIF thumbnails.
fn jpeg_has_eoi_after_last_scan(bytes: &[u8]) -> bool {
    let last_sos = bytes.windows(2).rposition(|w| w == [0xFF, 0xDA]);
    match last_sos {
        Some(p) => bytes[p..].windows(2).any(|w| w == [0xFF, 0xD9]),
        None => false,
    }
}

/// Encodes an RGB image as PNG.
pub fn encode_png(img: &RgbImage) -> Result<Vec<u8>, ImageInputError> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Png).map_err(|e| ImageInputError::Encode(e.to_string()))?;
    Ok(out.into_inner())
}
