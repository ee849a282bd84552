use super::*;

fn gradient_image(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([
            (x * 255 / w.max(1)) as u8,
            (y * 255 / h.max(1)) as u8,
            (((x + y) * 7) % 256) as u8,
        ])
    })
}

/// Small grids and few repetitions so that tiny test images fit the metadata.
fn small_cfg() -> SoftCastConfig {
    SoftCastConfig { chunks_luma: (4, 4), chunks_chroma: (2, 2), meta_repetitions: 2, ..Default::default() }
}

fn noiseless(tx: &Transmission) -> Received {
    Received::from_segments(&tx.segments)
}

#[test]
fn metadata_round_trip_and_crc() {
    let img = gradient_image(37, 23);
    let tx = encode(&img, 0.5, &small_cfg()).unwrap();
    let meta_syms = &tx.segments[1].symbols;
    let reps = small_cfg().meta_repetitions;
    let bits: Vec<bool> = meta_syms[..meta_syms.len() / reps].iter().map(|z| z.re < 0.0).collect();
    let meta = Metadata::from_bits(&bits, u64::MAX).unwrap();
    assert_eq!((meta.width, meta.height), (37, 23));
    assert_eq!(meta.to_bits(), bits);
    for k in [0, 5, bits.len() / 2, bits.len() - 1] {
        let mut b = bits.clone();
        b[k] = !b[k];
        assert!(matches!(Metadata::from_bits(&b, u64::MAX), Err(MetaParseError::Crc(_))), "flip {k}");
    }
    // A CRC-valid block describing a larger image than allowed is rejected as invalid.
    assert!(matches!(Metadata::from_bits(&bits, 100), Err(MetaParseError::Invalid(_))));
}

#[test]
fn split_accounts_for_every_symbol_and_respects_budget() {
    for (w, h, rho) in [(64, 48, 1.0 / 4.0), (50, 50, 1.0 / 8.0), (200, 120, 1.0 / 32.0), (9, 7, 8.0)] {
        let img = gradient_image(w, h);
        let tx = encode(&img, rho, &small_cfg()).unwrap();
        let s = tx.split;
        assert_eq!(s.pilots, tx.segments[0].symbols.len());
        assert_eq!(s.meta, tx.segments[1].symbols.len());
        assert_eq!(s.analog, tx.segments[2].symbols.len());
        assert_eq!(s.total, s.pilots + s.meta + s.analog);
        assert_eq!(s.budget, (rho * (w * h * 3) as f64).round() as usize);
        assert!(s.total <= s.budget, "{w}x{h}: {s:?}");
        // When not everything fits, the partial chunk fills the analog room exactly; without
        // one, at most the partial chunk's metadata fields' worth of symbols is unused.
        if tx.chunks_sent < tx.chunks_total {
            let reps = small_cfg().meta_repetitions;
            if tx.partial_coefficients > 0 {
                assert_eq!(s.total, s.budget, "{s:?}");
            } else {
                assert!(s.budget - s.total <= reps * 64, "{s:?}");
            }
        }
    }
}

#[test]
fn noiseless_high_rho_is_near_lossless() {
    let img = gradient_image(61, 45);
    let tx = encode(&img, 1.0, &small_cfg()).unwrap();
    assert_eq!(tx.chunks_sent, tx.chunks_total);
    let rec = decode(&noiseless(&tx), &small_cfg()).unwrap();
    let max_err = img
        .as_raw()
        .iter()
        .zip(rec.image.as_raw())
        .map(|(a, b)| (*a as i32 - *b as i32).abs())
        .max()
        .unwrap();
    assert!(max_err <= 1, "max pixel error {max_err}");
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
    assert!(matches!(
        encode(&RgbImage::new(0, 5), 1.0, &small_cfg()),
        Err(CodecError::UnsupportedImageSize { .. })
    ));
    let mut cfg = small_cfg();
    cfg.chunks_luma = (0, 4);
    assert!(matches!(encode(&img, 1.0, &cfg), Err(CodecError::InvalidConfig(_))));
}

#[test]
fn tiny_images_work() {
    for (w, h) in [(1, 1), (1, 40), (3, 2)] {
        let img = gradient_image(w, h);
        let tx = encode(&img, 200.0, &small_cfg()).unwrap();
        let rec = decode(&noiseless(&tx), &small_cfg()).unwrap();
        assert_eq!(rec.image.dimensions(), (w, h));
        let err = img.as_raw().iter().zip(rec.image.as_raw()).map(|(a, b)| (*a as i32 - *b as i32).abs()).max();
        assert!(err <= Some(1), "{w}x{h}: {err:?}");
    }
}
