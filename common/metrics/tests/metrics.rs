//! Behavioural tests for PSNR / SSIM.

use image::{Rgb, RgbImage};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use semcom_metrics::{mse, psnr, ssim, MetricsError, PSNR_CAP_DB};

fn sample(name: &str) -> RgbImage {
    let path = format!("{}/../../samples/{name}", env!("CARGO_MANIFEST_DIR"));
    image::open(&path).expect("sample image").to_rgb8()
}

/// Adds i.i.d. N(0, sigma²) noise per sample, rounded and clamped to 0..=255.
fn noisy(img: &RgbImage, sigma: f64, seed: u64) -> RgbImage {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = img.clone();
    for v in out.iter_mut() {
        let n: f64 = rng.sample(rand_distr::StandardNormal);
        *v = (*v as f64 + sigma * n).round().clamp(0.0, 255.0) as u8;
    }
    out
}

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
