//! Structured prompt: segments, description, coding, text and repair.
#![allow(clippy::unwrap_used)] // a test or example that fails should stop loudly

use image::{Rgb, RgbImage};
use semcom_codec::prompt::{
    decode_prompt, describe, encode_prompt, mean_rgb, non_key_of, render_text, safe_prior, segments_of, validate,
    PromptDetail, PromptLimits, RepairSource,
};
use semcom_codec::segment::{importance_map, key_mask, BlockMask, ImportanceConfig};

fn sample(name: &str) -> RgbImage {
    image::open(format!("{}/../../samples/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap().to_rgb8()
}

const SAMPLES: [&str; 4] = ["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg"];
const LEVELS: [PromptDetail; 3] = [PromptDetail::Full, PromptDetail::Reduced, PromptDetail::Minimal];

fn non_key_for(img: &RgbImage) -> BlockMask {
    let map = importance_map(img, &ImportanceConfig::default()).unwrap();
    non_key_of(&key_mask(&map, &[], 0.25))
}

/// Left half sky blue (flat), right half vertical black/white stripes; all blocks non-key.
fn synthetic() -> (RgbImage, BlockMask) {
    let img = RgbImage::from_fn(128, 64, |x, _| {
        if x < 64 {
            Rgb([70, 130, 220])
        } else if (x / 2) % 2 == 0 {
            Rgb([20, 20, 20])
        } else {
            Rgb([230, 230, 230])
        }
    });
    // Key column between them splits the non-key blocks into two segments.
    let bits = (0..8 * 4).map(|i| i % 8 == 4).collect::<Vec<_>>();
    (img, non_key_of(&BlockMask::new(8, 4, 16, bits).unwrap()))
}

#[test]
fn segments_cover_exactly_the_non_key_blocks() {
    for name in SAMPLES {
        let nk = non_key_for(&sample(name));
        let segs = segments_of(&nk);
        assert!(!segs.is_empty() && segs.len() <= 16, "{name}: {} segments", segs.len());
        let mut cover = vec![0u32; nk.bits().len()];
        for s in &segs {
            assert_eq!(
                (s.width_blocks(), s.height_blocks(), s.block()),
                (nk.width_blocks(), nk.height_blocks(), nk.block())
            );
            assert!(s.count() > 0);
            for (c, &b) in cover.iter_mut().zip(s.bits()) {
                *c += b as u32;
            }
        }
        for (c, &b) in cover.iter().zip(nk.bits()) {
            assert_eq!(*c, b as u32, "{name}");
        }
    }
    // Many isolated single blocks: merged and capped.
    let bits: Vec<bool> = (0..20 * 20).map(|i| (i % 20) % 2 == 0 && (i / 20) % 2 == 0).collect();
    let nk = BlockMask::new(20, 20, 16, bits).unwrap();
    let segs = segments_of(&nk);
    assert!(segs.len() <= 16);
    assert_eq!(segs.iter().map(|s| s.count()).sum::<usize>(), nk.count());
    assert!(segments_of(&BlockMask::new(3, 3, 16, vec![false; 9]).unwrap()).is_empty());
}

#[test]
fn round_trip_and_sizes_shrink_with_detail() {
    let limits = PromptLimits::default();
    for name in SAMPLES {
        let img = sample(name);
        let nk = non_key_for(&img);
        let mut sizes = Vec::new();
        for d in LEVELS {
            let p = describe(&img, &nk, d);
            validate(&p, &limits).unwrap();
            let bytes = encode_prompt(&p);
            assert_eq!(decode_prompt(&bytes, &limits).unwrap(), p, "{name} {d:?}");
            sizes.push(bytes.len());
            println!("{name} {d:?}: {} segments, {} bytes: {}", p.segments.len(), bytes.len(), render_text(&p));
        }
        assert!(sizes[0] > sizes[1] && sizes[1] > sizes[2], "{name}: {sizes:?}");
    }
}

#[test]
fn garbage_and_truncation_are_errors() {
    let limits = PromptLimits::default();
    let img = sample("chelsea.png");
    let p = describe(&img, &non_key_for(&img), PromptDetail::Full);
    let bytes = encode_prompt(&p);
    for n in 0..bytes.len() {
        assert!(decode_prompt(&bytes[..n], &limits).is_err(), "truncated to {n}");
    }
    let mut state = 0x1234_5678_u64;
    for len in [0usize, 1, 2, 5, 17, 100, 1000, 5000] {
        for fmt in [0x10u8, 0x11, 0x00, 0xff] {
            let mut g = vec![fmt];
            for _ in 0..len {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                g.push((state >> 33) as u8);
            }
            let _ = decode_prompt(&g, &limits); // must not panic
        }
    }
    // Bit flips: never panic; any success must validate.
    for i in 0..bytes.len() * 8 {
        let mut b = bytes.clone();
        b[i / 8] ^= 1 << (i % 8);
        if let Ok(q) = decode_prompt(&b, &limits) {
            validate(&q, &limits).unwrap();
        }
    }
    // Absurd sizes and inconsistent geometry.
    let mut q = p.clone();
    q.width = 1 << 30;
    assert!(decode_prompt(&encode_prompt(&q), &limits).is_err());
    let mut q = p.clone();
    q.block = 32;
    assert!(decode_prompt(&encode_prompt(&q), &limits).is_err());
    let mut q = p.clone();
    if q.segments.len() >= 2 {
        q.segments[1].geometry = q.segments[0].geometry.clone();
        assert!(decode_prompt(&encode_prompt(&q), &limits).is_err());
    }
    assert!(decode_prompt(&vec![0x10; limits.max_bytes + 1], &limits).is_err());
    // Deflate bomb: inflates beyond the limit.
    let bomb = [vec![0x11, 0x10], miniz_oxide_bomb()].concat(); // announces 16 bytes
    assert!(decode_prompt(&bomb, &limits).is_err());
}

fn miniz_oxide_bomb() -> Vec<u8> {
    // Stored-free: raw deflate of 1 MiB of zeros, built with the encoder under test's format.
    let p = semcom_codec::prompt::StructuredPrompt {
        width: 1,
        height: 1,
        block: 1,
        segments: vec![semcom_codec::prompt::SegmentPrompt { caption: "a".repeat(1 << 20), ..Default::default() }],
    };
    encode_prompt(&p)[4..].to_vec()
}

#[test]
fn text_names_blue_and_smooth() {
    let (img, nk) = synthetic();
    for d in LEVELS {
        let p = describe(&img, &nk, d);
        assert_eq!(p.segments.len(), 2);
        let t = render_text(&p);
        println!("{d:?}: {t}");
        let first = t.split(';').next().unwrap();
        assert!(first.contains("blue"), "{t}");
        assert!(first.contains("smooth"), "{t}");
        assert!(!t.split(';').nth(1).unwrap().contains("smooth"), "{t}");
    }
    let t = render_text(&describe(&img, &nk, PromptDetail::Full));
    assert!(t.split(';').nth(1).unwrap().contains("vertical"), "{t}");
}

#[test]
fn constant_segment_reproduces_its_colour() {
    let colour = [180u8, 90, 40];
    let img = RgbImage::from_pixel(100, 70, Rgb(colour));
    let nk = BlockMask::new(7, 5, 16, vec![true; 35]).unwrap();
    for d in LEVELS {
        let p = describe(&img, &nk, d);
        assert_eq!(p.segments.len(), 1);
        let s = &p.segments[0];
        let c = s.colour.as_ref().unwrap();
        assert!(c.y[1..].iter().chain(&c.cb[1..]).chain(&c.cr[1..]).all(|&v| v == 0), "{c:?}");
        let got = mean_rgb(s);
        for k in 0..3 {
            assert!((got[k] as i32 - colour[k] as i32).abs() <= 4, "{got:?} vs {colour:?}");
        }
        let t = s.texture.as_ref().unwrap();
        assert!(t.energy.iter().all(|&e| e == 0) && t.luma_std == 0);
    }
}

#[test]
fn safe_prior_repairs_failed_segments() {
    let (img, nk) = synthetic();
    let p = describe(&img, &nk, PromptDetail::Full);
    let mut broken = p.clone();
    broken.segments[0].colour.as_mut().unwrap().y[0] = 100_000; // garbage after a CRC failure
    broken.segments[1].geometry = vec![0xff; 3];
    let r = safe_prior(&broken, &[0]);
    validate(&r.prompt, &PromptLimits::default()).unwrap();
    assert_eq!(r.repairs.len(), 2);
    assert!(r.repairs.iter().all(|x| x.source == RepairSource::NeutralPrior));
    assert!(r.repairs[1].geometry_replaced);
    // One failure next to a valid segment takes its neighbour's values.
    let r = safe_prior(&p, &[1]);
    validate(&r.prompt, &PromptLimits::default()).unwrap();
    assert_eq!(r.repairs[0].source, RepairSource::Neighbours(vec![0]));
    assert_eq!(mean_rgb(&r.prompt.segments[1]), mean_rgb(&p.segments[0]));
    assert_eq!(safe_prior(&p, &[]).prompt, p);
    assert_eq!(safe_prior(&p, &[99]).prompt, p);
}

/// Left 64 columns flat grey, right 64 columns fine checkerboard noise; one segment.
fn half_textured() -> (RgbImage, BlockMask) {
    let img = RgbImage::from_fn(128, 64, |x, y| {
        if x < 64 {
            Rgb([120, 120, 120])
        } else {
            let v = if (x * 7 + y * 13) % 5 < 2 { 40 } else { 200 };
            Rgb([v, v, v])
        }
    });
    (img, BlockMask::new(8, 4, 16, vec![true; 32]).unwrap())
}

#[test]
fn detail_map_says_where_the_texture_is() {
    use semcom_codec::prompt::detail_map::{dequantise_detail, segment_cells, unpack};
    let (img, nk) = half_textured();
    let p = describe(&img, &nk, PromptDetail::Full);
    assert_eq!(p.segments.len(), 1);
    let t = p.segments[0].texture.as_ref().unwrap();
    // 8 × 4 blocks → 4 × 2 cells of 2 × 2 blocks, packed two per byte.
    let cells = segment_cells(&nk);
    assert_eq!(cells.len(), 8);
    assert_eq!(t.block_detail.len(), 4);
    let q = unpack(&t.block_detail, cells.len()).unwrap();
    // Cells 0 and 4 are flat: zero gradient → 0 (the quantiser of log2(1 + 0)); cells 1
    // and 5 are flat but for their last column, whose central difference sees the texture.
    assert!(q[0] == 0 && q[4] == 0, "{q:?}");
    assert!(q[1] + 4 <= q[2] && q[5] + 4 <= q[6], "{q:?}");
    // Textured cells: the mean gx² + gy² of the luma over the cell (central differences,
    // one-sided at the image border), within the quantiser's half octave.
    let luma: Vec<f64> =
        img.pixels().map(|p| 0.299 * p[0] as f64 + 0.587 * p[1] as f64 + 0.114 * p[2] as f64).collect();
    let at = |x: usize, y: usize| luma[y * 128 + x];
    let d = |p: Option<f64>, c: f64, n: Option<f64>| match (p, n) {
        (Some(p), Some(n)) => (n - p) / 2.0,
        (Some(p), None) => c - p,
        (None, Some(n)) => n - c,
        (None, None) => 0.0,
    };
    for (k, y0) in [(3, 0usize), (7, 32)] {
        let (mut sum, mut n) = (0.0, 0.0);
        for y in y0..y0 + 32 {
            for x in 96..128usize {
                let gx = d((x > 0).then(|| at(x - 1, y)), at(x, y), (x < 127).then(|| at(x + 1, y)));
                let gy = d((y > 0).then(|| at(x, y - 1)), at(x, y), (y < 63).then(|| at(x, y + 1)));
                sum += gx * gx + gy * gy;
                n += 1.0;
            }
        }
        let ratio = dequantise_detail(q[k]) / (sum / n);
        assert!((0.70..=1.42).contains(&ratio), "cell {k}: q {} → {ratio}", q[k]);
    }
    // Reduced and Minimal send no map; the Full prompt round-trips with it.
    for d in [PromptDetail::Reduced, PromptDetail::Minimal] {
        assert!(describe(&img, &nk, d).segments.iter().all(|s| s.texture.as_ref().unwrap().block_detail.is_empty()));
    }
    let limits = PromptLimits::default();
    assert_eq!(decode_prompt(&encode_prompt(&p), &limits).unwrap(), p);
}

#[test]
fn detail_map_of_the_wrong_length_is_rejected() {
    let (img, nk) = half_textured();
    let limits = PromptLimits::default();
    let p = describe(&img, &nk, PromptDetail::Full);
    for len in [1usize, 3, 5, 40] {
        let mut q = p.clone();
        q.segments[0].texture.as_mut().unwrap().block_detail = vec![0x11; len];
        let err = validate(&q, &limits).unwrap_err().to_string();
        assert!(err.contains("detail map"), "{len}: {err}");
        assert!(decode_prompt(&encode_prompt(&q), &limits).is_err());
    }
}

#[test]
fn texture_features_carry_the_map_per_block() {
    use semcom_codec::prompt::{texture_features, TEXTURE_FEATURES};
    let (img, nk) = half_textured();
    let full = texture_features(&describe(&img, &nk, PromptDetail::Full)).unwrap();
    let (value, known) = (TEXTURE_FEATURES - 2, TEXTURE_FEATURES - 1);
    // Block (0, 0) is flat, block (7, 3) textured; every block knows the map.
    assert!(full.iter().all(|f| f[known] == 1.0));
    assert_eq!(full[0][value], 0.0);
    assert!(full[3 * 8 + 7][value] > 0.5, "{:?}", full[31]);
    // Blocks of one cell share its value.
    assert_eq!(full[6][value], full[7][value]);
    assert_eq!(full[6][value], full[8 + 7][value]);
    let reduced = texture_features(&describe(&img, &nk, PromptDetail::Reduced)).unwrap();
    assert!(reduced.iter().all(|f| f[known] == 0.0 && f[value] == 0.0));
}
