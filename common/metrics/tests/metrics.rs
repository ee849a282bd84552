//! Behavioural tests for the full-reference metrics and the combined report.
#![allow(clippy::unwrap_used)] // a test or example that fails should stop loudly

mod common;

use common::{noisy, sample};
use image::{Rgb, RgbImage};
use semcom_metrics::{gmsd, ms_ssim, mse, psnr, report, ssim, vsi, MetricsError, MS_SSIM_MIN_SIZE, PSNR_CAP_DB};

#[test]
fn identical_images_hit_the_caps() {
    let img = sample("astronaut.png");
    assert_eq!(psnr(&img, &img).unwrap(), PSNR_CAP_DB);
    assert_eq!(mse(&img, &img).unwrap(), 0.0);
    let s = ssim(&img, &img).unwrap();
    assert!((s - 1.0).abs() < 1e-12, "ssim {s}");
}

#[test]
fn constant_offset_has_analytic_psnr_and_ssim() {
    let (w, h) = (40, 30);
    for d in [1u8, 5, 20, 100] {
        let a = RgbImage::from_pixel(w, h, Rgb([50, 60, 70]));
        let b = RgbImage::from_pixel(w, h, Rgb([50 + d, 60 + d, 70 + d]));
        let want = 20.0 * (255.0 / d as f64).log10();
        assert!((psnr(&a, &b).unwrap() - want).abs() < 1e-9);
        assert!((mse(&a, &b).unwrap() - (d as f64).powi(2)).abs() < 1e-9);
        // Constant images: all variances are 0, so SSIM reduces to the luminance term
        // (2·μa·μb + c1)/(μa² + μb² + c1), averaged over the three channels.
        let c1 = 0.01f64 * 0.01;
        let want_ssim: f64 = [50.0, 60.0, 70.0]
            .iter()
            .map(|&m: &f64| {
                let (x, y) = (m / 255.0, (m + d as f64) / 255.0);
                (2.0 * x * y + c1) / (x * x + y * y + c1)
            })
            .sum::<f64>()
            / 3.0;
        let got = ssim(&a, &b).unwrap();
        assert!((got - want_ssim).abs() < 1e-12, "d={d}: {got} vs {want_ssim}");
    }
}

#[test]
fn ssim_and_psnr_decrease_monotonically_with_noise() {
    let img = sample("astronaut.png");
    let mut prev_ssim = 1.0 + 1e-12;
    let mut prev_psnr = f64::INFINITY;
    for (i, sigma) in [2.0, 5.0, 10.0, 20.0, 40.0].into_iter().enumerate() {
        let n = noisy(&img, sigma, 100 + i as u64);
        let s = ssim(&img, &n).unwrap();
        let p = psnr(&img, &n).unwrap();
        assert!(s < prev_ssim, "sigma {sigma}: ssim {s} !< {prev_ssim}");
        assert!(p < prev_psnr, "sigma {sigma}: psnr {p} !< {prev_psnr}");
        // Without clipping PSNR = 20·log10(255/σ); clipping only lowers the error.
        assert!(p >= 20.0 * (255.0 / sigma).log10() - 0.1, "sigma {sigma}: psnr {p}");
        prev_ssim = s;
        prev_psnr = p;
    }
}

#[test]
fn errors_are_reported() {
    let a = RgbImage::new(20, 20);
    let b = RgbImage::new(20, 21);
    assert!(matches!(psnr(&a, &b), Err(MetricsError::DimensionMismatch { .. })));
    assert!(matches!(ssim(&a, &b), Err(MetricsError::DimensionMismatch { .. })));
    let tiny = RgbImage::new(10, 50);
    assert!(matches!(ssim(&tiny, &tiny), Err(MetricsError::TooSmallForSsim { .. })));
    let empty = RgbImage::new(0, 0);
    assert!(matches!(mse(&empty, &empty), Err(MetricsError::Empty { .. })));
    // 11×11 is the smallest legal size and gives a 1×1 SSIM map.
    let e = RgbImage::new(11, 11);
    assert!((ssim(&e, &e).unwrap() - 1.0).abs() < 1e-12);
}

#[test]
fn identical_images_are_perfect_for_all_full_reference_metrics() {
    let img = sample("chelsea.png");
    assert!((ms_ssim(&img, &img).unwrap() - 1.0).abs() < 1e-12);
    assert!((vsi(&img, &img).unwrap() - 1.0).abs() < 1e-12);
    assert!(gmsd(&img, &img).unwrap().abs() < 1e-12);
}

#[test]
fn ms_ssim_gmsd_vsi_degrade_monotonically_with_noise() {
    let img = sample("coffee.png");
    let (mut prev_ms, mut prev_vsi, mut prev_gmsd) = (1.0 + 1e-12, 1.0 + 1e-12, 0.0);
    for (i, sigma) in [3.0, 10.0, 30.0].into_iter().enumerate() {
        let n = noisy(&img, sigma, 200 + i as u64);
        let (m, v, g) = (ms_ssim(&img, &n).unwrap(), vsi(&img, &n).unwrap(), gmsd(&img, &n).unwrap());
        assert!(m < prev_ms && v < prev_vsi && g > prev_gmsd, "sigma {sigma}: ms {m} vsi {v} gmsd {g}");
        (prev_ms, prev_vsi, prev_gmsd) = (m, v, g);
    }
}

#[test]
fn new_metrics_report_errors_and_handle_tiny_images() {
    let a = RgbImage::new(20, 20);
    let b = RgbImage::new(20, 21);
    assert!(matches!(ms_ssim(&a, &b), Err(MetricsError::DimensionMismatch { .. })));
    assert!(matches!(gmsd(&a, &b), Err(MetricsError::DimensionMismatch { .. })));
    assert!(matches!(vsi(&a, &b), Err(MetricsError::DimensionMismatch { .. })));
    let small = RgbImage::new(MS_SSIM_MIN_SIZE - 1, 400);
    assert!(matches!(ms_ssim(&small, &small), Err(MetricsError::TooSmallForMsSsim { min: 161, .. })));
    let ok = RgbImage::new(MS_SSIM_MIN_SIZE, MS_SSIM_MIN_SIZE);
    assert!((ms_ssim(&ok, &ok).unwrap() - 1.0).abs() < 1e-12);
    // GMSD and VSI have no minimum size beyond one pixel; they must not panic.
    for (w, h) in [(1, 1), (3, 2), (2, 5)] {
        let x = RgbImage::from_pixel(w, h, Rgb([10, 200, 30]));
        let y = RgbImage::from_pixel(w, h, Rgb([12, 190, 40]));
        assert!(gmsd(&x, &y).unwrap().is_finite());
        assert!(vsi(&x, &y).unwrap().is_finite());
    }
    let empty = RgbImage::new(0, 0);
    assert!(matches!(vsi(&empty, &empty), Err(MetricsError::Empty { .. })));
}

#[test]
fn report_collects_everything_and_serialises() {
    let img = sample("astronaut.png");
    let n = noisy(&img, 10.0, 7);
    let r = report(&img, &n, None).unwrap();
    assert_eq!(r.psnr, psnr(&img, &n).unwrap());
    assert_eq!(r.ssim, ssim(&img, &n).unwrap());
    assert_eq!(r.ms_ssim, Some(ms_ssim(&img, &n).unwrap()));
    assert_eq!(r.vsi, vsi(&img, &n).unwrap());
    assert_eq!(r.gmsd, gmsd(&img, &n).unwrap());
    let swd = r.swd.as_ref().expect("swd");
    assert!(swd.mean > 0.0 && !swd.per_level.is_empty());
    let json = serde_json::to_value(&r).unwrap();
    for key in ["psnr", "ssim", "ms_ssim", "vsi", "gmsd", "swd"] {
        assert!(json.get(key).is_some(), "{key} missing in {json}");
    }
    assert!(json["swd"]["per_level"].is_array());

    // Masked: the left half only; small images drop MS-SSIM instead of failing.
    let (w, h) = img.dimensions();
    let mask: Vec<bool> = (0..w * h).map(|i| i % w < w / 2).collect();
    let rm = report(&img, &n, Some(&mask)).unwrap();
    assert_eq!(rm.psnr, r.psnr);
    assert_ne!(rm.swd, r.swd);
    let small = image::imageops::crop_imm(&img, 0, 0, 100, 100).to_image();
    let rs = report(&small, &small, None).unwrap();
    assert_eq!(rs.ms_ssim, None);
    assert_eq!(rs.swd.map(|s| s.mean), Some(0.0));
    assert!(matches!(report(&img, &n, Some(&mask[1..])), Err(MetricsError::MaskSizeMismatch { .. })));
}
