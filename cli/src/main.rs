//! `semcom`: run the demo, submit images to a running sender, fetch results from a
//! running receiver, print a node's certificate fingerprint.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use semcom_cli::client::Clients;
use semcom_cli::demo::{self, parse_ratio, DemoOptions};
use semcom_proto::v1::{GetResultRequest, ListResultsRequest, TransmitOptions};

#[derive(Parser, Debug)]
#[command(name = "semcom", version, about = "Generative semantic image communication")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Start receiver, channel-sim and sender on loopback and send the bundled
    /// images through an AWGN channel at several SNRs.
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
        /// Return once queued instead of waiting for the receiver.
        #[arg(long)]
        no_wait: bool,
    },
    /// Fetch a stored result from a running receiver (or list them without an id).
    Fetch {
        id: Option<String>,
        #[arg(long, default_value = "http://127.0.0.1:50052", env = "SEMCOM_RECEIVER_URL")]
        receiver: String,
        /// Where to write the PNG (default: <id>.png); the metadata goes next to it.
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
    /// Print the certificate fingerprint of a node's data directory (generating
    /// the identity if there is none yet), to pin it on the other hosts.
    Fingerprint {
        data_dir: PathBuf,
        #[arg(long, default_value = "semcom-node")]
        name: String,
    },
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    semcom_runtime::init_tracing(false);
    match cli.command {
        Command::Demo { images, snr, rho, out, seed } => {
            let opts = DemoOptions { images, snrs_db: snr, rho, out: out.clone(), seed };
            let rows = demo::run(&opts).await?;
            let table = demo::table(&rows);
            println!("{table}");
            std::fs::write(out.join("summary.md"), &table)?;
            std::fs::write(out.join("summary.json"), serde_json::to_vec_pretty(&rows)?)?;
            println!("original/reconstruction pairs and summary written to {}", out.display());
        }
        Command::Submit { file, sender, receiver, rho, simulate_snr, no_wait } => {
            let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("image").to_owned();
            let options = TransmitOptions { rho: rho.unwrap_or(0.0), simulate_snr_db: simulate_snr, seed: 0 };
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
                        println!("{}  {}x{}  est. SNR {:.2} dB", r.id, r.width, r.height, r.snr_est_db);
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
                    Some(s) => println!("SWD      {:.6} (×1e3: {:.3}; per level {:?})", s.mean, s.mean * 1e3, s.per_level),
                    None => println!("SWD      n/a (too few patches)"),
                }
            }
        }
        Command::PhyCurves { out, quick, seed } => {
            let effort = if quick { semcom_cli::phy_curves::Effort::QUICK } else { semcom_cli::phy_curves::Effort::FULL };
            let table = tokio::task::spawn_blocking(move || semcom_cli::phy_curves::run(&out, effort, seed)).await??;
            println!("{table}");
        }
        Command::Fingerprint { data_dir, name } => {
            let id = semcom_net::Identity::load_or_generate(&data_dir, &name)?;
            println!("{}", id.fingerprint());
        }
    }
    Ok(())
}
