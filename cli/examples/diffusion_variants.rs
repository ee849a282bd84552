//! The diffusion generator's weight variants side by side: file size, median time to
//! regenerate, and quality against f32 on the sample images (issue 6's int8/f16/f32
//! table), plus the classical fill for reference.
//!
//! Every image goes through the semantic codec once (ρ = 1/32, AWGN at 10 dB, seed 1);
//! each generator then fills the same received input with the same seed.
//!
//! `cargo run --release -p semcom-cli --example diffusion_variants [WEIGHTS_DIR] [RUNS] [LORA]`
//! (defaults: common/models/weights, 5 timed runs per variant on the 512×512 image).
#![allow(clippy::unwrap_used)] // a test or example that fails should stop loudly

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use image::RgbImage;
use semcom_cli::eval::channel::{transmit, ChannelKind, ChannelSpec};
use semcom_codec::generate::{ClassicalFill, Generator};
use semcom_codec::semantic::{self, SemanticConfig, SemanticRequest};
use semcom_codec::stream::Received;
use semcom_models::candle::Device;
use semcom_models::train::data::{CaptureInput, ReceivedConditions};
use semcom_models::{build_generator, DiffusionSettings, LoraMode};

struct Sample {
    name: String,
    image: RgbImage,
    received: ReceivedConditions,
    non_key: Vec<bool>,
}

fn receive(name: &str, image: RgbImage) -> Result<Sample> {
    let cfg = SemanticConfig::default();
    let req = SemanticRequest { rho: 1.0 / 32.0, snr_db: Some(10.0), ..SemanticRequest::default() };
    let tx = semantic::encode(&image, &req, &cfg)?;
    let spec = ChannelSpec { kind: ChannelKind::Awgn, snr_db: 10.0, coherence: 1, erasure: 0.0, seed: 1 };
    let out = transmit(&tx.sections, &spec)?;
    let mut rx = Received::from_sections(&tx.sections, tx.report.mcs);
    rx.stream = out.stream;
    let cap = CaptureInput::default();
    semantic::decode(&rx, &cfg, &cap)?;
    let received = cap.take().context("decoder did not call the generator")?;
    let non_key = received.key.pixel_mask(image.width(), image.height()).iter().map(|k| !k).collect();
    Ok(Sample { name: name.into(), image, received, non_key })
}

struct Row {
    variant: String,
    bytes: Option<u64>,
    median_ms: f64,
    psnr: f64,
    swd: f64,
    vsi: f64,
}

fn measure(variant: &str, bytes: Option<u64>, g: &dyn Generator, samples: &[Sample], runs: usize) -> Result<Row> {
    let (mut psnr, mut swd, mut vsi) = (0.0, 0.0, 0.0);
    let mut times = Vec::new();
    for s in samples {
        let input = s.received.as_input(1);
        let out = g.generate(&input)?;
        if let Ok(dir) = std::env::var("SEMCOM_VARIANTS_OUT") {
            let stem = s.name.split('.').next().unwrap_or("image");
            out.save(PathBuf::from(dir).join(format!("{}-{stem}.png", variant.replace([' ', '(', ')', '+'], "_"))))?;
        }
        psnr += semcom_metrics::psnr(&s.image, &out)?;
        swd += semcom_metrics::swd(&s.image, &out, Some(&s.non_key), semcom_metrics::REPORT_SWD_SEED)?.mean;
        vsi += semcom_metrics::vsi(&s.image, &out)?;
        if (s.image.width(), s.image.height()) == (512, 512) {
            for _ in 0..runs {
                let t = Instant::now();
                g.generate(&input)?;
                times.push(t.elapsed().as_secs_f64() * 1e3);
            }
        }
    }
    times.sort_by(f64::total_cmp);
    let n = samples.len() as f64;
    Ok(Row {
        variant: variant.into(),
        bytes,
        median_ms: times.get(times.len() / 2).copied().unwrap_or(f64::NAN),
        psnr: psnr / n,
        swd: swd / n,
        vsi: vsi / n,
    })
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().unwrap_or_else(|| "common/models/weights".into()));
    let runs: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(5).max(1);
    let lora = args.next().filter(|s| !s.is_empty()).map(PathBuf::from);
    // SEMCOM_VARIANTS_IMAGES: other images (comma-separated paths) instead of the samples.
    let paths: Vec<PathBuf> = match std::env::var("SEMCOM_VARIANTS_IMAGES") {
        Ok(list) => list.split(',').map(PathBuf::from).collect(),
        Err(_) => ["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg"]
            .iter()
            .map(|n| PathBuf::from("samples").join(n))
            .collect(),
    };
    let mut samples = Vec::new();
    for p in &paths {
        let img = image::open(p).with_context(|| format!("opening {}", p.display()))?.to_rgb8();
        samples.push(receive(&p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(), img)?);
    }
    // SEMCOM_VARIANTS_STRENGTHS: extra int8 rows at these detail strengths (e.g. "0.5,0.75").
    let strengths: Vec<f64> = std::env::var("SEMCOM_VARIANTS_STRENGTHS")
        .map(|s| s.split(',').filter_map(|v| v.parse().ok()).collect())
        .unwrap_or_default();
    let dev = Device::Cpu;
    let mut rows = Vec::new();
    rows.push(measure("classical", None, &ClassicalFill::default(), &samples, runs)?);
    for fmt in ["f32", "f16", "int8"] {
        let path = dir.join(format!("diffusion-{fmt}.safetensors"));
        let bytes = std::fs::metadata(&path).with_context(|| format!("{}", path.display()))?.len();
        let g =
            build_generator(&DiffusionSettings { weights: Some(path.clone()), ..DiffusionSettings::default() }, &dev)?;
        rows.push(measure(fmt, Some(bytes), &g, &samples, runs)?);
        if fmt == "int8" {
            for &st in &strengths {
                for luma_only in [true, false] {
                    let s = DiffusionSettings {
                        weights: Some(path.clone()),
                        strength: st,
                        luma_only,
                        ..DiffusionSettings::default()
                    };
                    let g = build_generator(&s, &dev)?;
                    rows.push(measure(
                        &format!("int8 strength {st} luma_only {luma_only}"),
                        Some(bytes),
                        &g,
                        &samples,
                        1,
                    )?);
                }
            }
            if let Some(l) = &lora {
                for mode in [LoraMode::Merge, LoraMode::Runtime] {
                    let s = DiffusionSettings {
                        weights: Some(path.clone()),
                        lora: Some(l.clone()),
                        lora_mode: mode,
                        ..DiffusionSettings::default()
                    };
                    let g = build_generator(&s, &dev)?;
                    rows.push(measure(&format!("int8 + LoRA ({mode:?})"), Some(bytes), &g, &samples, runs)?);
                }
            }
        }
    }
    let base = rows.iter().find(|r| r.variant == "f32").map(|r| (r.bytes.unwrap_or(1) as f64, r.psnr, r.swd));
    println!(
        "Samples: {}; ρ = 1/32, AWGN 10 dB, seed 1; median of {runs} regenerations of the 512×512 image.\n",
        samples.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")
    );
    println!("| generator | file (MB) | × smaller than f32 | median 512² regen (ms) | PSNR (dB) | ΔPSNR vs f32 | non-key SWD | ΔSWD vs f32 | VSI |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in &rows {
        let (size, ratio) = match (r.bytes, base) {
            (Some(b), Some((fb, _, _))) => (format!("{:.2}", b as f64 / 1e6), format!("{:.2}", fb / b as f64)),
            _ => ("–".into(), "–".into()),
        };
        let (dp, ds) = match base {
            Some((_, p, s)) if r.bytes.is_some() => {
                (format!("{:+.3}", r.psnr - p), format!("{:+.2} %", 100.0 * (r.swd / s - 1.0)))
            }
            _ => ("–".into(), "–".into()),
        };
        println!(
            "| {} | {size} | {ratio} | {:.0} | {:.3} | {dp} | {:.4} | {ds} | {:.4} |",
            r.variant, r.median_ms, r.psnr, r.swd, r.vsi
        );
    }
    Ok(())
}
