//! JPEG + LDPC + QAM: the classic separation baseline at one fixed MCS.
//!
//! # Sender ([`jpeg_ldpc_encode`])
//! Budget `B = round(ρ·3HW)` channel uses (docs/architecture.md §2). The pilot pattern comes off the
//! top exactly as in SoftCast; the data channel uses left carry one transport block of
//! the digital link (`semcom_phy::digital`, CRC-24A, 5G NR LDPC, Gray QAM at
//! [`JpegLdpcConfig::mcs`]). Its payload is a [`HEADER_BYTES`]-byte header and the JPEG's
//! entropy-coded scan; the JPEG is [`best_jpeg`](super::best_jpeg)'s pick for the bytes
//! that leaves (abbreviated form, see [`super::jpeg`]). Only the symbols the payload
//! needs are sent, so `total ≤ budget`; every data symbol is
//! [`SectionKind::Meta`](crate::stream::SectionKind::Meta).
//!
//! # Header (big endian)
//! width 16 · height 16 (the original image) · coded width 16 · coded height 16 ·
//! quality 8 · scan length 16 · CRC-16/IBM-3740 over the preceding 11 bytes. Quality 0
//! and a zero coded size mean "nothing fitted": the receiver shows mid-grey. The
//! transport block's own length prefix is not trusted when blocks fail, so the header
//! carries the length, under its own CRC.
//!
//! # Receiver ([`jpeg_ldpc_decode`])
//! As a real one behaves: LMMSE channel estimates from the pilots, soft demapping, LDPC.
//! Code blocks that fail their CRC are passed on as the decoder's hard decisions — the
//! JPEG decoder gets corrupted data and conceals what it can, nothing is hidden or
//! repaired with knowledge a receiver would not have. If the header fails its CRC or
//! the JPEG does not decode at all, the receiver has nothing to show: the evaluation
//! gets a mid-grey (128) image of the expected size and `undecodable = true`.

use image::RgbImage;
use semcom_phy::digital::{self, Mcs};
use semcom_phy::mapping::DemapMethod;
use semcom_phy::pilots::{Equalized, PilotPattern};
use semcom_phy::{PhyError, C32};

use super::jpeg::{abbreviate, best_jpeg_by, decode_jpeg, expand, mid_grey, tables_overhead, JpegChoice};
use crate::error::CodecError;
use crate::stream::{
    check_pilots, data_capacity, equalise, pilot_pattern, sections, ChannelUseSplit, Received, Section,
};

/// Codec id on the wire for this symbol layout and header, version 1.
pub const CODEC_ID: &str = "jpeg-ldpc-v1";

/// Bytes of the header in front of the JPEG scan (see the module docs).
pub const HEADER_BYTES: usize = 13;

const CRC16: crc::Crc<u16> = crc::Crc::<u16>::new(&crc::CRC_16_IBM_3740);

/// Parameters both ends agree on (the MCS also travels in the frame headers).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct JpegLdpcConfig {
    /// Index in `semcom_phy::digital::MCS_TABLE`.
    pub mcs: u8,
    /// Pilot pattern ([`crate::stream`]), as SoftCast's: every block of
    /// `pilot_block` channel uses starts with `pilots_per_block` known pilots.
    pub pilot_block: usize,
    pub pilots_per_block: usize,
}

impl Default for JpegLdpcConfig {
    /// QPSK 1/2 and SoftCast's pilots (16 per 1024 channel uses), so the two baselines
    /// pay the same estimation overhead.
    fn default() -> Self {
        Self { mcs: 3, pilot_block: 1024, pilots_per_block: 16 }
    }
}

impl JpegLdpcConfig {
    /// Checks the MCS index and the pilot pattern (at least 2 pilots per block, so
    /// the receiver can estimate N0).
    pub fn validate(&self) -> Result<(), CodecError> {
        self.resolve_mcs()?;
        check_pilots(self.pilot_block, self.pilots_per_block)
    }

    fn resolve_mcs(&self) -> Result<Mcs, CodecError> {
        Mcs::from_index(self.mcs).map_err(|e| CodecError::InvalidConfig(format!("mcs: {e}")))
    }

    fn pattern(&self) -> Result<PilotPattern, CodecError> {
        pilot_pattern(self.pilot_block, self.pilots_per_block)
    }
}

/// Sender output. The receiver's input is the stream after the channel with the
/// frame-header facts, e.g. `Received::from_sections(&tx.sections, cfg.mcs)` then noise.
#[derive(Debug, Clone, PartialEq)]
pub struct JpegLdpcTransmission {
    /// Runs of one kind in transmission order: pilots and
    /// [`SectionKind::Meta`](crate::stream::SectionKind::Meta) data.
    pub sections: Vec<Section>,
    /// `meta` = data symbols, `analog` = 0, `total ≤ budget`.
    pub split: ChannelUseSplit,
    /// The JPEG sent (the complete file; the link carries its scan), `None` if not even
    /// the smallest one fitted and only the header is sent.
    pub jpeg: Option<JpegChoice>,
    /// Transport-block payload: header plus scan bytes.
    pub payload_bytes: usize,
}

impl JpegLdpcTransmission {
    /// All symbols concatenated in transmission order.
    pub fn symbols(&self) -> Vec<C32> {
        crate::stream::concat(&self.sections)
    }
}

/// Receiver output.
#[derive(Debug, Clone, PartialEq)]
pub struct JpegLdpcReconstruction {
    /// The decoded image at the expected size; mid-grey when `undecodable` or when the
    /// sender had nothing to send.
    pub image: RgbImage,
    /// LDPC code blocks in the transport block, and how many failed their CRC (a block
    /// whose symbols were all erased counts as failed). Both 0 when every pilot was lost
    /// and nothing could be decoded at all.
    pub blocks: usize,
    pub blocks_failed: usize,
    /// The receiver had nothing to show: header corrupt, stream unusable, or JPEG data
    /// the decoder rejected outright.
    pub undecodable: bool,
}

/// The fields in front of the scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Header {
    width: u16,
    height: u16,
    coded_width: u16,
    coded_height: u16,
    quality: u8,
    scan_len: u16,
}

impl Header {
    fn to_bytes(self) -> [u8; HEADER_BYTES] {
        let mut out = [0u8; HEADER_BYTES];
        out[0..2].copy_from_slice(&self.width.to_be_bytes());
        out[2..4].copy_from_slice(&self.height.to_be_bytes());
        out[4..6].copy_from_slice(&self.coded_width.to_be_bytes());
        out[6..8].copy_from_slice(&self.coded_height.to_be_bytes());
        out[8] = self.quality;
        out[9..11].copy_from_slice(&self.scan_len.to_be_bytes());
        let crc = CRC16.checksum(&out[..11]);
        out[11..13].copy_from_slice(&crc.to_be_bytes());
        out
    }

    /// `None` unless the CRC matches.
    fn parse(bytes: &[u8]) -> Option<Self> {
        let b: &[u8; HEADER_BYTES] = bytes.get(..HEADER_BYTES)?.try_into().ok()?;
        let be = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
        (CRC16.checksum(&b[..11]) == be(11)).then(|| Header {
            width: be(0),
            height: be(2),
            coded_width: be(4),
            coded_height: be(6),
            quality: b[8],
            scan_len: be(9),
        })
    }
}

/// JPEG (the strongest that fits the bytes the MCS leaves in `round(ρ·3HW)` channel uses
/// once pilots and the header are counted) → digital link at `cfg.mcs` → pilots inserted
/// exactly as SoftCast does. If no JPEG fits, only the header is sent (the receiver then
/// shows mid-grey).
///
/// One transport block carries at most 65535 bytes, which caps the JPEG (a 512×512
/// image at quality 95 takes ≈ 60 kB, so this binds only at large ρ and fast MCSs).
///
/// Errors: invalid configuration, ρ not finite and positive, an image side of 0 or
/// above 65535, or a budget too small for the pilots and the header alone.
pub fn jpeg_ldpc_encode(img: &RgbImage, rho: f64, cfg: &JpegLdpcConfig) -> Result<JpegLdpcTransmission, CodecError> {
    cfg.validate()?;
    if !rho.is_finite() || rho <= 0.0 {
        return Err(CodecError::InvalidRho(rho));
    }
    let (width, height) = img.dimensions();
    let (Ok(w16 @ 1..), Ok(h16 @ 1..)) = (u16::try_from(width), u16::try_from(height)) else {
        return Err(CodecError::UnsupportedImageSize { width, height });
    };
    let mcs = cfg.resolve_mcs()?;
    let pattern = cfg.pattern()?;
    // `as usize` saturates, so an absurd ρ just means "everything fits".
    let budget = (rho * f64::from(width) * f64::from(height) * 3.0).round() as usize;
    let capacity = data_capacity(&pattern, budget);
    let header_only = mcs.symbols_for(HEADER_BYTES);
    if header_only > capacity {
        return Err(CodecError::BudgetTooSmall { budget, needed: pattern.total_len(header_only), rho, width, height });
    }
    // Scan bytes that fit once the header is in; the JPEG file is longer by the tables
    // the receiver rebuilds.
    let scan_room = (mcs.capacity_bytes(capacity) - HEADER_BYTES).min(usize::from(u16::MAX));
    let overhead = tables_overhead()
        .ok_or_else(|| CodecError::InvalidConfig("JPEG encoder output is not baseline JPEG as expected".into()))?;
    let jpeg = best_jpeg_by(img, |file| file.len() <= scan_room + overhead);

    let mut header = Header { width: w16, height: h16, coded_width: 0, coded_height: 0, quality: 0, scan_len: 0 };
    let mut payload = Vec::new();
    if let Some(choice) = &jpeg {
        let scan = abbreviate(choice).ok_or_else(|| {
            CodecError::InvalidConfig("JPEG encoder output does not match its rebuilt tables (abbreviated form)".into())
        })?;
        let too_big = || CodecError::InvalidConfig(format!("JPEG scan of {} bytes exceeds the room", scan.len()));
        header.coded_width = u16::try_from(choice.coded_width).map_err(|_| too_big())?;
        header.coded_height = u16::try_from(choice.coded_height).map_err(|_| too_big())?;
        header.quality = choice.quality;
        header.scan_len = u16::try_from(scan.len()).map_err(|_| too_big())?;
        if scan.len() > scan_room {
            return Err(too_big());
        }
        payload.reserve(HEADER_BYTES + scan.len());
        payload.extend_from_slice(&header.to_bytes());
        payload.extend_from_slice(scan);
    } else {
        payload.extend_from_slice(&header.to_bytes());
    }

    let data = digital::encode(&payload, &mcs)?;
    let n = data.len();
    let split =
        ChannelUseSplit { pilots: pattern.overhead(n), meta: n, analog: 0, total: pattern.total_len(n), budget };
    debug_assert!(split.total <= budget);
    Ok(JpegLdpcTransmission {
        sections: sections(&pattern, &pattern.insert(&data), n),
        split,
        jpeg,
        payload_bytes: payload.len(),
    })
}

/// The receiver. `expected` is the size the evaluation compares at (the original's);
/// the image is always that size. A real receiver with a corrupt header or an
/// undecodable JPEG would show nothing; mid-grey stands in for "nothing".
///
/// Errors (not channel events): invalid configuration, a frame-header MCS other than
/// `cfg.mcs`, an `expected` side of 0 or above 65535, or fewer announced data symbols
/// than the smallest transmission has.
pub fn jpeg_ldpc_decode(
    rx: &Received,
    cfg: &JpegLdpcConfig,
    expected: (u32, u32),
) -> Result<JpegLdpcReconstruction, CodecError> {
    cfg.validate()?;
    if rx.meta_mcs != cfg.mcs {
        return Err(CodecError::InvalidConfig(format!(
            "frame headers say MCS {}, the receiver is configured for MCS {}",
            rx.meta_mcs, cfg.mcs
        )));
    }
    let (width, height) = expected;
    if width == 0 || height == 0 || width > u32::from(u16::MAX) || height > u32::from(u16::MAX) {
        return Err(CodecError::UnsupportedImageSize { width, height });
    }
    let mcs = cfg.resolve_mcs()?;
    let m = rx.meta_symbols;
    if m < mcs.symbols_for(HEADER_BYTES) {
        return Err(CodecError::MetadataCorrupt(format!(
            "{m} data symbols announced, fewer than a header-only transmission at MCS {}",
            mcs.index
        )));
    }
    let nothing = |blocks: usize, blocks_failed: usize| JpegLdpcReconstruction {
        image: mid_grey(width, height),
        blocks,
        blocks_failed,
        undecodable: true,
    };

    let eq = match equalise(&rx.stream, &cfg.pattern()?) {
        Ok(eq) => eq,
        // Every pilot block lost: nothing arrived to decode.
        Err(CodecError::Phy(PhyError::NonFinite(_))) => return Ok(nothing(0, 0)),
        Err(e) => return Err(e),
    };
    let eq = with_erasures(eq, m);
    let room = mcs.capacity_bytes(m);
    let (bytes, status) =
        digital::decode_lenient(&eq.symbols[..m], &eq.h[..m], &eq.noise_var[..m], &mcs, DemapMethod::MaxLog, room)?;
    let blocks = status.blocks_ok.len();
    let blocks_failed = status.blocks_ok.iter().filter(|ok| !**ok).count();
    let nothing = || Ok(nothing(blocks, blocks_failed));

    let Some(header) = Header::parse(&bytes) else { return nothing() };
    if (u32::from(header.width), u32::from(header.height)) != expected {
        // Passed its CRC yet disagrees with the image size: a missed error.
        return nothing();
    }
    if header.quality == 0 && header.scan_len == 0 {
        // The sender had no JPEG that fitted: mid-grey by design, not a channel failure.
        return Ok(JpegLdpcReconstruction {
            image: mid_grey(width, height),
            blocks,
            blocks_failed,
            undecodable: false,
        });
    }
    if header.coded_width > header.width || header.coded_height > header.height {
        return nothing();
    }
    let Some(scan) = bytes.get(HEADER_BYTES..HEADER_BYTES + usize::from(header.scan_len)) else { return nothing() };
    let Some(jpeg) = expand(header.quality, header.coded_width, header.coded_height, scan) else { return nothing() };
    match decode_jpeg(&jpeg, width, height) {
        Some(image) => Ok(JpegLdpcReconstruction { image, blocks, blocks_failed, undecodable: false }),
        None => nothing(),
    }
}

/// Extends the equalised data to `m` symbols with erasures (no signal, infinite noise:
/// LLR 0) when the stream ended early, so the decoder sees the length it was told.
fn with_erasures(mut eq: Equalized, m: usize) -> Equalized {
    if eq.symbols.len() < m {
        eq.symbols.resize(m, C32::new(f32::NAN, f32::NAN));
        eq.h.resize(m, C32::new(0.0, 0.0));
        eq.noise_var.resize(m, f32::INFINITY);
    }
    eq
}
