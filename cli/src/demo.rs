//! `semcom demo`: the three daemons on loopback, the bundled images through
//! channel-sim at several SNRs, original/reconstruction pairs on disk and a table.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use semcom_codec::image_io::{decode_image, encode_png, ImageLimits};
use semcom_proto::v1::TransmitOptions;
use serde::Serialize;

use crate::stack::{Stack, StackOptions};

#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub images: PathBuf,
    pub snrs_db: Vec<f64>,
    pub rho: f64,
    pub out: PathBuf,
    pub seed: u64,
}

/// One row of the demo table.
#[derive(Debug, Clone, Serialize)]
pub struct DemoRow {
    pub image: String,
    pub width: u32,
    pub height: u32,
    /// Es/N0 set on channel-sim, dB.
    pub snr_db: f64,
    /// Es/N0 the receiver estimated from the pilots, dB.
    pub snr_est_db: f64,
    pub rho: f64,
    pub symbols_per_pixel: f64,
    pub channel_uses: u64,
    pub pilots: u64,
    pub meta: u64,
    pub analog: u64,
    pub psnr_db: f64,
    pub ssim: f64,
    /// Submit to stored result, seconds.
    pub seconds: f64,
    pub reconstruction: String,
}

/// Image files of a folder (PNG and JPEG), sorted by name.
pub fn image_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
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
        bail!("no PNG or JPEG images in {}", dir.display());
    }
    Ok(files)
}

pub async fn run(opts: &DemoOptions) -> Result<Vec<DemoRow>> {
    let files = image_files(&opts.images)?;
    std::fs::create_dir_all(&opts.out).with_context(|| format!("creating {}", opts.out.display()))?;
    let data = tempfile::tempdir().context("temporary data directory")?;
    let stack = Stack::start(
        data.path(),
        &StackOptions { snr_db: opts.snrs_db.first().copied().unwrap_or(10.0), seed: opts.seed, ..StackOptions::default() },
    )
    .await?;
    let result = transmit_all(&stack, &files, opts).await;
    stack.shutdown().await?;
    result
}

async fn transmit_all(stack: &Stack, files: &[PathBuf], opts: &DemoOptions) -> Result<Vec<DemoRow>> {
    let mut clients = stack.clients().await?;
    let mut rows = Vec::new();
    for &snr in &opts.snrs_db {
        clients.set_snr(snr).await?;
        for file in files {
            let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("image").to_owned();
            let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
            let original = decode_image(&bytes, &ImageLimits::default())
                .with_context(|| format!("decoding {}", file.display()))?;
            let original_path = opts.out.join(format!("{stem}_original.png"));
            if !original_path.exists() {
                std::fs::write(&original_path, encode_png(&original)?)?;
            }

            let started = Instant::now();
            let options = TransmitOptions { rho: opts.rho, simulate_snr_db: None, seed: opts.seed };
            let delivered = clients.transmit(&stem, bytes, options).await.with_context(|| format!("transmitting {stem}"))?;
            let seconds = started.elapsed().as_secs_f64();

            let recon = decode_image(&delivered.result.png, &ImageLimits::default()).context("decoding the result")?;
            let psnr = semcom_metrics::psnr(&original, &recon)?;
            let ssim = semcom_metrics::ssim(&original, &recon)?;
            let recon_name = format!("{stem}_snr{snr}dB.png");
            std::fs::write(opts.out.join(&recon_name), &delivered.result.png)?;
            let info = delivered.result.info.unwrap_or_default();
            let split = info.split.unwrap_or_default();
            rows.push(DemoRow {
                image: stem,
                width: original.width(),
                height: original.height(),
                snr_db: snr,
                snr_est_db: info.snr_est_db,
                rho: split.rho,
                symbols_per_pixel: split.symbols_per_pixel,
                channel_uses: split.total,
                pilots: split.pilots,
                meta: split.meta,
                analog: split.analog,
                psnr_db: psnr,
                ssim,
                seconds,
                reconstruction: recon_name,
            });
        }
    }
    Ok(rows)
}

/// The demo table as markdown.
pub fn table(rows: &[DemoRow]) -> String {
    let mut s = String::from(
        "| image | size | SNR dB | est. SNR dB | rho | ch. uses (pilot/meta/analog) | PSNR dB | SSIM | time s |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        s.push_str(&format!(
            "| {} | {}x{} | {:.1} | {:.2} | 1/{:.1} | {} ({}/{}/{}) | {:.2} | {:.4} | {:.2} |\n",
            r.image,
            r.width,
            r.height,
            r.snr_db,
            r.snr_est_db,
            1.0 / r.rho,
            r.channel_uses,
            r.pilots,
            r.meta,
            r.analog,
            r.psnr_db,
            r.ssim,
            r.seconds
        ));
    }
    s
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
    use super::parse_ratio;

    #[test]
    fn ratios() {
        assert_eq!(parse_ratio("1/32"), Ok(1.0 / 32.0));
        assert_eq!(parse_ratio("0.25"), Ok(0.25));
        assert!(parse_ratio("1/0").is_err());
        assert!(parse_ratio("-1").is_err());
        assert!(parse_ratio("x").is_err());
    }
}
