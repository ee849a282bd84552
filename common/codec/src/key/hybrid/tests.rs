use image::RgbImage;

use super::*;
use crate::analog::AnalogRx;
use crate::color::rgb_to_ycbcr;
use crate::key::{KeyDecoded, KeyEncoder, KeyError};
use crate::segment::{importance_map, key_mask, BlockMask, ImportanceConfig};
use crate::C32;

/// Deterministic test picture with smooth areas, edges and fine texture (no samples).
fn picture(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let (xf, yf) = (x as f32, y as f32);
        let smooth = 100.0 + 60.0 * (xf / w as f32) + 30.0 * (yf / 37.0).sin();
        let texture = if x > w / 2 && y < h / 2 { 40.0 * ((xf * 1.7).sin() * (yf * 2.3).cos()) } else { 0.0 };
        let edge = if (x as i32 - 20).pow(2) + (y as i32 - 40).pow(2) < 200 { 70.0 } else { 0.0 };
        let v = (smooth + texture + edge).clamp(0.0, 255.0);
        image::Rgb([v as u8, (v * 0.8) as u8, (255.0 - v) as u8])
    })
}

fn mask_for(img: &RgbImage, share: f64) -> BlockMask {
    let map = importance_map(img, &ImportanceConfig::default()).expect("importance map");
    key_mask(&map, &[], share)
}

fn ideal(syms: &[C32]) -> (Vec<C32>, Vec<f32>) {
    (vec![C32::new(1.0, 0.0); syms.len()], vec![1e-9; syms.len()])
}

#[test]
fn noiseless_with_room_for_everything_is_exact_in_key_blocks() {
    // 100×70: partial edge blocks on both axes.
    let img = picture(100, 70);
    let key = mask_for(&img, 0.4);
    let planes = rgb_to_ycbcr(&img);
    let enc = HybridDct::default();
    let prep = enc.prepare(&planes, &key).unwrap();
    let out = prep.modulate(1 << 20);
    assert_eq!(out.side.len(), prep.side_len());
    let (h, nv) = ideal(&out.symbols);
    let rx = AnalogRx { symbols: &out.symbols, h: &h, noise_var: &nv };
    let dec = enc.decode(&out.side, &key, 100, 70, out.symbols.len(), rx).unwrap();
    assert_eq!(dec.erased_symbols, 0);
    let mut worst = 0.0f32;
    for y in 0..70u32 {
        for x in 0..100u32 {
            if key.is_key_pixel(x, y) {
                let i = (y * 100 + x) as usize;
                // Only the integer-rounded means are lost? No: means are added back
                // exactly, so key pixels come back up to float rounding.
                worst = worst.max((dec.planes.y[i] - planes.y[i]).abs());
                worst = worst.max((dec.planes.cb[i] - planes.cb[i]).abs());
            }
        }
    }
    assert!(worst < 0.05, "worst key-pixel error {worst}");
}

#[test]
fn symbols_have_unit_power_at_any_capacity() {
    let img = picture(128, 96);
    let key = mask_for(&img, 0.3);
    let planes = rgb_to_ycbcr(&img);
    let prep = HybridDct::default().prepare(&planes, &key).unwrap();
    for cap in [10usize, 300, 1500, 4000] {
        let out = prep.modulate(cap);
        assert!(out.symbols.len() <= cap);
        let p = out.symbols.iter().map(|s| f64::from(s.norm_sqr())).sum::<f64>() / out.symbols.len() as f64;
        // Power scale quantised to 2^(1/512) in amplitude; an odd count pads one zero.
        assert!((p - 1.0).abs() < 0.01 + 1.0 / out.symbols.len() as f64, "capacity {cap}: power {p}");
    }
}

#[test]
fn llse_error_falls_with_snr_and_matches_noise_free_limit() {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use semcom_phy::channel::Awgn;
    let img = picture(128, 96);
    let key = mask_for(&img, 0.3);
    let planes = rgb_to_ycbcr(&img);
    let enc = HybridDct::default();
    let prep = enc.prepare(&planes, &key).unwrap();
    let out = prep.modulate(1200);
    let key_mse = |dec: &KeyDecoded| {
        let (mut s, mut n) = (0.0f64, 0usize);
        for y in 0..96u32 {
            for x in 0..128u32 {
                if key.is_key_pixel(x, y) {
                    let i = (y * 128 + x) as usize;
                    s += f64::from(dec.planes.y[i] - planes.y[i]).powi(2);
                    n += 1;
                }
            }
        }
        s / n as f64
    };
    let mut last = f64::INFINITY;
    for snr in [0.0, 10.0, 20.0, 40.0] {
        let n0 = 10f64.powf(-snr / 10.0);
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut y = out.symbols.clone();
        Awgn::new(n0).expect("valid N0").apply(&mut y, &mut rng);
        let h = vec![C32::new(1.0, 0.0); y.len()];
        let nv = vec![n0 as f32; y.len()];
        let rx = AnalogRx { symbols: &y, h: &h, noise_var: &nv };
        let mse = key_mse(&enc.decode(&out.side, &key, 128, 96, y.len(), rx).unwrap());
        assert!(mse < last, "key MSE {mse} at {snr} dB not below {last}");
        last = mse;
    }
}

#[test]
fn erased_symbols_are_counted_and_bad_side_info_is_an_error() {
    let img = picture(64, 64);
    let key = mask_for(&img, 0.3);
    let planes = rgb_to_ycbcr(&img);
    let enc = HybridDct::default();
    let out = enc.prepare(&planes, &key).unwrap().modulate(400);
    let mut y = out.symbols.clone();
    for s in y.iter_mut().take(50) {
        *s = C32::new(f32::NAN, f32::NAN);
    }
    let (h, nv) = ideal(&y);
    let rx = AnalogRx { symbols: &y, h: &h, noise_var: &nv };
    let dec = enc.decode(&out.side, &key, 64, 64, y.len(), rx).unwrap();
    assert_eq!(dec.erased_symbols, 50);
    assert!(dec.planes.y.iter().all(|v| v.is_finite()));
    // Wrong length and garbage of the right length: errors or finite output, never a panic.
    let rx = AnalogRx { symbols: &y, h: &h, noise_var: &nv };
    assert!(matches!(enc.decode(&out.side[1..], &key, 64, 64, y.len(), rx), Err(KeyError::SideInfo(_))));
    for seed in 0..20u8 {
        let junk: Vec<u8> =
            (0..out.side.len()).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed.wrapping_mul(17))).collect();
        if let Ok(d) = enc.decode(&junk, &key, 64, 64, y.len(), rx) {
            assert!(d.planes.y.iter().all(|v| v.is_finite()));
        }
    }
    // A mask that does not cover the image.
    assert!(matches!(enc.decode(&out.side, &key, 200, 64, y.len(), rx), Err(KeyError::Input(_))));
}
