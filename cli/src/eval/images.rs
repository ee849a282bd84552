//! The images of a sweep: a folder's PNG and JPEG files, decoded and optionally
//! downscaled.

use std::collections::HashSet;
use std::path::Path;

use anyhow::{bail, Context, Result};
use image::RgbImage;
use semcom_codec::image_io::{decode_image, ImageLimits};

/// One loaded image.
pub struct EvalImage {
    pub name: String,
    pub image: RgbImage,
}

/// Limits for the local files a sweep reads: above the daemons' defaults so that camera
/// photos (20+ Mpx) load and `--max-side` can bring them down; still a guard against an
/// absurd header.
const LOCAL_IMAGE_LIMITS: ImageLimits =
    ImageLimits { max_width: 16384, max_height: 16384, max_pixels: 64 << 20, max_input_bytes: 128 << 20 };

/// Loads the images of a folder (sorted by name), downscaled so that the longer side is
/// at most `max_side` when one is given (camera photos are far larger than the channel
/// budgets and the generators are meant for).
pub fn load_images(dir: &Path, max_side: Option<u32>) -> Result<Vec<EvalImage>> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for path in crate::demo::image_files(dir)? {
        let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("image").to_string();
        if !seen.insert(name.clone()) {
            bail!("two images named {name:?} in {} (rows are keyed by the file stem)", dir.display());
        }
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let image =
            decode_image(&bytes, &LOCAL_IMAGE_LIMITS).with_context(|| format!("decoding {}", path.display()))?;
        let image = match max_side {
            Some(m) => fit_within(image, m),
            None => image,
        };
        out.push(EvalImage { name, image });
    }
    Ok(out)
}

/// `image` scaled down (aspect kept, Lanczos) so that its longer side is at most `max_side`.
fn fit_within(image: RgbImage, max_side: u32) -> RgbImage {
    let (w, h) = image.dimensions();
    let long = w.max(h);
    if long <= max_side {
        return image;
    }
    let scale = f64::from(max_side) / f64::from(long);
    let (nw, nh) = ((f64::from(w) * scale).round().max(1.0) as u32, (f64::from(h) * scale).round().max(1.0) as u32);
    image::imageops::resize(&image, nw.min(max_side), nh.min(max_side), image::imageops::FilterType::Lanczos3)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `--max-side` keeps the aspect ratio, leaves images that already fit untouched, and
    /// preserves a flat colour (Lanczos weights sum to one).
    #[test]
    fn max_side_downscales_only_what_is_too_large() {
        let wide = RgbImage::from_pixel(1000, 400, image::Rgb([200, 100, 50]));
        let small = fit_within(wide.clone(), 250);
        assert_eq!(small.dimensions(), (250, 100));
        assert!(small.pixels().all(|p| p.0 == [200, 100, 50]), "flat colour changed");
        let tall = fit_within(RgbImage::new(333, 1000), 100);
        assert_eq!(tall.dimensions(), (33, 100));
        assert_eq!(fit_within(wide.clone(), 1000), wide);
    }
}
