//! The small subcommands of `semcom`: `submit` and `fetch` (clients of running
//! daemons), `metrics` (two image files compared) and `fingerprint` (a node's
//! certificate).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use semcom_proto::v1::receiver_client::ReceiverClient;
use semcom_proto::v1::{GetResultRequest, ListResultsRequest, Rect, TransmitOptions};

use crate::client::{self, Clients};
use crate::demo::{parse_ratio, CodecChoice};

/// `semcom submit`.
#[derive(Args, Debug)]
pub struct SubmitArgs {
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
    #[arg(long, value_enum)]
    codec: Option<CodecChoice>,
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

/// Submits an image to a running sender and, unless `--no-wait`, waits for the
/// receiver to store the result.
pub async fn submit(args: SubmitArgs) -> Result<()> {
    let file = &args.file;
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("image").to_owned();
    let options = TransmitOptions {
        rho: args.rho.unwrap_or(0.0),
        simulate_snr_db: args.simulate_snr,
        seed: 0,
        expected_snr_db: args.expected_snr,
        caption: args.caption,
        rois: args.roi,
        roi_mask: match &args.roi_mask {
            Some(p) => std::fs::read(p).with_context(|| format!("reading {}", p.display()))?,
            None => Vec::new(),
        },
        codec: args.codec.map_or(semcom_proto::v1::Codec::Unspecified, CodecChoice::proto) as i32,
    };
    if args.no_wait {
        // Only the sender is needed (on the sender's host the receiver's API is usually
        // not reachable).
        let mut sender = client::connect_sender(&args.sender).await?;
        let resp = client::submit(&mut sender, &name, bytes, options).await?;
        println!("{}", resp.job_id);
    } else {
        let mut clients = Clients::connect(&args.sender, &args.receiver, None).await?;
        let d = clients.transmit(&name, bytes, options).await?;
        let info = d.result.info.unwrap_or_default();
        println!("job {} delivered as result {} (estimated SNR {:.2} dB)", d.job_id, info.id, info.snr_est_db);
    }
    Ok(())
}

/// `semcom fetch`.
#[derive(Args, Debug)]
pub struct FetchArgs {
    id: Option<String>,
    #[arg(long, default_value = "http://127.0.0.1:50052", env = "SEMCOM_RECEIVER_URL")]
    receiver: String,
    /// Where to write the PNG (default: <id>.png); the metadata goes next to it
    /// (.json), and for the semantic codec the key mask (.mask.png) and the prompt
    /// (.prompt.json, .prompt.txt).
    #[arg(short, long)]
    output: Option<PathBuf>,
}

/// Lists the receiver's results, or writes one of them (image, metadata and, for the
/// semantic codec, key mask and prompt) to files.
pub async fn fetch(args: FetchArgs) -> Result<()> {
    let receiver = args.receiver;
    let mut client = ReceiverClient::connect(receiver.clone())
        .await
        .with_context(|| format!("connecting to the receiver at {receiver}"))?
        .max_decoding_message_size(512 * 1024 * 1024);
    let Some(id) = args.id else {
        let list = client.list(ListResultsRequest {}).await?.into_inner();
        for r in list.results {
            println!("{}  {}  {}x{}  est. SNR {:.2} dB", r.id, r.codec, r.width, r.height, r.snr_est_db);
        }
        return Ok(());
    };
    let data = client
        .get(GetResultRequest { id: id.clone() })
        .await
        .map_err(|s| anyhow::anyhow!("{}", s.message()))?
        .into_inner();
    let path = args.output.unwrap_or_else(|| PathBuf::from(format!("{id}.png")));
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
    Ok(())
}

/// `semcom metrics`.
#[derive(Args, Debug)]
pub struct MetricsArgs {
    reference: PathBuf,
    image: PathBuf,
    #[arg(long)]
    mask: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// Prints every image-quality metric of a pair of images, as a table or JSON.
pub fn metrics(args: MetricsArgs) -> Result<()> {
    let open = |p: &PathBuf| -> Result<image::RgbImage> {
        let bytes = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
        semcom_codec::image_io::decode_image(&bytes, &semcom_codec::image_io::ImageLimits::default())
            .with_context(|| format!("decoding {}", p.display()))
    };
    let (a, b) = (open(&args.reference)?, open(&args.image)?);
    let mask = match args.mask {
        Some(p) => {
            let m = image::open(&p).with_context(|| format!("reading mask {}", p.display()))?.to_luma8();
            Some(semcom_metrics::mask_from_gray(&m))
        }
        None => None,
    };
    let r = semcom_metrics::report(&a, &b, mask.as_deref())?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(());
    }
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
    Ok(())
}

/// `semcom fingerprint`.
#[derive(Args, Debug)]
pub struct FingerprintArgs {
    data_dir: PathBuf,
    #[arg(long, default_value = "semcom-node")]
    name: String,
}

/// Prints the certificate fingerprint of a node's data directory, generating the
/// identity if there is none yet.
pub fn fingerprint(args: FingerprintArgs) -> Result<()> {
    let id = semcom_net::Identity::load_or_generate(&args.data_dir, &args.name)?;
    println!("{}", id.fingerprint());
    Ok(())
}
