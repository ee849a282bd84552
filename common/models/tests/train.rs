//! Tests of the training code (issue 6 "Tests"): the AdamW optimiser, the learning-rate
//! schedule, the seeded data helpers and `train_diffusion`'s checkpoint/resume.
#![allow(clippy::unwrap_used)] // a test or example that fails should stop loudly

mod support;

use std::collections::HashMap;
use std::path::Path;

use semcom_models::candle::{Error, Result, Tensor, Var};
use semcom_models::train::adam::AdamW;
use semcom_models::train::data::{random_crop, received_conditions, ConditionRanges, Corpus};
use semcom_models::train::{draw_timesteps, learning_rate, step_seed, train_diffusion, DiffusionTrainOptions};
use semcom_models::{ModelFile, NoiseRng, NoiseSchedule, ScheduleConfig, UNetConfig};
use support::*;

fn io<T, E: std::error::Error + Send + Sync + 'static>(r: std::result::Result<T, E>) -> Result<T> {
    r.map_err(Error::wrap)
}

// ---------------------------------------------------------------------------------------
// 11. AdamW and the learning rate.

#[test]
fn adamw_minimises_a_quadratic() -> Result<()> {
    // L(x) = Σ c_i (x_i − t_i)²: a badly conditioned bowl (curvatures 0.1 … 10).
    let target = Tensor::new(&[1.5f32, -2.0, 0.25, 3.0], &DEV)?;
    let curv = Tensor::new(&[0.1f32, 1.0, 4.0, 10.0], &DEV)?;
    let x = Var::from_tensor(&Tensor::zeros(4, semcom_models::candle::DType::F32, &DEV)?)?;
    let mut opt = AdamW::new(vec![("x".into(), x.clone())], 0.0)?;
    let loss = |x: &Var| -> Result<Tensor> { (x.as_tensor() - &target)?.sqr()?.mul(&curv)?.sum_all() };
    let l0 = loss(&x)?.to_scalar::<f32>()?;
    for step in 0..600 {
        let l = loss(&x)?;
        opt.step(&l.backward()?, learning_rate(0.1, 10, 600, step), 100.0)?;
    }
    let l1 = loss(&x)?.to_scalar::<f32>()?;
    let xv = values(x.as_tensor())?;
    let tv = values(&target)?;
    // Adam's steps shrink with the cosine-decayed rate (10 % of 0.1 at the end): 1e-2
    // is a few final step sizes, and ~1e-4 of the starting loss (93.5).
    for (a, b) in xv.iter().zip(&tv) {
        assert!((a - b).abs() < 1e-2, "x = {xv:?}, target {tv:?}");
    }
    assert!(l1 < 1e-4 * l0, "loss {l0} → {l1}");
    Ok(())
}

#[test]
fn adamw_first_step_is_sign_descent_with_decoupled_decay() -> Result<()> {
    // Step 1: m̂ = g, v̂ = g², so the update is g/(|g| + 1e-8) ≈ sign(g) after clipping
    // g to global norm `clip`; decoupled decay multiplies the weight by (1 − lr·wd) first.
    let x0 = [2.0f32, -1.0, 0.5];
    let x = Var::from_tensor(&Tensor::new(&x0, &DEV)?)?;
    let idle = Var::from_tensor(&Tensor::new(&[0.7f32, -0.3], &DEV)?)?;
    let (lr, wd, clip) = (0.01f64, 0.1f64, 1.0f64);
    let mut opt = AdamW::new(vec![("x".into(), x.clone()), ("idle".into(), idle.clone())], wd)?;
    // L = Σ w_i x_i: gradient w, norm ≈ 50 > clip.
    let w = [3f64, -0.002, 50.0];
    let l = x.as_tensor().mul(&Tensor::new(&[3f32, -0.002, 50.0], &DEV)?)?.sum_all()?;
    opt.step(&l.backward()?, lr, clip)?;
    let norm = w.iter().map(|v| v * v).sum::<f64>().sqrt();
    let got = values(x.as_tensor())?;
    for i in 0..3 {
        let g = w[i] * clip / norm;
        let want = f64::from(x0[i]) * (1.0 - lr * wd) - lr * g / (g.abs() + 1e-8);
        // f32 arithmetic on values ≤ 2: a few ulps (≈ 2.4e-7 each), so 1e-6.
        assert!((f64::from(got[i]) - want).abs() < 1e-6, "x[{i}] = {}, expected {want}", got[i]);
    }
    // A variable without a gradient is left alone: no update and no decay.
    assert_eq!(values(idle.as_tensor())?, vec![0.7f32, -0.3]);
    // The moments are exported for checkpoints and restore exactly.
    let state: HashMap<String, Tensor> = opt.state_tensors().into_iter().collect();
    assert!(state.contains_key("adam.m.x") && state.contains_key("adam.v.x"));
    let fresh = |v: &[f32]| -> Result<Var> { Var::from_tensor(&Tensor::new(v, &DEV)?) };
    let mut again = AdamW::new(vec![("x".into(), fresh(&x0)?), ("idle".into(), fresh(&[0.0, 0.0])?)], wd)?;
    again.restore(&state, 1)?;
    let back: HashMap<String, Tensor> = again.state_tensors().into_iter().collect();
    assert_same_tensors(&back, &state, "restored AdamW state")?;
    assert!(again.restore(&HashMap::new(), 1).is_err());
    Ok(())
}

#[test]
fn learning_rate_warms_up_then_decays_to_a_tenth() {
    let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
    // Linear warm-up over 10 steps.
    assert!(close(learning_rate(1.0, 10, 110, 0), 0.1));
    assert!(close(learning_rate(1.0, 10, 110, 4), 0.5));
    assert!(close(learning_rate(1.0, 10, 110, 9), 1.0));
    // Cosine from the peak to 10 % of it.
    assert!(close(learning_rate(1.0, 10, 110, 10), 1.0));
    assert!(close(learning_rate(2.0, 10, 110, 60), 2.0 * (0.1 + 0.9 * 0.5)));
    assert!(close(learning_rate(1.0, 10, 110, 35), 0.1 + 0.45 * (1.0 + (std::f64::consts::PI * 0.25).cos())));
    assert!(close(learning_rate(1.0, 10, 110, 110), 0.1));
    assert!(close(learning_rate(1.0, 10, 110, 500), 0.1));
    // No warm-up: starts at the peak.
    assert!(close(learning_rate(3e-4, 0, 100, 0), 3e-4));
    // Monotone decay after warm-up.
    let lrs: Vec<f64> = (10..=110).map(|s| learning_rate(1.0, 10, 110, s)).collect();
    assert!(lrs.windows(2).all(|w| w[1] <= w[0]));
}

#[test]
fn data_helpers_are_seeded() -> Result<()> {
    // step_seed: a pure function of (seed, step), different across steps and seeds.
    let seeds: Vec<u64> = (0..50).map(|k| step_seed(1, k)).collect();
    assert_eq!(seeds, (0..50).map(|k| step_seed(1, k)).collect::<Vec<_>>());
    let mut uniq = seeds.clone();
    uniq.sort_unstable();
    uniq.dedup();
    assert_eq!(uniq.len(), 50);
    assert_ne!(step_seed(1, 3), step_seed(2, 3));

    let schedule = NoiseSchedule::new(&ScheduleConfig::default())?;
    let a = draw_timesteps(200, &schedule, &mut NoiseRng::new(3));
    assert_eq!(a, draw_timesteps(200, &schedule, &mut NoiseRng::new(3)));
    assert_ne!(a, draw_timesteps(200, &schedule, &mut NoiseRng::new(4)));
    assert!(a.iter().all(|&t| t < schedule.num_train_timesteps()));
    // Uniform over 0..1000: 200 draws span most of the range.
    assert!(*a.iter().min().unwrap() < 100 && *a.iter().max().unwrap() > 900, "{a:?}");

    let corpus = Corpus::from_images(
        vec![sample_image("chelsea.png"), sample_crop("coffee.png", 0, 0, 100, 80)],
        vec!["c".into(), "k".into()],
    );
    let c1 = random_crop(&corpus, 32, &mut NoiseRng::new(5));
    assert_eq!(c1.dimensions(), (32, 32));
    assert!(c1 == random_crop(&corpus, 32, &mut NoiseRng::new(5)));
    // Crops larger than an image are clamped to it.
    let small = Corpus::from_images(vec![sample_crop("coffee.png", 0, 0, 20, 24)], vec!["s".into()]);
    assert_eq!(random_crop(&small, 32, &mut NoiseRng::new(6)).dimensions(), (20, 24));

    let img = sample_crop("chelsea.png", 100, 50, 64, 64);
    let r1 = io(received_conditions(&img, &ConditionRanges::default(), &mut NoiseRng::new(7)))?;
    let r2 = io(received_conditions(&img, &ConditionRanges::default(), &mut NoiseRng::new(7)))?;
    assert!(r1.analog == r2.analog && r1.key == r2.key && r1.prompt == r2.prompt && r1.analog_valid == r2.analog_valid);
    assert_eq!((r1.analog.width, r1.analog.height), (64, 64));
    assert_eq!((r1.key.width_blocks(), r1.key.height_blocks()), (4, 4));
    Ok(())
}

// ---------------------------------------------------------------------------------------
// 10. train_diffusion: a few steps, checkpoint and resume.

fn write_corpus(dir: &Path) -> Result<()> {
    io(std::fs::create_dir_all(dir))?;
    io(sample_crop("chelsea.png", 120, 40, 64, 48).save(dir.join("chelsea.png")))?;
    io(sample_crop("coffee.png", 250, 150, 48, 56).save(dir.join("coffee.png")))?;
    // Not an image: ignored by extension.
    io(std::fs::write(dir.join("notes.txt"), "not an image"))?;
    Ok(())
}

fn options(corpus: &Path, out: &Path, steps: usize) -> DiffusionTrainOptions {
    DiffusionTrainOptions {
        corpus: corpus.to_path_buf(),
        out: out.to_path_buf(),
        steps,
        batch: 2,
        crop: 32,
        max_side: 768,
        lr: 1e-3,
        // Warm-up longer than the run: the rate of step k is then lr·(k+1)/10 whatever
        // `steps` is, so a run to 3 steps continued to 5 follows the same rates as a
        // 5-step run.
        warmup: 10,
        weight_decay: 1e-4,
        seed: 11,
        checkpoint_every: 1,
        unet: UNetConfig { texture_features: semcom_codec::prompt::TEXTURE_FEATURES, ..UNetConfig::tiny() },
        schedule: ScheduleConfig::default(),
        resume: true,
    }
}

/// `(step, loss)` rows of a loss.csv (elapsed time differs between runs).
fn loss_rows(path: &Path) -> Result<Vec<(usize, String)>> {
    let text = io(std::fs::read_to_string(path))?;
    let mut lines = text.lines().filter(|l| !l.is_empty());
    assert_eq!(lines.next(), Some("step,loss,lr,elapsed_s"));
    Ok(lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            assert_eq!(f.len(), 4, "{l}");
            (f[0].parse().expect("step"), f[1].to_string())
        })
        .collect())
}

/// All tensors of a safetensors file (checkpoint: weights + AdamW moments).
fn file_tensors(path: &Path) -> Result<HashMap<String, Tensor>> {
    semcom_models::candle::safetensors::load(path, &DEV)
}

#[test]
fn train_diffusion_resumes_exactly() -> Result<()> {
    let tmp = io(tempfile::tempdir())?;
    let corpus = tmp.path().join("corpus");
    write_corpus(&corpus)?;
    let (full, part) = (tmp.path().join("full"), tmp.path().join("part"));

    // The uninterrupted 5-step run. candle initialises weights from its unseeded thread
    // RNG, so the interrupted run must start from this run's state: when step 2 is
    // reported, the checkpoint on disk is the one written after step 1 (checkpoints are
    // written after on_step); copy it and loss.csv (which already has the row of step 2,
    // to be dropped on resume).
    let mut reported = Vec::new();
    let summary = train_diffusion(&options(&corpus, &full, 5), &DEV, |step, loss| {
        reported.push((step, loss));
        if step == 2 {
            std::fs::create_dir_all(&part).unwrap();
            for f in ["checkpoint.safetensors", "loss.csv"] {
                std::fs::copy(full.join(f), part.join(f)).unwrap();
            }
        }
    })?;
    assert_eq!(reported.iter().map(|r| r.0).collect::<Vec<_>>(), vec![1, 2, 3, 4, 5]);
    assert!(reported.iter().all(|r| r.1.is_finite() && r.1 > 0.0), "{reported:?}");
    assert_eq!(summary.steps, 5);
    assert_eq!(summary.final_loss, reported[4].1);
    assert!(summary.residual_scale > 0.0 && summary.params > 10_000);
    assert_eq!(summary.files.len(), 3);
    assert_eq!(loss_rows(&full.join("loss.csv"))?.iter().map(|r| r.0).collect::<Vec<_>>(), vec![0, 1, 2, 3, 4]);
    let copied = loss_rows(&part.join("loss.csv"))?;
    assert_eq!(copied.len(), 2);
    let after_step1 = file_tensors(&part.join("checkpoint.safetensors"))?;

    // Interrupted: resume from step 1 and stop at 3, then continue to 5.
    let mut steps_b = Vec::new();
    train_diffusion(&options(&corpus, &part, 3), &DEV, |s, _| steps_b.push(s))?;
    assert_eq!(steps_b, vec![2, 3]);
    let mut steps_c = Vec::new();
    train_diffusion(&options(&corpus, &part, 5), &DEV, |s, _| steps_c.push(s))?;
    assert_eq!(steps_c, vec![4, 5]);

    // Same final weights, moments and losses, bit for bit.
    let fa = ModelFile::from_path(full.join("diffusion-f32.safetensors"), &DEV)?;
    let fb = ModelFile::from_path(part.join("diffusion-f32.safetensors"), &DEV)?;
    assert_eq!(fa.unet, fb.unet);
    assert_eq!(fa.unet.residual_scale, summary.residual_scale);
    assert_same_tensors(&fb.tensors, &fa.tensors, "final weights after resume")?;
    assert_same_tensors(
        &file_tensors(&part.join("checkpoint.safetensors"))?,
        &file_tensors(&full.join("checkpoint.safetensors"))?,
        "final checkpoint (weights + AdamW moments)",
    )?;
    let (la, lb) = (loss_rows(&full.join("loss.csv"))?, loss_rows(&part.join("loss.csv"))?);
    assert_eq!(lb.len(), 5, "loss.csv after resume: {lb:?}");
    assert_eq!(lb, la);

    // Training changed the model: the state after step 1 differs from the final one.
    assert!(after_step1.contains_key("adam.m.conv_in.weight"));
    let mut changed = 0;
    for (k, t) in &fa.tensors {
        if let Some(c) = after_step1.get(k) {
            changed += usize::from(bits(c)? != bits(t)?);
        }
    }
    assert!(changed > fa.tensors.len() / 2, "only {changed} of {} tensors changed", fa.tensors.len());

    // The three formats are written and load.
    for f in &summary.files {
        let m = ModelFile::from_path(f, &DEV)?;
        assert!(m.extra.contains_key("semcom.training"));
        m.build(&DEV, None)?;
    }
    Ok(())
}

#[test]
fn train_diffusion_rejects_bad_options() -> Result<()> {
    let tmp = io(tempfile::tempdir())?;
    let corpus = tmp.path().join("corpus");
    write_corpus(&corpus)?;
    let out = tmp.path().join("out");
    for o in [
        DiffusionTrainOptions { crop: 36, ..options(&corpus, &out, 1) },
        DiffusionTrainOptions { batch: 0, ..options(&corpus, &out, 1) },
        DiffusionTrainOptions { steps: 0, ..options(&corpus, &out, 1) },
        DiffusionTrainOptions { corpus: tmp.path().join("nowhere"), ..options(&corpus, &out, 1) },
        // Every corpus image is smaller than the crop.
        DiffusionTrainOptions { crop: 64, ..options(&corpus, &out, 1) },
    ] {
        assert!(
            train_diffusion(&o, &DEV, |_, _| {}).is_err(),
            "accepted: crop {} batch {} steps {}",
            o.crop,
            o.batch,
            o.steps
        );
    }
    Ok(())
}

/// Two fresh runs with the same options train the same model: the data, the timesteps,
/// the noise and (through `weights::reseed`) the initial weights are all seeded.
#[test]
fn fresh_training_runs_with_the_same_seed_are_identical() -> Result<()> {
    let tmp = io(tempfile::tempdir())?;
    let corpus = tmp.path().join("corpus");
    write_corpus(&corpus)?;
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    train_diffusion(&options(&corpus, &a, 1), &DEV, |_, _| {})?;
    train_diffusion(&options(&corpus, &b, 1), &DEV, |_, _| {})?;
    let fa = ModelFile::from_path(a.join("diffusion-f32.safetensors"), &DEV)?;
    let fb = ModelFile::from_path(b.join("diffusion-f32.safetensors"), &DEV)?;
    assert_same_tensors(&fb.tensors, &fa.tensors, "two fresh runs")
}
