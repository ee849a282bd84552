use semcom_phy::pilots::{Csi, Estimator};

use super::*;
use crate::stream::SectionKind;

fn gradient_image(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x * 255 / w.max(1)) as u8, (y * 255 / h.max(1)) as u8, (((x + y) * 7) % 256) as u8])
    })
}

/// Small grids so that tiny test images fit the metadata, and a short pilot block so
/// that even small transmissions span several blocks (exercises the interleaving of
/// pilot, metadata and analog runs).
fn small_cfg() -> SoftCastConfig {
    SoftCastConfig {
        chunks_luma: (4, 4),
        chunks_chroma: (2, 2),
        pilot_block: 256,
        pilots_per_block: 8,
        ..Default::default()
    }
}

fn noiseless(tx: &Transmission, cfg: &SoftCastConfig) -> Received {
    Received::from_sections(&tx.sections, cfg.meta_mcs)
}

/// Data symbols (pilots removed) of a transmission, in order.
fn data_symbols(tx: &Transmission) -> Vec<C32> {
    tx.sections.iter().filter(|s| s.kind != SectionKind::Pilot).flat_map(|s| s.symbols.iter().copied()).collect()
}

/// The metadata bits the sender put on the digital link, recovered by decoding the
/// metadata symbols without noise.
fn sent_meta_bits(tx: &Transmission, cfg: &SoftCastConfig) -> Vec<bool> {
    let mcs = Mcs::from_index(cfg.meta_mcs).unwrap();
    let meta = &data_symbols(tx)[..tx.split.meta];
    let h = vec![C32::new(1.0, 0.0); meta.len()];
    let nv = vec![0.01f32; meta.len()];
    let out = digital::decode(meta, &h[..], &nv[..], &mcs, DemapMethod::MaxLog).unwrap();
    unpack_meta(&out.payload.expect("noiseless metadata decodes")).expect("length prefix")
}

#[test]
fn metadata_round_trip_and_crc() {
    let cfg = small_cfg();
    let img = gradient_image(37, 23);
    let tx = encode(&img, 0.5, &cfg).unwrap();
    let bits = sent_meta_bits(&tx, &cfg);
    let meta = Metadata::from_bits(&bits, u64::MAX).unwrap();
    assert_eq!((meta.width, meta.height), (37, 23));
    assert_eq!(meta.lambda_idx.len(), tx.chunks_sent);
    assert_eq!(meta.to_bits(), bits);
    // The metadata symbol count is exactly what the digital link needs for these bits.
    let mcs = Mcs::from_index(cfg.meta_mcs).unwrap();
    assert_eq!(tx.split.meta, mcs.symbols_for(meta_payload_bytes(bits.len())));
    // CRC-16 still guards the metadata bits themselves (behind the link's CRC-24A).
    for k in [0, 5, bits.len() / 2, bits.len() - 1] {
        let mut b = bits.clone();
        b[k] = !b[k];
        assert!(matches!(Metadata::from_bits(&b, u64::MAX), Err(MetaParseError::Crc(_))), "flip {k}");
    }
    assert!(matches!(Metadata::from_bits(&bits[..bits.len() - 1], u64::MAX), Err(MetaParseError::Crc(_))));
    // A CRC-valid block describing a larger image than allowed is rejected as invalid.
    assert!(matches!(Metadata::from_bits(&bits, 100), Err(MetaParseError::Invalid(_))));
}

#[test]
fn metadata_packing_round_trips_and_rejects_bad_prefixes() {
    for n in [0usize, 1, 7, 8, 9, 100, 1023] {
        let bits: Vec<bool> = (0..n).map(|i| (i * 7 + i / 3) % 5 < 2).collect();
        let packed = pack_meta(&bits);
        assert_eq!(packed.len(), meta_payload_bytes(n), "n {n}");
        assert_eq!(&packed[..2], &(n as u16).to_be_bytes());
        assert_eq!(unpack_meta(&packed).as_deref(), Some(&bits[..]), "n {n}");
        // A prefix announcing one more or one fewer byte's worth of bits is refused.
        let mut longer = packed.clone();
        longer[..2].copy_from_slice(&((n + 8) as u16).to_be_bytes());
        assert_eq!(unpack_meta(&longer), None, "n {n}");
        if n >= 8 {
            let mut shorter = packed.clone();
            shorter[..2].copy_from_slice(&((n - 8) as u16).to_be_bytes());
            assert_eq!(unpack_meta(&shorter), None, "n {n}");
        }
    }
    assert_eq!(unpack_meta(&[]), None);
    assert_eq!(unpack_meta(&[0]), None);
    assert_eq!(unpack_meta(&[0, 0]), Some(vec![]));
}

#[test]
fn split_accounts_for_every_symbol_and_respects_budget() {
    // The default grids need ~7200 metadata symbols (QPSK 1/5), so they get larger
    // images or ratios than the small test grids.
    let small: &[(u32, u32, f64)] = &[(64, 48, 1.0 / 4.0), (50, 50, 1.0 / 8.0), (200, 120, 1.0 / 32.0), (9, 7, 8.0)];
    let large: &[(u32, u32, f64)] =
        &[(300, 200, 1.0 / 8.0), (512, 512, 1.0 / 32.0), (61, 45, 4.0), (451, 300, 1.0 / 16.0)];
    for (cfg, cases) in [(small_cfg(), small), (SoftCastConfig::default(), large)] {
        let pattern = pilot_pattern(cfg.pilot_block, cfg.pilots_per_block).unwrap();
        let mcs = Mcs::from_index(cfg.meta_mcs).unwrap();
        for &(w, h, rho) in cases {
            let img = gradient_image(w, h);
            let tx = encode(&img, rho, &cfg).unwrap();
            let s = tx.split;
            let tag = format!("{w}x{h} rho {rho} L {}: {s:?}", cfg.pilot_block);
            let count =
                |k: SectionKind| tx.sections.iter().filter(|g| g.kind == k).map(|g| g.symbols.len()).sum::<usize>();
            assert_eq!(s.pilots, count(SectionKind::Pilot), "{tag}");
            assert_eq!(s.meta, count(SectionKind::Meta), "{tag}");
            assert_eq!(s.analog, count(SectionKind::Analog), "{tag}");
            assert_eq!(s.total, s.pilots + s.meta + s.analog, "{tag}");
            assert_eq!(s.pilots, pattern.overhead(s.meta + s.analog), "{tag}");
            assert_eq!(s.total, pattern.total_len(s.meta + s.analog), "{tag}");
            assert_eq!(s.budget, (rho * (w * h * 3) as f64).round() as usize, "{tag}");
            assert!(s.total <= s.budget, "{tag}");

            // Stream order: runs alternate kinds, metadata never follows analog, and the
            // pattern's pilots sit at the start of every block.
            assert!(tx.sections.windows(2).all(|p| p[0].kind != p[1].kind), "{tag}: adjacent runs of one kind");
            let first_analog = tx.sections.iter().position(|g| g.kind == SectionKind::Analog);
            if let Some(a) = first_analog {
                assert!(tx.sections[a..].iter().all(|g| g.kind != SectionKind::Meta), "{tag}: meta after analog");
            }
            let stream = tx.symbols();
            let (l, p) = (pattern.block_len(), pattern.pilots_per_block());
            for (pos, z) in stream.iter().enumerate() {
                if pos % l < p {
                    assert_eq!(*z, pattern.pilots()[pos % l], "{tag}: pilot at {pos}");
                }
            }
            assert_eq!(
                pattern.extract(&stream, Some(0.0), Estimator::Ls, Csi::Estimated).unwrap().symbols,
                data_symbols(&tx)
            );

            // Metadata size follows from the selection; when not every chunk fits, the
            // data part fills the capacity exactly with a partial chunk, and without
            // one at most the partial fields' metadata cost (+1 symbol of odd padding)
            // is left unused.
            let luma = effective_grid(cfg.chunks_luma, h as usize, w as usize);
            let chroma = effective_grid(cfg.chunks_chroma, h as usize, w as usize);
            let fw = FieldWidths::new(h as usize, w as usize, luma, chroma);
            let partial = tx.partial_coefficients > 0;
            let meta_for =
                |p: bool| mcs.symbols_for(meta_payload_bytes(fw.meta_bits(cfg.lambda_bits, tx.chunks_sent, p)));
            assert_eq!(s.meta, meta_for(partial), "{tag}");
            if tx.chunks_sent < tx.chunks_total {
                let cap = data_capacity(&pattern, s.budget);
                let used = s.meta + s.analog;
                if partial {
                    assert_eq!(used, cap, "{tag}");
                } else {
                    assert!(cap - used <= meta_for(true) - s.meta + 1, "{tag}: {} unused", cap - used);
                }
            }
        }
    }
}

#[test]
fn noiseless_high_rho_is_near_lossless() {
    // The default config's metadata (~7200 symbols at QPSK 1/5) needs rho ≈ 1.4 for
    // this size; rho = 2 leaves room for every chunk.
    for (cfg, rho) in [(small_cfg(), 1.0), (SoftCastConfig::default(), 2.0)] {
        let img = gradient_image(61, 45);
        let tx = encode(&img, rho, &cfg).unwrap();
        assert_eq!(tx.chunks_sent, tx.chunks_total);
        let rec = decode(&noiseless(&tx, &cfg), &cfg).unwrap();
        assert_eq!(rec.split.analog, tx.split.analog);
        assert_eq!(rec.split.meta, tx.split.meta);
        assert_eq!(rec.split.pilots, tx.split.pilots);
        assert_eq!(rec.split.total, tx.split.total);
        assert_eq!(rec.chunks_sent, tx.chunks_sent);
        assert_eq!(rec.erased_analog, 0);
        assert!((rec.mean_gain_est - 1.0).abs() < 1e-4, "{}", rec.mean_gain_est);
        let max_err =
            img.as_raw().iter().zip(rec.image.as_raw()).map(|(a, b)| (*a as i32 - *b as i32).abs()).max().unwrap();
        assert!(max_err <= 1, "max pixel error {max_err}");
    }
}

#[test]
fn stream_cut_inside_a_pilot_block_still_decodes() {
    // The receiver pads a stream that ends inside a pilot block with erasures; the
    // analog symbols that never came are counted as erased.
    let cfg = small_cfg();
    let img = gradient_image(64, 48);
    let tx = encode(&img, 1.0 / 4.0, &cfg).unwrap();
    let full = decode(&noiseless(&tx, &cfg), &cfg).unwrap();
    let mut rx = noiseless(&tx, &cfg);
    let l = cfg.pilot_block;
    let blocks = rx.stream.len() / l;
    assert!(blocks >= 3, "need a few blocks, have {}", rx.stream.len());
    // Keep the blocks before the last full one plus 3 of its pilots.
    let keep = (blocks - 1) * l + 3;
    let lost_data = pilot_pattern(cfg.pilot_block, cfg.pilots_per_block).unwrap().data_len(rx.stream.len()).unwrap()
        - (blocks - 1) * (l - cfg.pilots_per_block);
    rx.stream.truncate(keep);
    let rec = decode(&rx, &cfg).unwrap();
    assert_eq!(rec.erased_analog, lost_data);
    assert_eq!(full.erased_analog, 0);
    assert_eq!(rec.image.dimensions(), img.dimensions());
}

#[test]
fn budget_too_small_is_reported() {
    let img = gradient_image(32, 32);
    match encode(&img, 0.01, &small_cfg()) {
        Err(CodecError::BudgetTooSmall { budget, needed, .. }) => assert!(needed > budget),
        other => panic!("expected BudgetTooSmall, got {other:?}"),
    }
    assert!(matches!(encode(&img, f64::NAN, &small_cfg()), Err(CodecError::InvalidRho(_))));
    assert!(matches!(encode(&img, -1.0, &small_cfg()), Err(CodecError::InvalidRho(_))));
    assert!(matches!(encode(&RgbImage::new(0, 5), 1.0, &small_cfg()), Err(CodecError::UnsupportedImageSize { .. })));
    let bad_cfgs = [
        SoftCastConfig { chunks_luma: (0, 4), ..small_cfg() },
        SoftCastConfig { lambda_bits: 0, ..small_cfg() },
        SoftCastConfig { pilots_per_block: 1, ..small_cfg() },
        SoftCastConfig { pilot_block: 8, pilots_per_block: 8, ..small_cfg() },
        SoftCastConfig { meta_mcs: MCS_TABLE_LEN, ..small_cfg() },
        SoftCastConfig { max_pixels: 0, ..small_cfg() },
    ];
    for cfg in bad_cfgs {
        assert!(matches!(encode(&img, 1.0, &cfg), Err(CodecError::InvalidConfig(_))), "{cfg:?}");
        assert!(matches!(decode(&Received::default(), &cfg), Err(CodecError::InvalidConfig(_))), "{cfg:?}");
    }
}

const MCS_TABLE_LEN: u8 = semcom_phy::digital::MCS_TABLE.len() as u8;

#[test]
fn every_meta_mcs_round_trips() {
    let img = gradient_image(40, 30);
    for mcs in 0..MCS_TABLE_LEN {
        let cfg = SoftCastConfig { meta_mcs: mcs, ..small_cfg() };
        let tx = encode(&img, 2.0, &cfg).unwrap();
        let rec = decode(&noiseless(&tx, &cfg), &cfg).unwrap();
        assert_eq!(rec.split.meta, tx.split.meta, "mcs {mcs}");
        // The receiver takes the MCS from the frame header, not from its own config.
        let rec2 = decode(&noiseless(&tx, &cfg), &small_cfg()).unwrap();
        assert_eq!(rec2.image, rec.image, "mcs {mcs}");
    }
}

#[test]
fn tiny_images_work() {
    let cfg = small_cfg();
    for (w, h) in [(1, 1), (1, 40), (3, 2)] {
        let img = gradient_image(w, h);
        let tx = encode(&img, 200.0, &cfg).unwrap();
        let rec = decode(&noiseless(&tx, &cfg), &cfg).unwrap();
        assert_eq!(rec.image.dimensions(), (w, h));
        let err = img.as_raw().iter().zip(rec.image.as_raw()).map(|(a, b)| (*a as i32 - *b as i32).abs()).max();
        assert!(err <= Some(1), "{w}x{h}: {err:?}");
    }
}
