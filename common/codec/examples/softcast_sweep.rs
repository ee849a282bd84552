//! Measures SoftCast PSNR on the sample images over SNRs and chunk grids.
//!
//! `cargo run --release -p semcom-codec --example softcast_sweep [rho_denominator] [seeds]`
//! (defaults 32 and 4). AWGN over the whole stream (pilots, LDPC-coded metadata, analog),
//! pilot-estimated channel; PSNR averaged over seeds; metadata failures (CRC) are
//! counted separately and excluded from the mean.
#![allow(clippy::unwrap_used)] // a test or example that fails should stop loudly

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use semcom_codec::softcast::{decode, encode, SoftCastConfig};
use semcom_codec::stream::Received;
use semcom_phy::channel::Awgn;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rho_den: f64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(32.0);
    let seeds: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(4);
    let rho = 1.0 / rho_den;
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../samples");
    let names = ["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg"];
    let imgs: Vec<_> = names
        .iter()
        .map(|n| image::open(format!("{dir}/{n}")).map(|i| i.to_rgb8()))
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("loading samples: {e}"));
    let grids: [((u16, u16), (u16, u16)); 5] =
        [((8, 8), (4, 4)), ((12, 12), (6, 6)), ((16, 16), (8, 8)), ((24, 24), (12, 12)), ((32, 32), (16, 16))];
    let snrs = [0.0, 10.0, 20.0];
    println!("rho = 1/{rho_den}, {seeds} seeds per point");
    for (gl, gc) in grids {
        let cfg = SoftCastConfig { chunks_luma: gl, chunks_chroma: gc, ..Default::default() };
        let mut grand = 0.0;
        let mut grand_n = 0;
        println!("grid Y {}x{} C {}x{}", gl.0, gl.1, gc.0, gc.1);
        for (name, img) in names.iter().zip(&imgs) {
            let tx = match encode(img, rho, &cfg) {
                Ok(t) => t,
                Err(e) => {
                    println!("  {name}: {e}");
                    continue;
                }
            };
            let s = tx.split;
            let mut line = format!(
                "  {name:14} {}x{} split p/m/a/total/budget {}/{}/{}/{}/{} chunks {}/{} +{} |",
                img.width(),
                img.height(),
                s.pilots,
                s.meta,
                s.analog,
                s.total,
                s.budget,
                tx.chunks_sent,
                tx.chunks_total,
                tx.partial_coefficients
            );
            for &snr in &snrs {
                let ch = Awgn::from_snr_db(snr).unwrap_or_else(|e| panic!("{e}"));
                let (mut sum, mut ok, mut fail) = (0.0, 0, 0);
                for seed in 0..seeds {
                    let mut rng = ChaCha8Rng::seed_from_u64(1000 + seed);
                    let mut rx = Received::from_sections(&tx.sections, cfg.meta_mcs);
                    ch.apply(&mut rx.stream, &mut rng);
                    match decode(&rx, &cfg) {
                        Ok(r) => {
                            sum += semcom_metrics::psnr(img, &r.image).unwrap_or(f64::NAN);
                            ok += 1;
                        }
                        Err(_) => fail += 1,
                    }
                }
                let mean = sum / ok.max(1) as f64;
                grand += mean;
                grand_n += 1;
                line += &format!(
                    " {snr:>4} dB: {mean:6.2}{}",
                    if fail > 0 { format!(" ({fail} meta fail)") } else { String::new() }
                );
            }
            println!("{line}");
        }
        println!("  mean PSNR over images and SNRs: {:.3} dB", grand / grand_n.max(1) as f64);
    }
}
