//! Readable text prompt from a structured prompt.

use super::{SegmentPrompt, StructuredPrompt, C_DC_STEP, ENERGY_PER_OCTAVE, ORIENTATIONS, SCALES, Y_DC_STEP};

/// Mean colour of a segment (sRGB 0–255) from its DC terms; neutral grey if absent.
pub fn mean_rgb(s: &SegmentPrompt) -> [u8; 3] {
    let (y, cb, cr) = match &s.colour {
        Some(c) => (
            c.y.first().map_or(128.0, |&v| v as f32 * Y_DC_STEP),
            c.cb.first().map_or(0.0, |&v| v as f32 * C_DC_STEP),
            c.cr.first().map_or(0.0, |&v| v as f32 * C_DC_STEP),
        ),
        None => (128.0, 0.0, 0.0),
    };
    let q = |v: f32| v.round().clamp(0.0, 255.0) as u8;
    [q(y + 1.402 * cr), q(y - 0.344_136 * cb - 0.714_136 * cr), q(y + 1.772 * cb)]
}

fn lab(rgb: [u8; 3]) -> [f32; 3] {
    let lin = |c: u8| {
        let c = c as f32 / 255.0;
        if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    let (r, g, b) = (lin(rgb[0]), lin(rgb[1]), lin(rgb[2]));
    let x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047;
    let y = 0.2126 * r + 0.7152 * g + 0.0722 * b;
    let z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883;
    let f = |t: f32| if t > 0.008856 { t.cbrt() } else { 7.787 * t + 16.0 / 116.0 };
    let (fx, fy, fz) = (f(x), f(y), f(z));
    [116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)]
}

/// Named colours (sRGB); the nearest in CIELAB (ΔE76) names a segment's mean colour.
const PALETTE: &[(&str, [u8; 3])] = &[
    ("black", [20, 20, 20]),
    ("dark grey", [70, 70, 70]),
    ("grey", [128, 128, 128]),
    ("light grey", [192, 192, 192]),
    ("white", [245, 245, 245]),
    ("red", [200, 30, 30]),
    ("dark red", [110, 20, 20]),
    ("pink", [240, 160, 180]),
    ("orange", [240, 140, 30]),
    ("brown", [120, 75, 40]),
    ("tan", [200, 165, 120]),
    ("beige", [225, 210, 180]),
    ("yellow", [235, 215, 40]),
    ("olive", [120, 120, 40]),
    ("green", [50, 150, 50]),
    ("dark green", [30, 70, 30]),
    ("light green", [150, 210, 130]),
    ("teal", [30, 120, 120]),
    ("cyan", [60, 200, 220]),
    ("sky blue", [135, 190, 235]),
    ("blue", [40, 80, 200]),
    ("dark blue", [20, 30, 90]),
    ("purple", [120, 50, 140]),
    ("lavender", [180, 160, 220]),
];

/// Name of the nearest palette colour in CIELAB.
pub fn colour_name(rgb: [u8; 3]) -> &'static str {
    let l = lab(rgb);
    PALETTE
        .iter()
        .map(|(n, c)| {
            let m = lab(*c);
            (n, (0..3).map(|k| (l[k] - m[k]).powi(2)).sum::<f32>())
        })
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map_or("grey", |(n, _)| n)
}

/// Texture words: energy level ("smooth" / "fine" / "coarse" / "textured") and, when one
/// gradient orientation dominates, the structure direction ("vertical", "horizontal",
/// "diagonal"). Without energies the luma std decides smooth vs mottled/varied.
fn texture_words(s: &SegmentPrompt) -> Vec<&'static str> {
    let Some(t) = &s.texture else { return vec!["smooth"] };
    // Mean gradient energy (per orientation) back from the log quantiser.
    let deq = |q: u32| (2f32.powf(q as f32 / ENERGY_PER_OCTAVE) - 1.0).max(0.0);
    if t.energy.is_empty() {
        return vec![match t.luma_std {
            0..=4 => "smooth",
            5..=20 => "mottled",
            _ => "varied",
        }];
    }
    let per_orient: Vec<f32> = (0..ORIENTATIONS)
        .map(|k| t.energy.iter().skip(k).step_by(ORIENTATIONS).map(|&q| deq(q)).sum::<f32>())
        .collect();
    let fine: f32 = t.energy.iter().take(ORIENTATIONS).map(|&q| deq(q)).sum::<f32>() / ORIENTATIONS as f32;
    let mut words = Vec::new();
    // RMS gradient (grey levels per pixel) at the finest scale given.
    let rms = fine.sqrt();
    if rms < 1.5 && t.luma_std <= 12 {
        words.push("smooth");
        return words;
    }
    if t.energy.len() == SCALES * ORIENTATIONS {
        let coarse: f32 =
            t.energy[(SCALES - 1) * ORIENTATIONS..].iter().map(|&q| deq(q)).sum::<f32>() / ORIENTATIONS as f32;
        // Fine texture loses energy on downsampling; coarse structure keeps or gains it.
        words.push(if coarse > 0.5 * fine { "coarse" } else { "fine" });
    } else {
        words.push("textured");
    }
    let total: f32 = per_orient.iter().sum::<f32>().max(1e-6);
    let (k, max) = per_orient.iter().enumerate().fold((0, 0f32), |a, (k, &v)| if v > a.1 { (k, v) } else { a });
    if max / total > 0.4 {
        // Gradient along x (k = 0) means structures running vertically.
        words.push(match k {
            0 => "vertical",
            2 => "horizontal",
            _ => "diagonal",
        });
    }
    words
}

/// One clause per segment, "colour, texture words", joined by "; ", plus the caption in
/// parentheses when present, e.g. `"sky blue, smooth; dark green, coarse, vertical"`.
pub fn render_text(p: &StructuredPrompt) -> String {
    p.segments
        .iter()
        .map(|s| {
            let mut parts = vec![colour_name(mean_rgb(s)).to_string()];
            parts.extend(texture_words(s).into_iter().map(str::to_string));
            let mut clause = parts.join(", ");
            if !s.caption.is_empty() {
                clause.push_str(&format!(" ({})", s.caption.chars().filter(|c| !c.is_control()).collect::<String>()));
            }
            clause
        })
        .collect::<Vec<_>>()
        .join("; ")
}
