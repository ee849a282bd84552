//! Speed of one UNet forward pass of the default configuration on a 128×128 tile:
//! median of several passes after a warm-up.
//!
//! `cargo run --release -p semcom-models --example forward_speed [runs]` (default 5).

use semcom_models::candle::{Device, Tensor};
use semcom_models::unet::INPUT_CHANNELS;
use semcom_models::{new_unet_trainable, NoiseRng, UNetConfig};

fn main() -> semcom_models::candle::Result<()> {
    let runs: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(5).max(1);
    let dev = Device::Cpu;
    let cfg = UNetConfig::default();
    let (model, vm) = new_unet_trainable(&cfg, &dev)?;
    let params: usize = vm.all_vars().iter().map(|v| v.elem_count()).sum();
    let mut rng = NoiseRng::new(9);
    let x = rng.randn((1, INPUT_CHANNELS, 128, 128), &dev)?;
    let t = Tensor::new(&[500f32], &dev)?;
    let c = rng.randn((1, cfg.cond_dim), &dev)?;
    model.forward(&x, &t, Some(&c))?;
    let mut ms: Vec<f64> = (0..runs)
        .map(|_| {
            let start = std::time::Instant::now();
            model.forward(&x, &t, Some(&c)).map(|_| start.elapsed().as_secs_f64() * 1000.0)
        })
        .collect::<Result<_, _>>()?;
    ms.sort_by(f64::total_cmp);
    println!("default config: {params} parameters, median {:.1} ms per 128x128 forward ({runs} runs)", ms[runs / 2]);
    Ok(())
}
