//! `semcom`: run the demo, submit images to a running sender, fetch results from a
//! running receiver, print a node's certificate fingerprint, compare images, plot the
//! physical layer's curves, run evaluation sweeps against the baselines, train the
//! generative models. Each subcommand's options and handler live in its module.

use anyhow::Result;
use clap::{Parser, Subcommand};
use semcom_cli::{commands, demo, eval, phy_curves, train};

#[derive(Parser, Debug)]
#[command(name = "semcom", version, about = "Generative semantic image communication")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Train the generative models (see docs/models/diffusion.md).
    Train {
        #[command(subcommand)]
        what: train::TrainCommand,
    },
    /// Start receiver, channel-sim and sender on loopback and send the bundled
    /// images through an AWGN channel at several SNRs with the semantic codec
    /// (`--codec softcast` for the whole-image baseline, `--compare` for both).
    Demo(demo::DemoArgs),
    /// Submit an image to a running sender and (by default) wait for delivery.
    Submit(commands::SubmitArgs),
    /// Fetch a stored result from a running receiver (or list them without an id).
    Fetch(commands::FetchArgs),
    /// Every image-quality metric for a pair of images (PSNR, SSIM, MS-SSIM, VSI,
    /// GMSD as piq defines them, and the multi-scale SWD texture distance), optionally
    /// with SWD restricted to a mask (non-zero pixels of a grey image).
    Metrics(commands::MetricsArgs),
    /// Simulate the physical layer (uncoded BER, coded BLER per MCS, channel
    /// estimation MSE) against theory; write CSV and PNG/SVG plots.
    PhyCurves(phy_curves::PhyCurvesArgs),
    /// Sweep SNR, channel and bandwidth ratio over a folder of images with the semantic
    /// codec (classical fill and diffusion generator) and the baselines (SoftCast,
    /// JPEG + LDPC per MCS, JPEG at capacity), all
    /// at the same channel uses and SNR; write results.csv/.jsonl (resumable), plots,
    /// an image grid and summary.md (with median encode/decode times and peak memory).
    Eval(eval::args::EvalArgs),
    /// Print the certificate fingerprint of a node's data directory (generating
    /// the identity if there is none yet), to pin it on the other hosts.
    Fingerprint(commands::FingerprintArgs),
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    semcom_runtime::init_tracing(false);
    match cli.command {
        Command::Train { what } => train::command(what).await,
        Command::Demo(args) => demo::command(args).await,
        Command::Submit(args) => commands::submit(args).await,
        Command::Fetch(args) => commands::fetch(args).await,
        Command::Metrics(args) => commands::metrics(args),
        Command::PhyCurves(args) => phy_curves::command(args).await,
        Command::Eval(args) => eval::args::command(args).await,
        Command::Fingerprint(args) => commands::fingerprint(args),
    }
}
