//! `semcom eval` on the command line: its options, turned into [`EvalOptions`], and the
//! handler that runs the sweep and prints its summary.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::channel::ChannelKind;
use super::methods::{parse_methods, MethodChoice};
use super::options::{parse_rhos, parse_snrs, EvalOptions, Rho};

// The lists parsed whole (`--snr`, `--rho`, `--methods`) are written `std::vec::Vec` so
// that clap takes the option as one value for their parser instead of one value per item.

/// `semcom eval`.
#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Folder of PNG/JPEG images.
    #[arg(long, default_value = "samples")]
    images: PathBuf,
    /// Downscale images whose longer side exceeds this many pixels (Lanczos), e.g.
    /// camera photos; default: evaluate them as they are.
    #[arg(long)]
    max_side: Option<u32>,
    /// Es/N0 values in dB: a comma list of values and from:to:step ranges.
    #[arg(long, default_value = "-5:20:5", allow_hyphen_values = true, value_parser = parse_snrs)]
    snr: std::vec::Vec<f64>,
    /// Channels, comma-separated: awgn, rayleigh (block fading).
    #[arg(long, value_delimiter = ',', default_value = "awgn")]
    channel: Vec<ChannelKind>,
    /// Bandwidth ratios rho = channel uses / (H*W*3), comma-separated.
    #[arg(long, default_value = "1/32", value_parser = parse_rhos)]
    rho: std::vec::Vec<Rho>,
    /// Methods, comma-separated: semcom (the semantic codec with the classical, model-free
    /// fill), semcom-diffusion (the same codec with the diffusion generator), softcast,
    /// softcast-oracle (reference line: idealised SoftCast with perfect CSI and free side
    /// information), jpeg-ldpc (one per --mcs), jpeg-ldpc-mcsN, jpeg-capacity (reference
    /// line).
    #[arg(long, default_value = "semcom,semcom-diffusion,softcast,softcast-oracle,jpeg-ldpc,jpeg-capacity", value_parser = parse_methods)]
    methods: std::vec::Vec<MethodChoice>,
    /// MCS indices (semcom_phy::digital::MCS_TABLE) for jpeg-ldpc.
    #[arg(long, value_delimiter = ',', default_value = "1,3,5,8")]
    mcs: Vec<u8>,
    /// Model file for semcom-diffusion (safetensors from `semcom train diffusion`;
    /// default: the embedded int8 model).
    #[arg(long)]
    diffusion_weights: Option<PathBuf>,
    /// DDIM steps of semcom-diffusion (1-10; default: the receiver's default).
    #[arg(long)]
    diffusion_steps: Option<usize>,
    /// Where semcom-diffusion's sampling starts, (0, 1]: 1 = pure noise, below 1 =
    /// the classical fill noised to that level (default: the receiver's default).
    #[arg(long)]
    diffusion_start: Option<f64>,
    /// Scale of semcom-diffusion's generated detail, [0, 2] (default: the receiver's
    /// default).
    #[arg(long)]
    diffusion_strength: Option<f64>,
    /// Whether semcom-diffusion scales its detail to the classical fill's local energy
    /// (`true`/`false`; default: the receiver's default, true).
    #[arg(long)]
    diffusion_match_energy: Option<bool>,
    /// Channel realisations per cell.
    #[arg(long, default_value_t = 1)]
    realisations: u32,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Worker threads (default: all cores).
    #[arg(long)]
    jobs: Option<usize>,
    #[arg(long, default_value = "eval-out")]
    out: PathBuf,
    /// SNRs (dB) shown in grid.png, snapped to swept values (default: lowest,
    /// middle, highest).
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true)]
    grid_snr: Option<Vec<f64>>,
    /// Rayleigh coherence length, symbols.
    #[arg(long, default_value_t = 1024)]
    coherence: u32,
    /// Per-frame (1024 symbols) erasure probability.
    #[arg(long, default_value_t = 0.0)]
    erasure: f64,
}

impl EvalArgs {
    /// The sweep these options ask for, with a progress bar.
    pub fn options(self) -> EvalOptions {
        let mut opts = EvalOptions::new(self.out);
        opts.images = self.images;
        opts.max_side = self.max_side;
        opts.snrs_db = self.snr;
        opts.channels = self.channel;
        opts.rhos = self.rho;
        opts.methods = self.methods;
        opts.mcs = self.mcs;
        opts.diffusion.weights = self.diffusion_weights;
        if let Some(steps) = self.diffusion_steps {
            opts.diffusion.steps = steps;
        }
        if let Some(start) = self.diffusion_start {
            opts.diffusion.start = start;
        }
        if let Some(strength) = self.diffusion_strength {
            opts.diffusion.strength = strength;
        }
        if let Some(m) = self.diffusion_match_energy {
            opts.diffusion.match_energy = m;
        }
        opts.realisations = self.realisations;
        opts.seed = self.seed;
        if let Some(j) = self.jobs {
            opts.jobs = j.max(1);
        }
        opts.grid_snrs = self.grid_snr;
        opts.coherence = self.coherence;
        opts.erasure = self.erasure;
        opts.progress = true;
        opts
    }
}

/// Runs the sweep (on a blocking thread) and prints summary.md and the row counts.
pub async fn command(args: EvalArgs) -> Result<()> {
    let opts = args.options();
    let (s, out) = tokio::task::spawn_blocking(move || super::run(&opts).map(|s| (s, opts.out))).await??;
    println!("{}", s.markdown);
    println!(
        "{} rows ({} new, {} refused by their method) in {}",
        s.rows,
        s.new_rows,
        s.errors,
        out.join("results.csv").display()
    );
    Ok(())
}
