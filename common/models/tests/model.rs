//! Tests of the embedded diffusion model on tiny configurations built here, with random
//! weights (DESIGN.md §4).

use semcom_models::candle::{DType, Device, Result, Tensor, Var};
use semcom_models::candle_nn::{self, Optimizer, VarBuilder, VarMap};
use semcom_models::unet::{assemble_input, INPUT_CHANNELS};
use semcom_models::{
    load_unet_bytes, load_unet_file, new_unet_trainable, DdimConfig, DdimSampler, InpaintInputs, NoiseRng,
    NoiseSchedule, ScheduleConfig, ScheduleKind, UNet, UNetConfig,
};

const DEV: Device = Device::Cpu;

/// Uniform values in [-1, 1) from a seeded stream.
fn uniform(rng: &mut NoiseRng, shape: (usize, usize, usize, usize)) -> Result<Tensor> {
    let n = shape.0 * shape.1 * shape.2 * shape.3;
    let v: Vec<f32> = (0..n).map(|_| (rng.next_open01() * 2.0 - 1.0) as f32).collect();
    Tensor::from_vec(v, shape, &DEV)
}

/// A block mask (1 = known) shaped like the codec's key/non-key masks: 8×8 blocks.
fn block_mask(rng: &mut NoiseRng, b: usize, h: usize, w: usize) -> Result<Tensor> {
    let mut v = vec![0f32; b * h * w];
    for bi in 0..b {
        for by in 0..h / 8 {
            for bx in 0..w / 8 {
                if rng.next_u64().is_multiple_of(2) {
                    for y in by * 8..by * 8 + 8 {
                        for x in bx * 8..bx * 8 + 8 {
                            v[bi * h * w + y * w + x] = 1.0;
                        }
                    }
                }
            }
        }
    }
    Tensor::from_vec(v, (b, 1, h, w), &DEV)
}

fn cond(rng: &mut NoiseRng, cfg: &UNetConfig, b: usize) -> Result<Option<Tensor>> {
    if cfg.cond_dim == 0 {
        return Ok(None);
    }
    Ok(Some(rng.randn((b, cfg.cond_dim), &DEV)?))
}

fn bits(t: &Tensor) -> Result<Vec<u32>> {
    Ok(t.flatten_all()?.to_vec1::<f32>()?.into_iter().map(f32::to_bits).collect())
}

#[test]
fn forward_shape_tiny_32x32() -> Result<()> {
    let cfg = UNetConfig::tiny();
    let (model, _vm) = new_unet_trainable(&cfg, &DEV)?;
    let mut rng = NoiseRng::new(1);
    let x = rng.randn((1, INPUT_CHANNELS, 32, 32), &DEV)?;
    let t = Tensor::new(&[500f32], &DEV)?;
    let c = cond(&mut rng, &cfg, 1)?;
    let y = model.forward(&x, &t, c.as_ref())?;
    assert_eq!(y.dims(), &[1, 3, 32, 32]);
    let v = y.flatten_all()?.to_vec1::<f32>()?;
    assert!(v.iter().all(|a| a.is_finite()));
    assert!(v.iter().any(|&a| a != 0.0));
    // Non-square and batched inputs work too.
    let x = rng.randn((2, INPUT_CHANNELS, 16, 48), &DEV)?;
    let y = model.forward(&x, &Tensor::new(&[10f32, 900.], &DEV)?, cond(&mut rng, &cfg, 2)?.as_ref())?;
    assert_eq!(y.dims(), &[2, 3, 16, 48]);
    Ok(())
}

#[test]
fn sizes_not_multiple_of_downsampling_are_rejected() -> Result<()> {
    let cfg = UNetConfig { channel_mults: vec![1, 2, 2], ..UNetConfig::tiny() };
    assert_eq!(cfg.size_multiple(), 4);
    let (model, _vm) = new_unet_trainable(&cfg, &DEV)?;
    let mut rng = NoiseRng::new(2);
    let c = cond(&mut rng, &cfg, 1)?;
    let t = Tensor::new(&[3f32], &DEV)?;
    for (h, w) in [(33, 32), (32, 31), (30, 32), (32, 34)] {
        let x = rng.randn((1, INPUT_CHANNELS, h, w), &DEV)?;
        let err = model.forward(&x, &t, c.as_ref()).expect_err("odd size must be rejected");
        assert!(err.to_string().contains("multiple of 4"), "{err}");
    }
    // Wrong channel count and wrong condition are rejected as well.
    assert!(model.forward(&rng.randn((1, 7, 32, 32), &DEV)?, &t, c.as_ref()).is_err());
    assert!(model.forward(&rng.randn((1, INPUT_CHANNELS, 32, 32), &DEV)?, &t, None).is_err());
    Ok(())
}

#[test]
fn variants_without_attention_or_condition_run() -> Result<()> {
    for cfg in [
        UNetConfig { attention: false, ..UNetConfig::tiny() },
        UNetConfig { cond_dim: 0, blocks_per_level: 2, ..UNetConfig::tiny() },
    ] {
        let (model, vm) = new_unet_trainable(&cfg, &DEV)?;
        let mut rng = NoiseRng::new(3);
        let x = rng.randn((1, INPUT_CHANNELS, 16, 16), &DEV)?;
        let y = model.forward(&x, &Tensor::new(&[1f32], &DEV)?, cond(&mut rng, &cfg, 1)?.as_ref())?;
        assert_eq!(y.dims(), &[1, 3, 16, 16]);
        let names: Vec<String> = vm.data().lock().unwrap().keys().cloned().collect();
        assert_eq!(names.iter().any(|n| n.starts_with("mid.attn")), cfg.attention);
        assert_eq!(names.iter().any(|n| n.starts_with("cond_embed")), cfg.cond_dim > 0);
    }
    Ok(())
}

#[test]
fn invalid_configs_are_rejected() {
    let bad = [
        UNetConfig { groups: 3, ..UNetConfig::tiny() },
        UNetConfig { channel_mults: vec![], ..UNetConfig::tiny() },
        UNetConfig { attention_heads: 3, ..UNetConfig::tiny() },
        UNetConfig { base_channels: 7, groups: 7, ..UNetConfig::tiny() },
    ];
    for cfg in bad {
        assert!(cfg.validate().is_err(), "{cfg:?}");
        let vm = VarMap::new();
        assert!(UNet::new(&cfg, VarBuilder::from_varmap(&vm, DType::F32, &DEV)).is_err());
    }
    UNetConfig::default().validate().unwrap();
    UNetConfig::tiny().validate().unwrap();
}

#[test]
fn config_serde_roundtrip() {
    let cfg = UNetConfig::tiny();
    let s = serde_json::to_string(&cfg).unwrap();
    assert_eq!(serde_json::from_str::<UNetConfig>(&s).unwrap(), cfg);
    // Missing fields take the documented defaults.
    assert_eq!(serde_json::from_str::<UNetConfig>("{}").unwrap(), UNetConfig::default());
}

/// One training step (ε-prediction MSE on an inpainting batch) must give every trainable
/// tensor a non-zero gradient — catches ops whose backward pass silently drops gradients
/// (candle 0.11's `softmax_last_dim`, fused `layer_norm`) and unused parameters.
#[test]
fn training_step_gives_every_tensor_a_nonzero_gradient() -> Result<()> {
    let cfg = UNetConfig::tiny();
    let (model, varmap) = new_unet_trainable(&cfg, &DEV)?;
    let schedule = NoiseSchedule::new(&ScheduleConfig::default())?;
    let mut rng = NoiseRng::new(4);
    let (b, h, w) = (2, 16, 16);
    let x0 = uniform(&mut rng, (b, 3, h, w))?;
    let layout = uniform(&mut rng, (b, 3, h, w))?;
    let mask = block_mask(&mut rng, b, h, w)?;
    let noise = rng.randn((b, 3, h, w), &DEV)?;
    let ts = [100usize, 700];
    let x_t = schedule.add_noise_batch(&x0, &noise, &ts)?;
    let input = assemble_input(&x_t, &x0, &mask, &layout)?;
    let t = Tensor::new(&[100f32, 700.], &DEV)?;
    let c = cond(&mut rng, &cfg, b)?;

    let loss = candle_nn::loss::mse(&model.forward(&input, &t, c.as_ref())?, &noise)?;
    let grads = loss.backward()?;
    let vars: Vec<(String, Var)> = {
        let data = varmap.data().lock().unwrap();
        let mut v: Vec<_> = data.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    assert!(vars.len() > 40, "only {} tensors", vars.len());
    let mut missing = Vec::new();
    for (name, var) in &vars {
        match grads.get(var.as_tensor()) {
            None => missing.push(format!("{name}: no gradient")),
            Some(g) => {
                let s = g.abs()?.sum_all()?.to_scalar::<f32>()?;
                if !(s > 0.0 && s.is_finite()) {
                    missing.push(format!("{name}: |grad| sum {s}"));
                }
            }
        }
    }
    assert!(missing.is_empty(), "tensors without gradient:\n{}", missing.join("\n"));
    for expected in [
        "mid.attn.q.weight",
        "mid.attn.k.weight",
        "cond_embed.weight",
        "time_embed.lin1.weight",
        "down.0.downsample.conv.weight",
    ] {
        assert!(vars.iter().any(|(n, _)| n == expected), "missing {expected}");
    }

    // The step itself: SGD changes every tensor.
    let before: Vec<Vec<u32>> = vars.iter().map(|(_, v)| bits(v.as_tensor())).collect::<Result<_>>()?;
    let mut sgd = candle_nn::SGD::new(varmap.all_vars(), 1e-2)?;
    sgd.step(&grads)?;
    for ((name, v), old) in vars.iter().zip(before) {
        assert_ne!(bits(v.as_tensor())?, old, "{name} unchanged by the step");
    }
    Ok(())
}

#[test]
fn save_then_load_reproduces_output_bit_exactly() -> Result<()> {
    let cfg = UNetConfig::tiny();
    let (model, varmap) = new_unet_trainable(&cfg, &DEV)?;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("unet.safetensors");
    varmap.save(&path)?;

    let mut rng = NoiseRng::new(5);
    let x = rng.randn((1, INPUT_CHANNELS, 32, 32), &DEV)?;
    let t = Tensor::new(&[250f32], &DEV)?;
    let c = cond(&mut rng, &cfg, 1)?;
    let want = bits(&model.forward(&x, &t, c.as_ref())?)?;

    let from_file = load_unet_file(&cfg, &path, &DEV)?;
    assert_eq!(bits(&from_file.forward(&x, &t, c.as_ref())?)?, want);
    let from_buf = load_unet_bytes(&cfg, std::fs::read(&path).unwrap(), &DEV)?;
    assert_eq!(bits(&from_buf.forward(&x, &t, c.as_ref())?)?, want);
    // VarMap::load into a freshly initialised map restores the weights too.
    let (fresh, mut vm2) = new_unet_trainable(&cfg, &DEV)?;
    vm2.load(&path)?;
    assert_eq!(bits(&fresh.forward(&x, &t, c.as_ref())?)?, want);

    // A file for another architecture does not load.
    let other = UNetConfig { base_channels: 16, ..cfg.clone() };
    assert!(load_unet_file(&other, &path, &DEV).is_err());
    assert!(load_unet_file(&cfg, dir.path().join("missing.safetensors"), &DEV).is_err());
    Ok(())
}

#[test]
fn schedule_alpha_bar_decreasing_in_unit_interval() -> Result<()> {
    for kind in [ScheduleKind::Cosine, ScheduleKind::Linear] {
        let s = NoiseSchedule::new(&ScheduleConfig { kind, ..Default::default() })?;
        let a = s.alphas_cumprod();
        assert_eq!(a.len(), 1000);
        assert!(a.iter().all(|&x| x > 0.0 && x <= 1.0), "{kind:?}");
        assert!(a.windows(2).all(|p| p[1] < p[0]), "{kind:?} not strictly decreasing");
        assert!(a[0] > 0.99, "{kind:?}: first step nearly clean, got {}", a[0]);
        assert!(a[999] < 0.01, "{kind:?}: last step nearly pure noise, got {}", a[999]);
        assert!(s.betas().iter().all(|&b| b > 0.0 && b < 1.0));
    }
    assert!(NoiseSchedule::new(&ScheduleConfig { num_train_timesteps: 1, ..Default::default() }).is_err());
    Ok(())
}

#[test]
fn ddim_timesteps_trailing_and_bounded() -> Result<()> {
    let s = NoiseSchedule::new(&ScheduleConfig::default())?;
    let d = DdimSampler::new(&s, &DdimConfig::default())?;
    assert_eq!(d.timesteps(), &[999, 899, 799, 699, 599, 499, 399, 299, 199, 99]);
    let d = DdimSampler::new(&s, &DdimConfig { steps: 3, ..Default::default() })?;
    assert_eq!(d.timesteps(), &[999, 666, 332]);
    assert!(DdimSampler::new(&s, &DdimConfig { steps: 0, ..Default::default() }).is_err());
    assert!(DdimSampler::new(&s, &DdimConfig { eta: 1.5, ..Default::default() }).is_err());
    Ok(())
}

#[test]
fn noise_rng_is_splitmix64_and_gaussian() -> Result<()> {
    // Reference value of SplitMix64 with seed 0: pins the stream across runs and versions.
    assert_eq!(NoiseRng::new(0).next_u64(), 0xE220_A839_7B1D_CDAF);
    let a = NoiseRng::new(42).randn((4, 1000), &DEV)?.flatten_all()?.to_vec1::<f32>()?;
    let b = NoiseRng::new(42).randn((4, 1000), &DEV)?.flatten_all()?.to_vec1::<f32>()?;
    assert_eq!(a, b);
    let n = a.len() as f64;
    let mean = a.iter().map(|&x| x as f64).sum::<f64>() / n;
    let var = a.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
    assert!(mean.abs() < 0.05 && (var - 1.0).abs() < 0.08, "mean {mean} var {var}");
    Ok(())
}

#[test]
fn ddim_inpainting_is_seeded_and_keeps_known_pixels_exactly() -> Result<()> {
    let cfg = UNetConfig::tiny();
    let (model, _vm) = new_unet_trainable(&cfg, &DEV)?;
    let schedule = NoiseSchedule::new(&ScheduleConfig::default())?;
    let mut rng = NoiseRng::new(6);
    let (b, h, w) = (1, 32, 32);
    let known = uniform(&mut rng, (b, 3, h, w))?;
    let layout = uniform(&mut rng, (b, 3, h, w))?;
    let mask = block_mask(&mut rng, b, h, w)?;
    let c = cond(&mut rng, &cfg, b)?;
    let inputs = InpaintInputs { known: &known, mask: &mask, layout: &layout, cond: c.as_ref() };

    for eta in [0.0, 0.5] {
        let sampler = DdimSampler::new(&schedule, &DdimConfig { steps: 10, eta, clip_x0: true })?;
        let a = sampler.inpaint(&model, &inputs, 7)?;
        let again = sampler.inpaint(&model, &inputs, 7)?;
        let other = sampler.inpaint(&model, &inputs, 8)?;
        assert_eq!(a.dims(), &[1, 3, 32, 32]);
        assert_eq!(bits(&a)?, bits(&again)?, "eta {eta}: same seed must give identical output");
        assert_ne!(bits(&a)?, bits(&other)?, "eta {eta}: different seeds must differ");

        let out = a.flatten_all()?.to_vec1::<f32>()?;
        let k = known.flatten_all()?.to_vec1::<f32>()?;
        let m = mask.flatten_all()?.to_vec1::<f32>()?;
        let other = other.flatten_all()?.to_vec1::<f32>()?;
        let (mut n_known, mut n_gen, mut n_diff) = (0, 0, 0);
        for i in 0..3 * h * w {
            let p = i % (h * w);
            assert!(out[i].is_finite() && out[i].abs() <= 1.0);
            if m[p] == 1.0 {
                assert_eq!(out[i].to_bits(), k[i].to_bits(), "known pixel {i} changed");
                n_known += 1;
            } else {
                n_gen += 1;
                n_diff += usize::from(out[i] != other[i]);
            }
        }
        assert!(n_known > 0 && n_gen > 0, "mask must have both kinds of pixel");
        // Seeds change the generated region (not only a pixel or two).
        assert!(n_diff * 2 > n_gen, "only {n_diff} of {n_gen} generated values depend on the seed");
    }
    Ok(())
}
