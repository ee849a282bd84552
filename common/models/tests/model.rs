//! Tests of the embedded diffusion model (docs/architecture.md §4, issue 6 "Tests"): tiny UNet
//! configurations built here with seeded random weights, written through the real
//! model-file and adapter writers, loaded through the real loaders and run.
#![allow(clippy::unwrap_used)] // a test or example that fails should stop loudly

mod support;

use std::collections::HashMap;

use semcom_codec::color::ycbcr_to_rgb;
use semcom_codec::generate::{render_colour_layout, GenerateError, Generator, GeneratorInput};
use semcom_codec::segment::BlockMask;
use semcom_models::candle::{DType, Result, Tensor};
use semcom_models::candle_nn::{VarBuilder, VarMap};
use semcom_models::lora::{merge, Adapter};
use semcom_models::train::adam::AdamW;
use semcom_models::train::data::{received_conditions, ConditionRanges};
use semcom_models::train::{denoising_loss, Batch};
use semcom_models::unet::{depth_to_space, patch_dct_matrix, space_to_depth};
use semcom_models::weights::{save_tensors_atomic, varmap_tensors};
use semcom_models::{
    build_generator, match_local_energy, save_model, ComposeSettings, DdimConfig, DdimSampler, DiffusionGenerator,
    DiffusionSettings, LoraConfig, ModelFile, NoiseRng, NoiseSchedule, PatchInputs, ScheduleConfig, ScheduleKind, UNet,
    UNetConfig, WeightFormat, Weights,
};
use support::*;

/// A tiny model saved as f32 and loaded back: `(file, original model, its VarMap)`.
fn saved_tiny(cfg: &UNetConfig, seed: u64, dir: &std::path::Path) -> Result<(ModelFile, UNet, VarMap)> {
    let (model, vm) = seeded_unet(cfg, seed)?;
    let path = dir.join(format!("base-{seed}.safetensors"));
    save_model(&path, cfg, &ScheduleConfig::default(), &varmap_tensors(&vm), WeightFormat::F32, &HashMap::new())?;
    Ok((ModelFile::from_path(&path, &DEV)?, model, vm))
}

/// A UNet on frozen `base` tensors with LoRA adapters created in a new `VarMap`
/// (`lora_a` random, `lora_b` zero).
fn with_fresh_lora(cfg: &UNetConfig, base: &HashMap<String, Tensor>, lora: LoraConfig) -> Result<(UNet, VarMap)> {
    let vm = VarMap::new();
    let w = Weights::new(VarBuilder::from_tensors(base.clone(), DType::F32, &DEV))
        .with_lora(VarBuilder::from_varmap(&vm, DType::F32, &DEV), lora)?;
    Ok((UNet::new(cfg, &w)?, vm))
}

/// Fills every adapter variable with seeded values: `lora_a` `N(0, 1/fan_in)`, `lora_b`
/// `N(0, b_std²)` (`b_std = 0` keeps B at zero).
fn seed_lora(vm: &VarMap, seed: u64, b_std: f64) -> Result<()> {
    let mut rng = NoiseRng::new(seed);
    for (name, var) in sorted_vars(vm) {
        let dims = var.dims().to_vec();
        let z = rng.randn(dims.as_slice(), &DEV)?;
        let t = if name.ends_with(".lora_a") {
            let fan_in: usize = dims[1..].iter().product();
            (z * (1.0 / (fan_in as f64).sqrt()))?
        } else {
            (z * b_std)?
        };
        var.set(&t)?;
    }
    Ok(())
}

/// A training batch from the random inputs (target = a seeded residual).
fn batch_of(x: &Inputs, seed: u64) -> Result<Batch> {
    let mut rng = NoiseRng::new(seed);
    Ok(Batch {
        target: rng.randn(x.r_t.dims4()?, &DEV)?,
        analog: x.analog.clone(),
        mask: x.mask.clone(),
        texture: x.texture.clone(),
    })
}

// ---------------------------------------------------------------------------------------
// 1. Weights load and the model runs.

#[test]
fn f32_model_file_round_trips_and_runs_bit_identically() -> Result<()> {
    let dir = tempfile::tempdir().map_err(semcom_models::candle::Error::wrap)?;
    let cfg = UNetConfig::tiny();
    let (model, vm) = seeded_unet(&cfg, 1)?;
    let schedule = ScheduleConfig { kind: ScheduleKind::Linear, num_train_timesteps: 500, ..ScheduleConfig::default() };
    let extra: HashMap<String, String> = [("semcom.training".to_string(), r#"{"steps":1}"#.to_string())].into();
    let path = dir.path().join("tiny-f32.safetensors");
    let original = varmap_tensors(&vm);
    save_model(&path, &cfg, &schedule, &original, WeightFormat::F32, &extra)?;

    let file = ModelFile::from_path(&path, &DEV)?;
    assert_eq!(file.unet, cfg);
    assert_eq!(file.schedule, schedule);
    assert_eq!(file.format, WeightFormat::F32);
    assert!(file.q8.is_empty());
    assert_eq!(file.extra.get("semcom.training").map(String::as_str), Some(r#"{"steps":1}"#));
    assert_same_tensors(&file.tensors, &original, "f32 file")?;
    // from_bytes is the same parser (embedded weights use it).
    let from_bytes = ModelFile::from_bytes(&std::fs::read(&path).map_err(semcom_models::candle::Error::wrap)?, &DEV)?;
    assert_same_tensors(&from_bytes.tensors, &original, "from_bytes")?;

    let loaded = file.build(&DEV, None)?;
    assert_eq!(loaded.config(), &cfg);
    // Square and non-square inputs, batch 2 (patch grids must be multiples of 2 here).
    for (seed, h, w) in [(10, 4, 4), (11, 2, 6)] {
        let x = inputs(&cfg, 2, h, w, seed)?;
        let y0 = forward(&model, &x)?;
        let y1 = forward(&loaded, &x)?;
        assert_eq!(y0.dims(), &[2, cfg.patch_channels(), h, w]);
        assert_live(&y0, "tiny model output")?;
        assert!(bits(&y0)? == bits(&y1)?, "loaded model output differs from the original ({h}x{w})");
    }
    Ok(())
}

#[test]
fn forward_rejects_inconsistent_inputs() -> Result<()> {
    let cfg = UNetConfig::tiny();
    let (model, _vm) = seeded_unet(&cfg, 2)?;
    let ok = inputs(&cfg, 1, 4, 4, 3)?;
    assert!(forward(&model, &ok).is_ok());
    // Patch grid not a multiple of 2^(levels−1) = 2.
    let odd = inputs(&cfg, 1, 3, 4, 3)?;
    assert!(forward(&model, &odd).is_err());
    // Wrong residual channel count.
    let bad_r = Tensor::zeros((1, cfg.patch_channels() + 1, 4, 4), DType::F32, &DEV)?;
    assert!(model.forward(&bad_r, &ok.t, &ok.cond()).is_err());
    // Texture missing, texture of the wrong size, timesteps of the wrong length.
    let mut c = ok.cond();
    c.texture = None;
    assert!(model.forward(&ok.r_t, &ok.t, &c).is_err());
    let small_tex = Tensor::zeros((1, cfg.texture_features, 2, 2), DType::F32, &DEV)?;
    c.texture = Some(&small_tex);
    assert!(model.forward(&ok.r_t, &ok.t, &c).is_err());
    let t2 = Tensor::new(&[1f32, 2.0], &DEV)?;
    assert!(model.forward(&ok.r_t, &t2, &ok.cond()).is_err());
    // Mask of the wrong grid.
    let mask = Tensor::zeros((1, 1, 2, 4), DType::F32, &DEV)?;
    c = ok.cond();
    c.mask = &mask;
    assert!(model.forward(&ok.r_t, &ok.t, &c).is_err());
    // Invalid configurations are refused before any weight is made.
    for bad in [
        UNetConfig { groups: 3, ..UNetConfig::tiny() },
        UNetConfig { attention_heads: 3, ..UNetConfig::tiny() },
        UNetConfig { base_channels: 7, groups: 7, ..UNetConfig::tiny() },
        UNetConfig { channel_mults: vec![], ..UNetConfig::tiny() },
        UNetConfig { residual_scale: 0.0, ..UNetConfig::tiny() },
    ] {
        assert!(semcom_models::new_unet_trainable(&bad, &DEV).is_err(), "{bad:?} accepted");
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// 2. Gradients reach every trainable tensor.

#[test]
fn one_training_step_gives_every_weight_a_gradient() -> Result<()> {
    let cfg = UNetConfig::tiny();
    assert!(cfg.attention && cfg.texture_features > 0);
    let (model, vm) = seeded_unet(&cfg, 4)?;
    let x = inputs(&cfg, 2, 4, 4, 5)?;
    let batch = batch_of(&x, 6)?;
    let schedule = NoiseSchedule::new(&ScheduleConfig::default())?;
    let loss = denoising_loss(&model, &schedule, &batch, &[100, 700], &mut NoiseRng::new(7))?;
    let l = loss.to_scalar::<f32>()?;
    assert!(l.is_finite() && l > 0.0, "loss {l}");
    let grads = loss.backward()?;
    let vars = sorted_vars(&vm);
    assert!(vars.iter().any(|(n, _)| n == "mid.attn.q.weight"), "attention weights missing from the VarMap");
    let mut missing = Vec::new();
    for (name, var) in &vars {
        match grads.get(var.as_tensor()) {
            None => missing.push(format!("{name} (none)")),
            Some(g) => {
                let v = values(g)?;
                if !v.iter().all(|x| x.is_finite()) {
                    missing.push(format!("{name} (non-finite)"));
                } else if v.iter().all(|x| *x == 0.0) {
                    missing.push(format!("{name} (zero)"));
                }
            }
        }
    }
    assert!(missing.is_empty(), "{} of {} tensors lack a usable gradient: {missing:?}", missing.len(), vars.len());
    Ok(())
}

#[test]
fn lora_gradients_reach_b_at_init_and_a_once_b_is_nonzero() -> Result<()> {
    // LoRA adds (α/r)·B·A·x. With B = 0 (the trainable initialisation), ∂L/∂B =
    // (α/r)·g·(A·x)ᵀ is non-zero, but ∂L/∂A = (α/r)·Bᵀ·g·xᵀ is exactly zero: every product
    // has a factor 0. So at step 0 only B learns; once B ≠ 0, A receives gradients too.
    let dir = tempfile::tempdir().map_err(semcom_models::candle::Error::wrap)?;
    let cfg = UNetConfig::tiny();
    let (file, _, _) = saved_tiny(&cfg, 8, dir.path())?;
    let (model, vm) = with_fresh_lora(&cfg, &file.tensors, LoraConfig::default())?;
    seed_lora(&vm, 9, 0.0)?; // seeded A, B = 0

    // Every convolution and linear layer of the base has an adapter pair.
    let vars = sorted_vars(&vm);
    let layers: Vec<String> = {
        let mut v: Vec<String> = file
            .tensors
            .iter()
            .filter(|(k, t)| k.ends_with(".weight") && t.rank() >= 2)
            .map(|(k, _)| k.trim_end_matches(".weight").to_string())
            .collect();
        v.sort();
        v
    };
    let names: Vec<&str> = vars.iter().map(|(n, _)| n.as_str()).collect();
    for l in &layers {
        assert!(
            names.contains(&format!("{l}.lora_a").as_str()) && names.contains(&format!("{l}.lora_b").as_str()),
            "no adapter for {l}"
        );
    }
    assert_eq!(vars.len(), 2 * layers.len(), "adapter variables other than one pair per layer: {names:?}");

    let x = inputs(&cfg, 2, 4, 4, 10)?;
    let batch = batch_of(&x, 11)?;
    let schedule = NoiseSchedule::new(&ScheduleConfig::default())?;
    let grads = denoising_loss(&model, &schedule, &batch, &[200, 900], &mut NoiseRng::new(12))?.backward()?;
    let mut problems = Vec::new();
    for (name, var) in &vars {
        let g = grads.get(var.as_tensor()).map(values).transpose()?;
        if name.ends_with(".lora_b") {
            match g {
                Some(v) if v.iter().all(|x| x.is_finite()) && v.iter().any(|x| *x != 0.0) => {}
                _ => problems.push(format!("{name}: no non-zero gradient")),
            }
        } else if let Some(v) = g {
            if v.iter().any(|x| *x != 0.0) {
                problems.push(format!("{name}: non-zero gradient while B = 0"));
            }
        }
    }
    assert!(problems.is_empty(), "{problems:?}");

    // One optimiser step over the adapter variables (as `semcom train lora` does): B
    // moves, A does not (zero gradient → zero Adam update, no decay), and the base
    // weights, plain tensors rather than variables, are untouched. (candle still puts
    // gradients of convolution kernels in the GradStore, but nothing applies them.)
    assert!(file.tensors.values().all(|t| !t.is_variable()));
    let before: HashMap<String, Vec<u32>> =
        file.tensors.iter().map(|(k, t)| Ok((k.clone(), bits(t)?))).collect::<Result<_>>()?;
    let lora_before: HashMap<String, Vec<u32>> =
        vars.iter().map(|(k, v)| Ok((k.clone(), bits(v.as_tensor())?))).collect::<Result<_>>()?;
    let mut opt = AdamW::new(vars.clone(), 0.0)?;
    opt.step(&grads, 1e-2, 1.0)?;
    for (name, var) in &vars {
        let moved = bits(var.as_tensor())? != lora_before[name];
        assert_eq!(moved, name.ends_with(".lora_b"), "{name}: moved = {moved}");
    }
    for (name, t) in &file.tensors {
        assert!(bits(t)? == before[name], "base {name} changed");
    }
    // The adapted model now differs from the base (B ≠ 0).
    let x_eval = inputs(&cfg, 1, 4, 4, 99)?;
    assert!(rel_rms(&forward(&model, &x_eval)?, &forward(&file.build(&DEV, None)?, &x_eval)?)? > 0.0);

    // B ≠ 0: now every A and every B gets a non-zero gradient.
    seed_lora(&vm, 13, 0.05)?;
    let grads = denoising_loss(&model, &schedule, &batch, &[200, 900], &mut NoiseRng::new(12))?.backward()?;
    let mut missing = Vec::new();
    for (name, var) in &vars {
        match grads.get(var.as_tensor()).map(values).transpose()? {
            Some(v) if v.iter().all(|x| x.is_finite()) && v.iter().any(|x| *x != 0.0) => {}
            _ => missing.push(name.clone()),
        }
    }
    assert!(missing.is_empty(), "adapter tensors without a gradient once B ≠ 0: {missing:?}");
    Ok(())
}

// ---------------------------------------------------------------------------------------
// 3. Quantized formats.

#[test]
fn f16_and_int8_outputs_agree_with_f32() -> Result<()> {
    let dir = tempfile::tempdir().map_err(semcom_models::candle::Error::wrap)?;
    // tiny(): base_channels 8 → time_embed_dim 32, so time_embed.lin2 and every FiLM
    // linear have input dimension 32 and are stored as Q8_0; lin1 (input 8) and the
    // attention projections (input 16) stay f32.
    let cfg = UNetConfig::tiny();
    let (model, vm) = seeded_unet(&cfg, 14)?;
    let tensors = varmap_tensors(&vm);
    let sched = ScheduleConfig::default();
    let mut files = HashMap::new();
    for f in [WeightFormat::F32, WeightFormat::F16, WeightFormat::Int8] {
        let p = dir.path().join(format!("m-{}.safetensors", f.as_str()));
        save_model(&p, &cfg, &sched, &tensors, f, &HashMap::new())?;
        let file = ModelFile::from_path(&p, &DEV)?;
        assert_eq!(file.format, f);
        files.insert(f.as_str(), file);
    }
    let int8 = &files["int8"];
    for q in ["time_embed.lin2.weight", "down.0.res.0.film.weight", "mid.res.film.weight"] {
        assert!(int8.q8.contains_key(q), "{q} not stored as Q8_0");
        // Only the quantized form exists, so a successful build must run it through QMatMul.
        assert!(!int8.tensors.contains_key(q), "{q} also stored in plain form");
    }
    for f in ["time_embed.lin1.weight", "mid.attn.q.weight"] {
        assert!(
            int8.tensors.contains_key(f) && !int8.q8.contains_key(f),
            "{f} should stay f32 (input dim not a multiple of 32)"
        );
    }
    // Per-channel int8 convolution kernels: each value within half a step of the
    // original, the step being max|w| / 127 of its output channel (+1e-6 for f32 rounding).
    let mut conv_kernels = 0;
    for (name, w) in &tensors {
        if w.rank() != 4 {
            continue;
        }
        conv_kernels += 1;
        let c = w.dim(0)?;
        let orig = w.reshape((c, ()))?.to_vec2::<f32>()?;
        let deq = int8.tensors[name].reshape((c, ()))?.to_vec2::<f32>()?;
        for (o, d) in orig.iter().zip(&deq) {
            let step = o.iter().fold(0f32, |m, v| m.max(v.abs())) / 127.0;
            let err = o.iter().zip(d).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
            assert!(err <= 0.5 * step + 1e-6, "{name}: int8 error {err} > half step {}", 0.5 * step);
        }
        // Biases of convolutions stay f32.
        let bias = name.replace(".weight", ".bias");
        assert!(bits(&int8.tensors[&bias])? == bits(&tensors[&bias])?, "{bias} changed");
    }
    assert!(conv_kernels > 10);

    let x = inputs(&cfg, 2, 4, 4, 15)?;
    let reference = forward(&model, &x)?;
    assert_live(&reference, "f32 output")?;
    let y32 = forward(&files["f32"].build(&DEV, None)?, &x)?;
    assert!(bits(&y32)? == bits(&reference)?);
    let e16 = rel_rms(&forward(&files["f16"].build(&DEV, None)?, &x)?, &reference)?;
    let e8 = rel_rms(&forward(&int8.build(&DEV, None)?, &x)?, &reference)?;
    // Tolerances. f16 keeps 11 significant bits: relative rounding error ≤ 2⁻¹¹ ≈ 4.9e-4
    // per weight, about 2.8e-4 RMS, and the errors of ~20 layers add up partly
    // independently, so 1e-3 leaves room without hiding a wrong conversion (which gives
    // errors of order 1). int8: the step is max|w|/127 per output channel (Q8_0: per
    // block of 32), i.e. about 2.5 % of a typical N(0, σ²) weight (max ≈ 3σ) and an RMS
    // error of step/√12 ≈ 0.7 % per layer; Q8_0 also quantizes the activations to 8 bits.
    // Over ~20 layers, partly averaging out, 3e-2 is the budget.
    println!("relative RMS error vs f32: f16 {e16:.2e}, int8 {e8:.2e}");
    assert!(e16 < 1e-3, "f16 relative RMS error {e16}");
    assert!(e8 < 3e-2, "int8 relative RMS error {e8}");
    // The quantized model is not secretly the f32 one.
    assert!(e8 > 0.0 && e16 > 0.0);
    Ok(())
}

#[test]
fn int8_file_is_at_least_three_times_smaller_than_f32() -> Result<()> {
    let dir = tempfile::tempdir().map_err(semcom_models::candle::Error::wrap)?;
    // The default architecture (2.3 M parameters); values do not matter for sizes, so
    // candle's (unseeded) initialisation is fine here. Not run forward (slow-ish).
    let cfg = UNetConfig::default();
    let (_model, vm) = semcom_models::new_unet_trainable(&cfg, &DEV)?;
    let tensors = varmap_tensors(&vm);
    let params: usize = tensors.values().map(|t| t.elem_count()).sum();
    assert!(params > 1_000_000, "{params} parameters");
    let mut size = HashMap::new();
    for f in [WeightFormat::F32, WeightFormat::F16, WeightFormat::Int8] {
        let p = dir.path().join(format!("d-{}.safetensors", f.as_str()));
        save_model(&p, &cfg, &ScheduleConfig::default(), &tensors, f, &HashMap::new())?;
        size.insert(f.as_str(), std::fs::metadata(&p).map_err(semcom_models::candle::Error::wrap)?.len() as f64);
    }
    println!("{params} params; bytes: {size:?}");
    assert!(size["f32"] >= 4.0 * params as f64);
    let r16 = size["f32"] / size["f16"];
    let r8 = size["f32"] / size["int8"];
    assert!((1.9..=2.01).contains(&r16), "f32/f16 size ratio {r16}");
    assert!(r8 >= 3.0, "f32/int8 size ratio {r8}");
    Ok(())
}

// ---------------------------------------------------------------------------------------
// 4–6. LoRA.

#[test]
fn lora_with_zero_b_is_exactly_the_base_model() -> Result<()> {
    let dir = tempfile::tempdir().map_err(semcom_models::candle::Error::wrap)?;
    let cfg = UNetConfig::tiny();
    let (file, original, _) = saved_tiny(&cfg, 16, dir.path())?;
    let base = file.build(&DEV, None)?;
    let (adapted, vm) = with_fresh_lora(&cfg, &file.tensors, LoraConfig { rank: 2, alpha: 3.0 })?;
    seed_lora(&vm, 17, 0.0)?;
    let x = inputs(&cfg, 2, 4, 4, 18)?;
    let y = forward(&base, &x)?;
    assert_live(&y, "base output")?;
    assert!(bits(&forward(&original, &x)?)? == bits(&y)?);
    assert!(bits(&forward(&adapted, &x)?)? == bits(&y)?, "B = 0 adapters changed the output");

    // Same with run-time adapters on the int8 file (Q8_0 linears + LoRA).
    let p8 = dir.path().join("int8.safetensors");
    save_model(&p8, &cfg, &file.schedule, &file.tensors, WeightFormat::Int8, &HashMap::new())?;
    let f8 = ModelFile::from_path(&p8, &DEV)?;
    assert!(!f8.q8.is_empty());
    let zero = varmap_tensors(&vm);
    let y8 = forward(&f8.build(&DEV, None)?, &x)?;
    let y8l = forward(&f8.build(&DEV, Some((&zero, LoraConfig { rank: 2, alpha: 3.0 })))?, &x)?;
    assert!(bits(&y8l)? == bits(&y8)?, "B = 0 adapters changed the int8 model's output");
    Ok(())
}

#[test]
fn saved_adapter_reproduces_outputs_and_merge_matches_runtime() -> Result<()> {
    let dir = tempfile::tempdir().map_err(semcom_models::candle::Error::wrap)?;
    let cfg = UNetConfig::tiny();
    let lora = LoraConfig { rank: 4, alpha: 8.0 };
    let (file, _, _) = saved_tiny(&cfg, 19, dir.path())?;
    let (adapted, vm) = with_fresh_lora(&cfg, &file.tensors, lora)?;
    seed_lora(&vm, 20, 0.05)?;
    let adapter = Adapter { lora, unet: cfg.clone(), tensors: varmap_tensors(&vm) };
    let path = dir.path().join("adapter.safetensors");
    adapter.save(&path)?;
    let loaded = Adapter::from_path(&path, &DEV)?;
    assert_eq!(loaded.lora, lora);
    assert_eq!(loaded.unet, cfg);
    assert_same_tensors(&loaded.tensors, &adapter.tensors, "adapter file")?;
    loaded.check_base(&file.unet)?;

    let x = inputs(&cfg, 2, 4, 4, 21)?;
    let y_base = forward(&file.build(&DEV, None)?, &x)?;
    let y_mem = forward(&adapted, &x)?;
    let y_run = forward(&file.build(&DEV, Some((&loaded.tensors, loaded.lora)))?, &x)?;
    assert!(bits(&y_run)? == bits(&y_mem)?, "run-time LoRA from the file differs from the in-memory adapted model");
    // The adapter does something (B ~ N(0, 0.05²) changes the output by several %).
    let change = rel_rms(&y_run, &y_base)?;
    assert!(change > 1e-2, "adapter changed the output by only {change}");

    let merged = ModelFile { tensors: merge(&file.tensors, &loaded)?, ..file.clone() };
    let y_merged = forward(&merged.build(&DEV, None)?, &x)?;
    // W + s·B·A vs W·x + s·B·(A·x): the same maths in another order; f32 rounding
    // (~1e-7 relative per operation, amplified by the network's ~20 layers and the
    // normalisations) stays far below 1e-4.
    let e = rel_rms(&y_merged, &y_run)?;
    println!("merged vs run-time LoRA relative RMS {e:.2e}");
    assert!(e < 1e-4, "merged vs run-time relative RMS {e}");
    // Merging only touched adapted weights: biases and norms are unchanged.
    for (k, t) in &file.tensors {
        if !k.ends_with(".weight") || t.rank() < 2 {
            assert!(bits(&merged.tensors[k])? == bits(t)?, "merge changed {k}");
        }
    }
    Ok(())
}

#[test]
fn adapters_for_another_architecture_are_rejected() -> Result<()> {
    let dir = tempfile::tempdir().map_err(semcom_models::candle::Error::wrap)?;
    let cfg = UNetConfig::tiny();
    let (file, _, _) = saved_tiny(&cfg, 22, dir.path())?;
    let (_, vm) = with_fresh_lora(&cfg, &file.tensors, LoraConfig::default())?;
    let adapter = Adapter { lora: LoraConfig::default(), unet: cfg.clone(), tensors: varmap_tensors(&vm) };

    // The residual scale is data, not architecture.
    adapter.check_base(&UNetConfig { residual_scale: 2.5, ..cfg.clone() })?;
    let other = UNetConfig { base_channels: 16, ..cfg.clone() };
    assert!(adapter.check_base(&other).is_err());
    assert!(adapter.check_base(&UNetConfig { attention: false, ..cfg.clone() }).is_err());
    assert!(adapter.check_base(&UNetConfig { texture_features: 14, ..cfg.clone() }).is_err());

    // Shapes are checked too when the adapter is used without check_base.
    let (other_file, _, _) = saved_tiny(&other, 23, dir.path())?;
    assert!(other_file.build(&DEV, Some((&adapter.tensors, adapter.lora))).is_err());
    assert!(merge(&other_file.tensors, &adapter).is_err());
    // Through the receiver's settings: a tiny adapter on the embedded default model.
    let apath = dir.path().join("tiny-adapter.safetensors");
    adapter.save(&apath)?;
    let s = DiffusionSettings { lora: Some(apath), ..DiffusionSettings::default() };
    let e = build_generator(&s, &DEV).err().expect("tiny adapter accepted for the default model");
    assert!(e.to_string().contains("architecture"), "{e}");
    Ok(())
}

#[test]
fn malformed_model_and_adapter_files_are_errors() -> Result<()> {
    let dir = tempfile::tempdir().map_err(semcom_models::candle::Error::wrap)?;
    let cfg = UNetConfig::tiny();
    let (model, vm) = seeded_unet(&cfg, 24)?;
    drop(model);
    let tensors = varmap_tensors(&vm);
    let mut good = HashMap::new();
    for f in [WeightFormat::F32, WeightFormat::Int8] {
        let p = dir.path().join(format!("m-{}.safetensors", f.as_str()));
        save_model(&p, &cfg, &ScheduleConfig::default(), &tensors, f, &HashMap::new())?;
        good.insert(f.as_str(), std::fs::read(&p).map_err(semcom_models::candle::Error::wrap)?);
    }
    for (fmt, bytes) in &good {
        assert!(ModelFile::from_bytes(bytes, &DEV).is_ok());
        // Truncated anywhere: the header length, the header, or the tensor data.
        let n = bytes.len();
        let mut cuts: Vec<usize> = vec![0, 1, 7, 8, 9, 20, n / 3, n / 2, n - 100, n - 1];
        cuts.extend((1..40).map(|i| i * n / 40));
        for cut in cuts {
            assert!(
                ModelFile::from_bytes(&bytes[..cut], &DEV).is_err(),
                "{fmt} file truncated to {cut}/{n} bytes accepted"
            );
        }
        // A header length pointing past the end.
        let mut big = bytes.clone();
        big[..8].copy_from_slice(&(n as u64 * 4).to_le_bytes());
        assert!(ModelFile::from_bytes(&big, &DEV).is_err());
    }
    // Garbage.
    let mut rng = NoiseRng::new(25);
    let junk: Vec<u8> = (0..4096).map(|_| rng.next_u64() as u8).collect();
    assert!(ModelFile::from_bytes(&junk, &DEV).is_err());
    assert!(ModelFile::from_path(dir.path().join("missing.safetensors"), &DEV).is_err());

    // Valid safetensors whose metadata is missing or wrong.
    let one = vec![("conv_in.weight".to_string(), tensors["conv_in.weight"].clone())];
    let unet = serde_json::to_string(&cfg).unwrap();
    let sched = serde_json::to_string(&ScheduleConfig::default()).unwrap();
    let meta = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    };
    let bad_patch = serde_json::to_string(&UNetConfig { patch: 0, ..cfg.clone() }).unwrap();
    let cases: Vec<(&str, HashMap<String, String>)> = vec![
        ("no metadata", meta(&[])),
        ("no format", meta(&[("semcom.unet", &unet), ("semcom.schedule", &sched)])),
        ("unknown format", meta(&[("semcom.unet", &unet), ("semcom.schedule", &sched), ("semcom.format", "int3")])),
        ("unet not json", meta(&[("semcom.unet", "{patch:"), ("semcom.schedule", &sched), ("semcom.format", "f32")])),
        ("invalid unet", meta(&[("semcom.unet", &bad_patch), ("semcom.schedule", &sched), ("semcom.format", "f32")])),
        ("schedule not json", meta(&[("semcom.unet", &unet), ("semcom.schedule", "[]x"), ("semcom.format", "f32")])),
    ];
    for (what, m) in cases {
        let p = dir.path().join("meta.safetensors");
        save_tensors_atomic(&p, &one, m)?;
        assert!(ModelFile::from_path(&p, &DEV).is_err(), "{what}: accepted");
    }
    // An int8 kernel without its scale; a Q8_0 blob without its shape.
    let full = meta(&[("semcom.unet", &unet), ("semcom.schedule", &sched), ("semcom.format", "int8")]);
    let p = dir.path().join("q.safetensors");
    let q = Tensor::zeros((8, 4), DType::U8, &DEV)?;
    save_tensors_atomic(&p, &[("conv_in.weight".to_string(), q)], full.clone())?;
    assert!(ModelFile::from_path(&p, &DEV).is_err(), "U8 tensor without .scale accepted");
    let blob = Tensor::zeros(34, DType::U8, &DEV)?;
    save_tensors_atomic(&p, &[("time_embed.lin2.weight.q8_0".to_string(), blob)], full)?;
    assert!(ModelFile::from_path(&p, &DEV).is_err(), "Q8_0 blob without a shape accepted");
    // A readable file that lacks weights loads, but cannot build a model.
    save_tensors_atomic(
        &p,
        &one,
        meta(&[("semcom.unet", &unet), ("semcom.schedule", &sched), ("semcom.format", "f32")]),
    )?;
    assert!(ModelFile::from_path(&p, &DEV)?.build(&DEV, None).is_err());

    // Adapter files.
    let (_, lvm) = with_fresh_lora(&cfg, &tensors, LoraConfig::default())?;
    let adapter = Adapter { lora: LoraConfig::default(), unet: cfg.clone(), tensors: varmap_tensors(&lvm) };
    let ap = dir.path().join("a.safetensors");
    adapter.save(&ap)?;
    let abytes = std::fs::read(&ap).map_err(semcom_models::candle::Error::wrap)?;
    assert!(Adapter::from_bytes(&abytes, &DEV).is_ok());
    for cut in (0..20).map(|i| i * abytes.len() / 20) {
        assert!(Adapter::from_bytes(&abytes[..cut], &DEV).is_err(), "adapter truncated to {cut} accepted");
    }
    // A model file is not an adapter (no semcom.lora metadata, non-adapter tensors).
    assert!(Adapter::from_bytes(&good["f32"], &DEV).is_err());
    let lora_meta = serde_json::to_string(&LoraConfig::default()).unwrap();
    save_tensors_atomic(&ap, &one, meta(&[("semcom.lora", &lora_meta), ("semcom.unet", &unet)]))?;
    assert!(Adapter::from_path(&ap, &DEV).is_err(), "adapter holding a base weight accepted");
    let rank0 = serde_json::to_string(&LoraConfig { rank: 0, alpha: 1.0 }).unwrap();
    let lt = vec![("conv_in.lora_a".to_string(), Tensor::zeros((1, 4), DType::F32, &DEV)?)];
    save_tensors_atomic(&ap, &lt, meta(&[("semcom.lora", &rank0), ("semcom.unet", &unet)]))?;
    assert!(Adapter::from_path(&ap, &DEV).is_err(), "rank-0 adapter accepted");
    Ok(())
}

// ---------------------------------------------------------------------------------------
// 7. Space-to-depth.

/// The spectral gate's transform: orthonormal (D·Dᵀ = I), block diagonal over the colour
/// channels, and on a patch it is the separable 2-D DCT-II written out: a constant patch
/// has only a DC coefficient (p × its value); a horizontal cosine of frequency k only
/// the coefficient (0, k).
#[test]
fn patch_dct_is_the_orthonormal_2d_dct_of_each_patch() -> Result<()> {
    let p = 4;
    let n = 3 * p * p;
    let d = patch_dct_matrix(p, &DEV)?;
    let eye = Tensor::eye(n, DType::F32, &DEV)?;
    let err = values(&(d.matmul(&d.t()?)? - &eye)?.abs()?)?.into_iter().fold(0f32, f32::max);
    assert!(err < 1e-5, "D·Dᵀ deviates from I by {err}");
    let dv = values(&d)?;
    for c in 0..3 {
        for c2 in (0..3).filter(|&c2| c2 != c) {
            for i in 0..p * p {
                for j in 0..p * p {
                    assert_eq!(dv[(c * p * p + i) * n + c2 * p * p + j], 0.0, "channels mixed");
                }
            }
        }
    }
    // Patch of channel 1 as a column (c·p² + dy·p + dx).
    let coeffs = |f: &dyn Fn(usize, usize) -> f32| -> Result<Vec<f32>> {
        let mut x = vec![0f32; n];
        for dy in 0..p {
            for dx in 0..p {
                x[p * p + dy * p + dx] = f(dy, dx);
            }
        }
        values(&d.matmul(&Tensor::from_vec(x, (n, 1), &DEV)?)?)
    };
    let dc = coeffs(&|_, _| 2.0)?;
    assert!((dc[p * p] - 2.0 * p as f32).abs() < 1e-5);
    assert!(dc.iter().enumerate().filter(|&(i, _)| i != p * p).all(|(_, v)| v.abs() < 1e-5));
    let k = 3;
    let wave = coeffs(&|_, dx| (std::f32::consts::PI * (2 * dx + 1) as f32 * k as f32 / (2 * p) as f32).cos())?;
    for (i, v) in wave.iter().enumerate() {
        if i != p * p + k {
            assert!(v.abs() < 1e-5, "coefficient {i} = {v}");
        }
    }
    assert!(wave[p * p + k].abs() > 1.0);
    Ok(())
}

#[test]
fn space_to_depth_matches_index_formula_and_inverts() -> Result<()> {
    let (b, c, h, w, p) = (2usize, 3usize, 6usize, 9usize, 3usize);
    let n = b * c * h * w;
    let x = Tensor::from_vec((0..n).map(|i| i as f32).collect::<Vec<_>>(), (b, c, h, w), &DEV)?;
    let s = space_to_depth(&x, p)?;
    assert_eq!(s.dims(), &[b, c * p * p, h / p, w / p]);
    let sv = values(&s)?;
    let (hp, wp) = (h / p, w / p);
    for bi in 0..b {
        for ci in 0..c {
            for dy in 0..p {
                for dx in 0..p {
                    for i in 0..hp {
                        for j in 0..wp {
                            let ch = ci * p * p + dy * p + dx;
                            let got = sv[((bi * c * p * p + ch) * hp + i) * wp + j];
                            let want = (((bi * c + ci) * h + p * i + dy) * w + p * j + dx) as f32;
                            assert_eq!(got, want, "b{bi} c{ci} dy{dy} dx{dx} i{i} j{j}");
                        }
                    }
                }
            }
        }
    }
    assert!(bits(&depth_to_space(&s, p)?)? == bits(&x)?, "depth_to_space ∘ space_to_depth ≠ id");
    // And the other way round on an arbitrary patch tensor.
    let y = NoiseRng::new(26).randn((1, 12, 2, 3), &DEV)?;
    assert!(bits(&space_to_depth(&depth_to_space(&y, 2)?, 2)?)? == bits(&y)?);
    // Sizes that do not divide are errors.
    assert!(space_to_depth(&x, 4).is_err());
    assert!(depth_to_space(&y, 3).is_err());
    Ok(())
}

// ---------------------------------------------------------------------------------------
// 8. DDIM.

#[test]
fn ddim_timesteps_are_trailing_and_decreasing() -> Result<()> {
    let schedule = NoiseSchedule::new(&ScheduleConfig::default())?;
    let n = schedule.num_train_timesteps();
    for steps in [1, 2, 3, 7, 8, 10, 50, n] {
        let s = DdimSampler::new(&schedule, &DdimConfig { steps, ..DdimConfig::default() })?;
        let ts = s.timesteps();
        assert_eq!(ts.len(), steps);
        assert_eq!(ts[0], n - 1, "trailing spacing starts at the last training timestep");
        assert!(ts.windows(2).all(|w| w[0] > w[1]), "{steps} steps: not strictly decreasing: {ts:?}");
        assert!(ts.iter().all(|&t| t < n));
        // Evenly spaced: gaps within one of n/steps.
        let ratio = n as f64 / steps as f64;
        assert!(ts.windows(2).all(|w| ((w[0] - w[1]) as f64 - ratio).abs() <= 1.0), "{ts:?}");
    }
    assert_eq!(
        DdimSampler::new(&schedule, &DdimConfig { steps: 4, ..DdimConfig::default() })?.timesteps(),
        &[999, 749, 499, 249]
    );
    for steps in [0, n + 1] {
        assert!(
            DdimSampler::new(&schedule, &DdimConfig { steps, ..DdimConfig::default() }).is_err(),
            "{steps} steps accepted"
        );
    }
    for eta in [-0.1, 1.5, f64::NAN] {
        assert!(
            DdimSampler::new(&schedule, &DdimConfig { eta, ..DdimConfig::default() }).is_err(),
            "eta {eta} accepted"
        );
    }
    Ok(())
}

/// DDIM η = 0 from `xt` over `ts`, written out from the formulas: x̂₀ = √ᾱ x − √(1−ᾱ) v̂
/// (clamped to ±`clip`), ε̂ = (x − √ᾱ x̂₀)/√(1−ᾱ), x ← √ᾱ' x̂₀ + √(1−ᾱ') ε̂; the last
/// step returns x̂₀.
fn ddim_written_out(
    model: &UNet,
    x: &Inputs,
    schedule: &NoiseSchedule,
    ts: &[usize],
    mut xt: Tensor,
    clip: f64,
) -> Result<Tensor> {
    for (i, &t) in ts.iter().enumerate() {
        let a = schedule.alpha_bar(t);
        let v = model.forward(&xt, &Tensor::new(&[t as f32], &DEV)?, &x.cond())?;
        let mut x0 = ((&xt * a.sqrt())? - (&v * (1.0 - a).sqrt())?)?;
        if clip.is_finite() {
            x0 = x0.clamp(-clip as f32, clip as f32)?;
        }
        if i + 1 == ts.len() {
            return Ok(x0);
        }
        let eps = ((&xt - (&x0 * a.sqrt())?)? / (1.0 - a).sqrt())?;
        let ap = schedule.alpha_bar(ts[i + 1]);
        xt = ((&x0 * ap.sqrt())? + (&eps * (1.0 - ap).sqrt())?)?;
    }
    Ok(xt)
}

#[test]
fn ddim_sampling_is_seeded_and_follows_the_update_rule() -> Result<()> {
    let cfg = UNetConfig::tiny();
    let (model, _vm) = seeded_unet(&cfg, 27)?;
    let x = inputs(&cfg, 1, 4, 4, 28)?;
    let schedule = NoiseSchedule::new(&ScheduleConfig::default())?;
    for eta in [0.0, 1.0] {
        let s = DdimSampler::new(&schedule, &DdimConfig { steps: 3, eta, clip_x0: 12.0, ..DdimConfig::default() })?;
        let a = s.sample(&model, &x.cond(), 5)?;
        let b = s.sample(&model, &x.cond(), 5)?;
        let c = s.sample(&model, &x.cond(), 6)?;
        assert_eq!(a.dims(), x.r_t.dims());
        assert_live(&a, "sample")?;
        assert!(bits(&a)? == bits(&b)?, "eta {eta}: same seed, different samples");
        assert!(rel_rms(&a, &c)? > 1e-3, "eta {eta}: different seeds, (almost) the same sample");
    }

    // η = 0 reimplemented from the formulas: x̂₀ = √ᾱ x − √(1−ᾱ) v̂ (clamped),
    // ε̂ = (x − √ᾱ x̂₀)/√(1−ᾱ), x ← √ᾱ' x̂₀ + √(1−ᾱ') ε̂, the last step returns x̂₀.
    // Same operations in a different order: f32 rounding only, so 1e-5 relative.
    let clip = 2.0;
    let s = DdimSampler::new(&schedule, &DdimConfig { steps: 3, eta: 0.0, clip_x0: clip, ..DdimConfig::default() })?;
    let xt = NoiseRng::new(9).randn(x.analog.dims4()?, &DEV)?;
    let ts = s.timesteps().to_vec();
    let xt = ddim_written_out(&model, &x, &schedule, &ts, xt, clip)?;
    let got = s.sample(&model, &x.cond(), 9)?;
    let e = rel_rms(&got, &xt)?;
    assert!(e < 1e-5, "sampler deviates from the DDIM update by {e}");
    let m = values(&got)?.iter().fold(0f32, |m, v| m.max(v.abs()));
    assert!(m <= clip as f32, "x̂₀ clamp not applied: max |x| = {m}");
    Ok(())
}

/// SDEdit start: timesteps cover the first `start·T`; the guide is required, must have
/// the sample's shape, and is noised to the first timestep, which the update rule then
/// follows as from pure noise (checked against the same loop written out).
#[test]
fn ddim_from_a_guide_starts_at_the_noised_guide() -> Result<()> {
    let schedule = NoiseSchedule::new(&ScheduleConfig::default())?;
    let sd =
        |steps, start| DdimSampler::new(&schedule, &DdimConfig { steps, start, clip_x0: 0.0, ..DdimConfig::default() });
    assert_eq!(sd(4, 0.2)?.timesteps(), &[199, 149, 99, 49]);
    assert!(!sd(4, 1.0)?.needs_guide() && sd(4, 0.2)?.needs_guide());
    for start in [0.0, -0.5, 1.01, f64::NAN] {
        assert!(sd(4, start).is_err(), "start {start} accepted");
    }
    assert!(sd(20, 0.01).is_err(), "more steps than the 10 timesteps below 0.01·T");

    let cfg = UNetConfig::tiny();
    let (model, _vm) = seeded_unet(&cfg, 31)?;
    let x = inputs(&cfg, 1, 4, 4, 32)?;
    let s = sd(3, 0.3)?;
    let guide = NoiseRng::new(33).randn(x.analog.dims4()?, &DEV)?;
    assert!(s.sample(&model, &x.cond(), 5).is_err(), "no guide");
    let wrong = NoiseRng::new(34).randn((1, x.analog.dims4()?.1, 2, 2), &DEV)?;
    assert!(s.sample_from(&model, &x.cond(), 5, Some(&wrong)).is_err(), "guide of the wrong shape");

    // Written out: x = √ᾱ₀·guide + √(1−ᾱ₀)·ε (ε the seed's first draw), then DDIM η = 0.
    let ts = s.timesteps().to_vec();
    let a0 = schedule.alpha_bar(ts[0]);
    let eps0 = NoiseRng::new(5).randn(guide.dims4()?, &DEV)?;
    let xt = ((&guide * a0.sqrt())? + (&eps0 * (1.0 - a0).sqrt())?)?;
    let xt = ddim_written_out(&model, &x, &schedule, &ts, xt, f64::INFINITY)?;
    let got = s.sample_from(&model, &x.cond(), 5, Some(&guide))?;
    let e = rel_rms(&got, &xt)?;
    assert!(e < 1e-5, "guided sampler deviates from the written-out loop by {e}");
    // A different guide gives a different sample; from pure noise the guide is ignored.
    let other = NoiseRng::new(35).randn(guide.dims4()?, &DEV)?;
    assert!(rel_rms(&got, &s.sample_from(&model, &x.cond(), 5, Some(&other))?)? > 1e-3);
    let full = sd(3, 1.0)?;
    assert!(
        bits(&full.sample(&model, &x.cond(), 5)?)? == bits(&full.sample_from(&model, &x.cond(), 5, Some(&guide))?)?
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------
// 9. The generator.

/// The generator-level config: texture features as many as the prompt gives.
fn gen_config() -> UNetConfig {
    UNetConfig { texture_features: semcom_codec::prompt::TEXTURE_FEATURES, attention: false, ..UNetConfig::tiny() }
}

#[test]
fn diffusion_generator_keeps_key_pixels_and_is_seeded() -> Result<()> {
    let cfg = gen_config();
    assert_eq!(cfg.size_multiple(), 8);
    let (model, _vm) = seeded_unet(&cfg, 29)?;
    let ddim = DdimConfig { steps: 3, ..DdimConfig::default() };
    let seam = 2;
    let compose = ComposeSettings { seam, strength: 1.0, luma_only: false, match_energy: false };
    let gen =
        DiffusionGenerator::new(model.clone(), &ScheduleConfig::default(), &ddim, DEV, compose, "test-diffusion")?;
    assert_eq!(gen.name(), "test-diffusion");

    // 70×54: not a multiple of 8 (padding) nor of the 16-px key blocks.
    let img = sample_crop("chelsea.png", 150, 60, 70, 54);
    let ranges = ConditionRanges { p_analog_lost: 0.0, snr_db: (10.0, 10.0), ..ConditionRanges::default() };
    let rc = received_conditions(&img, &ranges, &mut NoiseRng::new(30)).map_err(semcom_models::candle::Error::wrap)?;
    assert!(rc.analog_valid);
    let input = rc.as_input(31);
    let out = gen.generate(&input).map_err(semcom_models::candle::Error::wrap)?;
    assert_eq!(out.dimensions(), (70, 54));

    let pin = PatchInputs::from_generator_input(&input, &cfg, &DEV)?;
    assert_eq!(pin.analog.dims(), &[1, cfg.patch_channels(), 56 / 4, 72 / 4]);
    // The analog estimate as an image is the codec's own YCbCr → RGB of the planes.
    assert!(pin.analog_rgb == ycbcr_to_rgb(&rc.analog));
    let key = rc.key.pixel_mask(70, 54);
    let n_key = key.iter().filter(|k| **k).count();
    assert!(n_key > 0 && n_key < key.len(), "need both key and non-key pixels ({n_key})");
    for (i, k) in key.iter().enumerate() {
        let (x, y) = ((i % 70) as u32, (i / 70) as u32);
        if *k {
            assert_eq!(out.get_pixel(x, y), pin.analog_rgb.get_pixel(x, y), "key pixel ({x}, {y}) changed");
        }
    }
    // Beyond the seam, non-key pixels are analog + sampled residual / s, recomputed here
    // from the sampler with the input's seed (index maths independent of compose()).
    let sampler = DdimSampler::new(&NoiseSchedule::new(&ScheduleConfig::default())?, &ddim)?;
    let r = depth_to_space(&sampler.sample(&model, &pin.conditioning(), 31)?, cfg.patch)?;
    let (ph, pw) = (56usize, 72usize);
    let rv = values(&r)?;
    let av = values(&pin.analog_pixels)?;
    let near_key = |x: usize, y: usize| {
        (y.saturating_sub(seam as usize)..=(y + seam as usize).min(53))
            .any(|yy| (x.saturating_sub(seam as usize)..=(x + seam as usize).min(69)).any(|xx| key[yy * 70 + xx]))
    };
    let (mut checked, mut differs) = (0, 0);
    for y in 0..54usize {
        for x in 0..70usize {
            if key[y * 70 + x] || near_key(x, y) {
                continue;
            }
            for c in 0..3 {
                let i = c * ph * pw + y * pw + x;
                let v = (av[i] + rv[i] / cfg.residual_scale as f32).clamp(-1.0, 1.0);
                let want = ((v + 1.0) * 127.5).round().clamp(0.0, 255.0) as i32;
                let got = i32::from(out.get_pixel(x as u32, y as u32).0[c]);
                // ±1: the two computations round f32 in different orders at a .5 boundary.
                assert!((got - want).abs() <= 1, "({x}, {y}) c{c}: {got} vs {want}");
                differs += usize::from(got != i32::from(pin.analog_rgb.get_pixel(x as u32, y as u32).0[c]));
            }
            checked += 1;
        }
    }
    assert!(checked > 100, "only {checked} pixels away from key regions");
    assert!(differs > checked / 2, "generated pixels mostly equal the analog estimate ({differs}/{checked})");

    // Seeded: same seed → same image; another seed → another image (non-key pixels).
    assert!(gen.generate(&rc.as_input(31)).map_err(semcom_models::candle::Error::wrap)? == out);
    let other = gen.generate(&rc.as_input(32)).map_err(semcom_models::candle::Error::wrap)?;
    assert!(other != out);
    for (i, k) in key.iter().enumerate() {
        if *k {
            let (x, y) = ((i % 70) as u32, (i / 70) as u32);
            assert_eq!(other.get_pixel(x, y), out.get_pixel(x, y));
        }
    }
    Ok(())
}

const COMPOSE0: ComposeSettings = ComposeSettings { seam: 0, strength: 1.0, luma_only: true, match_energy: false };

/// The energy match against a brute-force reading of its definition: at every patch
/// position the gain is √((ΣE_ref + ε)/(ΣE_res + ε)) over the clipped (2r+1)² window,
/// capped; a residual that is the reference scaled comes back as the reference; where
/// the reference is flat the detail is removed.
#[test]
fn energy_match_follows_its_definition() -> Result<()> {
    let (c, h, w) = (12, 9, 11);
    let mut rng = NoiseRng::new(41);
    let reference = rng.randn((1, c, h, w), &DEV)?;
    let residual = (rng.randn((1, c, h, w), &DEV)? * 0.7)?;
    let energy = |t: &Tensor| -> Result<Vec<f32>> { t.sqr()?.sum_keepdim(1)?.flatten_all()?.to_vec1::<f32>() };
    let (e_ref, e_res) = (energy(&reference)?, energy(&residual)?);
    let res = values(&residual)?;
    for (radius, cap) in [(1usize, 4f32), (2, 4.0), (2, 1.1)] {
        let out = values(&match_local_energy(&residual, &reference, radius, cap)?)?;
        for y in 0..h {
            for x in 0..w {
                let (mut sr, mut sg) = (0f32, 0f32);
                for yy in y.saturating_sub(radius)..=(y + radius).min(h - 1) {
                    for xx in x.saturating_sub(radius)..=(x + radius).min(w - 1) {
                        sr += e_res[yy * w + xx];
                        sg += e_ref[yy * w + xx];
                    }
                }
                let gain = ((sg + 1e-3) / (sr + 1e-3)).sqrt().min(cap);
                for ch in 0..c {
                    let i = ch * h * w + y * w + x;
                    assert!(
                        (out[i] - res[i] * gain).abs() <= 1e-5 * (1.0 + res[i].abs()),
                        "r{radius} ({y}, {x}) c{ch}"
                    );
                }
            }
        }
    }
    // Scaled copies come back as the reference; the cap bounds the lift.
    let back = values(&match_local_energy(&(&reference * 3.0)?, &reference, 2, 4.0)?)?;
    let want = values(&reference)?;
    assert!(back.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-4), "3× reference not scaled back");
    let lifted = values(&match_local_energy(&(&reference * 0.01)?, &reference, 2, 4.0)?)?;
    assert!(lifted.iter().zip(&want).all(|(a, b)| (a - 0.04 * b).abs() < 1e-5), "cap not applied");
    // A flat reference (left columns) removes the detail there.
    let mask = Tensor::from_vec((0..w).map(|x| f32::from(u8::from(x >= 5))).collect::<Vec<_>>(), (1, 1, 1, w), &DEV)?;
    let half = reference.broadcast_mul(&mask)?;
    let out = values(&match_local_energy(&residual, &half, 2, 4.0)?)?;
    for (i, v) in out.iter().enumerate() {
        if i % w < 3 {
            assert!(v.abs() < 0.01 * (1.0 + res[i].abs()), "detail kept on a flat reference at column {}", i % w);
        }
    }
    Ok(())
}

#[test]
fn diffusion_generator_without_analog_uses_colour_layout_and_checks_input() -> Result<()> {
    let cfg = gen_config();
    let (model, _vm) = seeded_unet(&cfg, 33)?;
    let gen = DiffusionGenerator::new(
        model,
        &ScheduleConfig::default(),
        &DdimConfig { steps: 2, ..DdimConfig::default() },
        DEV,
        COMPOSE0,
        "g",
    )?;
    let img = sample_crop("coffee.png", 200, 100, 64, 64);
    let rc = received_conditions(&img, &ConditionRanges::default(), &mut NoiseRng::new(34))
        .map_err(semcom_models::candle::Error::wrap)?;

    // Analog stream lost: "key" pixels come from the prompt's colour layout.
    let lost = GeneratorInput { analog_valid: false, ..rc.as_input(1) };
    let out = gen.generate(&lost).map_err(semcom_models::candle::Error::wrap)?;
    let layout = ycbcr_to_rgb(&render_colour_layout(&rc.prompt).map_err(semcom_models::candle::Error::wrap)?);
    assert_eq!(out.dimensions(), (64, 64));
    for (i, k) in rc.key.pixel_mask(64, 64).iter().enumerate() {
        if *k {
            let (x, y) = ((i % 64) as u32, (i / 64) as u32);
            assert_eq!(out.get_pixel(x, y), layout.get_pixel(x, y));
        }
    }

    // A key mask for another grid, a prompt for another size, short analog planes.
    let wrong = BlockMask::new(
        rc.key.width_blocks() + 1,
        rc.key.height_blocks(),
        rc.key.block(),
        vec![false; ((rc.key.width_blocks() + 1) * rc.key.height_blocks()) as usize],
    )
    .map_err(semcom_models::candle::Error::wrap)?;
    let bad = GeneratorInput { key: &wrong, ..rc.as_input(1) };
    assert!(matches!(gen.generate(&bad), Err(GenerateError::Input(_))), "wrong mask grid accepted");
    let mut prompt = rc.prompt.clone();
    prompt.width += 8;
    let bad = GeneratorInput { prompt: &prompt, ..rc.as_input(1) };
    assert!(matches!(gen.generate(&bad), Err(GenerateError::Input(_))), "prompt of another size accepted");
    let mut planes = rc.analog.clone();
    planes.y.pop();
    let bad = GeneratorInput { analog: &planes, ..rc.as_input(1) };
    assert!(matches!(gen.generate(&bad), Err(GenerateError::Input(_))), "short analog planes accepted");

    // A model that wants more texture features than the prompt gives is refused; one
    // trained on an earlier prompt (fewer features: 14 before the detail map) takes the
    // first ones, so the map cannot change its output.
    let tf = semcom_codec::prompt::TEXTURE_FEATURES;
    let (m3, _) = seeded_unet(&UNetConfig { texture_features: tf + 1, attention: false, ..UNetConfig::tiny() }, 35)?;
    let g3 = DiffusionGenerator::new(m3, &ScheduleConfig::default(), &DdimConfig::default(), DEV, COMPOSE0, "g3")?;
    assert!(matches!(g3.generate(&rc.as_input(1)), Err(GenerateError::Input(_))));
    let (m4, _) = seeded_unet(&UNetConfig { texture_features: tf - 2, attention: false, ..UNetConfig::tiny() }, 36)?;
    let g4 = DiffusionGenerator::new(m4, &ScheduleConfig::default(), &DdimConfig::default(), DEV, COMPOSE0, "g4")?;
    let with_map = g4.generate(&rc.as_input(1)).map_err(semcom_models::candle::Error::wrap)?;
    assert!(rc.prompt.segments.iter().any(|s| s.texture.as_ref().is_some_and(|t| !t.block_detail.is_empty())));
    let mut no_map = rc.clone();
    no_map.prompt.segments.iter_mut().for_each(|s| s.texture.iter_mut().for_each(|t| t.block_detail.clear()));
    assert_eq!(with_map, g4.generate(&no_map.as_input(1)).map_err(semcom_models::candle::Error::wrap)?);
    Ok(())
}

// ---------------------------------------------------------------------------------------
// 12. The embedded model.

#[test]
fn embedded_int8_generator_loads_and_runs() -> Result<()> {
    let gen = build_generator(&DiffusionSettings::default(), &DEV)?;
    assert_eq!(gen.name(), "diffusion-int8");
    let tf = gen.config().texture_features;
    assert!(tf > 0 && tf <= semcom_codec::prompt::TEXTURE_FEATURES, "{tf} texture features");
    let file = ModelFile::from_bytes(semcom_models::embedded::DEFAULT_INT8, &DEV)?;
    assert_eq!(file.format, WeightFormat::Int8);
    assert!(!file.q8.is_empty());
    for steps in [0, 11] {
        let s = DiffusionSettings { steps, ..DiffusionSettings::default() };
        assert!(build_generator(&s, &DEV).is_err(), "{steps} steps accepted");
    }
    // A small image (8×8 patch positions, 2 steps) runs in milliseconds.
    let g2 = build_generator(&DiffusionSettings { steps: 2, ..DiffusionSettings::default() }, &DEV)?;
    let img = sample_crop("astronaut.png", 200, 100, 64, 64);
    let rc = received_conditions(&img, &ConditionRanges::default(), &mut NoiseRng::new(36))
        .map_err(semcom_models::candle::Error::wrap)?;
    let out = g2.generate(&rc.as_input(7)).map_err(semcom_models::candle::Error::wrap)?;
    assert_eq!(out.dimensions(), (64, 64));
    let pin = PatchInputs::from_generator_input(&rc.as_input(7), g2.config(), &DEV)?;
    for (i, k) in rc.key.pixel_mask(64, 64).iter().enumerate() {
        if *k {
            let (x, y) = ((i % 64) as u32, (i / 64) as u32);
            assert_eq!(out.get_pixel(x, y), pin.analog_rgb.get_pixel(x, y));
        }
    }
    assert!(g2.generate(&rc.as_input(7)).map_err(semcom_models::candle::Error::wrap)? == out);
    Ok(())
}
