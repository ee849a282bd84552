//! Semantic codec vs whole-image SoftCast on the sample images, same ρ and SNR.
//!
//! `cargo run --release -p semcom-codec --example semantic_vs_softcast [rho_den] [seeds] [snr,...] [key_share] [texture]`
//! (defaults 32, 2, "0,5,10,20", the codec's rule, the generator's default).
//! `SEMCOM_HYBRID=group,alpha_bits,beta_bits,lambda_bits,correction_bits,base_luma,base_chroma,base_cutoff` overrides the key encoder. AWGN over the whole stream (pilots, digital, analog),
//! pilot-estimated channel, classical fill. Prints per image and SNR: key-region PSNR of
//! both, whole-image PSNR, MS-SSIM and VSI of both, the semantic split; then the means.
#![allow(clippy::unwrap_used)] // a test or example that fails should stop loudly

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use semcom_codec::generate::ClassicalFill;
use semcom_codec::semantic::{self, SemanticConfig, SemanticRequest};
use semcom_codec::softcast::{self, SoftCastConfig};
use semcom_codec::stream::Received;
use semcom_metrics::{ms_ssim, psnr, psnr_masked, vsi};
use semcom_phy::channel::Awgn;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rho_den: f64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(32.0);
    let seeds: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(2);
    let snrs: Vec<f64> = args
        .get(3)
        .map(|s| s.split(',').filter_map(|v| v.parse().ok()).collect())
        .unwrap_or_else(|| vec![0.0, 5.0, 10.0, 20.0]);
    let share: Option<f64> = args.get(4).and_then(|s| s.parse().ok());
    let rho = 1.0 / rho_den;
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../samples");
    let names = ["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg"];
    let sc_cfg = SoftCastConfig::default();
    let mut sem_cfg = SemanticConfig { key_share: share, ..SemanticConfig::default() };
    // Experiment knobs: SEMCOM_HYBRID="group,alpha_bits,beta_bits,lambda_bits,correction_bits,base_luma,base_chroma,base_cutoff".
    if let Ok(v) = std::env::var("SEMCOM_HYBRID") {
        let f: Vec<usize> = v.split(',').filter_map(|x| x.parse().ok()).collect();
        if let [g, a, b, l, c, bl, bc, cut] = f[..] {
            sem_cfg.hybrid.base_cutoff = cut;
            sem_cfg.hybrid.base_grid_luma = (bl, bl);
            sem_cfg.hybrid.base_grid_chroma = (bc, bc);
            sem_cfg.hybrid.correction_bits = c as u8;
            sem_cfg.hybrid.group = g;
            sem_cfg.hybrid.alpha_bits = a as u8;
            sem_cfg.hybrid.beta_bits = b as u8;
            sem_cfg.hybrid.lambda_bits = l as u8;
        }
    }
    let mut gen = ClassicalFill::default();
    if let Some(t) = args.get(5).and_then(|s| s.parse().ok()) {
        gen.texture_strength = t;
    }
    println!(
        "rho = 1/{rho_den}, {seeds} seeds; columns: key PSNR sem/sc, whole PSNR sem/sc, MS-SSIM sem/sc, VSI sem/sc"
    );
    for &snr in &snrs {
        let mut acc = [0.0f64; 8];
        let mut n = 0.0;
        for name in names {
            let img = image::open(format!("{dir}/{name}")).expect("sample").to_rgb8();
            let req = SemanticRequest { rho, snr_db: Some(snr), ..Default::default() };
            let tx = semantic::encode(&img, &req, &sem_cfg).expect("semantic encode");
            let sc_tx = softcast::encode(&img, rho, &sc_cfg).expect("softcast encode");
            let mask = tx.key_mask.pixel_mask(img.width(), img.height());
            let mut row = [0.0f64; 8];
            for seed in 0..seeds {
                let awgn = Awgn::from_snr_db(snr).expect("snr");
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                let mut rx = semantic::noiseless(&tx);
                awgn.apply(&mut rx.stream, &mut rng);
                let out = semantic::decode(&rx, &sem_cfg, &gen).expect("semantic decode");
                let mut sc_rx = Received::from_sections(&sc_tx.sections, sc_cfg.meta_mcs);
                awgn.apply(&mut sc_rx.stream, &mut rng);
                let sc = softcast::decode(&sc_rx, &sc_cfg).expect("softcast decode");
                let v = [
                    psnr_masked(&img, &out.image, &mask).unwrap().unwrap_or(f64::NAN),
                    psnr_masked(&img, &sc.image, &mask).unwrap().unwrap_or(f64::NAN),
                    psnr(&img, &out.image).unwrap(),
                    psnr(&img, &sc.image).unwrap(),
                    ms_ssim(&img, &out.image).unwrap(),
                    ms_ssim(&img, &sc.image).unwrap(),
                    vsi(&img, &out.image).unwrap(),
                    vsi(&img, &sc.image).unwrap(),
                ];
                for (r, x) in row.iter_mut().zip(v) {
                    *r += x / seeds as f64;
                }
            }
            let r = tx.report;
            println!(
                "{snr:5.1} dB {name:14} key {:.2}/{:.2} ({:+.2}) whole {:.2}/{:.2} ms-ssim {:.4}/{:.4} vsi {:.4}/{:.4} | share {:.2} mcs {} {} hdr {}+prompt {} syms of {} ({}B+{}B)",
                row[0], row[1], row[0] - row[1], row[2], row[3], row[4], row[5], row[6], row[7],
                r.key_share, r.mcs, r.detail, r.header_symbols, r.prompt_symbols, tx.split.total, r.header_bytes, r.prompt_bytes
            );
            for (a, x) in acc.iter_mut().zip(row) {
                *a += x;
            }
            n += 1.0;
        }
        let m: Vec<f64> = acc.iter().map(|a| a / n).collect();
        println!(
            "{snr:5.1} dB MEAN           key {:.2}/{:.2} ({:+.2}) whole {:.2}/{:.2} ms-ssim {:.4}/{:.4} ({:+.4}) vsi {:.4}/{:.4}",
            m[0], m[1], m[0] - m[1], m[2], m[3], m[4], m[5], m[4] - m[5], m[6], m[7]
        );
    }
}
