//! `semcom`: run the demo, submit images to a running sender, fetch results from a
//! running receiver, print a node's certificate fingerprint, compare images, plot the
//! physical layer's curves, run evaluation sweeps against the baselines.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use semcom_cli::client::Clients;
use semcom_cli::demo::{self, parse_ratio, DemoOptions};
use semcom_proto::v1::{Codec, GetResultRequest, ListResultsRequest, Rect, TransmitOptions};

#[derive(Parser, Debug)]
#[command(name = "semcom", version, about = "Generative semantic image communication")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum TrainCommand {
    /// Train the embedded diffusion generator on a corpus (scripts/build-corpus.sh).
    Diffusion {
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
    },
    /// Train a LoRA adapter of a base model on a domain's images (e.g. corpus/held).
    Lora {
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
    },
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Train the generative models (see docs/models/diffusion.md).
    Train {
        #[command(subcommand)]
        what: TrainCommand,
    },
    /// Start receiver, channel-sim and sender on loopback and send the bundled
    /// images through an AWGN channel at several SNRs with the semantic codec
    /// (`--codec softcast` for the whole-image baseline, `--compare` for both).
    Demo {
        /// Folder of PNG/JPEG images.
        #[arg(long, default_value = "samples")]
        images: PathBuf,
        /// Comma-separated Es/N0 values in dB.
        #[arg(long, value_delimiter = ',', default_value = "0,10,20", allow_negative_numbers = true)]
        snr: Vec<f64>,
        /// Bandwidth ratio rho = channel uses / (H*W*3), e.g. 1/32.
        #[arg(long, default_value = "1/32", value_parser = parse_ratio)]
        rho: f64,
        /// Output folder for original/reconstruction pairs and the summary.
        #[arg(long, default_value = "demo-out")]
        out: PathBuf,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Codec: the semantic codec, or whole-image SoftCast (the baseline).
        #[arg(long, default_value = "semantic", value_parser = ["semantic", "softcast"])]
        codec: String,
        /// Send every image with both codecs, side by side in the table.
        #[arg(long)]
        compare: bool,
        /// The receiver's generator: the embedded diffusion model, or the model-free
        /// classical fill.
        #[arg(long, default_value = "diffusion", value_parser = ["diffusion", "classical"])]
        generator: String,
    },
    /// Submit an image to a running sender and (by default) wait for delivery.
    Submit {
        file: PathBuf,
        #[arg(long, default_value = "http://127.0.0.1:50051", env = "SEMCOM_SENDER_URL")]
        sender: String,
        #[arg(long, default_value = "http://127.0.0.1:50052", env = "SEMCOM_RECEIVER_URL")]
        receiver: String,
        /// Bandwidth ratio (default: the sender's).
        #[arg(long, value_parser = parse_ratio)]
        rho: Option<f64>,
        /// Let the sender apply AWGN itself at this Es/N0 (dB).
        #[arg(long, allow_negative_numbers = true)]
        simulate_snr: Option<f64>,
        /// The Es/N0 (dB) the sender should plan for (CSI feedback); defaults to
        /// --simulate-snr when that is given.
        #[arg(long, allow_negative_numbers = true)]
        expected_snr: Option<f64>,
        /// Codec (default: the sender's).
        #[arg(long, value_parser = ["semantic", "softcast"])]
        codec: Option<String>,
        /// Caption attached to the prompt (semantic codec).
        #[arg(long)]
        caption: Option<String>,
        /// Region that must stay exact, as x,y,width,height in pixels (repeatable).
        #[arg(long, value_parser = parse_rect)]
        roi: Vec<Rect>,
        /// Region-of-interest mask image (PNG/JPEG, stretched over the image; bright = ROI).
        #[arg(long)]
        roi_mask: Option<PathBuf>,
        /// Return once queued instead of waiting for the receiver.
        #[arg(long)]
        no_wait: bool,
    },
    /// Fetch a stored result from a running receiver (or list them without an id).
    Fetch {
        id: Option<String>,
        #[arg(long, default_value = "http://127.0.0.1:50052", env = "SEMCOM_RECEIVER_URL")]
        receiver: String,
        /// Where to write the PNG (default: <id>.png); the metadata goes next to it
        /// (.json), and for the semantic codec the key mask (.mask.png) and the prompt
        /// (.prompt.json, .prompt.txt).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Every image-quality metric for a pair of images (PSNR, SSIM, MS-SSIM, VSI,
    /// GMSD as piq defines them, and the multi-scale SWD texture distance), optionally
    /// with SWD restricted to a mask (non-zero pixels of a grey image).
    Metrics {
        reference: PathBuf,
        image: PathBuf,
        #[arg(long)]
        mask: Option<PathBuf>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// LPIPS needs user-supplied network weights, which are not supported yet.
        #[arg(long)]
        lpips: bool,
    },
    /// Simulate the physical layer (uncoded BER, coded BLER per MCS, channel
    /// estimation MSE) against theory; write CSV and PNG/SVG plots.
    PhyCurves {
        #[arg(long, default_value = "docs/phy")]
        out: PathBuf,
        /// A fast, low-precision run.
        #[arg(long)]
        quick: bool,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Sweep SNR, channel and bandwidth ratio over a folder of images with the semantic
    /// codec (classical fill and diffusion generator) and the baselines (SoftCast,
    /// JPEG + LDPC per MCS, JPEG at capacity), all
    /// at the same channel uses and SNR; write results.csv/.jsonl (resumable), plots,
    /// an image grid and summary.md (with median encode/decode times and peak memory).
    Eval {
        /// Folder of PNG/JPEG images.
        #[arg(long, default_value = "samples")]
        images: PathBuf,
        /// Downscale images whose longer side exceeds this many pixels (Lanczos), e.g.
        /// camera photos; default: evaluate them as they are.
        #[arg(long)]
        max_side: Option<u32>,
        /// Es/N0 values in dB: a comma list of values and from:to:step ranges.
        #[arg(long, default_value = "-5:20:5", allow_hyphen_values = true)]
        snr: String,
        /// Channels, comma-separated: awgn, rayleigh (block fading).
        #[arg(long, default_value = "awgn")]
        channel: String,
        /// Bandwidth ratios rho = channel uses / (H*W*3), comma-separated.
        #[arg(long, default_value = "1/32")]
        rho: String,
        /// Methods, comma-separated: semcom (classical fill), semcom-diffusion (diffusion
        /// generator), softcast, jpeg-ldpc (one per --mcs), jpeg-ldpc-mcsN, jpeg-capacity.
        #[arg(long, default_value = "semcom,semcom-diffusion,softcast,jpeg-ldpc,jpeg-capacity")]
        methods: String,
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
    },
    /// Print the certificate fingerprint of a node's data directory (generating
    /// the identity if there is none yet), to pin it on the other hosts.
    Fingerprint {
        data_dir: PathBuf,
        #[arg(long, default_value = "semcom-node")]
        name: String,
    },
}

/// Parses `x,y,width,height` (pixels).
fn parse_rect(s: &str) -> Result<Rect, String> {
    let v: Vec<u32> = s
        .split(',')
        .map(|p| p.trim().parse::<u32>().map_err(|_| format!("not a pixel count: {p:?} in {s:?}")))
        .collect::<Result<_, _>>()?;
    match v[..] {
        [x, y, width, height] if width > 0 && height > 0 => Ok(Rect { x, y, width, height }),
        _ => Err(format!("expected x,y,width,height with a positive size, got {s:?}")),
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    semcom_runtime::init_tracing(false);
    match cli.command {
        Command::Demo { images, snr, rho, out, seed, codec, compare, generator } => {
            let codec = codec.parse().map_err(anyhow::Error::msg)?;
            let generator = generator.parse().map_err(anyhow::Error::msg)?;
            let opts = DemoOptions { images, snrs_db: snr, rho, out: out.clone(), seed, codec, compare, generator };
            let rows = demo::run(&opts).await?;
            println!("{}", demo::table(&rows));
            println!("{}", demo::means(&rows));
            demo::write_summary(&rows, &opts)?;
            println!("originals, reconstructions, key masks, prompts and summary.md/json written to {}", out.display());
        }
        Command::Submit {
            file,
            sender,
            receiver,
            rho,
            simulate_snr,
            expected_snr,
            codec,
            caption,
            roi,
            roi_mask,
            no_wait,
        } => {
            let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("image").to_owned();
            let codec = match codec.as_deref() {
                Some("semantic") => Codec::Semantic,
                Some("softcast") => Codec::Softcast,
                _ => Codec::Unspecified,
            };
            let options = TransmitOptions {
                rho: rho.unwrap_or(0.0),
                simulate_snr_db: simulate_snr,
                seed: 0,
                expected_snr_db: expected_snr,
                caption,
                rois: roi,
                roi_mask: match &roi_mask {
                    Some(p) => std::fs::read(p).with_context(|| format!("reading {}", p.display()))?,
                    None => Vec::new(),
                },
                codec: codec as i32,
            };
            if no_wait {
                // Only the sender is needed (on the sender's host the receiver's API is
                // usually not reachable).
                let mut client = semcom_cli::client::connect_sender(&sender).await?;
                let resp = semcom_cli::client::submit(&mut client, &name, bytes, options).await?;
                println!("{}", resp.job_id);
            } else {
                let mut clients = Clients::connect(&sender, &receiver, None).await?;
                let d = clients.transmit(&name, bytes, options).await?;
                let info = d.result.info.unwrap_or_default();
                println!("job {} delivered as result {} (estimated SNR {:.2} dB)", d.job_id, info.id, info.snr_est_db);
            }
        }
        Command::Fetch { id, receiver, output } => {
            let mut client = semcom_proto::v1::receiver_client::ReceiverClient::connect(receiver.clone())
                .await
                .with_context(|| format!("connecting to the receiver at {receiver}"))?
                .max_decoding_message_size(512 * 1024 * 1024);
            match id {
                None => {
                    let list = client.list(ListResultsRequest {}).await?.into_inner();
                    for r in list.results {
                        println!("{}  {}  {}x{}  est. SNR {:.2} dB", r.id, r.codec, r.width, r.height, r.snr_est_db);
                    }
                }
                Some(id) => {
                    let data = client
                        .get(GetResultRequest { id: id.clone() })
                        .await
                        .map_err(|s| anyhow::anyhow!("{}", s.message()))?
                        .into_inner();
                    let path = output.unwrap_or_else(|| PathBuf::from(format!("{id}.png")));
                    std::fs::write(&path, &data.png)?;
                    let meta = data.info.map(|i| i.metadata_json).unwrap_or_default();
                    std::fs::write(path.with_extension("json"), meta)?;
                    println!("wrote {}", path.display());
                    if !data.mask_png.is_empty() {
                        for (ext, bytes) in [
                            ("mask.png", data.mask_png.as_slice()),
                            ("prompt.json", data.prompt_json.as_bytes()),
                            ("prompt.txt", data.prompt_text.as_bytes()),
                        ] {
                            let p = path.with_extension(ext);
                            std::fs::write(&p, bytes).with_context(|| format!("writing {}", p.display()))?;
                            println!("wrote {}", p.display());
                        }
                    }
                }
            }
        }
        Command::Metrics { reference, image, mask, json, lpips } => {
            if lpips {
                anyhow::bail!("LPIPS needs AlexNet/VGG and linear-layer weights, which this version cannot load yet; the other metrics need none");
            }
            let open = |p: &PathBuf| -> Result<image::RgbImage> {
                let bytes = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
                Ok(semcom_codec::image_io::decode_image(&bytes, &semcom_codec::image_io::ImageLimits::default())
                    .with_context(|| format!("decoding {}", p.display()))?)
            };
            let (a, b) = (open(&reference)?, open(&image)?);
            let mask = match mask {
                Some(p) => {
                    let m = image::open(&p).with_context(|| format!("reading mask {}", p.display()))?.to_luma8();
                    Some(semcom_metrics::mask_from_gray(&m))
                }
                None => None,
            };
            let r = semcom_metrics::report(&a, &b, mask.as_deref())?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                println!("PSNR     {:.4} dB", r.psnr);
                println!("SSIM     {:.6}", r.ssim);
                match r.ms_ssim {
                    Some(v) => println!("MS-SSIM  {v:.6}"),
                    None => println!("MS-SSIM  n/a (image smaller than {} px)", semcom_metrics::MS_SSIM_MIN_SIZE),
                }
                println!("VSI      {:.6}", r.vsi);
                println!("GMSD     {:.6}", r.gmsd);
                match &r.swd {
                    Some(s) => {
                        println!("SWD      {:.6} (×1e3: {:.3}; per level {:?})", s.mean, s.mean * 1e3, s.per_level)
                    }
                    None => println!("SWD      n/a (too few patches)"),
                }
            }
        }
        Command::PhyCurves { out, quick, seed } => {
            let effort =
                if quick { semcom_cli::phy_curves::Effort::QUICK } else { semcom_cli::phy_curves::Effort::FULL };
            let table = tokio::task::spawn_blocking(move || semcom_cli::phy_curves::run(&out, effort, seed)).await??;
            println!("{table}");
        }
        Command::Eval {
            images,
            max_side,
            snr,
            channel,
            rho,
            methods,
            mcs,
            diffusion_weights,
            diffusion_steps,
            diffusion_start,
            diffusion_strength,
            diffusion_match_energy,
            realisations,
            seed,
            jobs,
            out,
            grid_snr,
            coherence,
            erasure,
        } => {
            use semcom_cli::eval;
            let mut opts = eval::EvalOptions::new(out);
            opts.images = images;
            opts.max_side = max_side;
            opts.snrs_db = eval::parse_snrs(&snr)?;
            opts.channels = channel.split(',').map(str::parse).collect::<Result<_>>()?;
            opts.rhos = eval::parse_rhos(&rho)?;
            opts.methods = methods.split(',').map(|m| m.trim().to_string()).filter(|m| !m.is_empty()).collect();
            opts.mcs = mcs;
            opts.diffusion.weights = diffusion_weights;
            if let Some(steps) = diffusion_steps {
                opts.diffusion.steps = steps;
            }
            if let Some(start) = diffusion_start {
                opts.diffusion.start = start;
            }
            if let Some(strength) = diffusion_strength {
                opts.diffusion.strength = strength;
            }
            if let Some(m) = diffusion_match_energy {
                opts.diffusion.match_energy = m;
            }
            opts.realisations = realisations;
            opts.seed = seed;
            if let Some(j) = jobs {
                opts.jobs = j.max(1);
            }
            opts.grid_snrs = grid_snr;
            opts.coherence = coherence;
            opts.erasure = erasure;
            opts.progress = true;
            let summary = tokio::task::spawn_blocking(move || eval::run(&opts).map(|s| (s, opts.out))).await??;
            let (s, out) = summary;
            println!("{}", s.markdown);
            println!(
                "{} rows ({} new, {} refused by their method) in {}",
                s.rows,
                s.new_rows,
                s.errors,
                out.join("results.csv").display()
            );
        }
        Command::Train { what } => match what {
            TrainCommand::Lora { base, images, out, rank, alpha, steps, batch, lr, seed } => {
                let opts = semcom_models::train::lora::LoraTrainOptions {
                    base,
                    images,
                    out,
                    lora: semcom_models::LoraConfig { rank, alpha },
                    steps,
                    batch,
                    lr,
                    seed,
                    ..Default::default()
                };
                let s = tokio::task::spawn_blocking(move || semcom_cli::train::lora(&opts).map(|s| (s, opts.out)))
                    .await??;
                let (s, out) = s;
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
            TrainCommand::Diffusion { corpus, out, steps, batch, crop, lr, seed, checkpoint_every, no_resume } => {
                let opts = semcom_models::train::DiffusionTrainOptions {
                    corpus,
                    out,
                    steps,
                    batch,
                    crop,
                    lr,
                    seed,
                    checkpoint_every: checkpoint_every.max(1),
                    resume: !no_resume,
                    ..Default::default()
                };
                let s = tokio::task::spawn_blocking(move || semcom_cli::train::diffusion(&opts)).await??;
                println!(
                    "trained {} steps, final loss {:.4}, {} parameters, residual scale {}",
                    s.steps, s.final_loss, s.params, s.residual_scale
                );
                for f in &s.files {
                    println!("wrote {}", f.display());
                }
            }
        },
        Command::Fingerprint { data_dir, name } => {
            let id = semcom_net::Identity::load_or_generate(&data_dir, &name)?;
            println!("{}", id.fingerprint());
        }
    }
    Ok(())
}
