//! Bytes for the digital link: one format byte, the protobuf length (LEB128 varint, so
//! truncation is always detected), then the protobuf message either stored or
//! raw-deflated (whichever is shorter).

use prost::Message;

use super::{
    detail_map, PromptError, StructuredPrompt, AC_MAX, C_DC_STEP, ENERGY_MAX, LUMA_STD_MAX, MAX_GRID, ORIENTATIONS,
    SCALES, Y_DC_STEP,
};
use crate::segment::BlockMask;

const FORMAT_STORED: u8 = 0x10;
const FORMAT_DEFLATE: u8 = 0x11;

/// Bounds for [`decode_prompt`] / [`validate`] on untrusted input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PromptLimits {
    /// Largest encoded prompt (bytes).
    pub max_bytes: usize,
    /// Largest inflated protobuf (bytes).
    pub max_decoded_bytes: usize,
    /// Largest image side (pixels).
    pub max_side: u32,
    /// Largest block grid (blocks).
    pub max_blocks: usize,
    /// Most segments.
    pub max_segments: usize,
    /// Longest caption (bytes).
    pub max_caption_bytes: usize,
}

impl Default for PromptLimits {
    fn default() -> Self {
        Self {
            max_bytes: 64 * 1024,
            max_decoded_bytes: 256 * 1024,
            max_side: 16_384,
            max_blocks: 1 << 20,
            max_segments: 64,
            max_caption_bytes: 256,
        }
    }
}

/// Serialises (protobuf) and compresses (raw deflate, level 10, unless storing is shorter).
pub fn encode_prompt(p: &StructuredPrompt) -> Vec<u8> {
    let raw = p.encode_to_vec();
    let packed = miniz_oxide::deflate::compress_to_vec(&raw, 10);
    let mut out = Vec::with_capacity(6 + raw.len().min(packed.len()));
    out.push(if packed.len() < raw.len() { FORMAT_DEFLATE } else { FORMAT_STORED });
    let mut n = raw.len() as u64;
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            break;
        }
        out.push(b | 0x80);
    }
    out.extend_from_slice(if packed.len() < raw.len() { &packed } else { &raw });
    out
}

/// Decodes [`encode_prompt`] output from untrusted bytes and [`validate`]s it. Memory is
/// bounded by `limits.max_decoded_bytes` and the block grid by `limits.max_blocks`.
pub fn decode_prompt(bytes: &[u8], limits: &PromptLimits) -> Result<StructuredPrompt, PromptError> {
    if bytes.len() > limits.max_bytes {
        return Err(PromptError::TooLarge { len: bytes.len(), max: limits.max_bytes });
    }
    let (&fmt, mut body) = bytes.split_first().ok_or(PromptError::BadHeader("empty"))?;
    let mut len = 0u64;
    for shift in (0..).step_by(7) {
        let (&b, rest) = body.split_first().ok_or(PromptError::BadHeader("truncated length"))?;
        body = rest;
        if shift > 28 {
            return Err(PromptError::BadHeader("length too long"));
        }
        len |= ((b & 0x7f) as u64) << shift;
        if b & 0x80 == 0 {
            break;
        }
    }
    if len > limits.max_decoded_bytes as u64 {
        return Err(PromptError::TooLarge { len: len as usize, max: limits.max_decoded_bytes });
    }
    let raw;
    let body = match fmt {
        FORMAT_STORED => {
            if body.len() > limits.max_decoded_bytes {
                return Err(PromptError::TooLarge { len: body.len(), max: limits.max_decoded_bytes });
            }
            body
        }
        FORMAT_DEFLATE => {
            raw = miniz_oxide::inflate::decompress_to_vec_with_limit(body, limits.max_decoded_bytes)
                .map_err(|_| PromptError::Decompress)?;
            &raw[..]
        }
        _ => return Err(PromptError::BadHeader("unknown format byte")),
    };
    if body.len() as u64 != len {
        return Err(PromptError::BadHeader("length mismatch (truncated or trailing data)"));
    }
    let p = StructuredPrompt::decode(body).map_err(|e| PromptError::Protobuf(e.to_string()))?;
    validate(&p, limits)?;
    Ok(p)
}

fn invalid(msg: String) -> PromptError {
    PromptError::Invalid(msg)
}

/// The block grid `(width_blocks, height_blocks)` of a prompt, after checking its header.
pub(crate) fn grid_of(p: &StructuredPrompt, limits: &PromptLimits) -> Result<(u32, u32), PromptError> {
    if p.width == 0 || p.height == 0 || p.width > limits.max_side || p.height > limits.max_side {
        return Err(invalid(format!("image size {}x{}", p.width, p.height)));
    }
    if p.block == 0 || p.block > 1024 {
        return Err(invalid(format!("block side {}", p.block)));
    }
    let (wb, hb) = (p.width.div_ceil(p.block), p.height.div_ceil(p.block));
    if wb as u64 * hb as u64 > limits.max_blocks as u64 {
        return Err(invalid(format!("{wb}x{hb} blocks")));
    }
    Ok((wb, hb))
}

/// Decodes segment `i`'s geometry and checks it against the grid (non-empty, same grid).
pub(crate) fn segment_geometry(p: &StructuredPrompt, i: usize, wb: u32, hb: u32) -> Result<BlockMask, PromptError> {
    let m = BlockMask::decode(&p.segments[i].geometry, wb as usize * hb as usize)
        .map_err(|source| PromptError::Geometry { segment: i, source })?;
    if m.width_blocks() != wb || m.height_blocks() != hb || m.block() != p.block {
        return Err(invalid(format!("segment {i}: geometry grid does not match the image")));
    }
    if m.count() == 0 {
        return Err(invalid(format!("segment {i}: empty geometry")));
    }
    Ok(m)
}

/// Checks everything except the geometry of segment `i`: colour layout and texture ranges.
pub(crate) fn check_fields(p: &StructuredPrompt, i: usize, max_caption: usize) -> Result<(), PromptError> {
    let s = &p.segments[i];
    let c = s.colour.as_ref().ok_or_else(|| invalid(format!("segment {i}: no colour layout")))?;
    if c.grid_w == 0 || c.grid_h == 0 || c.grid_w > MAX_GRID || c.grid_h > MAX_GRID {
        return Err(invalid(format!("segment {i}: colour grid {}x{}", c.grid_w, c.grid_h)));
    }
    let n = (c.grid_w * c.grid_h) as usize;
    let y_dc_max = (255.0 / Y_DC_STEP).round() as i32;
    let c_dc_max = (128.0 / C_DC_STEP).round() as i32;
    for (name, v, dc_lo, dc_hi) in
        [("y", &c.y, 0, y_dc_max), ("cb", &c.cb, -c_dc_max, c_dc_max), ("cr", &c.cr, -c_dc_max, c_dc_max)]
    {
        if v.is_empty() || v.len() > n {
            return Err(invalid(format!("segment {i}: {} {name} coefficients for a {n}-cell grid", v.len())));
        }
        if v[0] < dc_lo || v[0] > dc_hi || v[1..].iter().any(|a| a.abs() > AC_MAX) {
            return Err(invalid(format!("segment {i}: {name} coefficient out of range")));
        }
    }
    let t = s.texture.as_ref().ok_or_else(|| invalid(format!("segment {i}: no texture statistics")))?;
    if ![0, ORIENTATIONS, SCALES * ORIENTATIONS].contains(&t.energy.len()) {
        return Err(invalid(format!("segment {i}: {} texture energies", t.energy.len())));
    }
    if t.energy.iter().any(|&e| e > ENERGY_MAX) || t.luma_std > LUMA_STD_MAX {
        return Err(invalid(format!("segment {i}: texture value out of range")));
    }
    if s.caption.len() > max_caption {
        return Err(invalid(format!("segment {i}: caption of {} bytes", s.caption.len())));
    }
    Ok(())
}

/// Checks a prompt: image size and grid within `limits`, at most `max_segments` segments,
/// every geometry decodes on the image's block grid, is non-empty and disjoint from the
/// others, and every colour/texture field is present with counts and values in range.
pub fn validate(p: &StructuredPrompt, limits: &PromptLimits) -> Result<(), PromptError> {
    let (wb, hb) = grid_of(p, limits)?;
    if p.segments.len() > limits.max_segments {
        return Err(invalid(format!("{} segments", p.segments.len())));
    }
    let mut used = vec![false; wb as usize * hb as usize];
    for i in 0..p.segments.len() {
        let m = segment_geometry(p, i, wb, hb)?;
        for (u, &b) in used.iter_mut().zip(m.bits()) {
            if b && *u {
                return Err(invalid(format!("segment {i} overlaps an earlier segment")));
            }
            *u |= b;
        }
        check_fields(p, i, limits.max_caption_bytes)?;
        let map = p.segments[i].texture.as_ref().map_or(0, |t| t.block_detail.len());
        if map != 0 {
            let cells = detail_map::segment_cells(&m).len();
            if map != detail_map::packed_len(cells) {
                return Err(invalid(format!("segment {i}: detail map of {map} bytes for {cells} cells")));
            }
        }
    }
    Ok(())
}
