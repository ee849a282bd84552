//! `semcom demo`: the three daemons on loopback, the bundled images through
//! channel-sim at several SNRs with the semantic codec (and, to compare, whole-image
//! SoftCast), and per image on disk: original, reconstruction, key mask, prompt; a
//! table of the metrics and the channel-use split.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use image::RgbImage;
use semcom_codec::image_io::{decode_image, encode_png, ImageLimits};
use semcom_models::GeneratorKind;
use semcom_proto::v1::{Codec, TransmitOptions};
use serde::Serialize;

use crate::client::Clients;
use crate::stack::{Stack, StackOptions};

/// The codecs the command line names (`semcom demo --codec`, `semcom submit --codec`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CodecChoice {
    Semantic,
    Softcast,
}

impl CodecChoice {
    /// The codec in the sender's API.
    pub fn proto(self) -> Codec {
        match self {
            CodecChoice::Semantic => Codec::Semantic,
            CodecChoice::Softcast => Codec::Softcast,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            CodecChoice::Semantic => "semantic",
            CodecChoice::Softcast => "softcast",
        }
    }
}

/// The receiver's generators as the command line names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GeneratorChoice {
    Diffusion,
    Classical,
}

impl From<GeneratorChoice> for GeneratorKind {
    fn from(g: GeneratorChoice) -> Self {
        match g {
            GeneratorChoice::Diffusion => GeneratorKind::Diffusion,
            GeneratorChoice::Classical => GeneratorKind::Classical,
        }
    }
}

/// `semcom demo`.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Folder of PNG/JPEG images (default: the bundled samples, built into the binary).
    #[arg(long)]
    images: Option<PathBuf>,
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
    #[arg(long, value_enum, default_value_t = CodecChoice::Semantic)]
    codec: CodecChoice,
    /// Send every image with both codecs, side by side in the table.
    #[arg(long)]
    compare: bool,
    /// The receiver's generator: the embedded diffusion model, or the model-free
    /// classical fill.
    #[arg(long, value_enum, default_value_t = GeneratorChoice::Diffusion)]
    generator: GeneratorChoice,
}

impl From<DemoArgs> for DemoOptions {
    fn from(a: DemoArgs) -> Self {
        DemoOptions {
            images: a.images,
            snrs_db: a.snr,
            rho: a.rho,
            out: a.out,
            seed: a.seed,
            codec: a.codec,
            compare: a.compare,
            generator: a.generator.into(),
        }
    }
}

/// Runs the demo, prints its tables and writes the summary.
pub async fn command(args: DemoArgs) -> Result<()> {
    let opts = DemoOptions::from(args);
    let rows = run(&opts).await?;
    println!("{}", table(&rows));
    println!("{}", means(&rows));
    write_summary(&rows, &opts)?;
    println!("originals, reconstructions, key masks, prompts and summary.md/json written to {}", opts.out.display());
    Ok(())
}

#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Folder of PNG/JPEG images; `None`: the bundled samples ([`SAMPLES`]).
    pub images: Option<PathBuf>,
    pub snrs_db: Vec<f64>,
    pub rho: f64,
    pub out: PathBuf,
    pub seed: u64,
    pub codec: CodecChoice,
    /// Also send every image with the other codec (semantic first, so that SoftCast's
    /// key-region PSNR is measured on the semantic codec's key mask).
    pub compare: bool,
    /// The receiver's generator for the semantic codec (default: the embedded
    /// diffusion model).
    pub generator: GeneratorKind,
}

/// The repository's `samples/` (file name, contents, sorted by name as a folder's files
/// are read), built into the binary so that the demo runs from any folder, e.g. after
/// `cargo install`.
pub const SAMPLES: [(&str, &[u8]); 4] = [
    ("astronaut.png", include_bytes!("../../samples/astronaut.png")),
    ("chelsea.png", include_bytes!("../../samples/chelsea.png")),
    ("coffee.png", include_bytes!("../../samples/coffee.png")),
    ("rocket.jpg", include_bytes!("../../samples/rocket.jpg")),
];

/// One image the demo sends: its name in the output files, the file's bytes (sent to
/// the sender as they are) and where they came from (for messages).
struct DemoImage {
    stem: String,
    bytes: Vec<u8>,
    source: String,
}

/// The demo's images: the files of `--images`, or the bundled samples.
fn demo_images(dir: Option<&Path>) -> Result<Vec<DemoImage>> {
    let Some(dir) = dir else {
        return Ok(SAMPLES
            .iter()
            .map(|(name, bytes)| DemoImage {
                stem: Path::new(name).file_stem().and_then(|s| s.to_str()).unwrap_or("image").to_owned(),
                bytes: bytes.to_vec(),
                source: format!("the bundled sample {name}"),
            })
            .collect());
    };
    image_files(dir)?
        .into_iter()
        .map(|file| {
            let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            Ok(DemoImage {
                stem: file.file_stem().and_then(|s| s.to_str()).unwrap_or("image").to_owned(),
                bytes,
                source: file.display().to_string(),
            })
        })
        .collect()
}

/// One row of the demo table.
#[derive(Debug, Clone, Serialize)]
pub struct DemoRow {
    pub image: String,
    pub width: u32,
    pub height: u32,
    /// "semantic" or "softcast".
    pub codec: String,
    /// Semantic codec: the receiver's generator ("diffusion-int8", "classical", …).
    pub generator: Option<String>,
    /// Es/N0 set on channel-sim (and told to the sender as CSI), dB.
    pub snr_db: f64,
    /// Es/N0 the receiver estimated from the pilots, dB.
    pub snr_est_db: f64,
    pub rho: f64,
    pub symbols_per_pixel: f64,
    pub channel_uses: u64,
    pub budget: u64,
    pub pilots: u64,
    /// Digital symbols: SoftCast's metadata, or the semantic header + prompt.
    pub meta: u64,
    /// Semantic codec: `meta` = header + prompt.
    pub header_symbols: u64,
    pub prompt_symbols: u64,
    pub analog: u64,
    /// MCS index of the digital part.
    pub mcs: u32,
    /// Semantic codec: share of key blocks, the prompt's detail level and text.
    pub key_share: Option<f64>,
    pub prompt_detail: Option<String>,
    pub prompt_text: Option<String>,
    /// Prompt records lost on the channel, and segments repaired from safe priors.
    pub failed_records: usize,
    pub repaired_segments: usize,
    pub psnr_db: f64,
    /// PSNR over the key regions (the semantic codec's key mask of this image and
    /// SNR); `None` without a mask.
    pub key_psnr_db: Option<f64>,
    pub ssim: f64,
    /// `None` for images smaller than MS-SSIM's minimum size.
    pub ms_ssim: Option<f64>,
    pub vsi: f64,
    /// Submit to stored result, seconds.
    pub seconds: f64,
    /// Files in the output folder.
    pub reconstruction: String,
    pub mask: Option<String>,
    pub prompt_file: Option<String>,
}

/// Image files of a folder (PNG and JPEG), sorted by name.
pub fn image_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading the image folder {}", shown(dir)))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref(),
                Some("png" | "jpg" | "jpeg")
            )
        })
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("no PNG or JPEG images in {}", shown(dir));
    }
    Ok(files)
}

/// A path as given and, when relative, where it points from the current folder.
fn shown(path: &Path) -> String {
    match std::path::absolute(path) {
        Ok(abs) if abs != path => format!("{} ({})", path.display(), abs.display()),
        _ => path.display().to_string(),
    }
}

pub async fn run(opts: &DemoOptions) -> Result<Vec<DemoRow>> {
    let images = demo_images(opts.images.as_deref())?;
    std::fs::create_dir_all(&opts.out).with_context(|| format!("creating {}", opts.out.display()))?;
    let data = tempfile::tempdir().context("temporary data directory")?;
    let stack = Stack::start(
        data.path(),
        &StackOptions {
            snr_db: opts.snrs_db.first().copied().unwrap_or(10.0),
            seed: opts.seed,
            generator: opts.generator,
            ..StackOptions::default()
        },
    )
    .await?;
    let result = transmit_all(&stack, &images, opts).await;
    stack.shutdown().await?;
    result
}

fn codecs(opts: &DemoOptions) -> Vec<CodecChoice> {
    match (opts.compare, opts.codec) {
        (false, c) => vec![c],
        (true, _) => vec![CodecChoice::Semantic, CodecChoice::Softcast],
    }
}

async fn transmit_all(stack: &Stack, images: &[DemoImage], opts: &DemoOptions) -> Result<Vec<DemoRow>> {
    let mut clients = stack.clients().await?;
    let mut rows = Vec::new();
    for &snr in &opts.snrs_db {
        clients.set_snr(snr).await?;
        for DemoImage { stem, bytes, source } in images {
            let original =
                decode_image(bytes, &ImageLimits::default()).with_context(|| format!("decoding {source}"))?;
            let original_path = opts.out.join(format!("{stem}_original.png"));
            if !original_path.exists() {
                std::fs::write(&original_path, encode_png(&original)?)?;
            }
            // The semantic run's key mask, to score every codec on the same regions.
            let mut key_mask: Option<Vec<bool>> = None;
            for codec in codecs(opts) {
                let row = transmit_one(&mut clients, opts, stem, bytes, &original, snr, codec, &mut key_mask)
                    .await
                    .with_context(|| format!("{stem} at {snr} dB with {}", codec.name()))?;
                rows.push(row);
            }
        }
    }
    Ok(rows)
}

#[allow(clippy::too_many_arguments)]
async fn transmit_one(
    clients: &mut Clients,
    opts: &DemoOptions,
    stem: &str,
    bytes: &[u8],
    original: &RgbImage,
    snr: f64,
    codec: CodecChoice,
    key_mask: &mut Option<Vec<bool>>,
) -> Result<DemoRow> {
    let started = Instant::now();
    let options = TransmitOptions {
        rho: opts.rho,
        seed: opts.seed,
        // What CSI feedback would tell a real sender: the SNR channel-sim applies.
        expected_snr_db: Some(snr),
        codec: codec.proto() as i32,
        ..TransmitOptions::default()
    };
    let delivered = clients.transmit(stem, bytes.to_vec(), options).await?;
    let seconds = started.elapsed().as_secs_f64();
    let result = delivered.result;
    let recon = decode_image(&result.png, &ImageLimits::default()).context("decoding the result")?;
    let base = format!("{stem}_snr{snr}dB");
    let recon_name = format!("{base}_{}.png", codec.name());
    std::fs::write(opts.out.join(&recon_name), &result.png)?;
    let (mut mask_name, mut prompt_name) = (None, None);
    if !result.mask_png.is_empty() {
        let mask = image::load_from_memory(&result.mask_png).context("decoding the key mask")?.to_luma8();
        anyhow::ensure!(mask.dimensions() == original.dimensions(), "key mask size differs from the image");
        *key_mask = Some(semcom_metrics::mask_from_gray(&mask));
        let (m, p) = (format!("{base}_mask.png"), format!("{base}_prompt.txt"));
        std::fs::write(opts.out.join(&m), &result.mask_png)?;
        std::fs::write(opts.out.join(&p), &result.prompt_text)?;
        std::fs::write(opts.out.join(format!("{base}_prompt.json")), &result.prompt_json)?;
        (mask_name, prompt_name) = (Some(m), Some(p));
    }
    let key_psnr_db = match key_mask.as_deref() {
        Some(mask) => semcom_metrics::psnr_masked(original, &recon, mask)?,
        None => None,
    };
    let ms_ssim = match semcom_metrics::ms_ssim(original, &recon) {
        Ok(v) => Some(v),
        Err(semcom_metrics::MetricsError::TooSmallForMsSsim { .. }) => None,
        Err(e) => return Err(e.into()),
    };
    let info = result.info.unwrap_or_default();
    let split = info.split.unwrap_or_default();
    // The sender's split knows the budget and the header/prompt division even when
    // a prompt record was lost on the way.
    let sent = delivered.submit.split.unwrap_or_default();
    let sem = info.semantic.as_ref();
    Ok(DemoRow {
        image: stem.to_owned(),
        width: original.width(),
        height: original.height(),
        codec: codec.name().to_owned(),
        generator: sem.map(|s| s.generator.clone()).filter(|g| !g.is_empty()),
        snr_db: snr,
        snr_est_db: info.snr_est_db,
        rho: split.rho,
        symbols_per_pixel: split.symbols_per_pixel,
        channel_uses: split.total,
        budget: sent.budget,
        pilots: split.pilots,
        meta: split.meta,
        header_symbols: sent.header_symbols,
        prompt_symbols: sent.prompt_symbols,
        analog: split.analog,
        mcs: info.mcs,
        key_share: sem.map(|s| s.key_share),
        prompt_detail: delivered.submit.semantic.as_ref().map(|r| r.detail.clone()),
        prompt_text: sem.map(|s| s.prompt_text.clone()),
        failed_records: sem.map_or(0, |s| s.failed_records.len()),
        repaired_segments: sem.map_or(0, |s| s.repaired_segments as usize),
        psnr_db: semcom_metrics::psnr(original, &recon)?,
        key_psnr_db,
        ssim: semcom_metrics::ssim(original, &recon)?,
        ms_ssim,
        vsi: semcom_metrics::vsi(original, &recon)?,
        seconds,
        reconstruction: recon_name,
        mask: mask_name,
        prompt_file: prompt_name,
    })
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "–".to_owned(), |v| format!("{v:.digits$}"))
}

/// The prompt text for a table cell: no pipes or line breaks, at most `max` chars.
fn cell(text: &str, max: usize) -> String {
    let clean: String = text.chars().map(|c| if c == '|' || c.is_control() { ' ' } else { c }).collect();
    if clean.chars().count() <= max {
        clean
    } else {
        format!("{}…", clean.chars().take(max).collect::<String>().trim_end())
    }
}

/// Longest prompt text shown in a table cell (the full text is in `*_prompt.txt`).
const PROMPT_CELL_CHARS: usize = 80;

/// The demo table as markdown: per image and SNR, the codec and generator, the metrics,
/// the channel-use split (pilots / semantic or metadata / analog), key share, MCS and
/// prompt.
pub fn table(rows: &[DemoRow]) -> String {
    let mut s = String::from(
        "| image | SNR dB | codec | generator | PSNR dB | key PSNR dB | MS-SSIM | VSI | ch. uses (pilot/sem./analog) | key share | MCS | prompt |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let prompt = match (&r.prompt_text, r.failed_records) {
            (Some(t), 0) => cell(t, PROMPT_CELL_CHARS),
            (Some(t), n) => format!("({n} record(s) lost, repaired) {}", cell(t, PROMPT_CELL_CHARS)),
            (None, _) => "–".to_owned(),
        };
        let _ = writeln!(
            s,
            "| {} | {:.0} | {} | {} | {:.2} | {} | {} | {:.4} | {} ({}/{}/{}) | {} | {} | {} |",
            r.image,
            r.snr_db,
            r.codec,
            r.generator.as_deref().unwrap_or("–"),
            r.psnr_db,
            opt(r.key_psnr_db, 2),
            opt(r.ms_ssim, 4),
            r.vsi,
            r.channel_uses,
            r.pilots,
            r.meta,
            r.analog,
            opt(r.key_share, 2),
            r.mcs,
            prompt
        );
    }
    s
}

/// Means per SNR and codec over the images.
pub fn means(rows: &[DemoRow]) -> String {
    let mut s = String::from(
        "| SNR dB | codec | images | PSNR dB | key PSNR dB | MS-SSIM | VSI |\n|---|---|---|---|---|---|---|\n",
    );
    let mut keys: Vec<(f64, String)> = Vec::new();
    for r in rows {
        if !keys.iter().any(|(snr, c)| *snr == r.snr_db && *c == r.codec) {
            keys.push((r.snr_db, r.codec.clone()));
        }
    }
    let mean = |v: Vec<f64>| {
        if v.is_empty() {
            None
        } else {
            Some(v.iter().sum::<f64>() / v.len() as f64)
        }
    };
    for (snr, codec) in keys {
        let g: Vec<&DemoRow> = rows.iter().filter(|r| r.snr_db == snr && r.codec == codec).collect();
        let _ = writeln!(
            s,
            "| {snr:.0} | {codec} | {} | {} | {} | {} | {} |",
            g.len(),
            opt(mean(g.iter().map(|r| r.psnr_db).collect()), 2),
            opt(mean(g.iter().filter_map(|r| r.key_psnr_db).collect()), 2),
            opt(mean(g.iter().filter_map(|r| r.ms_ssim).collect()), 4),
            opt(mean(g.iter().map(|r| r.vsi).collect()), 4),
        );
    }
    s
}

/// `summary.md`: the tables, then per image and SNR the pictures side by side and
/// the prompt text in full.
pub fn summary(rows: &[DemoRow], opts: &DemoOptions) -> String {
    let mut s = format!(
        "# semcom demo\n\nρ = 1/{:.0}, Es/N0 {:?} dB on channel-sim (the sender is told the same SNR as CSI), seed {}.\n\n",
        1.0 / opts.rho,
        opts.snrs_db,
        opts.seed
    );
    s.push_str(&table(rows));
    s.push('\n');
    s.push_str(&means(rows));
    for r in rows {
        let generator = r.generator.as_ref().map(|g| format!(", {g} generator")).unwrap_or_default();
        let _ = write!(s, "\n## {} at {} dB, {}{generator}\n\n", r.image, r.snr_db, r.codec);
        let _ = write!(s, "![original]({}_original.png) ", r.image);
        if let Some(m) = &r.mask {
            let _ = write!(s, "![key mask]({m}) ");
        }
        let _ = writeln!(s, "![reconstruction]({})\n", r.reconstruction);
        let _ = writeln!(
            s,
            "Channel uses {} of {} (pilots {}, digital {} = header {} + prompt {}, analog {}), MCS {}.\n",
            r.channel_uses, r.budget, r.pilots, r.meta, r.header_symbols, r.prompt_symbols, r.analog, r.mcs
        );
        if let Some(t) = &r.prompt_text {
            let detail = r.prompt_detail.as_deref().unwrap_or("?");
            let _ = writeln!(s, "Prompt ({detail}): {}\n", t.trim());
        }
    }
    s
}

/// Writes `summary.md` and `summary.json` into the output folder.
pub fn write_summary(rows: &[DemoRow], opts: &DemoOptions) -> Result<()> {
    std::fs::write(opts.out.join("summary.md"), summary(rows, opts))?;
    std::fs::write(opts.out.join("summary.json"), serde_json::to_vec_pretty(rows)?)?;
    Ok(())
}

/// Parses a bandwidth ratio written as a fraction (`1/32`) or a decimal.
pub fn parse_ratio(s: &str) -> Result<f64, String> {
    let v = match s.split_once('/') {
        Some((a, b)) => {
            let a: f64 = a.trim().parse().map_err(|_| format!("bad numerator in {s:?}"))?;
            let b: f64 = b.trim().parse().map_err(|_| format!("bad denominator in {s:?}"))?;
            a / b
        }
        None => s.trim().parse().map_err(|_| format!("not a number: {s:?}"))?,
    };
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(format!("ratio must be positive and finite, got {s:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The built-in samples are the repository's samples/, file for file.
    #[test]
    fn built_in_samples_are_the_samples_folder() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples");
        let files = image_files(&dir).expect("samples/");
        let names: Vec<String> =
            files.iter().map(|f| f.file_name().and_then(|n| n.to_str()).unwrap_or("").to_owned()).collect();
        assert_eq!(names, SAMPLES.map(|(name, _)| name));
        for (file, (name, bytes)) in files.iter().zip(SAMPLES) {
            assert!(std::fs::read(file).expect("sample") == bytes, "{name} differs from {}", file.display());
        }
    }

    #[test]
    fn ratios() {
        assert_eq!(parse_ratio("1/32"), Ok(1.0 / 32.0));
        assert_eq!(parse_ratio("0.25"), Ok(0.25));
        assert!(parse_ratio("1/0").is_err());
        assert!(parse_ratio("-1").is_err());
        assert!(parse_ratio("x").is_err());
    }
}
