//! `semcom train lora`: rank-r adapters on every convolution and linear layer of a frozen
//! base model, trained with the base model's denoising loss on a held domain.
//!
//! The domain's images are split by rows: crops for training come from the top
//! `train_fraction` of every image, the held-out evaluation from the rest (disjoint
//! pixels). The summary compares the denoising loss of the base model and of the adapted
//! model on the same held-out examples, timesteps and noise.

use std::path::PathBuf;

use candle_core::{DType, Device, Result};
use candle_nn::{VarBuilder, VarMap};
use serde::{Deserialize, Serialize};

use super::adam::AdamW;
use super::data::{ConditionRanges, Corpus};
use super::{denoising_loss, draw_batch, draw_timesteps, learning_rate, step_seed, Batch};
use crate::layers::{LoraConfig, Weights};
use crate::lora::Adapter;
use crate::rng::NoiseRng;
use crate::schedule::NoiseSchedule;
use crate::unet::UNet;
use crate::weights::{msg, sorted_vars, varmap_tensors, ModelFile};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoraTrainOptions {
    /// Base model file (any weight format).
    pub base: PathBuf,
    /// Folder of the domain's images.
    pub images: PathBuf,
    /// Adapter file to write.
    pub out: PathBuf,
    pub lora: LoraConfig,
    pub steps: usize,
    pub batch: usize,
    pub crop: u32,
    pub lr: f64,
    pub seed: u64,
    /// Share of every image's rows used for training (the rest is held out).
    pub train_fraction: f64,
    /// Held-out examples for the before/after loss.
    pub eval_examples: usize,
}

impl Default for LoraTrainOptions {
    fn default() -> Self {
        Self {
            base: PathBuf::from("common/models/weights/diffusion-f32.safetensors"),
            images: PathBuf::from("corpus/held"),
            out: PathBuf::from("train-out/lora.safetensors"),
            lora: LoraConfig::default(),
            steps: 300,
            batch: 8,
            crop: 128,
            lr: 2e-3,
            seed: 7,
            train_fraction: 0.6,
            eval_examples: 48,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoraSummary {
    pub steps: usize,
    pub adapter_params: usize,
    pub adapter_bytes: u64,
    /// Mean denoising loss on the held-out examples.
    pub base_loss: f64,
    pub adapted_loss: f64,
    /// `1 − adapted/base`.
    pub reduction: f64,
}

/// Held-out evaluation set: fixed batches, timesteps spread evenly over the schedule,
/// fixed noise seeds.
pub struct EvalSet {
    batches: Vec<(Batch, Vec<usize>, u64)>,
}

impl EvalSet {
    pub fn new(corpus: &Corpus, n: usize, crop: u32, base: &ModelFile, seed: u64, dev: &Device) -> Result<Self> {
        let schedule_len = base.schedule.num_train_timesteps;
        let ranges = ConditionRanges::default();
        let mut rng = NoiseRng::new(seed ^ 0xE7A1);
        let per = 8usize;
        let mut batches = Vec::new();
        let mut i = 0;
        while i < n {
            let b = per.min(n - i);
            let batch = draw_batch(corpus, b, crop, &ranges, &base.unet, &mut rng, dev)?;
            let ts = (i..i + b).map(|k| (((k as f64 + 0.5) / n as f64) * schedule_len as f64) as usize).collect();
            batches.push((batch, ts, rng.next_u64()));
            i += b;
        }
        Ok(Self { batches })
    }

    /// Mean loss of `model` over the set (same noise for every model).
    pub fn loss(&self, model: &UNet, schedule: &NoiseSchedule) -> Result<f64> {
        let mut sum = 0.0;
        let mut n = 0usize;
        for (batch, ts, seed) in &self.batches {
            let mut rng = NoiseRng::new(*seed);
            let l = denoising_loss(model, schedule, batch, ts, &mut rng)?;
            sum += f64::from(l.to_scalar::<f32>()?) * ts.len() as f64;
            n += ts.len();
        }
        Ok(sum / n.max(1) as f64)
    }
}

/// Trains an adapter and writes it to `opts.out`.
pub fn train_lora(opts: &LoraTrainOptions, dev: &Device, mut on_step: impl FnMut(usize, f64)) -> Result<LoraSummary> {
    let base = ModelFile::from_path(&opts.base, dev)?;
    let m = base.unet.size_multiple() as u32;
    if opts.crop == 0 || !opts.crop.is_multiple_of(m) || opts.batch == 0 || opts.steps == 0 {
        candle_core::bail!("train lora: crop must be a positive multiple of {m}, batch and steps positive");
    }
    if !(opts.train_fraction > 0.0 && opts.train_fraction < 1.0) {
        candle_core::bail!("train lora: train_fraction must be in (0, 1)");
    }
    let all = Corpus::load(&opts.images, 768, opts.crop).map_err(msg)?;
    let (train, held) = all.split_rows(opts.train_fraction);
    let usable = |c: Corpus| {
        let keep: Vec<usize> =
            (0..c.images.len()).filter(|&i| c.images[i].width().min(c.images[i].height()) >= opts.crop).collect();
        Corpus::from_images(
            keep.iter().map(|&i| c.images[i].clone()).collect(),
            keep.iter().map(|&i| c.names[i].clone()).collect(),
        )
    };
    let (train, held) = (usable(train), usable(held));
    if train.images.is_empty() || held.images.is_empty() {
        candle_core::bail!("train lora: images too small for {}-px crops on both sides of the split", opts.crop);
    }
    let schedule = NoiseSchedule::new(&base.schedule)?;
    let eval = EvalSet::new(&held, opts.eval_examples, opts.crop, &base, opts.seed, dev)?;
    let base_model = base.build(dev, None)?;
    let base_loss = eval.loss(&base_model, &schedule)?;

    let vm = VarMap::new();
    let w = Weights::new(VarBuilder::from_tensors(base.tensors.clone(), DType::F32, dev))
        .with_lora(VarBuilder::from_varmap(&vm, DType::F32, dev), opts.lora)?;
    let model = UNet::new(&base.unet, &w)?;
    crate::weights::reseed(&vm, opts.seed)?;
    let vars = sorted_vars(&vm)?;
    let adapter_params = vars.iter().map(|(_, v)| v.elem_count()).sum();
    let mut opt = AdamW::new(vars, 0.0)?;
    let ranges = ConditionRanges::default();
    for step in 0..opts.steps {
        let mut rng = NoiseRng::new(step_seed(opts.seed, step));
        let batch = draw_batch(&train, opts.batch, opts.crop, &ranges, &base.unet, &mut rng, dev)?;
        let t = draw_timesteps(opts.batch, &schedule, &mut rng);
        let loss = denoising_loss(&model, &schedule, &batch, &t, &mut rng)?;
        opt.step(&loss.backward()?, learning_rate(opts.lr, opts.steps / 10, opts.steps, step), 1.0)?;
        on_step(step + 1, f64::from(loss.to_scalar::<f32>()?));
    }
    let adapted_loss = eval.loss(&model, &schedule)?;
    let adapter = Adapter { lora: opts.lora, unet: base.unet.clone(), tensors: varmap_tensors(&vm) };
    adapter.save(&opts.out)?;
    let adapter_bytes = std::fs::metadata(&opts.out).map(|m| m.len()).unwrap_or(0);
    Ok(LoraSummary {
        steps: opts.steps,
        adapter_params,
        adapter_bytes,
        base_loss,
        adapted_loss,
        reduction: 1.0 - adapted_loss / base_loss,
    })
}
