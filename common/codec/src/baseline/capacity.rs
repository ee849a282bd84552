//! The separation reference line: JPEG over a capacity-achieving code.

use image::RgbImage;

use super::jpeg::{best_jpeg_by, decode_jpeg, mid_grey, tables_overhead, JpegChoice, WIRE_SIDE_BYTES};

/// What [`jpeg_capacity`] found for one image.
#[derive(Debug, Clone, PartialEq)]
pub struct JpegAtCapacity {
    /// The decoded image at the original size; mid-grey if nothing fits.
    pub image: RgbImage,
    /// The JPEG chosen, `None` if nothing fits.
    pub jpeg: Option<JpegChoice>,
    /// The byte budget `⌊⌊k·log2(1+SNR)⌋/8⌋`.
    pub budget_bytes: usize,
}

/// Reference line, not a system: the best JPEG whose size fits `⌊k·log2(1+SNR)⌋` bits
/// (k = `channel_uses`, SNR = Es/N0), decoded error-free — separation with a
/// capacity-achieving channel code, the ceiling of every JPEG-based digital scheme.
///
/// The size counted against the budget is the abbreviated form
/// ([`JpegChoice::wire_len`]: scan + quality + coded size), the same rule as the
/// JPEG + LDPC baseline, so this line bounds it; `jpeg.bytes` (the full file) is longer
/// by the tables both ends know. A NaN SNR or zero channel uses give a budget of 0.
pub fn jpeg_capacity(img: &RgbImage, channel_uses: usize, snr_db: f64) -> JpegAtCapacity {
    let (width, height) = img.dimensions();
    let bits = channel_uses as f64 * (1.0 + 10f64.powf(snr_db / 10.0)).log2();
    // `as` saturates (+∞ → usize::MAX) and maps NaN to 0.
    let budget = if channel_uses == 0 { 0 } else { (bits.floor() as usize) / 8 };
    let choice = tables_overhead()
        .and_then(|overhead| best_jpeg_by(img, |file| file.len() + WIRE_SIDE_BYTES <= budget.saturating_add(overhead)));
    let image =
        choice.as_ref().and_then(|c| decode_jpeg(&c.bytes, width, height)).unwrap_or_else(|| mid_grey(width, height));
    JpegAtCapacity { image, jpeg: choice, budget_bytes: budget }
}
