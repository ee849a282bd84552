//! Shared test helpers: a seeded Gray-QPSK AWGN channel.
#![allow(dead_code)]

use rand::Rng;
use rand_distr::{Distribution, Normal};

/// Gray QPSK with Es = 1 is two independent BPSK streams of amplitude 1/√2 per
/// axis; complex noise CN(0, N0) has variance σ² = N0/2 per axis. For one axis
/// y = a·(1 − 2b) + n, a = 1/√2:
///   LLR = ln p(y|0)/p(y|1) = 2·a·y/σ² = 2√2·y/N0   (positive ⇒ 0).
/// Returns one LLR per coded bit (pairs of bits form a symbol; the pairing
/// does not matter on AWGN since the axes are independent).
pub fn qpsk_awgn_llrs<R: Rng>(bits: &[u8], es_n0_db: f64, rng: &mut R) -> Vec<f32> {
    let n0 = 10f64.powf(-es_n0_db / 10.0);
    let a = std::f64::consts::FRAC_1_SQRT_2;
    let noise = Normal::new(0.0, (n0 / 2.0).sqrt()).expect("valid sigma");
    bits.iter()
        .map(|&b| {
            let y = a * (1.0 - 2.0 * f64::from(b)) + noise.sample(rng);
            (2.0 * std::f64::consts::SQRT_2 * y / n0) as f32
        })
        .collect()
}

/// Es/N0 for QPSK (2 bits/symbol) at code rate R: Es/N0 = Eb/N0 + 10·log10(2R).
pub fn es_n0_from_eb_n0(eb_n0_db: f64, rate: f64) -> f64 {
    eb_n0_db + 10.0 * (2.0 * rate).log10()
}

pub fn random_bits<R: Rng>(n: usize, rng: &mut R) -> Vec<u8> {
    (0..n).map(|_| rng.random_range(0..2u8)).collect()
}
