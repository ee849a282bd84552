//! The separation baselines: JPEG over the LDPC/QAM digital link at a fixed MCS
//! (`semcom_codec::baseline`), and the capacity reference line.

use anyhow::{Context, Result};
use semcom_codec::baseline::{
    jpeg_capacity, jpeg_ldpc_decode, jpeg_ldpc_encode, JpegAtCapacity, JpegChoice, JpegLdpcConfig,
};
use semcom_codec::stream::ChannelUseSplit;
use semcom_phy::digital::Mcs;

use super::method::{budget, receive, timed, Cell, JpegInfo, Method, Outcome};

fn info(choice: &JpegChoice, width: u32) -> JpegInfo {
    JpegInfo {
        quality: choice.quality,
        // What the link carries (abbreviated JPEG, tables agreed out of band).
        bytes: choice.wire_len().unwrap_or(choice.bytes.len()),
        scale: f64::from(choice.coded_width) / f64::from(width),
    }
}

/// JPEG (quality and downscale searched to fill the payload the MCS leaves) + CRC +
/// LDPC + QAM at one fixed MCS; failed code blocks reach the JPEG decoder as a real
/// receiver's would.
pub struct JpegLdpc {
    config: JpegLdpcConfig,
}

impl JpegLdpc {
    pub fn new(mcs: u8) -> Result<Self> {
        Mcs::from_index(mcs).with_context(|| format!("jpeg-ldpc MCS {mcs}"))?;
        Ok(Self { config: JpegLdpcConfig { mcs, ..JpegLdpcConfig::default() } })
    }
}

impl Method for JpegLdpc {
    fn name(&self) -> String {
        format!("jpeg-ldpc-mcs{}", self.config.mcs)
    }

    fn run(&self, cell: &Cell) -> Result<Outcome> {
        let (tx, encode_ms) = timed(|| jpeg_ldpc_encode(cell.image, cell.rho, &self.config));
        let tx = tx?;
        let (rx, erased_frames) = receive(&tx.sections, self.config.mcs, &cell.channel)?;
        let (w, h) = cell.image.dimensions();
        let (rec, decode_ms) = timed(|| jpeg_ldpc_decode(&rx, &self.config, (w, h)));
        let rec = rec?;
        Ok(Outcome {
            image: rec.image,
            split: tx.split,
            mcs: Some(self.config.mcs),
            payload_bytes: Some(tx.payload_bytes),
            jpeg: tx.jpeg.as_ref().map(|c| info(c, w)),
            blocks: Some(rec.blocks),
            blocks_failed: Some(rec.blocks_failed),
            undecodable: rec.undecodable,
            erased_frames,
            encode_ms,
            decode_ms,
        })
    }
}

/// Reference line, not a system: the best JPEG whose size fits k·log2(1+SNR) bits
/// (separation with a capacity-achieving code, no pilots). No channel is simulated:
/// such a code delivers its payload error-free by definition.
pub struct JpegCapacity;

impl Method for JpegCapacity {
    fn name(&self) -> String {
        "jpeg-capacity".into()
    }

    fn run(&self, cell: &Cell) -> Result<Outcome> {
        let k = budget(cell.image, cell.rho);
        let (JpegAtCapacity { image, jpeg: choice, budget_bytes: bytes }, encode_ms) =
            timed(|| jpeg_capacity(cell.image, k, cell.snr_db));
        let undecodable = choice.is_none();
        Ok(Outcome {
            image,
            // The whole budget is the (ideal) digital link.
            split: ChannelUseSplit { pilots: 0, meta: k, analog: 0, total: k, budget: k },
            mcs: None,
            payload_bytes: Some(bytes),
            jpeg: choice.as_ref().map(|c| info(c, cell.image.width())),
            blocks: None,
            blocks_failed: None,
            undecodable,
            erased_frames: 0,
            // The search encodes and decodes JPEGs; its time is reported as encoding.
            encode_ms,
            decode_ms: 0.0,
        })
    }
}
