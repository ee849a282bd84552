//! Training: the diffusion model on a corpus (`semcom train diffusion`) and LoRA adapters
//! on a held domain (`semcom train lora`).
//!
//! Both loops are seeded and resumable: the data of step `k` is drawn from a generator
//! seeded by `(seed, k)`, and a checkpoint holds the weights, the AdamW moments and the
//! step, so a resumed run continues exactly where the interrupted one was.

pub mod adam;
pub mod data;
pub mod lora;

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Result, Tensor};
use candle_nn::VarMap;
use image::RgbImage;
use serde::{Deserialize, Serialize};

use crate::conditions::PatchInputs;
use crate::rng::NoiseRng;
use crate::schedule::{NoiseSchedule, ScheduleConfig};
use crate::unet::{Conditioning, Config, UNet};
use crate::weights::{
    msg, new_unet_trainable, safetensors_metadata, save_model, sorted_vars, varmap_tensors, WeightFormat,
};
use adam::AdamW;
use data::{random_crop, received_conditions, ConditionRanges, Corpus};

/// Settings of `semcom train diffusion`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DiffusionTrainOptions {
    pub corpus: PathBuf,
    pub out: PathBuf,
    pub steps: usize,
    pub batch: usize,
    /// Side of the square training crops (a multiple of the model's size multiple).
    pub crop: u32,
    /// Longest side corpus images are downscaled to before cropping.
    pub max_side: u32,
    pub lr: f64,
    pub warmup: usize,
    pub weight_decay: f64,
    pub seed: u64,
    pub checkpoint_every: usize,
    pub unet: Config,
    pub schedule: ScheduleConfig,
    /// Continue from `out/checkpoint.safetensors` when it exists.
    pub resume: bool,
}

impl Default for DiffusionTrainOptions {
    fn default() -> Self {
        Self {
            corpus: PathBuf::from("corpus/train"),
            out: PathBuf::from("train-out"),
            steps: 6000,
            batch: 8,
            crop: 128,
            max_side: 768,
            lr: 1e-3,
            warmup: 200,
            weight_decay: 1e-4,
            seed: 1,
            checkpoint_every: 250,
            unet: Config::default(),
            schedule: ScheduleConfig::default(),
            resume: true,
        }
    }
}

/// One batch: conditioning and target residual, at patch resolution.
pub struct Batch {
    pub target: Tensor,
    pub analog: Tensor,
    pub mask: Tensor,
    pub texture: Option<Tensor>,
}

impl Batch {
    pub fn conditioning(&self) -> Conditioning<'_> {
        Conditioning { analog: &self.analog, mask: &self.mask, texture: self.texture.as_ref() }
    }
}

/// Builds one training example's tensors from an image and the receiver's view of it.
pub fn example(
    img: &RgbImage,
    ranges: &ConditionRanges,
    cfg: &Config,
    rng: &mut NoiseRng,
    dev: &Device,
) -> Result<(Tensor, PatchInputs)> {
    let rc = received_conditions(img, ranges, rng).map_err(msg)?;
    let inputs = PatchInputs::from_generator_input(&rc.as_input(0), cfg, dev)?;
    let target = inputs.residual_target(img, cfg)?;
    Ok((target, inputs))
}

/// A batch of `n` random crops.
pub fn draw_batch(
    corpus: &Corpus,
    n: usize,
    crop: u32,
    ranges: &ConditionRanges,
    cfg: &Config,
    rng: &mut NoiseRng,
    dev: &Device,
) -> Result<Batch> {
    let (mut t, mut a, mut m, mut x) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..n {
        let img = random_crop(corpus, crop, rng);
        let (target, inputs) = example(&img, ranges, cfg, rng, dev)?;
        t.push(target);
        a.push(inputs.analog);
        m.push(inputs.mask);
        if let Some(tx) = inputs.texture {
            x.push(tx);
        }
    }
    Ok(Batch {
        target: Tensor::cat(&t, 0)?,
        analog: Tensor::cat(&a, 0)?,
        mask: Tensor::cat(&m, 0)?,
        texture: if x.is_empty() { None } else { Some(Tensor::cat(&x, 0)?) },
    })
}

/// The denoising loss: v-prediction mean squared error over the non-key patches, for
/// timesteps `t` and noise drawn from `rng`.
pub fn denoising_loss(
    model: &UNet,
    schedule: &NoiseSchedule,
    batch: &Batch,
    t: &[usize],
    rng: &mut NoiseRng,
) -> Result<Tensor> {
    let dev = batch.target.device();
    let shape = batch.target.dims4()?;
    let b = shape.0;
    let noise = rng.randn(shape, dev)?;
    let sa: Vec<f32> = t.iter().map(|&t| schedule.alpha_bar(t).sqrt() as f32).collect();
    let sn: Vec<f32> = t.iter().map(|&t| (1.0 - schedule.alpha_bar(t)).sqrt() as f32).collect();
    let sa = Tensor::from_vec(sa, (b, 1, 1, 1), dev)?;
    let sn = Tensor::from_vec(sn, (b, 1, 1, 1), dev)?;
    let r_t = (batch.target.broadcast_mul(&sa)? + noise.broadcast_mul(&sn)?)?;
    // v = √ᾱ ε − √(1−ᾱ) x₀
    let v = (noise.broadcast_mul(&sa)? - batch.target.broadcast_mul(&sn)?)?;
    let tt = Tensor::from_vec(t.iter().map(|&t| t as f32).collect::<Vec<_>>(), b, dev)?;
    let pred = model.forward(&r_t, &tt, &batch.conditioning())?;
    // Weight 1 on generated patches, 0 on key patches: (B, 1, h, w).
    let wgt = (1.0 - &batch.mask)?;
    let se = (pred - v)?.sqr()?.broadcast_mul(&wgt)?;
    let denom = (wgt.sum_all()? * shape.1 as f64)?.maximum(1.0)?;
    se.sum_all()?.div(&denom)
}

/// Uniform random training timesteps.
pub fn draw_timesteps(n: usize, schedule: &NoiseSchedule, rng: &mut NoiseRng) -> Vec<usize> {
    let tmax = schedule.num_train_timesteps();
    (0..n).map(|_| ((rng.next_open01() * tmax as f64) as usize).min(tmax - 1)).collect()
}

/// Seed of step `k`'s data (so that a resumed run draws what the original would have).
pub fn step_seed(seed: u64, k: usize) -> u64 {
    let mut r = NoiseRng::new(seed ^ (k as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    r.next_u64()
}

/// Warm-up then cosine decay to 10 % of the peak.
pub fn learning_rate(peak: f64, warmup: usize, total: usize, step: usize) -> f64 {
    if step < warmup {
        return peak * (step + 1) as f64 / warmup as f64;
    }
    let p = (step - warmup) as f64 / (total.saturating_sub(warmup)).max(1) as f64;
    peak * (0.1 + 0.9 * 0.5 * (1.0 + (std::f64::consts::PI * p.min(1.0)).cos()))
}

/// `1 / std` of the non-key residual over a few examples, rounded to 2 decimals.
pub fn estimate_residual_scale(
    corpus: &Corpus,
    crop: u32,
    ranges: &ConditionRanges,
    cfg: &Config,
    seed: u64,
    dev: &Device,
) -> Result<f64> {
    let mut unit = cfg.clone();
    unit.residual_scale = 1.0;
    let mut rng = NoiseRng::new(seed ^ 0x5CA1E);
    let batch = draw_batch(corpus, 32, crop, ranges, &unit, &mut rng, dev)?;
    let wgt = (1.0 - &batch.mask)?;
    let n = (wgt.sum_all()?.to_scalar::<f32>()? as f64 * unit.patch_channels() as f64).max(1.0);
    let ss = batch.target.sqr()?.broadcast_mul(&wgt)?.sum_all()?.to_scalar::<f32>()? as f64;
    let std = (ss / n).sqrt().max(1e-3);
    Ok((100.0 / std).round() / 100.0)
}

/// What a finished run reports.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainSummary {
    pub steps: usize,
    pub final_loss: f64,
    pub params: usize,
    pub residual_scale: f64,
    pub files: Vec<PathBuf>,
}

/// A line of `loss.csv`.
fn append_loss(path: &Path, step: usize, loss: f64, lr: f64, secs: f64) -> Result<()> {
    let new = !path.exists();
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(msg)?;
    if new {
        writeln!(f, "step,loss,lr,elapsed_s").map_err(msg)?;
    }
    writeln!(f, "{step},{loss:.6},{lr:.3e},{secs:.1}").map_err(msg)
}

/// Keeps the header and the rows of steps `< step` (a resumed run rewrites the rest).
fn truncate_loss(path: &Path, step: usize) -> Result<()> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(());
    };
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| {
            l.starts_with("step") || l.split(',').next().and_then(|s| s.parse::<usize>().ok()).is_some_and(|s| s < step)
        })
        .collect();
    std::fs::write(path, kept.join("\n") + "\n").map_err(msg)
}

/// A checkpoint: model tensors, AdamW moments (`adam.m.*`, `adam.v.*`), step.
fn save_checkpoint(
    path: &Path,
    vm: &VarMap,
    opt: &AdamW,
    step: usize,
    unet: &Config,
    schedule: &ScheduleConfig,
    time_s: f64,
) -> Result<()> {
    let mut tensors: Vec<(String, Tensor)> = varmap_tensors(vm).into_iter().collect();
    tensors.extend(opt.state_tensors());
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    let mut meta = HashMap::new();
    meta.insert("semcom.step".into(), step.to_string());
    meta.insert("semcom.elapsed_s".into(), format!("{time_s:.1}"));
    meta.insert("semcom.unet".into(), serde_json::to_string(unet).map_err(msg)?);
    meta.insert("semcom.schedule".into(), serde_json::to_string(schedule).map_err(msg)?);
    crate::weights::save_tensors_atomic(path, &tensors, meta)
}

struct Checkpoint {
    step: usize,
    elapsed_s: f64,
    unet: Config,
    schedule: ScheduleConfig,
    tensors: HashMap<String, Tensor>,
}

fn load_checkpoint(path: &Path, dev: &Device) -> Result<Checkpoint> {
    let data = std::fs::read(path).map_err(|e| msg(format!("{}: {e}", path.display())))?;
    let meta = safetensors_metadata(&data)?;
    let step = meta.get("semcom.step").and_then(|s| s.parse().ok()).ok_or_else(|| msg("checkpoint: no step"))?;
    let elapsed_s = meta.get("semcom.elapsed_s").and_then(|s| s.parse().ok()).unwrap_or(0.0);
    let unet: Config =
        serde_json::from_str(meta.get("semcom.unet").ok_or_else(|| msg("checkpoint: no config"))?).map_err(msg)?;
    let schedule: ScheduleConfig = match meta.get("semcom.schedule") {
        Some(s) => serde_json::from_str(s).map_err(msg)?,
        None => ScheduleConfig::default(),
    };
    let tensors = candle_core::safetensors::load_buffer(&data, dev)?;
    Ok(Checkpoint { step, elapsed_s, unet, schedule, tensors })
}

/// Writes the model of a training checkpoint (`checkpoint.safetensors`, without the
/// optimiser state) as a model file in `format`, so a run can be evaluated while it
/// goes on.
pub fn export_checkpoint(ckpt: &Path, out: &Path, format: WeightFormat, dev: &Device) -> Result<usize> {
    let c = load_checkpoint(ckpt, dev)?;
    let tensors: HashMap<String, Tensor> =
        c.tensors.into_iter().filter(|(k, _)| !k.starts_with(adam::STATE_PREFIX)).collect();
    let mut extra = HashMap::new();
    extra.insert("semcom.training".to_string(), serde_json::json!({ "checkpoint_step": c.step }).to_string());
    save_model(out, &c.unet, &c.schedule, &tensors, format, &extra)?;
    Ok(c.step)
}

/// Copies checkpoint tensors into the matching variables.
fn restore_vars(vm: &VarMap, tensors: &HashMap<String, Tensor>) -> Result<()> {
    let data = vm.data().lock().map_err(|_| msg("varmap lock poisoned"))?;
    for (name, var) in data.iter() {
        let t = tensors.get(name).ok_or_else(|| msg(format!("checkpoint lacks {name}")))?;
        var.set(&t.to_dtype(DType::F32)?)?;
    }
    Ok(())
}

/// Trains the diffusion model; writes `checkpoint.safetensors`, `loss.csv` and, at the end,
/// `diffusion-{f32,f16,int8}.safetensors` into `opts.out`.
///
/// `on_step(step, loss)` is called after every step (progress display).
pub fn train_diffusion(
    opts: &DiffusionTrainOptions,
    dev: &Device,
    mut on_step: impl FnMut(usize, f64),
) -> Result<TrainSummary> {
    let m = opts.unet.size_multiple() as u32;
    if opts.crop == 0 || !opts.crop.is_multiple_of(m) || opts.batch == 0 || opts.steps == 0 {
        candle_core::bail!("train: crop must be a positive multiple of {m}, batch and steps positive");
    }
    std::fs::create_dir_all(&opts.out).map_err(|e| msg(format!("{}: {e}", opts.out.display())))?;
    let corpus = Corpus::load(&opts.corpus, opts.max_side, opts.crop).map_err(msg)?;
    let ranges = ConditionRanges::default();
    let schedule = NoiseSchedule::new(&opts.schedule)?;
    let ckpt_path = opts.out.join("checkpoint.safetensors");
    let loss_path = opts.out.join("loss.csv");

    let ckpt = if opts.resume && ckpt_path.exists() { Some(load_checkpoint(&ckpt_path, dev)?) } else { None };
    let mut cfg = opts.unet.clone();
    match &ckpt {
        Some(c) => cfg = c.unet.clone(),
        None => cfg.residual_scale = estimate_residual_scale(&corpus, opts.crop, &ranges, &cfg, opts.seed, dev)?,
    }
    let (model, vm) = new_unet_trainable(&cfg, dev)?;
    crate::weights::reseed(&vm, opts.seed)?;
    let vars = sorted_vars(&vm)?;
    let params: usize = vars.iter().map(|(_, v)| v.elem_count()).sum();
    let mut opt = AdamW::new(vars, opts.weight_decay)?;
    let (start, mut elapsed) = match &ckpt {
        Some(c) => {
            restore_vars(&vm, &c.tensors)?;
            opt.restore(&c.tensors, c.step)?;
            truncate_loss(&loss_path, c.step)?;
            (c.step, c.elapsed_s)
        }
        None => {
            let _ = std::fs::remove_file(&loss_path);
            (0, 0.0)
        }
    };

    let mut last = f64::NAN;
    let t0 = std::time::Instant::now();
    for step in start..opts.steps {
        let mut rng = NoiseRng::new(step_seed(opts.seed, step));
        let batch = draw_batch(&corpus, opts.batch, opts.crop, &ranges, &cfg, &mut rng, dev)?;
        let t = draw_timesteps(opts.batch, &schedule, &mut rng);
        let loss = denoising_loss(&model, &schedule, &batch, &t, &mut rng)?;
        let lr = learning_rate(opts.lr, opts.warmup, opts.steps, step);
        opt.step(&loss.backward()?, lr, 1.0)?;
        last = f64::from(loss.to_scalar::<f32>()?);
        if !last.is_finite() {
            candle_core::bail!("train: loss diverged at step {step}");
        }
        let now = elapsed + t0.elapsed().as_secs_f64();
        append_loss(&loss_path, step, last, lr, now)?;
        on_step(step + 1, last);
        if (step + 1) % opts.checkpoint_every == 0 || step + 1 == opts.steps {
            save_checkpoint(&ckpt_path, &vm, &opt, step + 1, &cfg, &opts.schedule, now)?;
        }
    }
    elapsed += t0.elapsed().as_secs_f64();

    let tensors = varmap_tensors(&vm);
    let mut extra = HashMap::new();
    extra.insert(
        "semcom.training".to_string(),
        serde_json::json!({
            "steps": opts.steps, "batch": opts.batch, "crop": opts.crop, "lr": opts.lr, "seed": opts.seed,
            "max_side": opts.max_side, "corpus_images": corpus.names, "final_loss": last, "train_seconds": elapsed,
        })
        .to_string(),
    );
    let mut files = Vec::new();
    for f in [WeightFormat::F32, WeightFormat::F16, WeightFormat::Int8] {
        let p = opts.out.join(format!("diffusion-{}.safetensors", f.as_str()));
        save_model(&p, &cfg, &opts.schedule, &tensors, f, &extra)?;
        files.push(p);
    }
    Ok(TrainSummary { steps: opts.steps, final_loss: last, params, residual_scale: cfg.residual_scale, files })
}
