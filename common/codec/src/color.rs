//! RGB ↔ YCbCr, JPEG / ITU-T T.871 (BT.601 coefficients, full range, chroma offset 128).
//!
//! `Y  =       0.299 R + 0.587 G + 0.114 B`
//! `Cb = 128 − 0.168736 R − 0.331264 G + 0.5 B`
//! `Cr = 128 + 0.5 R − 0.418688 G − 0.081312 B`
//! All planes are on the 0–255 scale, f32, row-major, same size as the image.

use image::RgbImage;

/// Three full-resolution colour planes, row-major `height × width`.
#[derive(Debug, Clone, PartialEq)]
pub struct Planes {
    pub width: u32,
    pub height: u32,
    pub y: Vec<f32>,
    pub cb: Vec<f32>,
    pub cr: Vec<f32>,
}

impl Planes {
    /// The planes in codec order Y, Cb, Cr.
    pub fn channels(&self) -> [&Vec<f32>; 3] {
        [&self.y, &self.cb, &self.cr]
    }
}

/// Forward colour transform (no rounding; values stay f32).
pub fn rgb_to_ycbcr(img: &RgbImage) -> Planes {
    let n = img.as_raw().len() / 3;
    let (mut y, mut cb, mut cr) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    for p in img.as_raw().chunks_exact(3) {
        let (r, g, b) = (p[0] as f32, p[1] as f32, p[2] as f32);
        y.push(0.299 * r + 0.587 * g + 0.114 * b);
        cb.push(128.0 - 0.168_736 * r - 0.331_264 * g + 0.5 * b);
        cr.push(128.0 + 0.5 * r - 0.418_688 * g - 0.081_312 * b);
    }
    Planes { width: img.width(), height: img.height(), y, cb, cr }
}

/// Inverse colour transform, rounded to nearest and clamped to 0..=255. Non-finite inputs
/// map to 0 (NaN) or the clamp bounds (±inf) instead of panicking.
///
/// If the planes are shorter than `width·height`, the missing pixels are black; this only
/// happens for inconsistent input and keeps the function total.
pub fn ycbcr_to_rgb(p: &Planes) -> RgbImage {
    let (w, h) = (p.width, p.height);
    let n = (w as usize) * (h as usize);
    let mut raw = vec![0u8; n * 3];
    let q = |v: f32| -> u8 {
        // `as u8` saturates and maps NaN to 0, so no panic path.
        v.round().clamp(0.0, 255.0) as u8
    };
    for (i, px) in raw.chunks_exact_mut(3).enumerate() {
        let (Some(&y), Some(&cb), Some(&cr)) = (p.y.get(i), p.cb.get(i), p.cr.get(i)) else {
            break;
        };
        let (cb, cr) = (cb - 128.0, cr - 128.0);
        px[0] = q(y + 1.402 * cr);
        px[1] = q(y - 0.344_136 * cb - 0.714_136 * cr);
        px[2] = q(y + 1.772 * cb);
    }
    // The buffer length is exactly w·h·3 by construction, so this cannot fail; fall back to
    // an empty image rather than panic.
    RgbImage::from_raw(w, h, raw).unwrap_or_else(|| RgbImage::new(0, 0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    #[test]
    fn round_trip_is_exact_for_all_grey_levels_and_random_colours() {
        let mut img = RgbImage::new(256, 64);
        let mut s = 12345u32;
        for (x, y, p) in img.enumerate_pixels_mut() {
            if y == 0 {
                *p = Rgb([x as u8, x as u8, x as u8]);
            } else {
                s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                *p = Rgb([(s >> 24) as u8, (s >> 16) as u8, (s >> 8) as u8]);
            }
        }
        let back = ycbcr_to_rgb(&rgb_to_ycbcr(&img));
        // Forward and inverse matrices are 6-digit exact inverses; with f32 arithmetic the
        // reconstruction error stays far below 0.5, so rounding recovers every value.
        assert_eq!(back, img);
    }

    #[test]
    fn known_values() {
        let img = RgbImage::from_raw(3, 1, vec![255, 0, 0, 0, 255, 0, 255, 255, 255]).unwrap();
        let p = rgb_to_ycbcr(&img);
        assert!((p.y[0] - 76.245).abs() < 1e-3 && (p.cr[0] - 255.5).abs() < 1e-3);
        assert!((p.y[1] - 149.685).abs() < 1e-3 && (p.cb[1] - 43.527_68).abs() < 1e-3);
        assert!((p.y[2] - 255.0).abs() < 1e-3 && (p.cb[2] - 128.0).abs() < 1e-3);
    }

    #[test]
    fn inverse_clamps_and_survives_nan() {
        let p = Planes { width: 2, height: 1, y: vec![f32::NAN, 1e9], cb: vec![128.0, 128.0], cr: vec![128.0, 128.0] };
        let img = ycbcr_to_rgb(&p);
        assert_eq!(img.get_pixel(0, 0), &Rgb([0, 0, 0]));
        assert_eq!(img.get_pixel(1, 0), &Rgb([255, 255, 255]));
    }
}
