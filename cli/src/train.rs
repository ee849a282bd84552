//! `semcom train diffusion` and `semcom train lora`: thin wrappers over
//! `semcom_models::train` with a progress bar and a loss-curve plot.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use semcom_models::candle::Device;
use semcom_models::train::lora::{train_lora, LoraSummary, LoraTrainOptions};
use semcom_models::train::{train_diffusion, DiffusionTrainOptions, TrainSummary};

/// `semcom train`: what to train.
#[derive(Subcommand, Debug)]
pub enum TrainCommand {
    /// Train the embedded diffusion generator on a corpus (scripts/build-corpus.sh).
    Diffusion(DiffusionArgs),
    /// Train a LoRA adapter of a base model on a domain's images (e.g. corpus/held).
    Lora(LoraArgs),
}

/// `semcom train diffusion`.
#[derive(Args, Debug)]
pub struct DiffusionArgs {
    /// Folder of training images.
    #[arg(long, default_value = "corpus/train")]
    corpus: PathBuf,
    /// Output folder: checkpoint, loss.csv, loss.png, diffusion-{f32,f16,int8}.safetensors.
    #[arg(long, default_value = "train-out/diffusion")]
    out: PathBuf,
    #[arg(long, default_value_t = 6000)]
    steps: usize,
    #[arg(long, default_value_t = 8)]
    batch: usize,
    /// Side of the square training crops.
    #[arg(long, default_value_t = 128)]
    crop: u32,
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[arg(long, default_value_t = 250)]
    checkpoint_every: usize,
    /// Start afresh even if a checkpoint exists.
    #[arg(long)]
    no_resume: bool,
}

/// `semcom train lora`.
#[derive(Args, Debug)]
pub struct LoraArgs {
    /// Base model file (f32, f16 or int8 safetensors).
    #[arg(long, default_value = "common/models/weights/diffusion-f32.safetensors")]
    base: PathBuf,
    /// Folder of the domain's images (top rows train, bottom rows are held out).
    #[arg(long, default_value = "corpus/held")]
    images: PathBuf,
    /// Adapter file to write.
    #[arg(long, default_value = "train-out/lora.safetensors")]
    out: PathBuf,
    #[arg(long, default_value_t = 4)]
    rank: usize,
    #[arg(long, default_value_t = 4.0)]
    alpha: f64,
    #[arg(long, default_value_t = 300)]
    steps: usize,
    #[arg(long, default_value_t = 8)]
    batch: usize,
    #[arg(long, default_value_t = 2e-3)]
    lr: f64,
    #[arg(long, default_value_t = 7)]
    seed: u64,
}

/// Runs `semcom train diffusion` or `semcom train lora` and prints what it made.
pub async fn command(what: TrainCommand) -> Result<()> {
    match what {
        TrainCommand::Lora(a) => {
            let opts = LoraTrainOptions {
                base: a.base,
                images: a.images,
                out: a.out,
                lora: semcom_models::LoraConfig { rank: a.rank, alpha: a.alpha },
                steps: a.steps,
                batch: a.batch,
                lr: a.lr,
                seed: a.seed,
                ..Default::default()
            };
            let (s, out) = tokio::task::spawn_blocking(move || lora(&opts).map(|s| (s, opts.out))).await??;
            println!(
                "adapter: {} parameters, {} bytes in {}\nheld-out denoising loss: base {:.4} → adapted {:.4} ({:.1} % lower)",
                s.adapter_params,
                s.adapter_bytes,
                out.display(),
                s.base_loss,
                s.adapted_loss,
                100.0 * s.reduction
            );
        }
        TrainCommand::Diffusion(a) => {
            let opts = DiffusionTrainOptions {
                corpus: a.corpus,
                out: a.out,
                steps: a.steps,
                batch: a.batch,
                crop: a.crop,
                lr: a.lr,
                seed: a.seed,
                checkpoint_every: a.checkpoint_every.max(1),
                resume: !a.no_resume,
                ..Default::default()
            };
            let s = tokio::task::spawn_blocking(move || diffusion(&opts)).await??;
            println!(
                "trained {} steps, final loss {:.4}, {} parameters, residual scale {}",
                s.steps, s.final_loss, s.params, s.residual_scale
            );
            for f in &s.files {
                println!("wrote {}", f.display());
            }
        }
    }
    Ok(())
}

fn bar(total: usize, start: usize) -> ProgressBar {
    let pb = ProgressBar::new(total as u64);
    pb.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} steps  loss {msg}  {elapsed_precise} ETA {eta_precise}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    pb.set_position(start as u64);
    pb.reset_eta();
    pb
}

/// Runs the diffusion training and plots `loss.csv` to `loss.png`/`loss.svg`.
pub fn diffusion(opts: &DiffusionTrainOptions) -> Result<TrainSummary> {
    let pb = bar(opts.steps, 0);
    let mut ema = f64::NAN;
    let summary = train_diffusion(opts, &Device::Cpu, |step, loss| {
        ema = if ema.is_finite() { 0.98 * ema + 0.02 * loss } else { loss };
        pb.set_position(step as u64);
        pb.set_message(format!("{ema:.4}"));
        if !pb.is_hidden() {
            return;
        }
        if step % 50 == 0 {
            eprintln!("step {step}/{} loss {ema:.4}", opts.steps);
        }
    })
    .context("training the diffusion model")?;
    pb.finish();
    plot_loss(&opts.out.join("loss.csv"), &opts.out.join("loss"), "Diffusion training loss")?;
    Ok(summary)
}

/// Trains a LoRA adapter with a progress bar.
pub fn lora(opts: &LoraTrainOptions) -> Result<LoraSummary> {
    let pb = bar(opts.steps, 0);
    let mut ema = f64::NAN;
    let s = train_lora(opts, &Device::Cpu, |step, loss| {
        ema = if ema.is_finite() { 0.95 * ema + 0.05 * loss } else { loss };
        pb.set_position(step as u64);
        pb.set_message(format!("{ema:.4}"));
    })
    .context("training the LoRA adapter")?;
    pb.finish();
    Ok(s)
}

/// The columns of a `loss.csv` line that the plot uses (`step,loss,lr,elapsed_s`).
#[derive(serde::Deserialize)]
struct LossLine {
    step: f64,
    loss: f64,
}

/// Reads `step,loss,…` rows and plots the raw loss and its 100-step running mean; lines
/// that do not parse (a torn last line of a running training) are skipped.
pub fn plot_loss(csv: &Path, stem: &Path, title: &str) -> Result<()> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(csv)
        .with_context(|| format!("reading {}", csv.display()))?;
    let pts: Vec<(f64, f64)> =
        reader.deserialize::<LossLine>().filter_map(|l| l.ok()).map(|l| (l.step, l.loss)).collect();
    let mean: Vec<(f64, f64)> = pts
        .iter()
        .enumerate()
        .map(|(i, &(x, _))| {
            let lo = i.saturating_sub(99);
            let w = &pts[lo..=i];
            (x, w.iter().map(|p| p.1).sum::<f64>() / w.len() as f64)
        })
        .collect();
    let chart = semcom_plot::Chart {
        title: title.into(),
        x_label: "step".into(),
        y_label: "v-prediction MSE (non-key patches)".into(),
        log_y: true,
        series: vec![
            semcom_plot::Series { label: "per step".into(), points: pts, dashed: true },
            semcom_plot::Series { label: "running mean (100)".into(), points: mean, dashed: false },
        ],
        legend_lower_left: false,
    };
    chart.save(stem).map_err(|e| anyhow::anyhow!("{e}"))
}
