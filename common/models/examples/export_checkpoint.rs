//! Exports the model of a running (or stopped) training run's checkpoint as f32 and int8
//! model files, to evaluate it while training goes on.
//!
//! `cargo run --release -p semcom-models --example export_checkpoint -- CHECKPOINT OUT_DIR`
#![allow(clippy::unwrap_used)] // a test or example that fails should stop loudly

use std::path::PathBuf;

use semcom_models::candle::Device;
use semcom_models::train::export_checkpoint;
use semcom_models::WeightFormat;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(ckpt), Some(out)) = (args.next(), args.next()) else {
        return Err("usage: export_checkpoint CHECKPOINT OUT_DIR".into());
    };
    let out = PathBuf::from(out);
    std::fs::create_dir_all(&out)?;
    for f in [WeightFormat::F32, WeightFormat::Int8] {
        let path = out.join(format!("diffusion-{}.safetensors", f.as_str()));
        let step = export_checkpoint(ckpt.as_ref(), &path, f, &Device::Cpu)?;
        println!("step {step} → {}", path.display());
    }
    Ok(())
}
