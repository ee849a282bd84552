//! Decode throughput (information bits per second, one core) of semcom-ldpc vs
//! ldpc-toolbox on the same code and the same LLRs.
//!
//! LLRs: Gray QPSK over AWGN at the given Eb/N0 (Es = 1), de-rate-matched to
//! full-codeword LLRs (punctured = 0, fillers known). A pool of 64 noisy frames
//! is generated once with a fixed seed and cycled through, so both decoders
//! see identical inputs. ldpc-toolbox gets the same parity-check matrix (the
//! base rows reachable from the transmitted columns) and f64 copies of the LLRs.
//!
//! cargo bench -p semcom-ldpc --bench decode
#![allow(clippy::unwrap_used)] // a test or example that fails should stop loudly

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ldpc_toolbox::decoder::factory::{DecoderFactory, DecoderImplementation};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use semcom_ldpc::{CodeBlockSpec, DecoderConfig};

fn frames(spec: &CodeBlockSpec, eb_n0: f64, n: usize) -> Vec<Vec<f32>> {
    let mut rng = ChaCha8Rng::seed_from_u64(99);
    let es_n0 = eb_n0 + 10.0 * (2.0 * spec.rate()).log10();
    let n0 = 10f64.powf(-es_n0 / 10.0);
    let noise = Normal::new(0.0, (n0 / 2.0).sqrt()).expect("sigma > 0");
    (0..n)
        .map(|_| {
            let info: Vec<u8> = (0..spec.k_prime()).map(|_| rng.random_range(0..2u8)).collect();
            let coded = spec.encode(&info).expect("valid info");
            let ch: Vec<f32> = coded
                .iter()
                .map(|&b| {
                    let y = std::f64::consts::FRAC_1_SQRT_2 * (1.0 - 2.0 * f64::from(b)) + noise.sample(&mut rng);
                    (2.0 * std::f64::consts::SQRT_2 * y / n0) as f32
                })
                .collect();
            spec.derate_match(&ch).expect("E LLRs")
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    // (label, K', E, Eb/N0): Eb/N0 where our BLER is ≈ 1e-2..1e-3 (BENCH.md).
    let cases = [("bg2_k1000_r0.5", 1000, 2000, 1.5), ("bg1_k8448_r0.5", 8448, 16896, 1.25)];
    for (label, k, e, eb_n0) in cases {
        let spec = CodeBlockSpec::new(k, e, 2).expect("valid spec");
        let pool = frames(&spec, eb_n0, 64);
        let pool64: Vec<Vec<f64>> = pool.iter().map(|l| l.iter().map(|&x| f64::from(x)).collect()).collect();
        let rows = spec.code().active_rows(spec.active_base_cols());
        let mut g = c.benchmark_group(format!("decode_{label}_ebn0_{eb_n0}"));
        g.throughput(Throughput::Elements(k as u64));
        g.sample_size(20);
        for (name, cfg) in
            [("corrected-min-sum", DecoderConfig::default()), ("offset-min-sum", DecoderConfig::min_sum())]
        {
            let mut dec = spec.decoder(cfg).expect("decoder");
            let mut out = Vec::new();
            let mut i = 0;
            g.bench_function(BenchmarkId::new("semcom-ldpc", name), |b| {
                b.iter(|| {
                    i = (i + 1) % pool.len();
                    dec.decode(&pool[i], &mut out).expect("decode")
                })
            });
        }
        for imp in [DecoderImplementation::HLAminstari8, DecoderImplementation::HLAminstarf32] {
            let mut tb = imp.build_decoder(spec.code().to_toolbox_matrix(rows));
            let mut j = 0;
            g.bench_function(BenchmarkId::new("ldpc-toolbox", imp.to_string()), |b| {
                b.iter(|| {
                    j = (j + 1) % pool64.len();
                    let _ = tb.decode(&pool64[j], 20);
                })
            });
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
