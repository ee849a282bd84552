//! The prompt as per-block feature vectors, for generators that condition on texture
//! statistics spatially (the diffusion generator's scale-shift maps).

use super::{
    detail_map, segment_geometry, validate, PromptError, PromptLimits, StructuredPrompt, DETAIL_MAX, ENERGY_MAX,
    LUMA_STD_MAX, ORIENTATIONS, SCALES,
};

/// Features per block: 12 gradient energies (scale-major, quantised units / 32), the luma
/// standard deviation / 64, 1 when the energies are known (0 for Minimal detail), the
/// detail-map value of the block's cell (quantised units / 8) and 1 when the map is known.
pub const TEXTURE_FEATURES: usize = SCALES * ORIENTATIONS + 4;

/// Per block of the prompt's grid (`⌈H/block⌉ × ⌈W/block⌉`, row-major): the texture
/// features of the segment that claims it, or all zeros (key blocks, dropped segments,
/// segments without texture). Reduced detail's 4 pooled energies stand for every scale.
///
/// Errors when the prompt does not validate (default limits).
pub fn texture_features(p: &StructuredPrompt) -> Result<Vec<[f32; TEXTURE_FEATURES]>, PromptError> {
    validate(p, &PromptLimits::default())?;
    let b = p.block.max(1);
    let (wb, hb) = (p.width.div_ceil(b), p.height.div_ceil(b));
    let mut out = vec![[0f32; TEXTURE_FEATURES]; wb as usize * hb as usize];
    let energy_scale = 1.0 / 32.0;
    let detail_scale = 1.0 / 8.0;
    debug_assert!(ENERGY_MAX as f32 * energy_scale <= 2.0 && LUMA_STD_MAX as f32 / 64.0 <= 2.0);
    debug_assert!(f32::from(DETAIL_MAX) * detail_scale <= 2.5);
    for (s, seg) in p.segments.iter().enumerate() {
        let Some(t) = &seg.texture else { continue };
        let mut f = [0f32; TEXTURE_FEATURES];
        let n = SCALES * ORIENTATIONS;
        match t.energy.len() {
            len if len == n => t.energy.iter().enumerate().for_each(|(i, &q)| f[i] = q as f32 * energy_scale),
            len if len == ORIENTATIONS => (0..n).for_each(|i| f[i] = t.energy[i % ORIENTATIONS] as f32 * energy_scale),
            _ => {}
        }
        f[n] = t.luma_std as f32 / 64.0;
        f[n + 1] = if t.energy.is_empty() { 0.0 } else { 1.0 };
        let m = segment_geometry(p, s, wb, hb)?;
        // validate() checked that a map holds one value per cell of the segment.
        let map = detail_map::SegmentMap::decode(&m, &t.block_detail);
        for (i, _) in m.bits().iter().enumerate().filter(|(_, &v)| v) {
            out[i] = f;
            if let Some(q) = map.as_ref().and_then(|d| d.value_at(i as u32 % wb, i as u32 / wb, wb)) {
                out[i][n + 2] = f32::from(q) * detail_scale;
                out[i][n + 3] = 1.0;
            }
        }
    }
    Ok(out)
}
