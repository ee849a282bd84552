//! The semantic codec (docs/architecture.md §3): key blocks as analog latent symbols, non-key segments
//! as a structured prompt, both over the semcom PHY; the receiver denoises and
//! regenerates. One code path for the daemons, the demo and the evaluation command.
//!
//! # Sender ([`encode`])
//! 1. Budget `B = round(ρ·3HW)` channel uses; the pilot pattern comes off the top.
//! 2. Link adaptation: the semantic MCS from the expected SNR ([`budget::semantic_mcs`]).
//! 3. Importance map → key mask with [`key_share_for`] of the blocks (ROIs first).
//! 4. The key encoder ([`crate::key::HybridDct`]) fixes its side information.
//! 5. Prompt of the non-key segments at the richest [`PromptDetail`] whose records fit
//!    `max_prompt_share` of the data capacity (Full → Reduced → Minimal → none), so the
//!    prompt degrades before the key symbols starve.
//! 6. Digital records ([`header`]) at the semantic MCS, then the analog key symbols in
//!    all the channel uses left; pilots inserted.
//!
//! # Receiver ([`decode`])
//! Pilots → LMMSE channel estimates and N̂0; preamble and core must pass their CRC
//! (else [`CodecError::MetadataCorrupt`]); each segment record that fails its CRC or does
//! not parse is repaired from safe priors ([`crate::prompt::safe_prior`]) and listed; the
//! key decoder's LLSE gives the frame estimate; a [`Generator`] fills the non-key
//! regions.

pub mod budget;
pub mod header;

use image::RgbImage;
use prost::Message;
use semcom_phy::digital::{self, Mcs};
use semcom_phy::mapping::DemapMethod;

use crate::analog::AnalogRx;
use crate::color::rgb_to_ycbcr;
use crate::error::CodecError;
use crate::generate::{GenerateError, Generator, GeneratorInput};
use crate::key::{HybridConfig, HybridDct, KeyEncoder, KeyError, HYBRID_ID};
use crate::prompt::{
    describe, non_key_of, render_text, safe_prior, PromptDetail, Repair, SegmentPrompt, StructuredPrompt,
};
use crate::segment::{importance_map, key_mask, key_share_for, BlockMask, ImportanceConfig, Roi};
use crate::stream::{
    check_pilots, data_capacity, equalise, mean_gain, pilot_pattern, sections, ChannelUseSplit, Received, Section,
};
use header::{parse_preamble, preamble, preamble_mcs, Core, PREAMBLE_BYTES};

/// Codec id on the wire (the transmission header's `codec`).
pub const CODEC_ID: &str = "semantic-v1";

/// Sender and receiver parameters. Pilots, block size and key encoder must agree at
/// both ends (they are part of the codec version); the semantic MCS travels in the frame
/// headers.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct SemanticConfig {
    /// Pilot pattern (P pilots at the start of every block of L uses, [`crate::stream`]).
    pub pilot_block: usize,
    pub pilots_per_block: usize,
    /// Key/non-key block side, pixels.
    pub block: u32,
    /// Key share bounds (fraction of blocks) and an optional fixed share. The share
    /// follows [`key_share_for`] (rising with SNR, calibration there) inside
    /// `[min, max]`; the ceiling 0.3 keeps whole-image MS-SSIM near SoftCast's at high
    /// SNR (share 0.6 at 20 dB, ρ = 1/32: key regions only +0.8 dB).
    pub key_share_min: f64,
    pub key_share_max: f64,
    pub key_share: Option<f64>,
    /// Semantic MCS: used when the SNR is unknown; else the fastest up to `max_mcs`
    /// with `mcs_margin_db` of margin.
    pub default_mcs: u8,
    pub max_mcs: u8,
    pub mcs_margin_db: f64,
    /// Most of the data capacity the prompt records may take.
    pub max_prompt_share: f64,
    pub hybrid: HybridConfig,
    /// Receiver cap on H·W from the header.
    pub max_pixels: u64,
}

impl Default for SemanticConfig {
    fn default() -> Self {
        Self {
            pilot_block: 1024,
            pilots_per_block: 16,
            block: 16,
            key_share_min: 0.1,
            key_share_max: 0.3,
            key_share: None,
            default_mcs: 1,
            max_mcs: 5,
            mcs_margin_db: 3.0,
            max_prompt_share: 0.15,
            hybrid: HybridConfig::default(),
            max_pixels: 16 * 1024 * 1024,
        }
    }
}

impl SemanticConfig {
    pub fn validate(&self) -> Result<(), CodecError> {
        let bad = |s: String| Err(CodecError::InvalidConfig(s));
        check_pilots(self.pilot_block, self.pilots_per_block)?;
        if self.max_pixels == 0 {
            return bad("max_pixels must be positive".into());
        }
        if !(4..=255).contains(&self.block) {
            return bad(format!("block = {}: must be in 4..=255", self.block));
        }
        let share_ok = |v: f64| (0.0..=1.0).contains(&v);
        if !share_ok(self.key_share_min) || !share_ok(self.key_share_max) || self.key_share_min > self.key_share_max {
            return bad("key_share_min/max must satisfy 0 <= min <= max <= 1".into());
        }
        if self.key_share.is_some_and(|v| !share_ok(v)) {
            return bad("key_share must be in [0, 1]".into());
        }
        for (name, m) in [("default_mcs", self.default_mcs), ("max_mcs", self.max_mcs)] {
            Mcs::from_index(m).map_err(|e| CodecError::InvalidConfig(format!("{name}: {e}")))?;
        }
        if !self.mcs_margin_db.is_finite() || !(0.0..=1.0).contains(&self.max_prompt_share) {
            return bad("mcs_margin_db must be finite and max_prompt_share in [0, 1]".into());
        }
        self.hybrid.validate().map_err(|e| CodecError::InvalidConfig(e.to_string()))
    }
}

/// What the sender is asked to do with one image.
#[derive(Debug, Clone, Default)]
pub struct SemanticRequest {
    pub rho: f64,
    /// Expected Es/N0 at the receiver (CSI feedback or a planning value); `None` = unknown.
    pub snr_db: Option<f64>,
    pub rois: Vec<Roi>,
    /// Free text for the prompt (attached to the largest non-key segment).
    pub caption: Option<String>,
}

/// Where the channel uses of the digital part went, and what the semantics say.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SemanticReport {
    pub mcs: u8,
    pub key_share: f64,
    pub key_blocks: usize,
    pub blocks: usize,
    /// Prompt detail sent: "full", "reduced", "minimal" or "none".
    pub detail: String,
    pub prompt_segments: usize,
    pub prompt_bytes: usize,
    pub prompt_symbols: usize,
    /// Preamble + core (mask, key side information, record lengths).
    pub header_bytes: usize,
    pub header_symbols: usize,
    pub mask_bytes: usize,
    pub side_bytes: usize,
    /// Key coefficients carried, chunks sent whole / all chunks.
    pub key_coefficients: usize,
    pub chunks_sent: usize,
    pub chunks_total: usize,
}

/// Sender output.
#[derive(Debug, Clone, PartialEq)]
pub struct SemanticTransmission {
    pub sections: Vec<Section>,
    /// `meta` counts every digital symbol (header and prompt).
    pub split: ChannelUseSplit,
    pub report: SemanticReport,
    pub key_mask: BlockMask,
    pub prompt: StructuredPrompt,
}

/// Receiver output.
#[derive(Debug, Clone, PartialEq)]
pub struct SemanticReconstruction {
    pub image: RgbImage,
    pub key_mask: BlockMask,
    /// The prompt as used (after repair).
    pub prompt: StructuredPrompt,
    pub prompt_text: String,
    /// Segment records that failed their CRC or did not parse.
    pub failed_records: Vec<usize>,
    pub repairs: Vec<Repair>,
    pub split: ChannelUseSplit,
    /// Digital symbols of the preamble + header, and of the prompt records.
    pub header_symbols: usize,
    pub prompt_symbols: usize,
    /// Prompt detail the sender chose ("full", "reduced", "minimal", "none").
    pub detail: String,
    pub mcs: u8,
    pub snr_est_db: f64,
    pub n0_est: f64,
    pub mean_gain_est: f64,
    pub erased_analog: usize,
    pub generator: String,
}

/// Prompt detail names by their code in the header; the code of "none" is the last.
const DETAIL_NAMES: [&str; 4] = ["full", "reduced", "minimal", "none"];

fn detail_code(d: Option<PromptDetail>) -> (u8, &'static str) {
    let code = match d {
        Some(PromptDetail::Full) => 0,
        Some(PromptDetail::Reduced) => 1,
        Some(PromptDetail::Minimal) => 2,
        None => 3,
    };
    (code, DETAIL_NAMES[usize::from(code)])
}

/// Name of a header's detail code; unknown codes read as "none".
fn detail_name(code: u8) -> &'static str {
    DETAIL_NAMES.get(usize::from(code)).copied().unwrap_or("none")
}

fn key_error(e: KeyError) -> CodecError {
    match e {
        KeyError::InvalidConfig(s) => CodecError::InvalidConfig(s),
        KeyError::Dct(d) => CodecError::Dct(d),
        other => CodecError::MetadataInvalid(other.to_string()),
    }
}

/// Encodes one image (module docs).
pub fn encode(img: &RgbImage, req: &SemanticRequest, cfg: &SemanticConfig) -> Result<SemanticTransmission, CodecError> {
    cfg.validate()?;
    let rho = req.rho;
    if !rho.is_finite() || rho <= 0.0 {
        return Err(CodecError::InvalidRho(rho));
    }
    let (width, height) = img.dimensions();
    if width == 0 || height == 0 || width > u16::MAX as u32 || height > u16::MAX as u32 {
        return Err(CodecError::UnsupportedImageSize { width, height });
    }
    let pattern = pilot_pattern(cfg.pilot_block, cfg.pilots_per_block)?;
    let budget = (rho * f64::from(height) * f64::from(width) * 3.0).round() as usize;
    let capacity = data_capacity(&pattern, budget);
    let mcs_id = budget::semantic_mcs(req.snr_db, cfg.mcs_margin_db, cfg.max_mcs, cfg.default_mcs);
    let mcs = Mcs::from_index(mcs_id).map_err(|e| CodecError::InvalidConfig(e.to_string()))?;
    let pre_mcs = Mcs::from_index(preamble_mcs(mcs_id)).map_err(|e| CodecError::InvalidConfig(e.to_string()))?;

    let map = importance_map(img, &ImportanceConfig { block: cfg.block, ..ImportanceConfig::default() })
        .map_err(|e| CodecError::InvalidConfig(e.to_string()))?;
    // More key blocks as the SNR rises (each key pixel needs fewer channel uses to beat
    // what the generator would invent); unknown SNR plans for 10 dB.
    let share = cfg.key_share.unwrap_or_else(|| {
        key_share_for(3.0 * rho, req.snr_db.unwrap_or(10.0)).clamp(cfg.key_share_min, cfg.key_share_max)
    });
    let key = key_mask(&map, &req.rois, share);
    let planes = rgb_to_ycbcr(img);
    let encoder = HybridDct::new(cfg.hybrid.clone()).map_err(key_error)?;
    let prepared = encoder.prepare(&planes, &key).map_err(key_error)?;
    let mask_bytes = key.encode();
    let header_cost = |records: &[Vec<u8>]| {
        let core_len = Core::encoded_len(mask_bytes.len(), prepared.side_len(), records.len());
        (core_len, pre_mcs.symbols_for(PREAMBLE_BYTES) + mcs.symbols_for(core_len))
    };
    let (_, min_header) = header_cost(&[]);
    if min_header > capacity {
        return Err(CodecError::BudgetTooSmall { budget, needed: pattern.total_len(min_header), rho, width, height });
    }

    // Richest prompt whose records fit their share (and leave the header room).
    let non_key = non_key_of(&key);
    let prompt_cap = (cfg.max_prompt_share * capacity as f64) as usize;
    let mut chosen: (Option<PromptDetail>, StructuredPrompt, Vec<Vec<u8>>) =
        (None, StructuredPrompt { width, height, block: cfg.block, segments: Vec::new() }, Vec::new());
    if non_key.count() > 0 {
        for detail in [PromptDetail::Full, PromptDetail::Reduced, PromptDetail::Minimal] {
            let mut p = describe(img, &non_key, detail);
            attach_caption(&mut p, req.caption.as_deref());
            let records: Vec<Vec<u8>> = p.segments.iter().map(|s| s.encode_to_vec()).collect();
            let syms: usize = records.iter().map(|r| mcs.symbols_for(r.len())).sum();
            if syms <= prompt_cap && header_cost(&records).1 + syms <= capacity {
                chosen = (Some(detail), p, records);
                break;
            }
        }
    }
    let (detail, prompt, records) = chosen;
    let prompt_symbols: usize = records.iter().map(|r| mcs.symbols_for(r.len())).sum();
    let (_, header_symbols) = header_cost(&records);
    let analog_capacity = capacity - header_symbols - prompt_symbols;
    let key_syms = prepared.modulate(analog_capacity);
    let core = Core {
        width: width as u16,
        height: height as u16,
        block: cfg.block as u8,
        key_encoder: HYBRID_ID,
        analog_symbols: key_syms.symbols.len() as u32,
        detail: detail_code(detail).0,
        mask: mask_bytes.clone(),
        side: key_syms.side.clone(),
        records: records.iter().map(|r| r.len() as u16).collect(),
    };
    let core_bytes = core.to_bytes();
    let mut data = digital::encode(&preamble(core_bytes.len(), mcs_id), &pre_mcs)?;
    data.extend(digital::encode(&core_bytes, &mcs)?);
    debug_assert_eq!(data.len(), header_symbols);
    for r in &records {
        data.extend(digital::encode(r, &mcs)?);
    }
    let meta = data.len();
    data.extend_from_slice(&key_syms.symbols);
    let split = ChannelUseSplit {
        pilots: pattern.overhead(data.len()),
        meta,
        analog: key_syms.symbols.len(),
        total: pattern.total_len(data.len()),
        budget,
    };
    debug_assert!(split.total <= budget);
    let report = SemanticReport {
        mcs: mcs_id,
        key_share: key.key_share(),
        key_blocks: key.count(),
        blocks: key.bits().len(),
        detail: detail_code(detail).1.to_string(),
        prompt_segments: prompt.segments.len(),
        prompt_bytes: records.iter().map(Vec::len).sum(),
        prompt_symbols,
        header_bytes: PREAMBLE_BYTES + core_bytes.len(),
        header_symbols,
        mask_bytes: mask_bytes.len(),
        side_bytes: key_syms.side.len(),
        key_coefficients: key_syms.coefficients,
        chunks_sent: key_syms.chunks_sent,
        chunks_total: key_syms.chunks_total,
    };
    Ok(SemanticTransmission {
        sections: sections(&pattern, &pattern.insert(&data), meta),
        split,
        report,
        key_mask: key,
        prompt,
    })
}

/// The request's caption goes with the largest segment (most blocks).
fn attach_caption(p: &mut StructuredPrompt, caption: Option<&str>) {
    let Some(text) = caption.map(str::trim).filter(|t| !t.is_empty()) else {
        return;
    };
    let blocks = |s: &SegmentPrompt| BlockMask::decode(&s.geometry, 1 << 20).map(|m| m.count()).unwrap_or(0);
    if let Some(s) = p.segments.iter_mut().max_by_key(|s| blocks(s)) {
        // Longest prefix within the prompt limit, on a character boundary.
        let mut end = text.len().min(crate::prompt::PromptLimits::default().max_caption_bytes);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        s.caption = text[..end].to_string();
    }
}

/// Reconstructs the image (module docs).
pub fn decode(
    rx: &Received,
    cfg: &SemanticConfig,
    generator: &dyn Generator,
) -> Result<SemanticReconstruction, CodecError> {
    cfg.validate()?;
    let pattern = pilot_pattern(cfg.pilot_block, cfg.pilots_per_block)?;
    let mcs =
        Mcs::from_index(rx.meta_mcs).map_err(|e| CodecError::MetadataCorrupt(format!("frame header MCS: {e}")))?;
    let eq = equalise(&rx.stream, &pattern)?;
    let m = rx.meta_symbols;
    if m == 0 || m > eq.symbols.len() {
        return Err(CodecError::MetadataCorrupt(format!(
            "{m} semantic symbols announced, {} data symbols received",
            eq.symbols.len()
        )));
    }
    // Records in order; each knows its symbol count from its byte length.
    let mut at = 0usize;
    let pre_mcs = Mcs::from_index(preamble_mcs(mcs.index)).map_err(|e| CodecError::MetadataCorrupt(e.to_string()))?;
    let mut record = |bytes: usize, mcs: &Mcs| -> Result<Option<Vec<u8>>, CodecError> {
        let n = mcs.symbols_for(bytes);
        if at + n > m {
            return Err(CodecError::MetadataCorrupt(format!(
                "records need more than the {m} semantic symbols announced"
            )));
        }
        let r = at..at + n;
        at += n;
        let d = digital::decode(&eq.symbols[r.clone()], &eq.h[r.clone()], &eq.noise_var[r], mcs, DemapMethod::MaxLog)?;
        Ok(d.payload.filter(|p| p.len() == bytes))
    };
    let pre = record(PREAMBLE_BYTES, &pre_mcs)?
        .ok_or_else(|| CodecError::MetadataCorrupt("preamble failed its CRC".into()))?;
    let (core_len, records_mcs) = parse_preamble(&pre).map_err(CodecError::MetadataInvalid)?;
    if records_mcs != mcs.index {
        return Err(CodecError::MetadataInvalid(format!(
            "preamble says MCS {records_mcs}, the frame headers say {}",
            mcs.index
        )));
    }
    let core_bytes =
        record(core_len, &mcs)?.ok_or_else(|| CodecError::MetadataCorrupt("semantic header failed its CRC".into()))?;
    let header_symbols = pre_mcs.symbols_for(PREAMBLE_BYTES) + mcs.symbols_for(core_len);
    let core = Core::from_bytes(&core_bytes).map_err(CodecError::MetadataInvalid)?;
    let (w, h) = (u32::from(core.width), u32::from(core.height));
    if u64::from(w) * u64::from(h) > cfg.max_pixels {
        return Err(CodecError::MetadataInvalid(format!("{w}x{h} exceeds the receiver's pixel cap")));
    }
    if core.key_encoder != HYBRID_ID {
        return Err(CodecError::MetadataInvalid(format!("unknown key encoder id {}", core.key_encoder)));
    }
    let max_blocks = (w.div_ceil(u32::from(core.block)) * h.div_ceil(u32::from(core.block))) as usize;
    let key = core.key_mask(max_blocks).map_err(|e| CodecError::MetadataInvalid(format!("key mask: {e}")))?;
    let mut failed = Vec::new();
    let mut segments = Vec::with_capacity(core.records.len());
    for (i, &len) in core.records.iter().enumerate() {
        let seg = record(len as usize, &mcs)?.and_then(|b| SegmentPrompt::decode(b.as_slice()).ok());
        if seg.is_none() {
            failed.push(i);
        }
        segments.push(seg.unwrap_or_default());
    }
    if at != m {
        return Err(CodecError::MetadataCorrupt(format!("{m} semantic symbols announced, the records take {at}")));
    }
    let raw_prompt = StructuredPrompt { width: w, height: h, block: u32::from(core.block), segments };
    let repaired = safe_prior(&raw_prompt, &failed);

    let encoder = HybridDct::new(cfg.hybrid.clone()).map_err(key_error)?;
    let analog = core.analog_symbols as usize;
    let rx_analog = AnalogRx { symbols: &eq.symbols[m..], h: &eq.h[m..], noise_var: &eq.noise_var[m..] };
    let key_out = encoder.decode(&core.side, &key, w, h, analog, rx_analog).map_err(key_error)?;
    let input = GeneratorInput {
        analog: &key_out.planes,
        analog_valid: key_out.erased_symbols < analog,
        key: &key,
        prompt: &repaired.prompt,
        seed: u64::from(w) << 32 | u64::from(h),
    };
    let image = generator.generate(&input).map_err(|e: GenerateError| CodecError::Generate(e.to_string()))?;
    let gain = mean_gain(&eq);
    Ok(SemanticReconstruction {
        image,
        prompt_text: render_text(&repaired.prompt),
        key_mask: key,
        prompt: repaired.prompt,
        failed_records: failed,
        repairs: repaired.repairs,
        split: ChannelUseSplit {
            pilots: pattern.overhead(m + analog),
            meta: m,
            analog,
            total: pattern.total_len(m + analog),
            budget: 0,
        },
        header_symbols,
        prompt_symbols: m - header_symbols,
        detail: detail_name(core.detail).to_string(),
        mcs: mcs.index,
        snr_est_db: 10.0 * (gain / eq.n0).log10(),
        n0_est: eq.n0,
        mean_gain_est: gain,
        erased_analog: key_out.erased_symbols,
        generator: generator.name().to_string(),
    })
}

/// Received stream of a transmission sent through no channel (tests, examples).
pub fn noiseless(tx: &SemanticTransmission) -> Received {
    Received::from_sections(&tx.sections, tx.report.mcs)
}

#[cfg(test)]
mod tests;
