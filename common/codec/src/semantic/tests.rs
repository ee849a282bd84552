use super::*;
use crate::generate::ClassicalFill;
use crate::stream::SectionKind;
use crate::C32;

/// Smooth background with a textured, edged object: key and non-key regions both exist.
fn picture(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let (xf, yf) = (x as f32, y as f32);
        let sky = 90.0 + 80.0 * yf / h as f32;
        let inside = (x as i32 - w as i32 / 2).pow(2) + (y as i32 - h as i32 / 2).pow(2) < (w as i32 / 4).pow(2);
        let v = if inside { 128.0 + 60.0 * ((xf * 0.9).sin() * (yf * 0.7).cos()) } else { sky };
        image::Rgb([v.clamp(0.0, 255.0) as u8, (v * 0.9) as u8, (200.0 - v * 0.3) as u8])
    })
}

fn tx_of(img: &RgbImage, rho: f64, snr: Option<f64>) -> SemanticTransmission {
    let req = SemanticRequest { rho, snr_db: snr, caption: Some("a test card".into()), ..Default::default() };
    encode(img, &req, &SemanticConfig::default()).unwrap()
}

#[test]
fn noiseless_round_trip_delivers_mask_prompt_and_split() {
    let img = picture(160, 120);
    let tx = tx_of(&img, 0.5, None);
    let s = tx.split;
    assert_eq!(s.pilots + s.meta + s.analog, s.total);
    assert!(s.total <= s.budget);
    assert_eq!(tx.report.header_symbols + tx.report.prompt_symbols, s.meta);
    assert_eq!(tx.report.mcs, SemanticConfig::default().default_mcs, "unknown SNR → default MCS");
    let sent: usize = tx.sections.iter().filter(|g| g.kind == SectionKind::Meta).map(|g| g.symbols.len()).sum();
    assert_eq!(sent, s.meta);
    let out = decode(&noiseless(&tx), &SemanticConfig::default(), &ClassicalFill::default()).unwrap();
    assert_eq!(out.key_mask, tx.key_mask);
    assert_eq!(out.prompt, tx.prompt);
    assert!(out.failed_records.is_empty() && out.repairs.is_empty());
    assert_eq!((out.split.meta, out.split.analog, out.split.total), (s.meta, s.analog, s.total));
    assert_eq!((out.header_symbols, out.prompt_symbols), (tx.report.header_symbols, tx.report.prompt_symbols));
    assert_eq!(out.detail, tx.report.detail);
    assert!(out.prompt_text.contains("a test card"), "{}", out.prompt_text);
    assert_eq!(out.generator, "classical");
    assert_eq!(out.image.dimensions(), img.dimensions());
}

#[test]
fn a_failed_prompt_record_is_repaired_not_fatal() {
    let img = picture(160, 120);
    let tx = tx_of(&img, 0.5, None);
    assert!(!tx.prompt.segments.is_empty(), "{:?}", tx.report);
    let mcs = Mcs::from_index(tx.report.mcs).unwrap();
    let mut rx = noiseless(&tx);
    // Erase the first segment record's symbols (data positions → stream positions).
    let first = tx.report.header_symbols;
    let n = mcs.symbols_for(tx.prompt.segments[0].encode_to_vec().len());
    let cfg = SemanticConfig::default();
    let pattern = pilot_pattern(cfg.pilot_block, cfg.pilots_per_block).unwrap();
    let (l, p) = (pattern.block_len(), pattern.pilots_per_block());
    for d in first..first + n {
        let pos = (d / (l - p)) * l + p + d % (l - p);
        rx.stream[pos] = C32::new(f32::NAN, f32::NAN);
    }
    let out = decode(&rx, &SemanticConfig::default(), &ClassicalFill::default()).unwrap();
    assert_eq!(out.failed_records, vec![0]);
    assert!(out.repairs.iter().any(|r| r.segment == 0), "{:?}", out.repairs);
    assert_eq!(out.key_mask, tx.key_mask);
}

#[test]
fn a_failed_header_is_an_error() {
    let img = picture(96, 64);
    let tx = tx_of(&img, 0.25, None);
    let mut rx = noiseless(&tx);
    for s in rx.stream.iter_mut().skip(16).take(400) {
        *s = -*s;
    }
    assert!(matches!(
        decode(&rx, &SemanticConfig::default(), &ClassicalFill::default()),
        Err(CodecError::MetadataCorrupt(_))
    ));
    let mut rx = noiseless(&tx);
    rx.meta_symbols += 7;
    assert!(decode(&rx, &SemanticConfig::default(), &ClassicalFill::default()).is_err());
}

#[test]
fn prompt_degrades_before_the_key_symbols_starve() {
    // A small budget: the prompt must step down (or go) and stay within its share.
    let img = picture(320, 240);
    let cfg = SemanticConfig::default();
    let rich = tx_of(&img, 1.0 / 4.0, None);
    let poor = tx_of(&img, 1.0 / 64.0, None);
    assert_eq!(rich.report.detail, "full");
    assert!(poor.report.detail != "full", "{:?}", poor.report);
    let capacity = poor.split.total - poor.split.pilots;
    assert!(poor.report.prompt_symbols as f64 <= cfg.max_prompt_share * capacity as f64 + 1.0);
    assert!(poor.split.analog > 0);
    // And a budget below the header alone is a clear error.
    let req = SemanticRequest { rho: 1e-4, ..Default::default() };
    assert!(matches!(encode(&img, &req, &cfg), Err(CodecError::BudgetTooSmall { .. })));
}

#[test]
fn link_adaptation_uses_the_snr() {
    let img = picture(160, 120);
    let low = tx_of(&img, 1.0 / 8.0, Some(0.0));
    let high = tx_of(&img, 1.0 / 8.0, Some(20.0));
    assert!(high.report.mcs > low.report.mcs);
    assert!(high.report.header_symbols < low.report.header_symbols);
    let out = decode(&noiseless(&high), &SemanticConfig::default(), &ClassicalFill::default()).unwrap();
    assert_eq!(out.mcs, high.report.mcs);
}
