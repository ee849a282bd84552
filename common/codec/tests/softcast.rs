//! SoftCast end-to-end tests on the sample images (seeded AWGN, pilot-estimated channel).

use image::RgbImage;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use semcom_codec::softcast::{decode, encode, CodecError, Received, SoftCastConfig, Transmission};
use semcom_codec::C32;
use semcom_metrics::psnr;
use semcom_phy::{average_power, channel::Awgn};

fn sample(name: &str) -> RgbImage {
    image::open(format!("{}/../../samples/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap().to_rgb8()
}

/// Received symbols after `y = h·x + n` on every segment.
fn through_channel(tx: &Transmission, h: C32, snr_db: f64, seed: u64) -> Received {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let ch = Awgn::from_snr_db(snr_db).unwrap();
    let mut rx = Received::from_segments(&tx.segments);
    for part in [&mut rx.pilots, &mut rx.meta, &mut rx.analog] {
        part.iter_mut().for_each(|s| *s *= h);
        ch.apply(part, &mut rng);
    }
    rx
}

const ONE: C32 = C32::new(1.0, 0.0);

#[test]
fn noiseless_round_trip_at_rho_1() {
    let img = sample("astronaut.png");
    let cfg = SoftCastConfig::default();
    let tx = encode(&img, 1.0, &cfg).unwrap();
    assert_eq!(tx.chunks_sent, tx.chunks_total);
    let rec = decode(&Received::from_segments(&tx.segments), &cfg).unwrap();
    let p = psnr(&img, &rec.image).unwrap();
    println!("noiseless rho=1: PSNR {p:.2} dB, split {:?}", tx.split);
    assert!(p > 40.0, "PSNR {p}");
}

#[test]
fn psnr_rises_with_snr_on_astronaut_at_rho_1_32() {
    let img = sample("astronaut.png");
    let cfg = SoftCastConfig::default();
    let tx = encode(&img, 1.0 / 32.0, &cfg).unwrap();
    println!("split {:?}, chunks {}/{} + {} coefficients", tx.split, tx.chunks_sent, tx.chunks_total, tx.partial_coefficients);
    // Floors sit ~0.7-0.9 dB under the 4-seed means measured when this test was written
    // (17.47 / 23.96 / 27.36 dB with these seeds). Single-seed PSNR spreads by up to
    // ±0.3 dB at 0 dB (mostly the N̂0 estimate from 64 pilots, ±12 %, which sets the LLSE
    // weights) and ±0.1 dB at 20 dB; the mean of 3-4 seeds is well inside the margin. These are below the ~20/25 dB quoted for
    // full-frame SoftCast "ignoring metadata cost" because here 24 % of the channel uses
    // carry pilots and 8× repetition-coded metadata (split printed above).
    let floors = [(0.0, 16.8), (10.0, 23.2), (20.0, 26.5)];
    let mut prev = f64::NEG_INFINITY;
    for (snr, floor) in floors {
        let mut vals = Vec::new();
        for seed in 0..4u64 {
            let rx = through_channel(&tx, ONE, snr, 100 + seed);
            match decode(&rx, &cfg) {
                Ok(r) => vals.push(psnr(&img, &r.image).unwrap()),
                // At 0 dB each of the ~740 metadata bits fails with p = Q(4) ≈ 3e-5, so
                // a CRC failure has ~2 % probability per transmission; tolerate one.
                Err(CodecError::MetadataCorrupt(_)) if snr < 5.0 => {}
                Err(e) => panic!("snr {snr}: {e}"),
            }
        }
        assert!(vals.len() >= 3, "snr {snr}: too many metadata failures");
        let mean = vals.iter().sum::<f64>() / vals.len() as f64;
        println!("SNR {snr:>4} dB: PSNR {mean:.2} dB ({vals:.2?})");
        assert!(mean > floor, "snr {snr}: PSNR {mean} below floor {floor}");
        assert!(mean > prev, "PSNR must rise strictly with SNR");
        prev = mean;
    }
}

#[test]
fn equalisation_handles_a_complex_channel_gain() {
    // A rotated and attenuated channel (|h|² = 0.49 → 3.1 dB less received SNR) must give
    // the same PSNR as AWGN at the correspondingly lower SNR, showing that h and N0 are
    // estimated and used correctly.
    let img = sample("chelsea.png");
    let cfg = SoftCastConfig::default();
    let tx = encode(&img, 1.0 / 16.0, &cfg).unwrap();
    let h = C32::from_polar(0.7, 1.1);
    let rotated = decode(&through_channel(&tx, h, 15.0, 5), &cfg).unwrap();
    let effective = 15.0 + 10.0 * (0.49f64).log10();
    let plain = decode(&through_channel(&tx, ONE, effective, 6), &cfg).unwrap();
    let (a, b) = (psnr(&img, &rotated.image).unwrap(), psnr(&img, &plain.image).unwrap());
    println!("rotated {a:.3} dB vs plain {b:.3} dB; est SNR {:.2} vs {:.2}", rotated.snr_est_db, plain.snr_est_db);
    assert!((a - b).abs() < 0.2, "{a} vs {b}");
    assert!((rotated.snr_est_db - effective).abs() < 1.5, "{}", rotated.snr_est_db);
    assert!((rotated.h_est - h).norm() < 0.1);
}

#[test]
fn average_transmit_power_is_one() {
    for name in ["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg"] {
        let img = sample(name);
        for rho in [1.0 / 32.0, 1.0 / 8.0, 1.0] {
            let tx = encode(&img, rho, &SoftCastConfig::default()).unwrap();
            let p = average_power(&tx.symbols());
            let pa = average_power(&tx.segments[2].symbols);
            println!("{name} rho {rho}: total {p:.4}, analog {pa:.4}");
            // Expected power is exactly 1 under the quantised λ̂; the true chunk energies
            // differ from λ̂ by at most half a quantisation step in log2, which averages out
            // to within a few percent.
            assert!((p - 1.0).abs() < 0.03, "{name} rho {rho}: average power {p}");
            assert!((pa - 1.0).abs() < 0.05, "{name} rho {rho}: analog power {pa}");
        }
    }
}

#[test]
fn metadata_crc_catches_a_flipped_bit() {
    let img = sample("coffee.png");
    let cfg = SoftCastConfig::default();
    let tx = encode(&img, 1.0 / 32.0, &cfg).unwrap();
    let reps = cfg.meta_repetitions;
    let nbits = tx.split.meta / reps;
    for bit in [0, 17, nbits / 2, nbits - 1] {
        let mut rx = Received::from_segments(&tx.segments);
        // Flip every repeat of one bit so the decoder really decides the wrong value.
        for r in 0..reps {
            rx.meta[r * nbits + bit] = -rx.meta[r * nbits + bit];
        }
        match decode(&rx, &cfg) {
            Err(CodecError::MetadataCorrupt(msg)) => assert!(msg.contains("CRC"), "{msg}"),
            other => panic!("bit {bit}: expected MetadataCorrupt, got {:?}", other.map(|r| r.split)),
        }
    }
}

#[test]
fn receiver_degrades_gracefully_on_erasures_and_nans() {
    let img = sample("chelsea.png");
    let cfg = SoftCastConfig::default();
    let tx = encode(&img, 1.0 / 16.0, &cfg).unwrap();
    let full = decode(&through_channel(&tx, ONE, 20.0, 1), &cfg).unwrap();
    let p_full = psnr(&img, &full.image).unwrap();
    assert_eq!(full.erased_analog, 0);

    // Lose the last half of the analog symbols (the least important chunks go last).
    let mut rx = through_channel(&tx, ONE, 20.0, 1);
    let n = rx.analog.len();
    rx.analog.truncate(n / 2);
    let half = decode(&rx, &cfg).unwrap();
    assert_eq!(half.erased_analog, n - n / 2);
    let p_half = psnr(&img, &half.image).unwrap();
    // NaNs scattered through the analog part are erasures too.
    let mut rx = through_channel(&tx, ONE, 20.0, 1);
    for k in (0..rx.analog.len()).step_by(97) {
        rx.analog[k] = C32::new(f32::NAN, 0.0);
    }
    let nan = decode(&rx, &cfg).unwrap();
    let p_nan = psnr(&img, &nan.image).unwrap();
    println!("full {p_full:.2} dB, half the analog symbols {p_half:.2} dB, 1 % NaN {p_nan:.2} dB");
    assert!(p_half < p_full && p_half > p_full - 8.0);
    assert!(p_nan < p_full && p_nan > p_full - 3.0);
    // Extra symbols are ignored.
    let mut rx = through_channel(&tx, ONE, 20.0, 1);
    rx.analog.extend(std::iter::repeat_n(C32::new(5.0, 5.0), 10));
    assert_eq!(decode(&rx, &cfg).unwrap().image, full.image);
}

#[test]
fn receiver_rejects_malformed_input_without_panicking() {
    let img = sample("chelsea.png");
    let cfg = SoftCastConfig::default();
    let tx = encode(&img, 1.0 / 16.0, &cfg).unwrap();
    let good = Received::from_segments(&tx.segments);

    let mut rx = good.clone();
    rx.meta.pop();
    assert!(matches!(decode(&rx, &cfg), Err(CodecError::MetadataCorrupt(_))));
    let mut rx = good.clone();
    rx.meta.truncate(rx.meta.len() - cfg.meta_repetitions);
    assert!(matches!(decode(&rx, &cfg), Err(CodecError::MetadataCorrupt(_))));
    let mut rx = good.clone();
    rx.pilots.clear();
    assert!(matches!(decode(&rx, &cfg), Err(CodecError::ChannelEstimate(_))));
    let mut rx = good.clone();
    rx.pilots[3] = C32::new(f32::INFINITY, 0.0);
    assert!(matches!(decode(&rx, &cfg), Err(CodecError::ChannelEstimate(_))));
    let mut rx = good.clone();
    rx.pilots.iter_mut().for_each(|p| *p = C32::new(0.0, 0.0));
    assert!(matches!(decode(&rx, &cfg), Err(CodecError::ChannelEstimate(_))));
    assert!(decode(&Received::default(), &cfg).is_err());

    // Random garbage of random lengths: any Err is fine, a panic is not. Also feed the
    // valid pilots with garbage metadata so the CRC path is exercised.
    let mut rng = ChaCha8Rng::seed_from_u64(99);
    let garbage = |n: usize, rng: &mut ChaCha8Rng| -> Vec<C32> {
        (0..n).map(|_| C32::new(rng.random_range(-3.0..3.0), rng.random_range(-3.0..3.0))).collect()
    };
    let mut accepted = 0;
    for trial in 0..300 {
        let rx = Received {
            pilots: if trial % 2 == 0 { good.pilots.clone() } else { garbage(rng.random_range(0..100), &mut rng) },
            meta: garbage(cfg.meta_repetitions * rng.random_range(0..1200), &mut rng),
            analog: garbage(rng.random_range(0..5000), &mut rng),
        };
        if decode(&rx, &cfg).is_ok() {
            accepted += 1;
        }
    }
    // A random block passes CRC-16 with probability 2^-16 (and must then parse consistently).
    assert!(accepted <= 1, "{accepted} garbage transmissions accepted");
}
