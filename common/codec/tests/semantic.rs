//! Semantic codec against whole-image SoftCast on real photos, same ρ and SNR (issue 4):
//! the key regions must come out better, never worse, at a bounded whole-image price.
//!
//! Two sample photos, ρ = 1/32, AWGN over the whole stream (pilots, digital, analog),
//! pilot-estimated channel, two seeds each. The margins asserted are below what
//! `examples/semantic_vs_softcast.rs` measures (notes of issue 4), so noise in one
//! realisation does not flip them, but a real regression does.
#![allow(clippy::unwrap_used)] // a test or example that fails should stop loudly

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use semcom_codec::generate::ClassicalFill;
use semcom_codec::semantic::{self, SemanticConfig, SemanticRequest};
use semcom_codec::softcast::{self, SoftCastConfig};
use semcom_codec::stream::Received;
use semcom_metrics::{ms_ssim, psnr_masked};
use semcom_phy::channel::Awgn;

fn sample(name: &str) -> image::RgbImage {
    let path = format!("{}/../../samples/{name}", env!("CARGO_MANIFEST_DIR"));
    image::open(&path).unwrap_or_else(|e| panic!("{path}: {e}")).to_rgb8()
}

/// (key PSNR semantic − SoftCast, MS-SSIM semantic − SoftCast), averaged over seeds.
fn compare(img: &image::RgbImage, snr: f64) -> (f64, f64) {
    let rho = 1.0 / 32.0;
    let cfg = SemanticConfig::default();
    let sc_cfg = SoftCastConfig::default();
    let tx = semantic::encode(img, &SemanticRequest { rho, snr_db: Some(snr), ..Default::default() }, &cfg).unwrap();
    let sc_tx = softcast::encode(img, rho, &sc_cfg).unwrap();
    // Same channel-use budget (each sends at most round(ρ·3HW)).
    assert_eq!(tx.split.budget, sc_tx.split.budget);
    let mask = tx.key_mask.pixel_mask(img.width(), img.height());
    let (mut dk, mut dm) = (0.0, 0.0);
    let seeds = 2u64;
    for seed in 0..seeds {
        let awgn = Awgn::from_snr_db(snr).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut rx = semantic::noiseless(&tx);
        awgn.apply(&mut rx.stream, &mut rng);
        let sem = semantic::decode(&rx, &cfg, &ClassicalFill::default()).unwrap();
        let mut sc_rx = Received::from_sections(&sc_tx.sections, sc_cfg.meta_mcs);
        awgn.apply(&mut sc_rx.stream, &mut rng);
        let sc = softcast::decode(&sc_rx, &sc_cfg).unwrap();
        dk += psnr_masked(img, &sem.image, &mask).unwrap().unwrap()
            - psnr_masked(img, &sc.image, &mask).unwrap().unwrap();
        dm += ms_ssim(img, &sem.image).unwrap() - ms_ssim(img, &sc.image).unwrap();
    }
    (dk / seeds as f64, dm / seeds as f64)
}

/// Means over the two photos. Measured (3 seeds, `examples/semantic_vs_softcast.rs`):
/// key-region gain +1.06 / +2.81 / +3.58 dB at 0 / 10 / 20 dB; MS-SSIM +0.036 / −0.044 /
/// −0.064. The goal (≥ 2 dB from 5 dB up, MS-SSIM within 0.05) holds for the key
/// regions at 10 and 20 dB (not at 5 dB: +1.6 on four photos) and for MS-SSIM up to
/// 10 dB, not at 20 dB on these two photos; the bounds below guard what holds.
#[test]
fn key_regions_beat_whole_image_softcast_at_a_bounded_price() {
    let imgs: Vec<_> = ["astronaut.png", "coffee.png"].iter().map(|n| sample(n)).collect();
    for (snr, min_gain, min_ms_ssim) in [(0.0, 0.0, -0.05), (10.0, 2.0, -0.06), (20.0, 2.0, -0.08)] {
        let (mut dk, mut dm) = (0.0, 0.0);
        for img in &imgs {
            let (k, m) = compare(img, snr);
            dk += k / imgs.len() as f64;
            dm += m / imgs.len() as f64;
        }
        eprintln!("{snr} dB: key PSNR {dk:+.2} dB, MS-SSIM {dm:+.4}");
        assert!(dk > min_gain, "at {snr} dB: key-region gain {dk:.2} dB ≤ {min_gain}");
        assert!(dm > min_ms_ssim, "at {snr} dB: MS-SSIM {dm:+.4} below SoftCast's by more than {}", -min_ms_ssim);
    }
}
