//! SoftCast analog image transmission (Jakubczak & Katabi, "A cross-layer design for
//! scalable mobile video", MobiCom 2011), one image, full-frame DCT.
//!
//! # Sender ([`encode`])
//! 1. RGB → YCbCr (JPEG full range). Per channel subtract the mean rounded to an integer
//!    (sent in the metadata, 8 bits); the residual mean stays in the DC coefficient.
//! 2. Orthonormal full-frame 2-D DCT per channel.
//! 3. Cut each coefficient plane into a rectangular grid of chunks (default
//!    [`SoftCastConfig::default`]); chunk edges at `i·H/rows`, so any image size works.
//! 4. λ_i = mean square of chunk i. log2 λ is quantised uniformly with `lambda_bits` between
//!    a min and max sent in the metadata (Q8.8). Both ends use only the quantised λ̂.
//! 5. Budget `B = round(ρ·H·W·3)` channel uses (docs/architecture.md §2). The pilot pattern (P pilots
//!    at the start of every block of L channel uses) and the metadata (on the digital
//!    link: CRC-24A, 5G NR LDPC, QPSK at `meta_mcs`) come off the top; chunks are taken
//!    in decreasing λ order while they fit.
//!    The remaining analog channel uses, if any, carry the **first k coefficients (row-major
//!    within the chunk) of the next chunk** ("partial chunk", its index and k are in the
//!    metadata). Channel uses that are still left over are not transmitted; the reported
//!    split always counts exactly the symbols sent.
//! 6. Gains g_i = c·λ̂_i^(−1/4), c chosen so the expected power of the analog symbols is
//!    exactly 1 per complex symbol; each complex symbol carries two scaled coefficients
//!    (I then Q). Pilots (unit-modulus QPSK) and the QAM metadata also have power 1.
//! 7. Stream ([`crate::stream`]): metadata symbols then analog symbols, with the pilots
//!    inserted by the pilot pattern; [`Transmission::sections`] are its runs of one kind in
//!    order.
//!
//! # Receiver ([`decode`])
//! LMMSE channel estimate per pilot block and a pooled N̂0 (blocks whose pilots were lost
//! are erasures); metadata by soft demapping and LDPC decoding, checked by the link's
//! CRC-24A and the metadata's own CRC-16 ([`CodecError::MetadataCorrupt`] if either
//! fails); then per real dimension the equalised sample `ŷ = Re/Im(z/ĥ)` has noise
//! variance `σ² = σ_w²/(2|ĥ|²)` (σ_w² = N̂0 plus the estimation error of ĥ) and the LLSE
//! estimate is `x̂ = g·λ̂/(g²·λ̂ + σ²)·ŷ`. Unsent or lost coefficients are 0. Inverse DCT,
//! add the means, YCbCr → RGB.
//!
//! Not implemented from the paper: the Hadamard whitening across packets. The channel
//! has frame erasures, and without whitening a lost frame erases whole chunks
//! (losing the frame with the top-energy chunks costs up to 15 dB); whitening or an
//! interleaver across the transmission is the fix still to make.
//!
//! # Metadata bit layout (MSB first)
//! version 8 · H 16 · W 16 · lambda_bits 4 · luma grid rows 8, cols 8 · chroma grid rows 8,
//! cols 8 · means Y, Cb, Cr 3×8 · log2 λ min, max 2×16 (Q8.8, two's complement) ·
//! selection bitmap (one bit per chunk, global order Y, Cb, Cr, row-major) · λ̂ index of
//! each selected chunk (lambda_bits each, same order) · partial flag 1 · [partial chunk
//! index ⌈log2 #chunks⌉ · its λ̂ index · coefficient count ⌈log2 max chunk size⌉] ·
//! CRC-16/IBM-3740 over the preceding bits packed MSB-first into zero-padded bytes.

pub(crate) mod layout;

use image::RgbImage;
use layout::{effective_grid, AnalogPlan, FieldWidths, MetaParseError, Metadata, Partial};
use semcom_phy::bits::{pack, unpack};
use semcom_phy::digital::{self, Mcs};
use semcom_phy::mapping::DemapMethod;

use crate::analog::{to_symbols, AnalogRx, LambdaQuant};
use crate::color::{rgb_to_ycbcr, ycbcr_to_rgb, Planes};
use crate::dct::Dct2d;
use crate::error::CodecError;
use crate::stream::{
    check_pilots, data_capacity, equalise, mean_gain, pilot_pattern, sections, ChannelUseSplit, Received, Section,
};
use crate::C32;

/// Codec id on the wire (the transmission header's `codec`): this module's symbol
/// layout and metadata format, version 1.
pub const CODEC_ID: &str = "softcast-v1";

/// Codec parameters. Sender and receiver must agree on the pilot pattern (a
/// per-connection handshake may carry it); grids and `lambda_bits` travel in the
/// metadata and the metadata MCS in the frame headers, so the receiver takes them
/// from there.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct SoftCastConfig {
    /// Chunk grid (rows, cols) over the Y coefficient plane, each 1..=255.
    pub chunks_luma: (u16, u16),
    /// Chunk grid (rows, cols) over each of the Cb and Cr planes, each 1..=255.
    pub chunks_chroma: (u16, u16),
    /// Bits per quantised log2 λ, 1..=15.
    pub lambda_bits: u8,
    /// Pilot pattern: every block of `pilot_block` channel uses starts with
    /// `pilots_per_block` known pilots (per-block channel estimate, so block fading
    /// with a coherence of at least `pilot_block` symbols is tracked).
    pub pilot_block: usize,
    pub pilots_per_block: usize,
    /// MCS index (semcom_phy::digital::MCS_TABLE) of the metadata on the digital
    /// link; the receiver reads it from the frame headers.
    pub meta_mcs: u8,
    /// Receiver cap on H·W taken from metadata (corrupted-but-CRC-passing metadata cannot
    /// trigger huge allocations). Defaults to 16 Mpx like `ImageLimits`.
    pub max_pixels: u64,
}

impl Default for SoftCastConfig {
    /// Grids 16×16 (Y) and 8×8 (Cb, Cr), 6-bit λ, 16 pilots per 1024 channel uses
    /// (1.6 % overhead; LMMSE estimate error N0/17 per block), metadata at QPSK 1/5.
    ///
    /// Mean PSNR at ρ = 1/32 over the four sample images and SNR 0, 10, 20 dB
    /// (`examples/softcast_sweep.rs`, 4 seeds, LDPC-coded metadata): 8/4: 23.80,
    /// 12/6: 24.94, 16/8: 25.43, 24/12: 25.48, 32/16: 25.55 dB. Finer grids adapt power
    /// better but pay for a larger selection bitmap and more λ̂ indices in metadata
    /// (32/16 spends 45 % of a 451×300 image's budget on it); the curve is flat from
    /// 16/8 on, so the default keeps the smaller metadata, which small images and
    /// small ρ need — not a value tuned to the samples.
    fn default() -> Self {
        Self {
            chunks_luma: (16, 16),
            chunks_chroma: (8, 8),
            lambda_bits: 6,
            pilot_block: 1024,
            pilots_per_block: 16,
            meta_mcs: 1,
            max_pixels: 16 * 1024 * 1024,
        }
    }
}

impl SoftCastConfig {
    /// Checks every field's range.
    pub fn validate(&self) -> Result<(), CodecError> {
        let bad = |s: String| Err(CodecError::InvalidConfig(s));
        for (name, g) in [("chunks_luma", self.chunks_luma), ("chunks_chroma", self.chunks_chroma)] {
            if g.0 == 0 || g.1 == 0 || g.0 > 255 || g.1 > 255 {
                return bad(format!("{name} = {g:?}: each side must be in 1..=255"));
            }
        }
        if !(1..=15).contains(&self.lambda_bits) {
            return bad(format!("lambda_bits = {} must be in 1..=15", self.lambda_bits));
        }
        check_pilots(self.pilot_block, self.pilots_per_block)?;
        Mcs::from_index(self.meta_mcs).map_err(|e| CodecError::InvalidConfig(format!("meta_mcs: {e}")))?;
        if self.max_pixels == 0 {
            return bad("max_pixels must be positive".into());
        }
        Ok(())
    }
}

/// Sender output: sections of one kind in transmission order (pilots at their pattern
/// positions, metadata, analog).
#[derive(Debug, Clone, PartialEq)]
pub struct Transmission {
    pub sections: Vec<Section>,
    pub split: ChannelUseSplit,
    /// Whole chunks sent (the partial chunk, if any, is not counted).
    pub chunks_sent: usize,
    pub chunks_total: usize,
    /// Coefficients of the partially sent chunk (0 if none).
    pub partial_coefficients: usize,
}

impl Transmission {
    /// All symbols concatenated in transmission order.
    pub fn symbols(&self) -> Vec<C32> {
        crate::stream::concat(&self.sections)
    }
}

/// Receiver output.
#[derive(Debug, Clone, PartialEq)]
pub struct Reconstruction {
    pub image: RgbImage,
    /// Estimated SNR mean|ĥ|²/N̂0 in dB from the pilots.
    pub snr_est_db: f64,
    pub n0_est: f64,
    /// Mean |ĥ|² over the data symbols (1 on an AWGN link).
    pub mean_gain_est: f64,
    /// Split as the sender made it: `analog` from the metadata, `pilots`/`meta` as
    /// received; `budget` is 0 because the receiver does not know ρ.
    pub split: ChannelUseSplit,
    pub chunks_sent: usize,
    /// Analog symbols expected but missing or erased (LLSE estimate 0).
    pub erased_analog: usize,
    /// LDPC iterations the metadata took.
    pub meta_iterations: usize,
}

/// Per-chunk mean square of a coefficient plane set.
fn chunk_energies(coeffs: &[Vec<f32>; 3], width: usize, chunks: &[layout::Chunk]) -> Vec<f64> {
    chunks
        .iter()
        .map(|c| {
            let plane = &coeffs[c.channel];
            let s: f64 = c.indices(width).map(|i| (plane[i] as f64).powi(2)).sum();
            s / c.len() as f64
        })
        .collect()
}

/// Encodes one image for a bandwidth ratio `rho` (channel uses per H·W·3).
pub fn encode(img: &RgbImage, rho: f64, cfg: &SoftCastConfig) -> Result<Transmission, CodecError> {
    cfg.validate()?;
    if !rho.is_finite() || rho <= 0.0 {
        return Err(CodecError::InvalidRho(rho));
    }
    let (width, height) = img.dimensions();
    if width == 0 || height == 0 || width > u16::MAX as u32 || height > u16::MAX as u32 {
        return Err(CodecError::UnsupportedImageSize { width, height });
    }
    let (h, w) = (height as usize, width as usize);
    // `as usize` saturates, so an absurd rho just means "everything fits".
    let budget = (rho * h as f64 * w as f64 * 3.0).round() as usize;
    let luma = effective_grid(cfg.chunks_luma, h, w);
    let chroma = effective_grid(cfg.chunks_chroma, h, w);
    let fw = FieldWidths::new(h, w, luma, chroma);
    let lb = cfg.lambda_bits;
    let mcs = Mcs::from_index(cfg.meta_mcs).map_err(|e| CodecError::InvalidConfig(e.to_string()))?;
    let pattern = pilot_pattern(cfg.pilot_block, cfg.pilots_per_block)?;
    // Data channel uses (metadata + analog) that fit the budget once pilots are in.
    let capacity = data_capacity(&pattern, budget);
    let overhead = |sel: usize, partial: bool| mcs.symbols_for(meta_payload_bytes(fw.meta_bits(lb, sel, partial)));
    let min_needed = overhead(0, false);
    if min_needed > capacity {
        return Err(CodecError::BudgetTooSmall { budget, needed: pattern.total_len(min_needed), rho, width, height });
    }

    // Mean removal and DCT.
    let planes = rgb_to_ycbcr(img);
    let dct = Dct2d::new(h, w)?;
    let mut means = [0u8; 3];
    let mut coeffs: [Vec<f32>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    for (c, plane) in planes.channels().into_iter().enumerate() {
        let mean = plane.iter().map(|&v| v as f64).sum::<f64>() / plane.len() as f64;
        means[c] = mean.round().clamp(0.0, 255.0) as u8;
        let m = means[c] as f32;
        let mut p: Vec<f32> = plane.iter().map(|&v| v - m).collect();
        dct.forward(&mut p)?;
        coeffs[c] = p;
    }
    let chunk_list = layout::chunks(h, w, luma, chroma);
    let lambda = chunk_energies(&coeffs, w, &chunk_list);

    // Greedy selection by decreasing λ (ties: lower index) while pilots + metadata + analog
    // symbols fit the budget. Metadata grows by lambda_bits per selected chunk.
    let mut by_energy: Vec<usize> = (0..chunk_list.len()).collect();
    by_energy.sort_by(|&a, &b| lambda[b].total_cmp(&lambda[a]).then(a.cmp(&b)));
    let mut nsel = 0usize;
    let mut real = 0usize;
    for &i in &by_energy {
        let r = real + chunk_list[i].len();
        if overhead(nsel + 1, false) + r.div_ceil(2) <= capacity {
            nsel += 1;
            real = r;
        } else {
            break;
        }
    }
    // Partial chunk: the next one by energy gets whatever analog room is left once the
    // partial fields are added to the metadata.
    let partial_count = by_energy.get(nsel).and_then(|&i| {
        let avail = capacity.checked_sub(overhead(nsel, true))?;
        let k = (2 * avail).checked_sub(real)?.min(chunk_list[i].len() - 1);
        (k > 0).then_some((i, k))
    });
    let selected_ids = &by_energy[..nsel];

    let quant =
        LambdaQuant::covering(lb, selected_ids.iter().chain(partial_count.iter().map(|(i, _)| i)).map(|&i| lambda[i]));
    let mut selected = vec![false; chunk_list.len()];
    for &i in selected_ids {
        selected[i] = true;
    }
    let lambda_idx: Vec<u16> = (0..chunk_list.len()).filter(|&i| selected[i]).map(|i| quant.index(lambda[i])).collect();
    let meta = Metadata {
        height: height as u16,
        width: width as u16,
        grid_luma: (luma.0 as u8, luma.1 as u8),
        grid_chroma: (chroma.0 as u8, chroma.1 as u8),
        means,
        quant,
        selected,
        lambda_idx,
        partial: partial_count.map(|(chunk, count)| Partial { chunk, lambda_idx: quant.index(lambda[chunk]), count }),
    };

    // Analog symbols, mapped exactly as the receiver will invert them.
    let plan = AnalogPlan::new(&meta);
    let mut reals: Vec<f32> = Vec::with_capacity(plan.real_dims + 1);
    for &(ci, _, g, count) in &plan.order {
        let c = &plan.chunks[ci];
        let plane = &coeffs[c.channel];
        reals.extend(c.indices(w).take(count).map(|i| (plane[i] as f64 * g) as f32));
    }
    let analog = to_symbols(reals);
    let meta_syms = digital::encode(&pack_meta(&meta.to_bits()), &mcs)?;
    let data_len = meta_syms.len() + analog.len();
    let split = ChannelUseSplit {
        pilots: pattern.overhead(data_len),
        meta: meta_syms.len(),
        analog: analog.len(),
        total: pattern.total_len(data_len),
        budget,
    };
    debug_assert!(split.total <= budget);
    let mut data = meta_syms;
    data.extend_from_slice(&analog);
    Ok(Transmission {
        sections: sections(&pattern, &pattern.insert(&data), split.meta),
        split,
        chunks_sent: nsel,
        chunks_total: chunk_list.len(),
        partial_coefficients: partial_count.map_or(0, |p| p.1),
    })
}

/// Reconstructs the image from received symbols.
///
/// The pilot pattern gives an LMMSE channel estimate per block and a pooled N̂0;
/// blocks whose pilots were lost are erasures. Metadata: LDPC decoding with CRC;
/// any failed block → [`CodecError::MetadataCorrupt`] (nothing is reconstructed
/// from unverified metadata). Analog: per-symbol LLSE with the block's ĥ and
/// effective noise; missing or erased symbols are estimated as 0 (counted in
/// `erased_analog`), extra symbols are ignored.
pub fn decode(rx: &Received, cfg: &SoftCastConfig) -> Result<Reconstruction, CodecError> {
    cfg.validate()?;
    let pattern = pilot_pattern(cfg.pilot_block, cfg.pilots_per_block)?;
    let mcs =
        Mcs::from_index(rx.meta_mcs).map_err(|e| CodecError::MetadataCorrupt(format!("frame header MCS: {e}")))?;
    let eq = equalise(&rx.stream, &pattern)?;
    let m = rx.meta_symbols;
    if m == 0 || m > eq.len() {
        return Err(CodecError::MetadataCorrupt(format!(
            "{m} metadata symbols announced, {} data symbols received",
            eq.len()
        )));
    }
    let decoded = digital::decode(&eq.symbols[..m], &eq.h[..m], &eq.noise_var[..m], &mcs, DemapMethod::MaxLog)?;
    let payload = decoded.payload.ok_or_else(|| {
        let failed = decoded.blocks_ok.iter().filter(|ok| !**ok).count();
        CodecError::MetadataCorrupt(format!(
            "LDPC decoding failed: {failed} of {} code blocks did not pass their CRC",
            decoded.blocks_ok.len()
        ))
    })?;
    // Neighbouring symbol counts can share a transport-block size; only the count the
    // sender would have used is consistent, anything else would misalign the analog part.
    if mcs.symbols_for(payload.len()) != m {
        return Err(CodecError::MetadataCorrupt(format!(
            "{m} metadata symbols announced, but a {}-byte payload at MCS {} takes {}",
            payload.len(),
            mcs.index,
            mcs.symbols_for(payload.len())
        )));
    }
    let bits = unpack_meta(&payload).ok_or_else(|| CodecError::MetadataInvalid("bad metadata length prefix".into()))?;
    let meta = Metadata::from_bits(&bits, cfg.max_pixels).map_err(|e| match e {
        MetaParseError::Crc(s) => CodecError::MetadataCorrupt(s),
        MetaParseError::Invalid(s) => CodecError::MetadataInvalid(s),
    })?;

    let (hh, ww) = (meta.height as usize, meta.width as usize);
    let plan = AnalogPlan::new(&meta);
    let analog_rx = AnalogRx { symbols: &eq.symbols[m..], h: &eq.h[m..], noise_var: &eq.noise_var[m..] };
    let mut coeffs: [Vec<f32>; 3] = [vec![0.0; hh * ww], vec![0.0; hh * ww], vec![0.0; hh * ww]];
    let mut erased = 0usize;
    let mut t = 0usize; // running real-dimension index
    let mut last_symbol_checked = usize::MAX;
    for &(ci, lam, g, count) in &plan.order {
        let c = &plan.chunks[ci];
        let plane = &mut coeffs[c.channel];
        for idx in c.indices(ww).take(count) {
            let s = t / 2;
            // None for a lost or missing symbol (counted once for its two dimensions).
            let estimate = analog_rx.estimate(t, g, lam);
            if estimate.is_none() && s != last_symbol_checked {
                erased += 1;
            }
            last_symbol_checked = s;
            if let Some(x) = estimate {
                plane[idx] = x as f32;
            }
            t += 1;
        }
    }

    let dct = Dct2d::new(hh, ww)?;
    for (c, plane) in coeffs.iter_mut().enumerate() {
        dct.inverse(plane)?;
        let m = meta.means[c] as f32;
        plane.iter_mut().for_each(|v| *v += m);
    }
    let [y, cb, cr] = coeffs;
    let image = ycbcr_to_rgb(&Planes { width: meta.width as u32, height: meta.height as u32, y, cb, cr });
    let analog = plan.symbols();
    let split = ChannelUseSplit {
        pilots: pattern.overhead(m + analog),
        meta: m,
        analog,
        total: pattern.total_len(m + analog),
        budget: 0,
    };
    let mean_gain = mean_gain(&eq);
    Ok(Reconstruction {
        image,
        snr_est_db: 10.0 * (mean_gain / eq.n0).log10(),
        n0_est: eq.n0,
        mean_gain_est: mean_gain,
        split,
        chunks_sent: meta.lambda_idx.len(),
        erased_analog: erased,
        meta_iterations: decoded.iterations,
    })
}

/// Metadata bits as link payload: a 16-bit bit count, then the bits packed MSB first.
fn pack_meta(bits: &[bool]) -> Vec<u8> {
    let n = bits.len().min(u16::MAX as usize);
    let mut out = (n as u16).to_be_bytes().to_vec();
    out.extend(pack(&bits[..n]));
    out
}

fn unpack_meta(bytes: &[u8]) -> Option<Vec<bool>> {
    let (len, body) = bytes.split_first_chunk::<2>()?;
    let n = u16::from_be_bytes(*len) as usize;
    if body.len() != n.div_ceil(8) {
        return None;
    }
    let mut bits = unpack(body);
    bits.truncate(n);
    Some(bits)
}

fn meta_payload_bytes(bits: usize) -> usize {
    2 + bits.div_ceil(8)
}

#[cfg(test)]
mod tests;
