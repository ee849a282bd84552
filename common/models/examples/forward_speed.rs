//! Speed of one UNet forward pass of the default configuration on a 512×512 image
//! (64×64 patches): median of several passes after a warm-up.
//!
//! `cargo run --release -p semcom-models --example forward_speed [runs]` (default 5).
#![allow(clippy::unwrap_used)] // a test or example that fails should stop loudly

use semcom_models::candle::{Device, Tensor};
use semcom_models::{new_unet_trainable, Conditioning, NoiseRng, UNetConfig};

fn main() -> semcom_models::candle::Result<()> {
    let runs: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(5).max(1);
    let dev = Device::Cpu;
    let cfg = UNetConfig::default();
    let (model, vm) = new_unet_trainable(&cfg, &dev)?;
    let params: usize = vm.all_vars().iter().map(|v| v.elem_count()).sum();
    let mut rng = NoiseRng::new(9);
    let (h, w) = (512 / cfg.patch, 512 / cfg.patch);
    let pc = cfg.patch_channels();
    let x = rng.randn((1, pc, h, w), &dev)?;
    let analog = rng.randn((1, pc, h, w), &dev)?;
    let mask = Tensor::zeros((1, 1, h, w), semcom_models::candle::DType::F32, &dev)?;
    let texture = rng.randn((1, cfg.texture_features, h, w), &dev)?;
    let cond = Conditioning { analog: &analog, mask: &mask, texture: Some(&texture) };
    let t = Tensor::new(&[500f32], &dev)?;
    model.forward(&x, &t, &cond)?;
    let mut ms: Vec<f64> = (0..runs)
        .map(|_| {
            let start = std::time::Instant::now();
            model.forward(&x, &t, &cond).map(|_| start.elapsed().as_secs_f64() * 1000.0)
        })
        .collect::<Result<_, _>>()?;
    ms.sort_by(f64::total_cmp);
    println!("default config: {params} parameters, median {:.1} ms per 512x512 forward ({runs} runs)", ms[runs / 2]);
    Ok(())
}
