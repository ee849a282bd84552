//! End-to-end tests of encoder, rate matching, decoder and transport CRCs.
#![allow(clippy::unwrap_used)] // a test or example that fails should stop loudly

mod common;

use common::{es_n0_from_eb_n0, qpsk_awgn_llrs, random_bits};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use semcom_ldpc::crc::CrcKind;
use semcom_ldpc::*;

fn noiseless_llrs(bits: &[u8]) -> Vec<f32> {
    bits.iter().map(|&b| if b == 0 { 4.0 } else { -4.0 }).collect()
}

#[test]
fn noise_free_blocks_decode_in_one_iteration() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    // (K', E, Qm): BG2 small/low rate, BG2 K≈1000 R=1/2, BG1 R≈2/3, BG1 max size
    // R=1/2, BG1 high rate, and repetition (E > N).
    let cases = [(200, 600, 2), (1000, 2000, 2), (4000, 6000, 4), (8448, 16896, 2), (8000, 8800, 8), (300, 6000, 6)];
    for (k, e, qm) in cases {
        let spec = CodeBlockSpec::new(k, e, qm).unwrap();
        let mut dec = spec.decoder(DecoderConfig::default()).unwrap();
        let (mut scratch, mut out) = (Vec::new(), Vec::new());
        for _ in 0..20 {
            let info = random_bits(k, &mut rng);
            let coded = spec.encode(&info).unwrap();
            assert_eq!(coded.len(), e);
            let st = spec.decode(&mut dec, &noiseless_llrs(&coded), &mut scratch, &mut out).unwrap();
            assert!(st.syndrome_ok, "{k} {e} {qm} {:?}", spec.base_graph());
            assert_eq!(st.iterations, 1, "{k} {e} {qm}");
            assert_eq!(out, info);
        }
    }
}

#[test]
fn base_graph_selection_follows_7_2_2() {
    assert_eq!(CodeBlockSpec::new(1000, 2000, 2).unwrap().base_graph(), BaseGraph::Bg2);
    assert_eq!(CodeBlockSpec::new(200, 220, 2).unwrap().base_graph(), BaseGraph::Bg2); // A ≤ 292
    assert_eq!(CodeBlockSpec::new(3000, 4000, 2).unwrap().base_graph(), BaseGraph::Bg1); // R = 0.75
    assert_eq!(CodeBlockSpec::new(8448, 16896, 2).unwrap().base_graph(), BaseGraph::Bg1);
    assert_eq!(select_base_graph(5000, 0.2), BaseGraph::Bg2); // R ≤ 0.25
    let s = CodeBlockSpec::new(8448, 16896, 2).unwrap();
    assert_eq!((s.z(), s.k(), s.n(), s.filler_bits()), (384, 8448, 25344, 0));
    let s = CodeBlockSpec::new(1000, 2000, 2).unwrap();
    assert_eq!((s.z(), s.k(), s.n(), s.filler_bits()), (104, 1040, 5200, 40));
}

#[test]
fn transport_noise_free_single_and_multi_block() {
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    for (a, g, qm) in [(1, 120, 2), (256, 1024, 2), (3000, 6000, 4), (20000, 40002, 2), (30001, 45000, 6)] {
        let tb = TransportBlockSpec::new(a, g, qm).unwrap();
        let mut dec = tb.decoder(DecoderConfig::default()).unwrap();
        let payload = random_bits(a, &mut rng);
        let coded = tb.encode(&payload).unwrap();
        assert_eq!(coded.len(), g);
        let out = tb.decode(&mut dec, &noiseless_llrs(&coded)).unwrap();
        assert!(out.ok(), "A={a} G={g}");
        assert_eq!(out.bits, payload);
        assert_eq!(out.blocks.len(), tb.segmentation().c);
        assert!(out.blocks.iter().all(|b| b.iterations == 1 && b.syndrome_ok));
    }
    // Bytes helper round trip.
    let tb = TransportBlockSpec::new(8 * 5, 400, 2).unwrap();
    let mut dec = tb.decoder(DecoderConfig::default()).unwrap();
    let coded = tb.encode_bytes(b"hello").unwrap();
    let out = tb.decode(&mut dec, &noiseless_llrs(&coded)).unwrap();
    assert_eq!(bits_to_bytes(&out.bits).unwrap(), b"hello");
}

#[test]
fn corrupted_blocks_are_flagged() {
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    let tb = TransportBlockSpec::new(20000, 40000, 2).unwrap();
    assert_eq!(tb.segmentation().c, 3);
    let mut dec = tb.decoder(DecoderConfig::default()).unwrap();
    let payload = random_bits(20000, &mut rng);
    let coded = tb.encode(&payload).unwrap();
    let e0 = tb.blocks()[0].e();
    let e1 = tb.blocks()[1].e();

    // (1) Block 1 replaced by noise only: undecodable, must be flagged.
    let mut llr = noiseless_llrs(&coded);
    for x in &mut llr[e0..e0 + e1] {
        *x = rng.random_range(-3.0..3.0);
    }
    let out = tb.decode(&mut dec, &llr).unwrap();
    assert!(out.blocks[0].crc_ok && out.blocks[2].crc_ok);
    assert!(!out.blocks[1].crc_ok);
    assert!(!out.tb_crc_ok && !out.ok());

    // (2) Block 1 replaced by a *valid* block of another payload: its own
    // CRC-24B and syndrome pass, but the transport CRC-24A must catch it.
    let other = tb.encode(&random_bits(20000, &mut rng)).unwrap();
    let mut llr = noiseless_llrs(&coded);
    llr[e0..e0 + e1].copy_from_slice(&noiseless_llrs(&other[e0..e0 + e1]));
    let out = tb.decode(&mut dec, &llr).unwrap();
    assert!(out.blocks.iter().all(|b| b.crc_ok));
    assert!(!out.tb_crc_ok && !out.ok());

    // (3) Single-block TB fed pure noise many times: never a false "ok".
    let tb = TransportBlockSpec::new(500, 1200, 2).unwrap();
    let mut dec = tb.decoder(DecoderConfig { max_iterations: 5, ..Default::default() }).unwrap();
    for _ in 0..300 {
        let llr: Vec<f32> = (0..1200).map(|_| rng.random_range(-2.0..2.0)).collect();
        let out = tb.decode(&mut dec, &llr).unwrap();
        assert!(!out.ok() && !out.blocks[0].crc_ok);
    }

    // (4) A single flipped decoded bit fails CRC-24B.
    let mut bits = CrcKind::Crc24B.attach(&random_bits(1000, &mut rng)).unwrap();
    bits[17] ^= 1;
    assert!(!CrcKind::Crc24B.check(&bits));
}

/// Frames with at least one wrong information bit, out of `frames`.
fn block_errors(spec: &CodeBlockSpec, eb_n0_db: f64, frames: usize, seed: u64) -> usize {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut dec = spec.decoder(DecoderConfig::default()).unwrap();
    let es_n0 = es_n0_from_eb_n0(eb_n0_db, spec.rate());
    let (mut scratch, mut out) = (Vec::new(), Vec::new());
    let mut errors = 0;
    for _ in 0..frames {
        let info = random_bits(spec.k_prime(), &mut rng);
        let llr = qpsk_awgn_llrs(&spec.encode(&info).unwrap(), es_n0, &mut rng);
        spec.decode(&mut dec, &llr, &mut scratch, &mut out).unwrap();
        errors += usize::from(out != info);
    }
    errors
}

/// BG2, K' = 1000 (Z = 104), E = 2000 (R = 1/2), Gray QPSK, AWGN, default
/// decoder (layered corrected min-sum), ≤ 20 iterations.
///
/// Reference: for this block size and rate, published 5G NR curves (e.g. the
/// MATLAB 5G Toolbox "LDPC block error rate" example and Richardson & Kudekar,
/// "Design of low-density parity check codes for 5G new radio", IEEE Commun.
/// Mag. 2018, BG2 R = 1/2 at K ≈ 1000 with BP decoding) reach BLER 1e-2 at
/// Eb/N0 ≈ 1.6–1.8 dB; the normal approximation for n = 2000, R = 1/2 is
/// ≈ 1.2 dB. Min-sum with 20 iterations costs ≈ 0.2–0.3 dB, so we require
/// BLER ≤ 1e-2 at 1.75 dB over 4000 frames (≥ 40 errors would be needed to fail).
#[test]
fn bg2_rate_half_awgn_bler_below_1e_2() {
    let spec = CodeBlockSpec::new(1000, 2000, 2).unwrap();
    assert_eq!(spec.base_graph(), BaseGraph::Bg2);
    let frames = 4000;
    let errors = block_errors(&spec, 1.75, frames, 21);
    eprintln!("BG2 K'=1000 R=1/2 Eb/N0=1.75 dB: {errors}/{frames} block errors");
    assert!(errors * 100 <= frames, "BLER {}", errors as f64 / frames as f64);
}

#[test]
fn bler_falls_monotonically_with_eb_n0() {
    let spec = CodeBlockSpec::new(1000, 2000, 2).unwrap();
    // Points inside the waterfall of the corrected min-sum decoder (it has
    // ≈ 0 errors in 600 frames from 1.5 dB on).
    let points = [0.5, 1.0, 1.25, 1.75];
    let bler: Vec<usize> = points.iter().map(|&p| block_errors(&spec, p, 600, 31)).collect();
    eprintln!("errors/600 at {points:?}: {bler:?}");
    // 0.5 dB is well below the waterfall: most frames fail.
    assert!(bler[0] > 300, "{bler:?}");
    // Strictly falling, except that 0 may stay 0.
    for w in bler.windows(2) {
        assert!(w[1] < w[0] || w[0] == 0 && w[1] == 0, "{bler:?}");
    }
    assert!(bler[2] > 0, "1.25 dB should still show errors in 600 frames: {bler:?}");
}

#[test]
fn derate_match_inverts_rate_match() {
    let mut rng = ChaCha8Rng::seed_from_u64(14);
    // Puncturing (E < N) and repetition (E > N), every Qm.
    for (k, e, qm) in
        [(1000, 2000, 2), (500, 3000, 4), (3000, 3600, 6), (8448, 12000, 8), (100, 1000, 1), (1000, 6000, 2)]
    {
        let spec = CodeBlockSpec::new(k, e, qm).unwrap();
        let z = spec.z();
        let info = random_bits(k, &mut rng);
        let coded = spec.encode(&info).unwrap();
        // Full codeword for reference.
        let mut sys = info.clone();
        sys.resize(spec.k(), 0);
        let mut cw = Vec::new();
        spec.code().encode_full_into(&sys, spec.code().num_base_cols(), &mut cw).unwrap();
        let llr: Vec<f32> = coded.iter().map(|&b| if b == 0 { 1.0 } else { -1.0 }).collect();
        let back = spec.derate_match(&llr).unwrap();
        assert_eq!(back.len(), spec.active_base_cols() * z);
        let mut count = vec![0usize; back.len()];
        for &p in spec.positions() {
            count[p as usize] += 1;
        }
        for (p, &x) in back.iter().enumerate() {
            if p < 2 * z {
                assert_eq!(x, 0.0, "first 2Z are punctured");
            } else if (k..spec.k()).contains(&p) {
                assert_eq!(x, LLR_KNOWN, "filler");
                assert_eq!(count[p], 0, "fillers are never transmitted");
            } else {
                let sign = if cw[p] == 0 { 1.0 } else { -1.0 };
                assert_eq!(x, sign * count[p] as f32, "position {p}");
            }
        }
        // When E ≥ N − F every non-filler bit after 2Z is sent at least once.
        if e >= spec.n() - spec.filler_bits() {
            assert!((2 * z..back.len()).filter(|p| !(k..spec.k()).contains(p)).all(|p| count[p] >= 1));
        }
    }
}

#[test]
fn interleaver_and_bit_selection_follow_5_4_2() {
    // Independent re-implementation of the spec text for one case with fillers.
    let (k, e, qm) = (700, 1500, 6);
    let spec = CodeBlockSpec::new(k, e, qm).unwrap();
    let (z, n) = (spec.z(), spec.n());
    let mut seq = Vec::new();
    let mut j = 0;
    while seq.len() < e {
        let d_index = j % n; // k0 = 0 (RV0), Ncb = N
        let cw_index = d_index + 2 * z;
        if !(k..spec.k()).contains(&cw_index) {
            seq.push(cw_index as u32);
        }
        j += 1;
    }
    let pos = spec.positions();
    for jj in 0..e / qm {
        for i in 0..qm {
            assert_eq!(pos[i + jj * qm], seq[i * (e / qm) + jj]);
        }
    }
}

#[test]
fn invalid_parameters_are_errors() {
    assert!(matches!(CodeBlockSpec::new(1000, 2001, 2), Err(LdpcError::NotMultipleOfQm { .. })));
    assert!(matches!(CodeBlockSpec::new(1000, 2004, 3), Err(LdpcError::ModulationOrder(3))));
    assert!(CodeBlockSpec::new(9000, 20000, 2).is_err());
    assert!(CodeBlockSpec::new(0, 20, 2).is_err());
    assert!(CodeBlockSpec::new(10, 0, 2).is_err());
    assert!(TransportBlockSpec::new(100, 301, 2).is_err());
    assert!(TransportBlockSpec::new(20000, 4, 2).is_err()); // C = 3 blocks, 2 symbols
    let spec = CodeBlockSpec::new(1000, 2000, 2).unwrap();
    assert!(matches!(spec.encode(&[2u8; 1000]), Err(LdpcError::InvalidBit { .. })));
    assert!(spec.encode(&[0u8; 999]).is_err());
    let mut dec = spec.decoder(DecoderConfig::default()).unwrap();
    let (mut s, mut o) = (Vec::new(), Vec::new());
    assert!(spec.decode(&mut dec, &[0.0; 1999], &mut s, &mut o).is_err());
    let mut nan = vec![1.0f32; 2000];
    nan[5] = f32::NAN;
    assert!(matches!(spec.decode(&mut dec, &nan, &mut s, &mut o), Err(LdpcError::NanLlr { .. })));
    assert!(dec.decode(&[0.0; 104 * 13], &mut o).is_err()); // fewer than kb+4 columns
    assert!(LdpcDecoder::new(spec.code().clone(), DecoderConfig { alpha: 0.0, ..Default::default() }).is_err());
    assert!(LdpcDecoder::new(spec.code().clone(), DecoderConfig { max_iterations: 0, ..Default::default() }).is_err());
    let other = CodeBlockSpec::new(8448, 16896, 2).unwrap();
    let mut wrong = other.decoder(DecoderConfig::default()).unwrap();
    assert!(matches!(spec.decode(&mut wrong, &[0.0; 2000], &mut s, &mut o), Err(LdpcError::CodeMismatch { .. })));
    // Infinite LLRs are clamped, not propagated as NaN.
    let info = vec![0u8; 1000];
    let inf: Vec<f32> = spec.encode(&info).unwrap().iter().map(|_| f32::INFINITY).collect();
    let st = spec.decode(&mut dec, &inf, &mut s, &mut o).unwrap();
    assert!(st.syndrome_ok && o == info);
}

/// 38.212 §5.2.2 by hand for B = 100, 3000, 10000.
#[test]
fn segmentation_matches_5_2_2() {
    // B = 100, BG2: C = 1, Kb = 6 (B ≤ 192), Z = min{6Z ≥ 100} = 18, K = 180.
    let s = segmentation(100, BaseGraph::Bg2).unwrap();
    assert_eq!((s.c, s.l, s.k_prime, s.kb, s.z, s.k, s.filler, s.pad), (1, 0, 100, 6, 18, 180, 80, 0));
    // B = 100, BG1: Kb = 22, 22Z ≥ 100 → Z = 5, K = 110.
    let s = segmentation(100, BaseGraph::Bg1).unwrap();
    assert_eq!((s.c, s.k_prime, s.z, s.k), (1, 100, 5, 110));
    // B = 3000, BG1: C = 1, 22Z ≥ 3000 → Z = 144 (136.4 → next size), K = 3168.
    let s = segmentation(3000, BaseGraph::Bg1).unwrap();
    assert_eq!((s.c, s.l, s.k_prime, s.z, s.k, s.filler), (1, 0, 3000, 144, 3168, 168));
    // B = 3000, BG2: Kb = 10, 10Z ≥ 3000 → Z = 320, K = 3200.
    let s = segmentation(3000, BaseGraph::Bg2).unwrap();
    assert_eq!((s.c, s.kb, s.z, s.k), (1, 10, 320, 3200));
    // B = 10000, BG1: C = ⌈10000/8424⌉ = 2, B' = 10048, K' = 5024, Z = 240 (228.4 →), K = 5280.
    let s = segmentation(10000, BaseGraph::Bg1).unwrap();
    assert_eq!((s.c, s.l, s.k_prime, s.z, s.k, s.filler, s.pad), (2, 24, 5024, 240, 5280, 256, 0));
    // B = 10000, BG2: C = ⌈10000/3816⌉ = 3, B'/C = 3357.3 is not an integer, so
    // we pad 2 zero bits: K' = 3334 + 24 = 3358, 10Z ≥ 3358 → Z = 352.
    let s = segmentation(10000, BaseGraph::Bg2).unwrap();
    assert_eq!((s.c, s.k_prime, s.pad, s.z, s.k), (3, 3358, 2, 352, 3520));
    // A 38.212-valid TBS (A = 8448 − 24 − 24... ) with B'/C integral needs no pad.
    let s = segmentation(16848, BaseGraph::Bg1).unwrap(); // C = 2, K' = 8448
    assert_eq!((s.c, s.k_prime, s.pad, s.z), (2, 8448, 0, 384));
}

#[test]
fn transport_e_split_follows_5_4_2_1() {
    // C = 3, G/Qm = 10001 symbols: 10001 mod 3 = 2 → first block ⌊⌋, last two ⌈⌉.
    let tb = TransportBlockSpec::new(20000, 20002, 2).unwrap();
    let es: Vec<usize> = tb.blocks().iter().map(|b| b.e()).collect();
    assert_eq!(es, vec![6666, 6668, 6668]);
    assert_eq!(es.iter().sum::<usize>(), 20002);
}

/// Cross-check: on the same noisy frames our decoder and ldpc-toolbox's
/// layered decoder agree on success for the large majority of frames.
#[test]
fn ldpc_toolbox_accepts_our_codewords() {
    use ldpc_toolbox::decoder::factory::{DecoderFactory, DecoderImplementation};
    let spec = CodeBlockSpec::new(1000, 2000, 2).unwrap();
    let rows = spec.code().active_rows(spec.active_base_cols());
    let h = spec.code().to_toolbox_matrix(rows);
    let mut tb = DecoderImplementation::HLPhif32.build_decoder(h);
    let mut rng = ChaCha8Rng::seed_from_u64(15);
    let info = random_bits(1000, &mut rng);
    let llr = spec.derate_match(&noiseless_llrs(&spec.encode(&info).unwrap())).unwrap();
    let llr64: Vec<f64> = llr.iter().map(|&x| f64::from(x)).collect();
    let out = tb.decode(&llr64, 20).expect("toolbox decodes a noise-free codeword");
    assert_eq!(&out.codeword[..1000], &info[..]);
}
