//! The structured prompt as readable JSON (stored next to each semantic result).

use serde_json::json;

use super::{mean_rgb, StructuredPrompt};
use crate::segment::BlockMask;

/// The structured prompt as JSON. Prost types carry no serde, and the JSON should
/// be readable without the protobuf schema anyway: geometry becomes the list of
/// block indices (row-major on the grid given at the top), and each segment gets
/// its mean colour next to the quantised numbers it was derived from.
pub fn prompt_to_json(p: &StructuredPrompt) -> serde_json::Value {
    let block = p.block.max(1);
    let (wb, hb) = (p.width.div_ceil(block), p.height.div_ceil(block));
    let grid_blocks = wb as usize * hb as usize;
    let segments: Vec<serde_json::Value> = p
        .segments
        .iter()
        .map(|s| {
            let blocks: Option<Vec<usize>> = BlockMask::decode(&s.geometry, grid_blocks)
                .ok()
                .filter(|m| m.width_blocks() == wb && m.height_blocks() == hb)
                .map(|m| m.bits().iter().enumerate().filter(|(_, b)| **b).map(|(i, _)| i).collect());
            let colour = s
                .colour
                .as_ref()
                .map(|c| json!({ "grid_w": c.grid_w, "grid_h": c.grid_h, "y": c.y, "cb": c.cb, "cr": c.cr }));
            let texture = s.texture.as_ref().map(|t| json!({ "energy": t.energy, "luma_std": t.luma_std }));
            json!({
                "block_count": blocks.as_ref().map(Vec::len),
                "blocks": blocks,
                "mean_rgb": mean_rgb(s),
                "colour": colour,
                "texture": texture,
                "caption": s.caption,
            })
        })
        .collect();
    json!({
        "width": p.width,
        "height": p.height,
        "block": p.block,
        "grid": { "width_blocks": wb, "height_blocks": hb },
        "segments": segments,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prompt::SegmentPrompt;

    /// Geometry becomes block indices on the prompt's grid; geometry that does not fit
    /// the grid becomes null rather than an error (the JSON is for reading).
    #[test]
    fn geometry_becomes_block_indices() {
        // 40×20 px in 16-px blocks: a 3×2 grid; the segment holds blocks 1, 2 and 5.
        let mask = BlockMask::new(3, 2, 16, vec![false, true, true, false, false, true]).expect("mask");
        let seg = SegmentPrompt { geometry: mask.encode(), caption: "sky".into(), ..SegmentPrompt::default() };
        let bad = SegmentPrompt { geometry: vec![0xff; 3], ..SegmentPrompt::default() };
        let p = StructuredPrompt { width: 40, height: 20, block: 16, segments: vec![seg, bad] };
        let v = prompt_to_json(&p);
        assert_eq!(v["grid"], json!({ "width_blocks": 3, "height_blocks": 2 }));
        assert_eq!(v["segments"][0]["blocks"], json!([1, 2, 5]));
        assert_eq!(v["segments"][0]["block_count"], json!(3));
        assert_eq!(v["segments"][0]["caption"], json!("sky"));
        assert_eq!(v["segments"][0]["colour"], serde_json::Value::Null);
        assert_eq!(v["segments"][1]["blocks"], serde_json::Value::Null);
    }
}
