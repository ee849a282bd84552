//! Every fill of the non-key regions side by side, as images to look at and to measure
//! with other tools: per image `STEM.orig.png`, what the semantic decoder hands its
//! generator (`STEM.analog.png`, the analog estimate; `STEM.mask.png`, 255 = key),
//! `STEM.classical.png`, `STEM.TAG.png` (the diffusion generator) and
//! `STEM.softcast.png` (whole-image SoftCast on the same channel), at ρ = 1/32, AWGN,
//! seed 1; prints the prompt detail level, sizes and split of each transmission.
//!
//! `cargo run --release -p semcom-cli --example dump_received -- OUT IMG...`
//!
//! Environment: `SNR` (dB, default 10), and for the diffusion generator `WEIGHTS` (model
//! file; default the embedded one), `STEPS`, `STRENGTH`, `LUMA` (1 = luma only),
//! `START` (SDEdit start, 1 = pure noise), `MATCH` (1 = energy match) and `TAG` (file
//! tag, default `diffusion`).

#![allow(clippy::unwrap_used)] // a test or example that fails should stop loudly
use std::path::PathBuf;

use anyhow::{Context, Result};
use semcom_cli::eval::channel::{transmit, ChannelKind, ChannelSpec};
use semcom_codec::color::ycbcr_to_rgb;
use semcom_codec::generate::Generator;
use semcom_codec::semantic::{self, SemanticConfig, SemanticRequest};
use semcom_codec::softcast::{self, SoftCastConfig};
use semcom_codec::stream::Received;
use semcom_models::candle::Device;
use semcom_models::train::data::CaptureInput;
use semcom_models::{build_generator, DiffusionSettings};

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let out = PathBuf::from(args.next().context("OUT")?);
    let snr: f64 = std::env::var("SNR").ok().and_then(|s| s.parse().ok()).unwrap_or(10.0);
    std::fs::create_dir_all(&out)?;
    let env = |k: &str| std::env::var(k).ok();
    let mut ds = DiffusionSettings::default();
    if let Some(v) = env("STEPS") {
        ds.steps = v.parse()?;
    }
    if let Some(v) = env("STRENGTH") {
        ds.strength = v.parse()?;
    }
    if let Some(v) = env("LUMA") {
        ds.luma_only = v == "1";
    }
    if let Some(v) = env("WEIGHTS") {
        ds.weights = Some(v.into());
    }
    if let Some(v) = env("START") {
        ds.start = v.parse()?;
    }
    if let Some(v) = env("MATCH") {
        ds.match_energy = v == "1";
    }
    let tag = env("TAG").unwrap_or_else(|| "diffusion".into());
    let diff = build_generator(&ds, &Device::Cpu)?;
    for p in args {
        let p = PathBuf::from(p);
        let stem = p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let image = image::open(&p)?.to_rgb8();
        let cfg = SemanticConfig::default();
        let req = SemanticRequest { rho: 1.0 / 32.0, snr_db: Some(snr), ..SemanticRequest::default() };
        let tx = semantic::encode(&image, &req, &cfg)?;
        let r = &tx.report;
        println!(
            "{stem}: detail {} prompt {} B / {} sym, header {} sym, mcs {}, key share {:.2}, total {}",
            r.detail, r.prompt_bytes, r.prompt_symbols, r.header_symbols, r.mcs, r.key_share, tx.split.total
        );
        let spec = ChannelSpec { kind: ChannelKind::Awgn, snr_db: snr, coherence: 1, erasure: 0.0, seed: 1 };
        let o = transmit(&tx.sections, &spec)?;
        let mut rx = Received::from_sections(&tx.sections, tx.report.mcs);
        rx.stream = o.stream;
        let cap = CaptureInput::default();
        let classical = semantic::decode(&rx, &cfg, &cap)?.image;
        let rc = cap.take().context("no capture")?;
        let analog = ycbcr_to_rgb(&rc.analog);
        let key = rc.key.pixel_mask(image.width(), image.height());
        let mask = image::GrayImage::from_fn(image.width(), image.height(), |x, y| {
            image::Luma([if key[(y * image.width() + x) as usize] { 255 } else { 0 }])
        });
        let d = diff.generate(&rc.as_input(1))?;
        let sc = SoftCastConfig::default();
        let stx = softcast::encode(&image, 1.0 / 32.0, &sc)?;
        let so = transmit(&stx.sections, &spec)?;
        let mut srx = Received::from_sections(&stx.sections, sc.meta_mcs);
        srx.stream = so.stream;
        let soft = softcast::decode(&srx, &sc)?.image;
        image.save(out.join(format!("{stem}.orig.png")))?;
        analog.save(out.join(format!("{stem}.analog.png")))?;
        mask.save(out.join(format!("{stem}.mask.png")))?;
        classical.save(out.join(format!("{stem}.classical.png")))?;
        d.save(out.join(format!("{stem}.{tag}.png")))?;
        soft.save(out.join(format!("{stem}.softcast.png")))?;
        println!("{stem} done");
    }
    Ok(())
}
