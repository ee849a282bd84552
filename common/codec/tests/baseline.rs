//! Separation baselines on the sample images: the JPEG search, JPEG + LDPC + QAM over
//! seeded AWGN with a pilot-estimated receiver, and the JPEG capacity reference line.
#![allow(clippy::unwrap_used)] // a test or example that fails should stop loudly

use image::{Rgb, RgbImage};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use semcom_codec::baseline::{
    best_jpeg, decode_jpeg, jpeg_capacity, jpeg_ldpc_decode, jpeg_ldpc_encode, JpegAtCapacity, JpegLdpcConfig,
    JpegLdpcReconstruction, JpegLdpcTransmission, HEADER_BYTES, MAX_QUALITY, WIRE_SIDE_BYTES,
};
use semcom_codec::error::CodecError;
use semcom_codec::stream::{Received, SectionKind};
use semcom_codec::C32;
use semcom_metrics::psnr;
use semcom_phy::channel::Awgn;
use semcom_phy::pilots::PilotPattern;

fn sample(name: &str) -> RgbImage {
    image::open(format!("{}/../../samples/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap().to_rgb8()
}

fn plain_jpeg(img: &RgbImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality).encode_image(img).unwrap();
    out
}

fn cfg(mcs: u8) -> JpegLdpcConfig {
    JpegLdpcConfig { mcs, ..JpegLdpcConfig::default() }
}

/// The transmission as sent, with the frame-header facts.
fn sent(tx: &JpegLdpcTransmission, cfg: &JpegLdpcConfig) -> Received {
    Received::from_sections(&tx.sections, cfg.mcs)
}

fn through_awgn(tx: &JpegLdpcTransmission, cfg: &JpegLdpcConfig, snr_db: f64, seed: u64) -> Received {
    let mut rx = sent(tx, cfg);
    Awgn::from_snr_db(snr_db).unwrap().apply(&mut rx.stream, &mut ChaCha8Rng::seed_from_u64(seed));
    rx
}

fn decode(rx: &Received, cfg: &JpegLdpcConfig, img: &RgbImage) -> JpegLdpcReconstruction {
    jpeg_ldpc_decode(rx, cfg, img.dimensions()).unwrap()
}

fn is_mid_grey(img: &RgbImage) -> bool {
    img.pixels().all(|p| *p == Rgb([128, 128, 128]))
}

// ---- best_jpeg -------------------------------------------------------------------

#[test]
fn best_jpeg_fits_and_improves_with_the_budget() {
    for name in ["astronaut.png", "chelsea.png"] {
        let img = sample(name);
        let mut last = f64::NEG_INFINITY;
        for budget in [1_500usize, 3_000, 6_000, 12_000, 24_000] {
            let c = best_jpeg(&img, budget).unwrap_or_else(|| panic!("{name}: nothing fits {budget} B"));
            assert!(c.bytes.len() <= budget, "{name}: {} B > {budget} B", c.bytes.len());
            assert!((1..=MAX_QUALITY).contains(&c.quality));
            assert!(c.coded_width <= img.width() && c.coded_height <= img.height());
            let rec = decode_jpeg(&c.bytes, img.width(), img.height()).unwrap();
            let p = psnr(&img, &rec).unwrap();
            assert!(p >= last, "{name}: PSNR fell from {last:.2} to {p:.2} dB at {budget} B");
            last = p;
        }
    }
}

/// A fair engineer's JPEG: given the bytes of a plain quality-75 full-size file, the
/// search never does worse than that file.
#[test]
fn best_jpeg_is_no_worse_than_plain_quality_75() {
    for name in ["astronaut.png", "chelsea.png", "coffee.png"] {
        let img = sample(name);
        let plain = plain_jpeg(&img, 75);
        let plain_psnr = psnr(&img, &decode_jpeg(&plain, img.width(), img.height()).unwrap()).unwrap();
        let c = best_jpeg(&img, plain.len()).unwrap();
        let best_psnr = psnr(&img, &decode_jpeg(&c.bytes, img.width(), img.height()).unwrap()).unwrap();
        assert!(c.bytes.len() <= plain.len());
        assert!(best_psnr >= plain_psnr, "{name}: {best_psnr:.2} < q75 {plain_psnr:.2} dB");
    }
}

/// At a budget far below a full-size file the search must trade resolution for
/// quantisation: the downscaled pick beats full size at quality 1.
#[test]
fn best_jpeg_downscales_when_the_budget_is_tight() {
    let img = sample("astronaut.png");
    let q1 = plain_jpeg(&img, 1);
    let c = best_jpeg(&img, q1.len() / 2).unwrap();
    assert!(c.coded_width < img.width(), "{}x{}", c.coded_width, c.coded_height);
    let q1_psnr = psnr(&img, &decode_jpeg(&q1, 512, 512).unwrap()).unwrap();
    let c_psnr = psnr(&img, &decode_jpeg(&c.bytes, 512, 512).unwrap()).unwrap();
    // Half the bytes of the full-size quality-1 file, and still within 1 dB of it.
    assert!(c_psnr > q1_psnr - 1.0, "{c_psnr:.2} vs {q1_psnr:.2} dB");
}

#[test]
fn best_jpeg_gives_none_when_nothing_fits_or_the_image_is_empty() {
    assert!(best_jpeg(&sample("chelsea.png"), 100).is_none());
    assert!(best_jpeg(&RgbImage::new(0, 0), 1 << 20).is_none());
    assert!(best_jpeg(&RgbImage::new(70_000, 1), 1 << 20).is_none());
    // A tiny image is encoded at full size (no ladder below 8 px).
    let c = best_jpeg(&RgbImage::from_pixel(3, 2, Rgb([10, 200, 30])), 1 << 20).unwrap();
    assert_eq!((c.coded_width, c.coded_height, c.quality), (3, 2, MAX_QUALITY));
}

#[test]
fn decode_jpeg_rejects_garbage_and_resizes_real_data() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    assert!(decode_jpeg(&[], 8, 8).is_none());
    for i in 0..200 {
        let len = rng.random_range(1..3000);
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        if i % 2 == 0 && len > 2 {
            bytes[..2].copy_from_slice(&[0xFF, 0xD8]); // a JPEG start, then noise
        }
        assert!(decode_jpeg(&bytes, 32, 32).is_none(), "garbage {i} decoded");
    }
    let jpeg = plain_jpeg(&sample("chelsea.png"), 50);
    assert_eq!(decode_jpeg(&jpeg, 100, 70).unwrap().dimensions(), (100, 70));
    assert!(decode_jpeg(&jpeg, 0, 70).is_none());
    // A frame header claiming 60000×60000 is refused before any pixel buffer exists.
    let mut huge = plain_jpeg(&RgbImage::new(8, 8), 50);
    let sof = huge.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    huge[sof + 5..sof + 9].copy_from_slice(&[0xEA, 0x60, 0xEA, 0x60]);
    assert!(decode_jpeg(&huge, 8, 8).is_none());
}

// ---- JPEG + LDPC -----------------------------------------------------------------

#[test]
fn jpeg_ldpc_noiseless_round_trip_is_exactly_the_chosen_jpeg() {
    let img = sample("chelsea.png");
    for (mcs, rho) in [(1u8, 1.0 / 32.0), (3, 1.0 / 64.0), (7, 1.0 / 32.0), (12, 1.0 / 16.0)] {
        let cfg = cfg(mcs);
        let tx = jpeg_ldpc_encode(&img, rho, &cfg).unwrap();
        let choice = tx.jpeg.as_ref().unwrap_or_else(|| panic!("MCS {mcs}: no JPEG"));
        assert_eq!(tx.payload_bytes, HEADER_BYTES + choice.wire_len().unwrap() - WIRE_SIDE_BYTES);
        let rec = decode(&sent(&tx, &cfg), &cfg, &img);
        assert!(!rec.undecodable && rec.blocks > 0 && rec.blocks_failed == 0, "MCS {mcs}");
        assert_eq!(rec.image, decode_jpeg(&choice.bytes, img.width(), img.height()).unwrap(), "MCS {mcs}");
    }
}

/// More channel uses or a faster MCS never give a worse noiseless image.
#[test]
fn jpeg_ldpc_quality_grows_with_rho_and_mcs() {
    let img = sample("chelsea.png");
    let quality = |mcs: u8, rho: f64| {
        let cfg = cfg(mcs);
        let tx = jpeg_ldpc_encode(&img, rho, &cfg).unwrap();
        psnr(&img, &decode(&sent(&tx, &cfg), &cfg, &img).image).unwrap()
    };
    let (a, b, c) = (quality(3, 1.0 / 64.0), quality(3, 1.0 / 16.0), quality(9, 1.0 / 16.0));
    assert!(a < b && b < c, "{a:.2} {b:.2} {c:.2}");
}

#[test]
fn jpeg_ldpc_split_accounts_for_every_channel_use() {
    let img = sample("coffee.png");
    let (h, w) = (img.height() as usize, img.width() as usize);
    for (mcs, rho) in [(0u8, 1.0 / 64.0), (3, 1.0 / 32.0), (5, 1.0 / 17.0), (12, 1.0 / 16.0)] {
        let cfg = cfg(mcs);
        let tx = jpeg_ldpc_encode(&img, rho, &cfg).unwrap();
        let s = tx.split;
        assert_eq!(s.budget, (rho * (3 * h * w) as f64).round() as usize);
        assert_eq!(s.analog, 0);
        assert_eq!(s.pilots + s.meta, s.total);
        assert!(s.total <= s.budget, "{s:?}");
        assert_eq!(tx.symbols().len(), s.total);
        let pattern = PilotPattern::new(cfg.pilot_block, cfg.pilots_per_block).unwrap();
        assert_eq!(s.pilots, pattern.overhead(s.meta));
        let count = |k: SectionKind| tx.sections.iter().filter(|g| g.kind == k).map(|g| g.symbols.len()).sum::<usize>();
        assert_eq!((count(SectionKind::Pilot), count(SectionKind::Meta)), (s.pilots, s.meta));
        assert_eq!(count(SectionKind::Analog), 0);
        // Unit average power (docs/architecture.md §2): pilots and QAM both have power 1.
        let power = tx.symbols().iter().map(|z| f64::from(z.norm_sqr())).sum::<f64>() / s.total as f64;
        assert!((power - 1.0).abs() < 0.05, "power {power}");
    }
}

/// Far below the MCS's threshold (16-QAM 1/2 needs ≈ 6.5 dB) the link collapses: the
/// receiver reports failed blocks or gives up, and the picture is far from the
/// noiseless one — the cliff effect, reported, not hidden.
#[test]
fn jpeg_ldpc_collapses_far_below_the_threshold() {
    let img = sample("chelsea.png");
    let cfg = cfg(5);
    let tx = jpeg_ldpc_encode(&img, 1.0 / 32.0, &cfg).unwrap();
    let clean = psnr(&img, &decode(&sent(&tx, &cfg), &cfg, &img).image).unwrap();
    for seed in 0..3 {
        let rec = decode(&through_awgn(&tx, &cfg, -5.0, seed), &cfg, &img);
        assert!(rec.undecodable || rec.blocks_failed > 0, "seed {seed}: decoded at -5 dB");
        assert!(!rec.undecodable || is_mid_grey(&rec.image));
        let p = psnr(&img, &rec.image).unwrap();
        assert!(p < clean - 6.0, "seed {seed}: {p:.2} dB vs {clean:.2} dB noiseless");
    }
}

/// Far above the threshold (QPSK 1/2 needs ≈ 1.5 dB) every block passes and the
/// image is exactly the noiseless one.
#[test]
fn jpeg_ldpc_is_error_free_far_above_the_threshold() {
    let img = sample("chelsea.png");
    let cfg = cfg(3);
    let tx = jpeg_ldpc_encode(&img, 1.0 / 32.0, &cfg).unwrap();
    let clean = decode(&sent(&tx, &cfg), &cfg, &img).image;
    for seed in 0..3 {
        let rec = decode(&through_awgn(&tx, &cfg, 15.0, seed), &cfg, &img);
        assert!(!rec.undecodable && rec.blocks_failed == 0, "seed {seed}");
        assert_eq!(rec.image, clean, "seed {seed}");
    }
}

/// Budget for the pilots and the header but not for any JPEG: only the header goes out
/// and the receiver shows mid-grey without calling it a channel failure.
#[test]
fn jpeg_ldpc_sends_only_the_header_when_no_jpeg_fits() {
    let img = sample("chelsea.png");
    let cfg = cfg(3);
    let rho = 180.0 / (3.0 * f64::from(img.width() * img.height()));
    let tx = jpeg_ldpc_encode(&img, rho, &cfg).unwrap();
    assert!(tx.jpeg.is_none());
    assert_eq!(tx.payload_bytes, HEADER_BYTES);
    let rec = decode(&sent(&tx, &cfg), &cfg, &img);
    assert!(!rec.undecodable && is_mid_grey(&rec.image) && rec.image.dimensions() == img.dimensions());
}

#[test]
fn jpeg_ldpc_rejects_bad_inputs_with_errors() {
    let img = sample("chelsea.png");
    let good = JpegLdpcConfig::default();
    for rho in [0.0, -0.1, f64::NAN, f64::INFINITY] {
        assert!(matches!(jpeg_ldpc_encode(&img, rho, &good), Err(CodecError::InvalidRho(_))), "rho {rho}");
    }
    for bad in [RgbImage::new(0, 0), RgbImage::new(0, 5), RgbImage::new(70_000, 1)] {
        assert!(matches!(jpeg_ldpc_encode(&bad, 0.1, &good), Err(CodecError::UnsupportedImageSize { .. })));
    }
    for bad in [
        JpegLdpcConfig { mcs: 13, ..good.clone() },
        JpegLdpcConfig { pilots_per_block: 1, ..good.clone() },
        JpegLdpcConfig { pilot_block: 16, ..good.clone() },
    ] {
        assert!(matches!(jpeg_ldpc_encode(&img, 0.1, &bad), Err(CodecError::InvalidConfig(_))), "{bad:?}");
        assert!(matches!(jpeg_ldpc_decode(&Received::default(), &bad, (8, 8)), Err(CodecError::InvalidConfig(_))));
    }
    assert!(matches!(jpeg_ldpc_encode(&img, 1e-6, &good), Err(CodecError::BudgetTooSmall { .. })));

    let tx = jpeg_ldpc_encode(&img, 1.0 / 64.0, &good).unwrap();
    let rx = sent(&tx, &good);
    let wrong_mcs = Received { meta_mcs: 5, ..rx.clone() };
    assert!(matches!(jpeg_ldpc_decode(&wrong_mcs, &good, img.dimensions()), Err(CodecError::InvalidConfig(_))));
    assert!(matches!(jpeg_ldpc_decode(&rx, &good, (0, 10)), Err(CodecError::UnsupportedImageSize { .. })));
    let none_announced = Received { meta_symbols: 0, ..rx.clone() };
    assert!(matches!(jpeg_ldpc_decode(&none_announced, &good, img.dimensions()), Err(CodecError::MetadataCorrupt(_))));
}

/// Channel events are not errors: a lost stream (all NaN), a cut-off stream or one of
/// pure noise gives an undecodable mid-grey image.
#[test]
fn jpeg_ldpc_shows_mid_grey_when_nothing_usable_arrives() {
    let img = sample("chelsea.png");
    let cfg = JpegLdpcConfig::default();
    let tx = jpeg_ldpc_encode(&img, 1.0 / 64.0, &cfg).unwrap();
    let rx = sent(&tx, &cfg);
    let lost = Received { stream: vec![C32::new(f32::NAN, f32::NAN); rx.stream.len()], ..rx.clone() };
    let cut = Received { stream: rx.stream[..rx.stream.len() / 3].to_vec(), ..rx.clone() };
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let noise = Received {
        stream: (0..rx.stream.len()).map(|_| C32::new(rng.random::<f32>() - 0.5, rng.random::<f32>() - 0.5)).collect(),
        ..rx.clone()
    };
    let empty = Received { stream: Vec::new(), ..rx.clone() };
    for (what, r) in [("lost", lost), ("cut", cut), ("noise", noise), ("empty", empty)] {
        let rec = jpeg_ldpc_decode(&r, &cfg, img.dimensions()).unwrap_or_else(|e| panic!("{what}: {e}"));
        if what != "cut" {
            assert!(rec.undecodable && is_mid_grey(&rec.image), "{what}");
        }
        assert!(rec.undecodable || rec.blocks_failed > 0, "{what}");
        assert_eq!(rec.image.dimensions(), img.dimensions(), "{what}");
    }
}

// ---- JPEG capacity ---------------------------------------------------------------

#[test]
fn jpeg_capacity_fits_the_capacity_and_rises_with_snr() {
    let img = sample("chelsea.png");
    let k = (3.0 * f64::from(img.width() * img.height()) / 32.0).round() as usize;
    let mut last = f64::NEG_INFINITY;
    for snr_db in [-5.0, 0.0, 5.0, 10.0, 20.0] {
        let JpegAtCapacity { image: rec, jpeg: choice, budget_bytes: budget } = jpeg_capacity(&img, k, snr_db);
        let bits = (k as f64 * (1.0 + 10f64.powf(snr_db / 10.0)).log2()).floor() as usize;
        assert_eq!(budget, bits / 8);
        let choice = choice.unwrap_or_else(|| panic!("nothing fits at {snr_db} dB"));
        assert!(choice.wire_len().unwrap() <= budget, "{snr_db} dB");
        assert_eq!(rec, decode_jpeg(&choice.bytes, img.width(), img.height()).unwrap());
        let p = psnr(&img, &rec).unwrap();
        assert!(p >= last, "{snr_db} dB: {p:.2} < {last:.2}");
        last = p;
    }
    // Nothing fits: mid-grey at the image's size.
    let JpegAtCapacity { image: rec, jpeg: choice, budget_bytes: budget } = jpeg_capacity(&img, 10, 0.0);
    assert!(choice.is_none() && budget == 1 && is_mid_grey(&rec) && rec.dimensions() == img.dimensions());
    assert_eq!(jpeg_capacity(&img, k, f64::NAN).budget_bytes, 0);
}

/// The reference line bounds the real system: with the same channel uses, JPEG over a
/// capacity-achieving code is at least as good as JPEG + LDPC at an MCS working well
/// inside its range.
#[test]
fn jpeg_capacity_bounds_jpeg_ldpc() {
    let img = sample("chelsea.png");
    for (mcs, snr_db) in [(3u8, 5.0), (7, 13.0)] {
        let cfg = cfg(mcs);
        let tx = jpeg_ldpc_encode(&img, 1.0 / 32.0, &cfg).unwrap();
        let ldpc = psnr(&img, &decode(&through_awgn(&tx, &cfg, snr_db, 1), &cfg, &img).image).unwrap();
        let cap = psnr(&img, &jpeg_capacity(&img, tx.split.budget, snr_db).image).unwrap();
        assert!(cap >= ldpc, "MCS {mcs} at {snr_db} dB: capacity {cap:.2} < LDPC {ldpc:.2} dB");
    }
}
