//! SoftCast end-to-end tests on the sample images: seeded channels from
//! `semcom_phy::link_channel` (AWGN, Rayleigh block fading, frame erasures) and a
//! pilot-estimated receiver.
#![allow(clippy::unwrap_used)] // a test or example that fails should stop loudly

use image::RgbImage;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use semcom_codec::error::CodecError;
use semcom_codec::softcast::{decode, encode, Reconstruction, SoftCastConfig, Transmission};
use semcom_codec::stream::{Received, SectionKind};
use semcom_codec::C32;
use semcom_metrics::psnr;
use semcom_phy::average_power;
use semcom_phy::channel::Awgn;
use semcom_phy::link_channel::{FadingKind, LinkChannel, LinkChannelConfig};
use semcom_phy::pilots::PilotPattern;

fn sample(name: &str) -> RgbImage {
    image::open(format!("{}/../../samples/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap().to_rgb8()
}

const NAN: C32 = C32::new(f32::NAN, f32::NAN);

/// The transmission as sent, with the frame-header facts (metadata symbol count, MCS).
fn sent(tx: &Transmission, cfg: &SoftCastConfig) -> Received {
    Received::from_sections(&tx.sections, cfg.meta_mcs)
}

/// `y = h·x + n` on every channel use, n ~ CN(0, N0) at `snr_db`.
fn constant_gain(tx: &Transmission, cfg: &SoftCastConfig, h: C32, snr_db: f64, seed: u64) -> Received {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut rx = sent(tx, cfg);
    rx.stream.iter_mut().for_each(|s| *s *= h);
    Awgn::from_snr_db(snr_db).unwrap().apply(&mut rx.stream, &mut rng);
    rx
}

/// The stream through a [`LinkChannel`] in frames of `frame` symbols (`usize::MAX`:
/// one frame); erased frames arrive as NaN. Returns the number of erased frames too.
fn through_link(
    tx: &Transmission,
    cfg: &SoftCastConfig,
    link: &LinkChannelConfig,
    index: u64,
    frame: usize,
) -> (Received, usize) {
    let mut ch = LinkChannel::new(link, index).unwrap();
    let mut rx = sent(tx, cfg);
    let mut erased = 0;
    for f in rx.stream.chunks_mut(frame) {
        if ch.apply_frame(f).erased {
            f.fill(NAN);
            erased += 1;
        }
    }
    (rx, erased)
}

fn awgn_link(snr_db: f64, seed: u64) -> LinkChannelConfig {
    LinkChannelConfig { snr_db, seed, fading: FadingKind::None, ..LinkChannelConfig::default() }
}

/// Stream positions of the analog symbols.
fn analog_positions(tx: &Transmission) -> Vec<usize> {
    let mut out = Vec::new();
    let mut pos = 0;
    for s in &tx.sections {
        if s.kind == SectionKind::Analog {
            out.extend(pos..pos + s.symbols.len());
        }
        pos += s.symbols.len();
    }
    out
}

fn meta_positions(tx: &Transmission) -> Vec<usize> {
    let mut out = Vec::new();
    let mut pos = 0;
    for s in &tx.sections {
        if s.kind == SectionKind::Meta {
            out.extend(pos..pos + s.symbols.len());
        }
        pos += s.symbols.len();
    }
    out
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

fn decode_psnr(img: &RgbImage, rx: &Received, cfg: &SoftCastConfig) -> (f64, Reconstruction) {
    let r = decode(rx, cfg).unwrap_or_else(|e| panic!("decode failed: {e}"));
    (psnr(img, &r.image).unwrap(), r)
}

#[test]
fn noiseless_round_trip_at_rho_1() {
    let img = sample("astronaut.png");
    let cfg = SoftCastConfig::default();
    let tx = encode(&img, 1.0, &cfg).unwrap();
    assert_eq!(tx.chunks_sent, tx.chunks_total);
    let (p, rec) = decode_psnr(&img, &sent(&tx, &cfg), &cfg);
    println!("noiseless rho=1: PSNR {p:.2} dB, split {:?}", tx.split);
    assert!(p > 40.0, "PSNR {p}");
    assert_eq!(rec.erased_analog, 0);
    assert_eq!(rec.split.total, tx.split.total);
}

#[test]
fn psnr_rises_with_snr_on_astronaut_at_rho_1_32() {
    let img = sample("astronaut.png");
    let cfg = SoftCastConfig::default();
    let tx = encode(&img, 1.0 / 32.0, &cfg).unwrap();
    println!(
        "split {:?}, chunks {}/{} + {} coefficients",
        tx.split, tx.chunks_sent, tx.chunks_total, tx.partial_coefficients
    );
    // Measured when this test was written (AWGN through LinkChannel, seed 100 + index):
    // 16-seed means 17.22 / 24.15 / 27.93 dB with per-seed sd 1.01 / 0.49 / 0.12 dB;
    // the 4-seed means used here are 17.34 / 24.23 / 27.96 dB (other 4-seed groups:
    // 16.98-17.41, 23.97-24.21, 27.89-27.94). Floors sit 0.9 / 0.75 / 0.45 dB under
    // the 16-seed means, i.e. ~2-3 standard errors of a 4-seed mean. The metadata
    // (QPSK 1/5 LDPC, 2100 symbols here) decoded in all 48 runs, even at 0 dB, so no
    // failure is tolerated. The split: 1.6 % pilots, 8.5 % metadata, the rest analog.
    let floors = [(0.0, 16.3), (10.0, 23.4), (20.0, 27.5)];
    let mut prev = f64::NEG_INFINITY;
    for (snr, floor) in floors {
        let mut vals = Vec::new();
        for seed in 0..4u64 {
            let (rx, _) = through_link(&tx, &cfg, &awgn_link(snr, 100), seed, usize::MAX);
            let (p, r) = decode_psnr(&img, &rx, &cfg);
            assert_eq!(r.erased_analog, 0);
            // 384 pilots: the pooled N̂0 has ~5 % relative sd; ĥ is the LMMSE
            // estimate (shrunk by P/(P+N0)), so the SNR estimate is within ~0.5 dB.
            assert!((r.snr_est_db - snr).abs() < 0.6, "snr {snr}: estimated {}", r.snr_est_db);
            vals.push(p);
        }
        let m = mean(&vals);
        println!("SNR {snr:>4} dB: PSNR {m:.2} dB ({vals:.2?})");
        assert!(m > floor, "snr {snr}: PSNR {m} below floor {floor}");
        assert!(m > prev, "PSNR must rise strictly with SNR");
        prev = m;
    }
}

#[test]
fn equalisation_handles_a_complex_channel_gain() {
    // A rotated and attenuated channel (|h|² = 0.49 → 3.1 dB less received SNR) must give
    // the same PSNR as AWGN at the correspondingly lower SNR, showing that h and N0 are
    // estimated and used correctly. Same noise seeds for both: measured differences
    // 0.008 / 0.114 / 0.049 / 0.038 dB (seeds 5..8), mean 0.05 dB.
    let img = sample("chelsea.png");
    let cfg = SoftCastConfig::default();
    let tx = encode(&img, 1.0 / 16.0, &cfg).unwrap();
    let h = C32::from_polar(0.7, 1.1);
    let effective = 15.0 + 10.0 * (0.49f64).log10();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for seed in 5..9 {
        let (pa, rotated) = decode_psnr(&img, &constant_gain(&tx, &cfg, h, 15.0, seed), &cfg);
        let (pb, plain) = decode_psnr(&img, &constant_gain(&tx, &cfg, C32::new(1.0, 0.0), effective, seed), &cfg);
        println!(
            "rotated {pa:.3} dB vs plain {pb:.3} dB; est SNR {:.2} vs {:.2}; mean gain {:.4} vs {:.4}",
            rotated.snr_est_db, plain.snr_est_db, rotated.mean_gain_est, plain.mean_gain_est
        );
        assert!((pa - pb).abs() < 0.3, "seed {seed}: {pa} vs {pb}");
        assert!((rotated.snr_est_db - effective).abs() < 1.0, "{}", rotated.snr_est_db);
        // |ĥ|² averaged over ~25 blocks: per-block error variance N0/16 ≈ 0.004;
        // measured 0.483-0.502.
        assert!((rotated.mean_gain_est - 0.49).abs() < 0.04, "{}", rotated.mean_gain_est);
        a.push(pa);
        b.push(pb);
    }
    assert!((mean(&a) - mean(&b)).abs() < 0.15, "{a:?} vs {b:?}");
}

#[test]
fn average_transmit_power_is_one() {
    for name in ["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg"] {
        let img = sample(name);
        for rho in [1.0 / 32.0, 1.0 / 8.0, 1.0] {
            let tx = encode(&img, rho, &SoftCastConfig::default()).unwrap();
            let p = average_power(&tx.symbols());
            let kind_power = |k: SectionKind| {
                let s: Vec<C32> =
                    tx.sections.iter().filter(|s| s.kind == k).flat_map(|s| s.symbols.iter().copied()).collect();
                average_power(&s)
            };
            let (pp, pm, pa) =
                (kind_power(SectionKind::Pilot), kind_power(SectionKind::Meta), kind_power(SectionKind::Analog));
            println!("{name} rho {rho}: total {p:.4}, pilots {pp:.4}, meta {pm:.4}, analog {pa:.4}");
            // Pilots and QPSK metadata are unit modulus. The analog part has expected
            // power exactly 1 under the quantised λ̂; the true chunk energies differ from
            // λ̂ by at most half a quantisation step in log2, which averages out to within
            // a few percent (measured: analog 0.991-1.019, total 0.991-1.017).
            assert!((pp - 1.0).abs() < 1e-4, "{name} rho {rho}: pilot power {pp}");
            assert!((pm - 1.0).abs() < 1e-4, "{name} rho {rho}: metadata power {pm}");
            assert!((p - 1.0).abs() < 0.03, "{name} rho {rho}: average power {p}");
            assert!((pa - 1.0).abs() < 0.05, "{name} rho {rho}: analog power {pa}");
        }
    }
}

#[test]
fn corrupted_metadata_is_reported_never_a_garbage_image() {
    let img = sample("coffee.png");
    let cfg = SoftCastConfig::default();
    let tx = encode(&img, 1.0 / 32.0, &cfg).unwrap();
    let meta = meta_positions(&tx);
    assert_eq!(meta.len(), tx.split.meta);
    let mut rng = ChaCha8Rng::seed_from_u64(41);
    let clean = constant_gain(&tx, &cfg, C32::new(1.0, 0.0), 20.0, 3);
    decode(&clean, &cfg).expect("clean reference decodes");
    type Corrupt = fn(&mut Received, &[usize], &mut ChaCha8Rng);
    let corruptions: [(&str, Corrupt); 5] = [
        ("every other meta symbol negated", |rx, m, _| m.iter().step_by(2).for_each(|&i| rx.stream[i] = -rx.stream[i])),
        ("all meta symbols negated", |rx, m, _| m.iter().for_each(|&i| rx.stream[i] = -rx.stream[i])),
        ("first 60 % of meta negated", |rx, m, _| {
            m[..m.len() * 3 / 5].iter().for_each(|&i| rx.stream[i] = -rx.stream[i])
        }),
        ("meta replaced by noise", |rx, m, rng| {
            m.iter().for_each(|&i| rx.stream[i] = C32::new(rng.random_range(-1.0..1.0), rng.random_range(-1.0..1.0)))
        }),
        ("meta symbols swapped pairwise", |rx, m, _| m.chunks_exact(2).for_each(|p| rx.stream.swap(p[0], p[1]))),
    ];
    for (what, f) in corruptions {
        let mut rx = clean.clone();
        f(&mut rx, &meta, &mut rng);
        match decode(&rx, &cfg) {
            Err(CodecError::MetadataCorrupt(msg)) => assert!(msg.contains("CRC"), "{what}: {msg}"),
            other => panic!("{what}: expected MetadataCorrupt, got {:?}", other.map(|r| r.split)),
        }
    }
    // Wrong frame-header facts: fewer metadata symbols, or another MCS. (One more
    // metadata symbol than sent is the subject of the failing test below.)
    for (m, mcs) in
        [(tx.split.meta - 1, cfg.meta_mcs), (tx.split.meta - 3, cfg.meta_mcs), (tx.split.meta, 2), (tx.split.meta, 0)]
    {
        let rx = Received { meta_symbols: m, meta_mcs: mcs, ..clean.clone() };
        assert!(matches!(decode(&rx, &cfg), Err(CodecError::MetadataCorrupt(_))), "meta {m} mcs {mcs}");
    }
}

/// LIBRARY BUG (left failing on purpose): `decode` trusts the announced metadata symbol
/// count `meta_symbols` as long as the LDPC payload passes its CRCs. When the header
/// announces one symbol more than was sent (coffee.png at ρ = 1/32: 2081 instead of
/// 2080), `Mcs::payload_bits` gives the same transport-block size A for both counts,
/// the extra "metadata" symbol (really the first analog symbol) is just two more coded
/// bits that the LDPC decoder corrects, CRC-24A and CRC-16 pass, and the analog part is
/// then read one symbol late: every coefficient is misaligned and `decode` returns
/// `Ok` with a 9.4 dB garbage image (27.5 dB with the right count), `erased_analog` 1.
/// Same for chelsea.png announcing 2002 instead of 2000 symbols (Ok, 14.9 dB).
/// Fix in `decode`: after unpacking the payload, require
/// `rx.meta_symbols == mcs.symbols_for(payload.len())` (the sender always uses exactly
/// that many), else `MetadataCorrupt`.
#[test]
fn metadata_symbol_count_must_match_the_decoded_payload() {
    let cfg = SoftCastConfig::default();
    let mut wrong = Vec::new();
    for name in ["coffee.png", "astronaut.png", "chelsea.png", "rocket.jpg"] {
        let img = sample(name);
        let tx = encode(&img, 1.0 / 32.0, &cfg).unwrap();
        let clean = constant_gain(&tx, &cfg, C32::new(1.0, 0.0), 20.0, 3);
        for d in [-2i64, -1, 1, 2, 3] {
            let m = (tx.split.meta as i64 + d) as usize;
            let rx = Received { meta_symbols: m, ..clean.clone() };
            match decode(&rx, &cfg) {
                Err(CodecError::MetadataCorrupt(_) | CodecError::MetadataInvalid(_)) => {}
                Err(e) => panic!("{name} meta {m}: unexpected error {e}"),
                Ok(r) => wrong.push(format!(
                    "{name}: {m} metadata symbols announced, {} sent: Ok with PSNR {:.2} dB",
                    tx.split.meta,
                    psnr(&img, &r.image).unwrap()
                )),
            }
        }
    }
    assert!(wrong.is_empty(), "wrong metadata symbol counts accepted:\n{}", wrong.join("\n"));
}

#[test]
fn receiver_degrades_gracefully_on_erasures_and_nans() {
    let img = sample("chelsea.png");
    let cfg = SoftCastConfig::default();
    let tx = encode(&img, 1.0 / 16.0, &cfg).unwrap();
    let clean = constant_gain(&tx, &cfg, C32::new(1.0, 0.0), 20.0, 1);
    let (p_full, full) = decode_psnr(&img, &clean, &cfg);
    assert_eq!(full.erased_analog, 0);
    let analog = analog_positions(&tx);
    let n = analog.len();
    assert_eq!(n, tx.split.analog);

    // Lose the last half of the analog symbols (the least important chunks go last),
    // either as NaN or by the stream ending early.
    let mut rx = clean.clone();
    analog[n / 2..].iter().for_each(|&i| rx.stream[i] = NAN);
    let (p_half, half) = decode_psnr(&img, &rx, &cfg);
    assert_eq!(half.erased_analog, n - n / 2);
    let mut rx = clean.clone();
    rx.stream.truncate(analog[n / 2]);
    let (p_cut, cut) = decode_psnr(&img, &rx, &cfg);
    assert_eq!(cut.erased_analog, n - n / 2);
    // NaNs scattered through the analog part are erasures too.
    let mut rx = clean.clone();
    analog.iter().step_by(97).for_each(|&i| rx.stream[i].re = f32::NAN);
    let (p_nan, nan) = decode_psnr(&img, &rx, &cfg);
    assert_eq!(nan.erased_analog, n.div_ceil(97));
    // A lost pilot erases its whole block: the 5th block carries only analog data.
    let l = cfg.pilot_block;
    assert!(analog[0] < 4 * l);
    let mut rx = clean.clone();
    rx.stream[4 * l + 3] = NAN;
    let (p_blk, blk) = decode_psnr(&img, &rx, &cfg);
    assert_eq!(blk.erased_analog, l - cfg.pilots_per_block);
    println!(
        "full {p_full:.2} dB, last half NaN {p_half:.2} dB, cut {p_cut:.2} dB, 1 % NaN {p_nan:.2} dB, block 4 lost {p_blk:.2} dB"
    );
    // Measured: full 34.42, last half 32.14 (cut: same), 1 % NaN 33.50, block 4 lost
    // 31.92 dB.
    assert!(p_half < p_full && p_half > p_full - 8.0, "{p_half} vs {p_full}");
    assert!((p_cut - p_half).abs() < 0.5, "{p_cut} vs {p_half}");
    assert!(p_nan < p_full && p_nan > p_full - 3.0, "{p_nan} vs {p_full}");
    assert!(p_blk < p_full && p_blk > p_full - 5.0, "{p_blk} vs {p_full}");
    // Extra symbols after the transmission are ignored.
    let mut rx = clean.clone();
    rx.stream.extend(std::iter::repeat_n(C32::new(5.0, 5.0), 10));
    assert_eq!(decode(&rx, &cfg).unwrap().image, full.image);
}

#[test]
fn receiver_rejects_malformed_input_without_panicking() {
    let img = sample("chelsea.png");
    let cfg = SoftCastConfig::default();
    let tx = encode(&img, 1.0 / 16.0, &cfg).unwrap();
    let good = sent(&tx, &cfg);
    let pattern = PilotPattern::new(cfg.pilot_block, cfg.pilots_per_block).unwrap();
    let is_pilot = |i: usize| i % cfg.pilot_block < cfg.pilots_per_block;

    for m in [0, good.stream.len(), good.stream.len() + 5, usize::MAX] {
        let rx = Received { meta_symbols: m, ..good.clone() };
        assert!(matches!(decode(&rx, &cfg), Err(CodecError::MetadataCorrupt(_))), "meta_symbols {m}");
    }
    for mcs in [13u8, 200, 255] {
        let rx = Received { meta_mcs: mcs, ..good.clone() };
        assert!(matches!(decode(&rx, &cfg), Err(CodecError::MetadataCorrupt(_))), "mcs {mcs}");
    }
    let mut rx = good.clone();
    (0..rx.stream.len()).filter(|&i| is_pilot(i)).for_each(|i| rx.stream[i] = NAN);
    assert!(matches!(decode(&rx, &cfg), Err(CodecError::Phy(_))));
    let mut rx = good.clone();
    rx.stream.iter_mut().for_each(|s| *s = NAN);
    assert!(matches!(decode(&rx, &cfg), Err(CodecError::Phy(_))));
    // All pilots zero (ĥ = 0 everywhere, N̂0 = 0): no channel, no image.
    let mut rx = good.clone();
    (0..rx.stream.len()).filter(|&i| is_pilot(i)).for_each(|i| rx.stream[i] = C32::new(0.0, 0.0));
    assert!(decode(&rx, &cfg).is_err());
    // A non-finite pilot erases the first block, which holds half the metadata: an
    // error or a correct decode are both fine, a panic or a wrong size is not.
    let mut rx = good.clone();
    rx.stream[3] = C32::new(f32::INFINITY, 0.0);
    if let Ok(r) = decode(&rx, &cfg) {
        assert_eq!(r.image.dimensions(), img.dimensions());
    }
    let mut rx = good.clone();
    rx.stream.iter_mut().for_each(|s| *s *= 1e30);
    let _ = decode(&rx, &cfg);
    assert!(decode(&Received::default(), &cfg).is_err());
    assert!(decode(&Received { stream: good.stream[..5].to_vec(), ..good.clone() }, &cfg).is_err());

    // Random garbage of random lengths, header facts and MCS: any Err is fine, a panic
    // is not. Half the trials carry valid pilots around garbage data so that the LDPC
    // and CRC paths are exercised.
    let mut rng = ChaCha8Rng::seed_from_u64(99);
    let garbage = |n: usize, rng: &mut ChaCha8Rng| -> Vec<C32> {
        (0..n).map(|_| C32::new(rng.random_range(-3.0..3.0), rng.random_range(-3.0..3.0))).collect()
    };
    let mut accepted = 0;
    for trial in 0..200 {
        let n = rng.random_range(0..12_000);
        let stream = if trial % 2 == 0 { pattern.insert(&garbage(n, &mut rng)) } else { garbage(n, &mut rng) };
        let rx = Received {
            meta_symbols: rng.random_range(0..stream.len() + 50),
            meta_mcs: rng.random_range(0..14),
            stream,
        };
        if decode(&rx, &cfg).is_ok() {
            accepted += 1;
        }
    }
    // Garbage passes CRC-24A and then CRC-16 with probability ~2^-40.
    assert_eq!(accepted, 0, "{accepted} garbage transmissions accepted");
}

/// docs/architecture.md §2 block fading: h ~ CN(0, 1) per 1024 symbols (aligned with the pilot
/// blocks), 10 dB average SNR, pilot-estimated channel per block.
#[test]
fn rayleigh_block_fading_with_pilot_estimates() {
    let img = sample("astronaut.png");
    let cfg = SoftCastConfig::default();
    let tx = encode(&img, 1.0 / 32.0, &cfg).unwrap();
    let fading = LinkChannelConfig {
        snr_db: 10.0,
        seed: 500,
        fading: FadingKind::Rayleigh,
        coherence_symbols: cfg.pilot_block as u32,
        ..LinkChannelConfig::default()
    };
    let (mut fad, mut awgn, mut failed) = (Vec::new(), Vec::new(), Vec::new());
    for seed in 0..16u64 {
        let (rx, _) = through_link(&tx, &cfg, &fading, seed, usize::MAX);
        match decode(&rx, &cfg) {
            Ok(r) => {
                assert_eq!(r.erased_analog, 0);
                fad.push(psnr(&img, &r.image).unwrap());
            }
            Err(CodecError::MetadataCorrupt(_)) => failed.push(seed),
            Err(e) => panic!("seed {seed}: {e}"),
        }
        let (rx, _) = through_link(&tx, &cfg, &awgn_link(10.0, 500), seed, usize::MAX);
        awgn.push(decode_psnr(&img, &rx, &cfg).0);
    }
    let (mf, ma) = (mean(&fad), mean(&awgn));
    println!(
        "Rayleigh 10 dB: {} of 16 decoded, mean PSNR {mf:.2} dB ({fad:.2?}); metadata lost for seeds {failed:?}",
        fad.len()
    );
    println!("AWGN 10 dB: mean PSNR {ma:.2} dB");
    // Measured: 15 of 16 decode. Seed 2 fails because block 0 (which holds the first
    // 1008 of the 2100 metadata symbols, systematic bits first) has |h|² = 0.017, i.e.
    // -7.7 dB there: an outage, not a receiver bug. Allow one more outage.
    assert!(fad.len() >= 14, "only {} of 16 decoded", fad.len());
    // Measured: mean 22.18 dB (per seed 18.96-24.80) against 24.34 dB on AWGN at the
    // same average SNR (fading costs 2.2 dB). Floor 1 dB under the measured mean;
    // the fading loss must be positive but not more than 4 dB.
    assert!(mf > 21.2, "Rayleigh mean PSNR {mf}");
    assert!(mf < ma, "fading must cost: {mf} vs AWGN {ma}");
    assert!(ma - mf < 4.0, "fading costs too much: {mf} vs AWGN {ma}");
}

/// Frames of 1024 symbols (= pilot blocks) lost i.i.d. with probability 0.05 at 15 dB:
/// an erased frame erases its pilots and so its data.
#[test]
fn frame_erasures_at_5_percent() {
    let img = sample("astronaut.png");
    let cfg = SoftCastConfig::default();
    let tx = encode(&img, 1.0 / 32.0, &cfg).unwrap();
    let lossy = LinkChannelConfig { erasure_probability: 0.05, ..awgn_link(15.0, 700) };
    let mut losses = Vec::new();
    let mut failed = 0;
    for seed in 0..10u64 {
        let (rx, erased) = through_link(&tx, &cfg, &lossy, seed, 1024);
        let (rx0, _) = through_link(&tx, &cfg, &awgn_link(15.0, 700), seed, 1024);
        let (p0, _) = decode_psnr(&img, &rx0, &cfg);
        match decode(&rx, &cfg) {
            Ok(r) => {
                let p = psnr(&img, &r.image).unwrap();
                println!(
                    "seed {seed}: {erased} frames erased, {p:.2} dB (loss-free {p0:.2} dB), erased_analog {}",
                    r.erased_analog
                );
                assert!(r.erased_analog <= erased * (cfg.pilot_block - cfg.pilots_per_block));
                assert!(erased > 0 || r.erased_analog == 0);
                losses.push(p0 - p);
            }
            Err(e) => {
                println!("seed {seed}: {erased} frames erased: {e}");
                assert!(matches!(e, CodecError::MetadataCorrupt(_)), "{e}");
                failed += 1;
            }
        }
    }
    losses.sort_by(f64::total_cmp);
    println!("PSNR losses vs loss-free (sorted): {losses:.2?}");
    // Measured (seeds 0..9): all 10 decode; losses 0, 0, 0.15, 0.27, 0.73, 0.87, 0.92,
    // 1.96, 2.11 and 15.9 dB. The 15.9 dB is seed 2, whose erased frame 2 carried the
    // first analog symbols (the highest-energy chunks, including the Y DC chunk): see
    // `losing_any_single_frame_should_degrade_gracefully` below.
    assert!(losses.len() > 5, "only {} of 10 decoded", losses.len());
    assert!(failed <= 2);
    let within = losses.iter().filter(|&&d| d < 3.0).count();
    assert!(within >= 8, "only {within} of {} decoded seeds within 3 dB of loss-free", losses.len());
    assert!(losses[losses.len() / 2] < 1.0, "median loss {}", losses[losses.len() / 2]);
}
