//! BLER and speed of semcom-ldpc vs ldpc-toolbox on identical noise.
//!
//! For each frame: random K' bits → encode + rate match (E bits) → Gray QPSK
//! over AWGN (Es = 1, N0 = 10^(−Es/N0/10), Es/N0 = Eb/N0 + 10·log10(2R)) →
//! LLRs → de-rate-match to full-codeword LLRs (punctured = 0, fillers known).
//! Both decoders get exactly those LLRs (ldpc-toolbox as f64) and the same
//! parity-check matrix: the base rows that the transmitted columns reach
//! (untransmitted extension rows carry no information for either decoder).
//!
//! Usage: cargo run --release -p semcom-ldpc --example bler_compare -- \
//!            [bg2|bg1] [Eb/N0 dB ...] [--frames N] [--toolbox NAME|all|none]
#![allow(clippy::unwrap_used)] // a test or example that fails should stop loudly

use std::time::Instant;

use ldpc_toolbox::decoder::factory::{DecoderFactory, DecoderImplementation};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use semcom_ldpc::{CodeBlockSpec, DecoderConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut case = "bg2".to_string();
    let mut points = Vec::new();
    let mut frames = 2000usize;
    let mut toolbox = "HLPhif32".to_string();
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--frames" => {
                frames = args.get(i + 1).ok_or("--frames N")?.parse()?;
                i += 1;
            }
            "--toolbox" => {
                toolbox = args.get(i + 1).ok_or("--toolbox NAME")?.clone();
                i += 1;
            }
            "bg1" | "bg2" => case = args[i].clone(),
            x => points.push(x.parse::<f64>()?),
        }
        i += 1;
    }
    let (k, e) = if case == "bg1" { (8448, 16896) } else { (1000, 2000) };
    if points.is_empty() {
        points = if case == "bg1" { vec![1.25, 1.5] } else { vec![1.5, 1.75, 2.0] };
    }
    let spec = CodeBlockSpec::new(k, e, 2)?;
    let rows = spec.code().active_rows(spec.active_base_cols());
    println!(
        "{case}: {:?} Z={} K'={k} E={e} R={:.3} active base cols={} rows={} frames/point={frames}",
        spec.base_graph(),
        spec.z(),
        spec.rate(),
        spec.active_base_cols(),
        rows
    );
    let impls: Vec<DecoderImplementation> = if toolbox == "none" {
        Vec::new()
    } else if toolbox == "all" {
        use DecoderImplementation::*;
        vec![
            Phif32,
            Aminstarf32,
            Minstarapproxf32,
            Aminstari8,
            Minstarapproxi8,
            HLPhif32,
            HLAminstarf32,
            HLMinstarapproxf32,
            HLAminstari8,
            HLMinstarapproxi8,
        ]
    } else {
        vec![toolbox.parse().map_err(|e: &str| e.to_string())?]
    };
    // Optional overrides for exploring the normalisation / offset.
    let mut cfg = match std::env::var("LDPC_RULE").as_deref() {
        Ok("minsum") => DecoderConfig::min_sum(),
        Ok("corrected3") | Err(_) => DecoderConfig::default(),
        Ok(_) => return Err("LDPC_RULE: minsum | corrected3".into()),
    };
    if let Ok(a) = std::env::var("LDPC_ALPHA") {
        cfg.alpha = a.parse()?;
    }
    if let Ok(b) = std::env::var("LDPC_BETA") {
        cfg.beta = b.parse()?;
    }
    println!("semcom-ldpc config: {cfg:?}");
    for &eb_n0 in &points {
        let es_n0 = eb_n0 + 10.0 * (2.0 * spec.rate()).log10();
        let n0 = 10f64.powf(-es_n0 / 10.0);
        let noise = Normal::new(0.0, (n0 / 2.0).sqrt())?;
        let amp = std::f64::consts::FRAC_1_SQRT_2;
        // Same seed for every decoder ⇒ identical frames and noise.
        let mut rng = ChaCha8Rng::seed_from_u64(1000 + (eb_n0 * 100.0) as u64);
        let mut infos = Vec::with_capacity(frames);
        let mut llrs = Vec::with_capacity(frames);
        for _ in 0..frames {
            let info: Vec<u8> = (0..k).map(|_| rng.random_range(0..2u8)).collect();
            let coded = spec.encode(&info)?;
            let ch: Vec<f32> = coded
                .iter()
                .map(|&b| {
                    let y = amp * (1.0 - 2.0 * f64::from(b)) + noise.sample(&mut rng);
                    (2.0 * std::f64::consts::SQRT_2 * y / n0) as f32
                })
                .collect();
            llrs.push(spec.derate_match(&ch)?);
            infos.push(info);
        }
        // Ours.
        let mut dec = spec.decoder(cfg)?;
        let mut out = Vec::new();
        let (mut err, mut iters) = (0usize, 0usize);
        let t0 = Instant::now();
        for (llr, info) in llrs.iter().zip(&infos) {
            let st = dec.decode(llr, &mut out)?;
            iters += st.iterations;
            err += usize::from(out[..k] != info[..]);
        }
        let dt = t0.elapsed().as_secs_f64();
        println!(
            "Eb/N0 {eb_n0:.2} dB  semcom-ldpc ({:<10})          BLER {:.2e} ({err}/{frames})  avg iters {:.2}  {:.1} Mbit/s",
            format!("{:?}", cfg.rule), err as f64 / frames as f64, iters as f64 / frames as f64, (k * frames) as f64 / dt / 1e6
        );
        for imp in &impls {
            let mut tb = imp.build_decoder(spec.code().to_toolbox_matrix(rows));
            let llr64: Vec<Vec<f64>> = llrs.iter().map(|l| l.iter().map(|&x| f64::from(x)).collect()).collect();
            let (mut err, mut iters) = (0usize, 0usize);
            let t0 = Instant::now();
            for (llr, info) in llr64.iter().zip(&infos) {
                let (ok, o) = match tb.decode(llr, cfg.max_iterations) {
                    Ok(o) => (true, o),
                    Err(o) => (false, o),
                };
                let _ = ok;
                iters += o.iterations;
                err += usize::from(o.codeword[..k] != info[..]);
            }
            let dt = t0.elapsed().as_secs_f64();
            println!(
                "Eb/N0 {eb_n0:.2} dB  ldpc-toolbox {:<22} BLER {:.2e} ({err}/{frames})  avg iters {:.2}  {:.2} Mbit/s",
                imp.to_string(),
                err as f64 / frames as f64,
                iters as f64 / frames as f64,
                (k * frames) as f64 / dt / 1e6
            );
        }
    }
    Ok(())
}
