//! Segmentation: importance map, ROIs, key mask, key-share rule and mask coding.
#![allow(clippy::unwrap_used)] // a test or example that fails should stop loudly

use image::{Rgb, RgbImage};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use semcom_codec::segment::{
    importance_map, key_mask, key_share_for, BlockMask, ImportanceConfig, ImportanceMap, Roi, RoiMask, SegmentError,
    KEY_SHARE_MAX, KEY_SHARE_MIN,
};

fn sample(name: &str) -> RgbImage {
    image::open(format!("{}/../../samples/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap().to_rgb8()
}

const SAMPLES: [&str; 4] = ["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg"];

fn random_mask(rng: &mut ChaCha8Rng, w: u32, h: u32, kind: u32) -> BlockMask {
    let n = (w * h) as usize;
    let bits: Vec<bool> = match kind {
        0 => vec![false; n],
        1 => vec![true; n],
        2 => (0..n).map(|i| ((i as u32 % w) + (i as u32 / w)).is_multiple_of(2)).collect(),
        3 => {
            let p: f64 = rng.random();
            (0..n).map(|_| rng.random::<f64>() < p).collect()
        }
        _ => {
            // Blobby: a few random rectangles.
            let mut b = vec![false; n];
            for _ in 0..rng.random_range(1..4) {
                let (x0, y0) = (rng.random_range(0..w), rng.random_range(0..h));
                let (x1, y1) = (rng.random_range(x0..=w), rng.random_range(y0..=h));
                for y in y0..y1 {
                    for x in x0..x1 {
                        b[(y * w + x) as usize] = true;
                    }
                }
            }
            b
        }
    };
    BlockMask::new(w, h, rng.random_range(1..=64), bits).unwrap()
}

#[test]
fn mask_coding_round_trips() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut sizes = vec![(1, 1), (1, 2), (2, 1), (1, 37), (37, 1), (3, 3), (8, 8), (32, 24), (40, 30), (128, 96)];
    for _ in 0..40 {
        sizes.push((rng.random_range(1..80), rng.random_range(1..80)));
    }
    for &(w, h) in &sizes {
        for kind in 0..5 {
            for _ in 0..3 {
                let m = random_mask(&mut rng, w, h, kind);
                let bytes = m.encode();
                let back = BlockMask::decode(&bytes, (w * h) as usize).unwrap();
                assert_eq!(back, m, "{w}x{h} kind {kind}");
                // Worst case bound: header (≤ 3·5 bytes) + raw bits + mode bit.
                assert!(bytes.len() <= 15 + ((w * h) as usize + 1).div_ceil(8), "{w}x{h}: {} bytes", bytes.len());
                // Every strict prefix is rejected.
                for cut in 0..bytes.len() {
                    assert!(BlockMask::decode(&bytes[..cut], usize::MAX).is_err(), "prefix {cut} of {w}x{h}");
                }
                // Trailing bytes are rejected.
                let mut longer = bytes.clone();
                longer.push(0);
                assert!(BlockMask::decode(&longer, usize::MAX).is_err());
            }
        }
    }
    // Uniform masks code in a handful of bytes.
    for bits in [false, true] {
        let m = BlockMask::new(64, 48, 16, vec![bits; 64 * 48]).unwrap();
        assert!(m.encode().len() <= 8, "{}", m.encode().len());
    }
}

#[test]
fn mask_decode_rejects_garbage_without_panicking() {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    for _ in 0..20_000 {
        let len = rng.random_range(0..64);
        let bytes: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        if let Ok(m) = BlockMask::decode(&bytes, 4096) {
            assert_eq!(m.bits().len(), (m.width_blocks() * m.height_blocks()) as usize);
            assert!(m.bits().len() <= 4096);
        }
    }
    // Bit flips of valid encodings.
    for _ in 0..2_000 {
        let (w, h) = (rng.random_range(1..40), rng.random_range(1..40));
        let kind = rng.random_range(0..5);
        let mut bytes = random_mask(&mut rng, w, h, kind).encode();
        let i = rng.random_range(0..bytes.len());
        bytes[i] ^= 1 << rng.random_range(0..8);
        let _ = BlockMask::decode(&bytes, 4096);
    }
    // Huge announced grid: rejected before allocating.
    let mut big = Vec::new();
    for v in [u32::MAX, u32::MAX, 16] {
        let mut v = v;
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                big.push(b);
                break;
            }
            big.push(b | 0x80);
        }
    }
    big.push(0);
    assert!(matches!(BlockMask::decode(&big, 1 << 20), Err(SegmentError::TooManyBlocks { .. })));
    assert!(BlockMask::decode(&[], 10).is_err());
    assert!(BlockMask::decode(&[0, 1, 1, 0], 10).is_err()); // zero width
    assert!(BlockMask::decode(&[0x80, 0x80, 0x80, 0x80, 0x80, 1], 10).is_err()); // long varint
    assert!(BlockMask::decode(&[0x81, 0x00, 1, 1, 0], 10).is_err()); // overlong varint
}

fn random_map(rng: &mut ChaCha8Rng, iw: u32, ih: u32, block: u32, levels: u32) -> ImportanceMap {
    let n = (iw.div_ceil(block) * ih.div_ceil(block)) as usize;
    let v = (0..n).map(|_| rng.random_range(0..levels) as f32 / levels as f32).collect();
    ImportanceMap::from_values(iw, ih, block, v).unwrap()
}

#[test]
fn key_share_is_honoured_within_one_block() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for t in 0..300 {
        let (iw, ih) = (rng.random_range(1..700), rng.random_range(1..500));
        let levels = if t % 3 == 0 { 2 } else { 1000 };
        let map = random_map(&mut rng, iw, ih, 16, levels);
        let n = map.values().len() as f64;
        for share in [0.0, 0.05, 0.1, 0.25, 0.33, 0.5, 0.6, 0.9, 1.0] {
            let m = key_mask(&map, &[], share);
            assert!((m.count() as f64 - share * n).abs() <= 1.0, "{iw}x{ih} share {share}: {} of {n}", m.count());
        }
    }
    for name in SAMPLES {
        let map = importance_map(&sample(name), &ImportanceConfig::default()).unwrap();
        let n = map.values().len() as f64;
        for share in [0.05, 0.2, 0.375, 0.6] {
            let m = key_mask(&map, &[], share);
            assert!((m.count() as f64 - share * n).abs() <= 1.0, "{name} {share}");
        }
    }
}

#[test]
fn roi_blocks_are_always_key() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    for _ in 0..200 {
        let (iw, ih) = (rng.random_range(16..400), rng.random_range(16..300));
        let map = random_map(&mut rng, iw, ih, 16, 1000);
        let (x, y) = (rng.random_range(0..iw), rng.random_range(0..ih));
        let (rw, rh) = (rng.random_range(1..iw), rng.random_range(1..ih));
        let (mw, mh) = (rng.random_range(1..50), rng.random_range(1..50));
        let pix: Vec<bool> = (0..mw * mh).map(|_| rng.random::<f64>() < 0.05).collect();
        let pmask = RoiMask::new(mw, mh, pix).unwrap();
        let (bw, bh) = (map.width_blocks(), map.height_blocks());
        let blk: Vec<bool> = (0..bw * bh).map(|_| rng.random::<f64>() < 0.03).collect();
        let bmask = RoiMask::new(bw, bh, blk.clone()).unwrap();
        let rois = [Roi::Rect { x, y, width: rw, height: rh }, Roi::PixelMask(pmask.clone()), Roi::BlockMask(bmask)];
        let share = rng.random_range(0.0..0.7);
        let m = key_mask(&map, &rois, share);
        // Rectangle pixels.
        for py in y..(y + rh).min(ih) {
            for px in x..(x + rw).min(iw) {
                assert!(m.is_key_pixel(px, py));
            }
        }
        // Pixel mask stretched over the image: the pixel at each set cell's start.
        for my in 0..mh {
            for mx in 0..mw {
                if pmask.bits()[(my * mw + mx) as usize] {
                    let (px, py) = (mx as u64 * iw as u64 / mw as u64, my as u64 * ih as u64 / mh as u64);
                    assert!(m.is_key_pixel(px as u32, py as u32));
                }
            }
        }
        for (i, b) in blk.iter().enumerate() {
            if *b {
                assert!(m.bits()[i]);
            }
        }
    }
    // A rectangle entirely outside the image is a no-op; a full-image ROI gives all key.
    let map = random_map(&mut rng, 64, 64, 16, 10);
    let m = key_mask(&map, &[Roi::Rect { x: 100, y: 0, width: 10, height: 10 }], 0.25);
    assert_eq!(m.count(), 4);
    let m = key_mask(&map, &[Roi::Rect { x: 0, y: 0, width: u32::MAX, height: u32::MAX }], 0.1);
    assert_eq!(m.count(), 16);
    assert!(RoiMask::new(3, 3, vec![true; 8]).is_err());
    assert!(RoiMask::new(0, 3, vec![]).is_err());
}

fn flat(w: u32, h: u32) -> RgbImage {
    RgbImage::from_pixel(w, h, Rgb([120, 130, 125]))
}

/// A red/white checkered 32×32 object with its top-left corner at (x0, y0).
fn paint_object(img: &mut RgbImage, x0: u32, y0: u32) {
    for y in 0..32 {
        for x in 0..32 {
            let c = if ((x / 4) + (y / 4)) % 2 == 0 { Rgb([220, 40, 30]) } else { Rgb([250, 240, 230]) };
            img.put_pixel(x0 + x, y0 + y, c);
        }
    }
}

fn mean_over(map: &ImportanceMap, bx: std::ops::Range<u32>, by: std::ops::Range<u32>) -> f32 {
    let (mut s, mut n) = (0.0, 0.0);
    for y in by {
        for x in bx.clone() {
            s += map.get(x, y).unwrap();
            n += 1.0;
        }
    }
    s / n
}

#[test]
fn salient_textured_object_beats_flat_background() {
    let cfg = ImportanceConfig::default();
    for (w, h, x0, y0) in [(256, 192, 112, 80), (256, 192, 32, 128), (160, 160, 64, 64)] {
        let mut img = flat(w, h);
        paint_object(&mut img, x0, y0);
        let map = importance_map(&img, &cfg).unwrap();
        let object = mean_over(&map, x0 / 16..(x0 + 32) / 16, y0 / 16..(y0 + 32) / 16);
        let mut bg_max = 0f32;
        for by in 0..map.height_blocks() {
            for bx in 0..map.width_blocks() {
                let near = bx + 1 >= x0 / 16 && bx <= (x0 + 32) / 16 && by + 1 >= y0 / 16 && by <= (y0 + 32) / 16;
                if !near {
                    bg_max = bg_max.max(map.get(bx, by).unwrap());
                }
            }
        }
        assert!(object > 0.5 && object > 3.0 * bg_max, "{w}x{h}@({x0},{y0}): object {object}, background max {bg_max}");
        // And the key mask picks the object first.
        let m = key_mask(&map, &[], 4.0 / map.values().len() as f64);
        for by in y0 / 16..(y0 + 32) / 16 {
            for bx in x0 / 16..(x0 + 32) / 16 {
                assert!(m.get(bx, by).unwrap());
            }
        }
    }
}

#[test]
fn centre_prior_breaks_ties() {
    let cfg = ImportanceConfig::default();
    // Two identical objects, one at the centre, one near a corner.
    let mut img = flat(320, 240);
    paint_object(&mut img, 144, 112);
    paint_object(&mut img, 16, 16);
    let map = importance_map(&img, &cfg).unwrap();
    let centre = mean_over(&map, 9..11, 7..9);
    let corner = mean_over(&map, 1..3, 1..3);
    assert!(centre > corner, "centre {centre} vs corner {corner}");
    // Flat image: all equal, the key mask grows from the centre.
    let map = importance_map(&flat(160, 160), &cfg).unwrap();
    assert!(map.values().iter().all(|v| *v == map.values()[0]));
    let m = key_mask(&map, &[], 4.0 / 100.0);
    for (bx, by) in [(4, 4), (5, 4), (4, 5), (5, 5)] {
        assert!(m.get(bx, by).unwrap());
    }
}

#[test]
fn key_share_rule_is_monotone_and_clamped() {
    let budgets = [-1.0, 0.0, 0.001, 0.01, 0.03, 3.0 / 32.0, 0.2, 0.5, 1.0, 3.0, f64::INFINITY];
    let snrs = [-30.0, -10.0, -5.0, 0.0, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 60.0];
    for &b in &budgets {
        for &s in &snrs {
            let k = key_share_for(b, s);
            assert!((KEY_SHARE_MIN..=KEY_SHARE_MAX).contains(&k));
        }
    }
    for &s in &snrs {
        for w in budgets.windows(2) {
            assert!(key_share_for(w[0], s) <= key_share_for(w[1], s));
        }
    }
    for &b in &budgets {
        for w in snrs.windows(2) {
            assert!(key_share_for(b, w[0]) <= key_share_for(b, w[1]));
        }
    }
    // Strictly increasing inside the clamp range.
    assert!(key_share_for(0.05, 5.0) < key_share_for(0.06, 5.0));
    assert!(key_share_for(0.05, 5.0) < key_share_for(0.05, 6.0));
    assert!((key_share_for(3.0 / 32.0, 10.0) - 0.15).abs() < 1e-12);
    assert_eq!(key_share_for(f64::NAN, 10.0), KEY_SHARE_MIN);
    assert_eq!(key_share_for(0.1, f64::NAN), key_share_for(0.1, -10.0));
}

#[test]
fn deterministic_and_well_formed_on_samples() {
    let cfg = ImportanceConfig::default();
    for name in SAMPLES {
        let img = sample(name);
        let a = importance_map(&img, &cfg).unwrap();
        let b = importance_map(&img, &cfg).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.width_blocks(), img.width().div_ceil(16));
        assert_eq!(a.height_blocks(), img.height().div_ceil(16));
        assert!(a.values().iter().all(|v| (0.0..=1.0).contains(v)));
        let mut sizes = Vec::new();
        for share in [0.1, 0.25, 0.375, 0.6] {
            let m = key_mask(&a, &[], share);
            assert_eq!(m, key_mask(&b, &[], share));
            let bytes = m.encode();
            assert_eq!(BlockMask::decode(&bytes, 1 << 20).unwrap(), m);
            // Few isolated key blocks after clean-up.
            let isolated = (0..m.height_blocks())
                .flat_map(|y| (0..m.width_blocks()).map(move |x| (x, y)))
                .filter(|&(x, y)| {
                    m.get(x, y).unwrap()
                        && [(x.wrapping_sub(1), y), (x + 1, y), (x, y.wrapping_sub(1)), (x, y + 1)]
                            .iter()
                            .all(|&(u, v)| !m.get(u, v).unwrap_or(false))
                })
                .count();
            assert!(isolated <= 2, "{name} {share}: {isolated} isolated");
            sizes.push(format!("{share}: {} B", bytes.len()));
        }
        println!("{name} {}x{} ({} blocks): {}", img.width(), img.height(), a.values().len(), sizes.join(", "));
    }
}

#[test]
fn invalid_inputs_are_errors() {
    let cfg = ImportanceConfig::default();
    assert!(matches!(importance_map(&RgbImage::new(0, 5), &cfg), Err(SegmentError::EmptyImage { .. })));
    let bad = ImportanceConfig { block: 0, ..cfg.clone() };
    assert!(importance_map(&flat(8, 8), &bad).is_err());
    let bad = ImportanceConfig { saliency_weight: 0.0, detail_weight: 0.0, ..cfg.clone() };
    assert!(importance_map(&flat(8, 8), &bad).is_err());
    let bad = ImportanceConfig { omega0: f32::NAN, ..cfg.clone() };
    assert!(importance_map(&flat(8, 8), &bad).is_err());
    // Tiny and elongated images work.
    for (w, h) in [(1, 1), (1, 300), (3000, 2), (17, 33)] {
        let mut img = flat(w, h);
        img.put_pixel(0, 0, Rgb([255, 0, 0]));
        let map = importance_map(&img, &cfg).unwrap();
        let m = key_mask(&map, &[], 0.5);
        assert_eq!(BlockMask::decode(&m.encode(), 1 << 20).unwrap(), m);
    }
    assert!(ImportanceMap::from_values(32, 32, 16, vec![0.5; 3]).is_err());
    assert!(BlockMask::new(2, 2, 16, vec![true; 3]).is_err());
    let m = ImportanceMap::from_values(32, 32, 16, vec![f32::NAN, 2.0, -1.0, 0.5]).unwrap();
    assert_eq!(m.values(), &[0.0, 1.0, 0.0, 0.5]);
}
