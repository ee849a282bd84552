//! Property tests for the multi-scale sliced Wasserstein distance (no reference values exist).
#![allow(clippy::unwrap_used)] // a test or example that fails should stop loudly

mod common;

use common::{noisy, sample};
use image::{GrayImage, Luma, RgbImage};
use semcom_metrics::{mask_from_gray, swd, swd_with_config, MetricsError, SwdConfig};

fn sample_crop(name: &str, w: u32, h: u32) -> RgbImage {
    image::imageops::crop_imm(&sample(name), 100, 100, w, h).to_image()
}

/// `passes` rounds of a 3×3 box blur (edge-clamped).
fn blurred(img: &RgbImage, passes: usize) -> RgbImage {
    let (w, h) = img.dimensions();
    let mut cur = img.clone();
    for _ in 0..passes {
        let src = cur.clone();
        for y in 0..h {
            for x in 0..w {
                for c in 0..3 {
                    let mut s = 0u32;
                    for dy in -1i64..=1 {
                        for dx in -1i64..=1 {
                            let xx = (x as i64 + dx).clamp(0, w as i64 - 1) as u32;
                            let yy = (y as i64 + dy).clamp(0, h as i64 - 1) as u32;
                            s += src.get_pixel(xx, yy)[c] as u32;
                        }
                    }
                    cur.get_pixel_mut(x, y)[c] = ((s + 4) / 9) as u8;
                }
            }
        }
    }
    cur
}

#[test]
fn identical_images_give_zero() {
    let img = sample_crop("astronaut.png", 160, 128);
    let r = swd(&img, &img, None, 1).unwrap();
    // 160×128 → levels 128, 64, 32, 16 on the short side.
    assert_eq!(r.per_level.len(), 4);
    assert!(r.per_level.iter().all(|&d| d == 0.0) && r.mean == 0.0, "{r:?}");
}

#[test]
fn deterministic_for_a_seed_and_seed_matters() {
    let img = sample_crop("coffee.png", 128, 128);
    let n = noisy(&img, 10.0, 3);
    let r1 = swd(&img, &n, None, 42).unwrap();
    let r2 = swd(&img, &n, None, 42).unwrap();
    assert_eq!(r1, r2);
    let r3 = swd(&img, &n, None, 43).unwrap();
    assert_ne!(r1, r3);
    // Different seeds only change the random directions/subsets: same order of magnitude.
    assert!((r1.mean - r3.mean).abs() < 0.2 * r1.mean, "{r1:?} vs {r3:?}");
}

#[test]
fn roughly_symmetric() {
    let img = sample_crop("chelsea.png", 128, 128);
    let n = noisy(&img, 15.0, 5);
    let ab = swd(&img, &n, None, 7).unwrap().mean;
    let ba = swd(&n, &img, None, 7).unwrap().mean;
    // Same positions and directions: swapping the arguments gives the same value.
    assert!((ab - ba).abs() < 1e-9 * ab.max(1e-12), "{ab} vs {ba}");
}

#[test]
fn grows_with_noise_and_blur() {
    let img = sample_crop("astronaut.png", 128, 128);
    let mut prev = 0.0;
    for (i, sigma) in [2.0, 8.0, 25.0].into_iter().enumerate() {
        let d = swd(&img, &noisy(&img, sigma, 10 + i as u64), None, 0).unwrap();
        assert!(d.mean > prev, "noise {sigma}: {d:?} !> {prev}");
        // Noise is white: the finest level reacts most.
        assert!(d.per_level[0] >= d.per_level[d.per_level.len() - 1], "{d:?}");
        prev = d.mean;
    }
    let mut prev = 0.0;
    for passes in [1, 3] {
        let d = swd(&img, &blurred(&img, passes), None, 0).unwrap();
        assert!(d.mean > prev, "blur {passes}: {d:?} !> {prev}");
        prev = d.mean;
    }
}

#[test]
fn mask_restricts_the_comparison() {
    let img = sample_crop("coffee.png", 128, 128);
    // Noise only on the right half.
    let mut b = img.clone();
    let n = noisy(&img, 30.0, 9);
    for (x, y, p) in b.enumerate_pixels_mut() {
        if x >= 64 {
            *p = *n.get_pixel(x, y);
        }
    }
    let left = GrayImage::from_fn(128, 128, |x, _| Luma([if x < 48 { 255 } else { 0 }]));
    let right = GrayImage::from_fn(128, 128, |x, _| Luma([if x >= 68 { 255 } else { 0 }]));
    // A level-0 Laplacian sample depends on pixels up to ±4 away (5-tap blur down, then up), a
    // 7×7 patch adds ±3: centres at x < 48 never see x ≥ 64. Coarser levels have wider
    // support, so only the finest level is guaranteed untouched.
    let dl = swd(&img, &b, Some(&mask_from_gray(&left)), 0).unwrap();
    let dr = swd(&img, &b, Some(&mask_from_gray(&right)), 0).unwrap();
    assert!(dl.per_level[0] < 1e-12, "{dl:?}");
    assert!(dr.per_level[0] > 0.0 && dr.mean > dl.mean, "{dr:?} vs {dl:?}");
}

#[test]
fn errors() {
    let a = RgbImage::new(15, 40);
    assert!(matches!(swd(&a, &a, None, 0), Err(MetricsError::TooSmallForSwd { .. })));
    let a = RgbImage::new(32, 32);
    assert!(matches!(swd(&a, &a, Some(&[true; 10]), 0), Err(MetricsError::MaskSizeMismatch { .. })));
    let empty_mask = vec![false; 32 * 32];
    assert!(matches!(swd(&a, &a, Some(&empty_mask), 0), Err(MetricsError::MaskTooSmall { .. })));
    let b = RgbImage::new(32, 31);
    assert!(matches!(swd(&a, &b, None, 0), Err(MetricsError::DimensionMismatch { .. })));
    // Degenerate config must not panic.
    let cfg = SwdConfig { dirs_per_repeat: 0, dir_repeats: 0, max_patches: 16, seed: 0 };
    assert_eq!(swd_with_config(&a, &a, None, &cfg).unwrap().mean, 0.0);
}
