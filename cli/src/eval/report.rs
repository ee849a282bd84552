//! What a sweep leaves besides its rows: the adaptive jpeg-ldpc envelope, the plots
//! (each metric vs SNR per channel and ρ), the image grid and summary.md.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use image::{imageops, Rgb, RgbImage};
use semcom_plot::{Chart, Series};

use super::channel::ChannelKind;
use super::images::EvalImage;
use super::methods::{SEMCOM, SEMCOM_DIFFUSION};
use super::options::{snr_key, EvalOptions, Rho};
use super::rows::Row;

/// The adaptive envelope's method name.
pub const BEST: &str = "jpeg-ldpc-best";
const LDPC_PREFIX: &str = "jpeg-ldpc-mcs";

/// Grid tile box; images are scaled to fit and centred on white.
pub const TILE_W: u32 = 144;
pub const TILE_H: u32 = 96;
/// Space between tiles, and extra space before each SNR's group of tiles.
pub const GAP: u32 = 4;
pub const GROUP_GAP: u32 = 16;

/// Identifies a grid tile: (image index, method, SNR in µdB).
pub type TileKey = (usize, String, i64);

/// A reconstruction shrunk to a grid tile.
pub fn tile(img: &RgbImage) -> RgbImage {
    let (w, h) = img.dimensions();
    let s = (f64::from(TILE_W) / f64::from(w)).min(f64::from(TILE_H) / f64::from(h));
    let (tw, th) = (((f64::from(w) * s).round() as u32).max(1), ((f64::from(h) * s).round() as u32).max(1));
    let small = imageops::resize(img, tw, th, imageops::FilterType::Triangle);
    let mut out = RgbImage::from_pixel(TILE_W, TILE_H, Rgb([255, 255, 255]));
    imageops::overlay(&mut out, &small, i64::from((TILE_W - tw) / 2), i64::from((TILE_H - th) / 2));
    out
}

/// Per (image, channel, ρ, SNR, realisation) the fixed-MCS jpeg-ldpc row with the
/// highest PSNR, renamed [`BEST`]: a transmitter that picks the best MCS for each
/// channel draw (with hindsight, so an upper bound on real link adaptation).
pub fn best_envelope(rows: &[Row]) -> Vec<Row> {
    let mut best: HashMap<String, &Row> = HashMap::new();
    for r in rows.iter().filter(|r| r.method.starts_with(LDPC_PREFIX) && r.psnr.is_some()) {
        let k = format!("{}|{}|{:.9}|{:.6}|{}|{}", r.image, r.channel, r.rho_value, r.snr_db, r.realisation, r.seed);
        let e = best.entry(k).or_insert(r);
        // Ties (typically every MCS undecodable) go to the most robust MCS, so the
        // envelope does not depend on the order rows finished in.
        if r.psnr > e.psnr || (r.psnr == e.psnr && r.mcs < e.mcs) {
            *e = r;
        }
    }
    let mut out: Vec<Row> = best.into_values().map(|r| Row { method: BEST.into(), ..r.clone() }).collect();
    out.sort_by(|a, b| {
        (&a.image, a.snr_db, a.realisation)
            .partial_cmp(&(&b.image, b.snr_db, b.realisation))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    out
}

/// Methods in report order: as selected, with the envelope after the last fixed MCS.
fn report_methods(methods: &[String]) -> Vec<String> {
    let mut out = methods.to_vec();
    if let Some(last) = out.iter().rposition(|m| m.starts_with(LDPC_PREFIX)) {
        out.insert(last + 1, BEST.into());
    }
    out
}

/// Methods shown in the grid: the envelope stands in for the fixed MCS.
fn grid_methods(methods: &[String]) -> Vec<String> {
    report_methods(methods).into_iter().filter(|m| !m.starts_with(LDPC_PREFIX)).collect()
}

type Metric = (&'static str, &'static str, &'static str, fn(&Row) -> Option<f64>);

/// The plotted metrics: file stem, name, axis label, value.
const METRICS: &[Metric] = &[
    ("psnr", "PSNR", "PSNR (dB)", |r| r.psnr),
    ("key_psnr", "Key-region PSNR", "key-region PSNR (dB)", |r| r.key_psnr),
    ("ms_ssim", "MS-SSIM", "MS-SSIM", |r| r.ms_ssim),
    ("vsi", "VSI", "VSI", |r| r.vsi),
    ("nonkey_swd", "Non-key texture SWD", "non-key SWD (lower is better)", |r| r.nonkey_swd),
];

fn mean(vals: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    let (mut s, mut n) = (0.0, 0usize);
    for v in vals.flatten() {
        s += v;
        n += 1;
    }
    (n > 0).then(|| s / n as f64)
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 })
}

fn fmt(v: Option<f64>, digits: usize) -> String {
    v.map_or("–".into(), |v| format!("{v:.digits$}"))
}

fn same(a: f64, b: f64) -> bool {
    snr_key(a) == snr_key(b)
}

fn rho_stem(label: &str) -> String {
    label.replace('/', "-")
}

/// Writes the plots, the grid (when `tiles` is given) and summary.md; returns the markdown.
pub fn write_all(
    opts: &EvalOptions,
    images: &[EvalImage],
    methods: &[String],
    rows: &[Row],
    tiles: Option<&HashMap<TileKey, RgbImage>>,
) -> Result<String> {
    let mut all = rows.to_vec();
    all.extend(best_envelope(rows));
    let charts = write_plots(opts, images.len(), &report_methods(methods), &all)?;
    let md = summary_markdown(opts, images, methods, rows, &all, &charts);
    if let Some(tiles) = tiles {
        write_grid(opts, images, methods, &all, tiles)?;
    }
    std::fs::write(opts.out.join("summary.md"), &md).context("writing summary.md")?;
    Ok(md)
}

/// The rows of one (channel, ρ) section of the reports.
fn section_rows<'a>(all: &'a [Row], channel: ChannelKind, rho: &Rho) -> Vec<&'a Row> {
    all.iter().filter(|r| r.channel == channel.name() && (r.rho_value - rho.value).abs() < 1e-12).collect()
}

/// Links to the charts of each (channel name, ρ label), as summary.md lists them.
type ChartLinks = HashMap<(&'static str, String), Vec<String>>;

/// Writes one chart per metric, channel and ρ into `plots/` (one line per method, means
/// over images and draws; PNG and SVG); returns the links to them.
fn write_plots(opts: &EvalOptions, n_images: usize, order: &[String], all: &[Row]) -> Result<ChartLinks> {
    let plots = opts.out.join("plots");
    std::fs::create_dir_all(&plots).with_context(|| format!("creating {}", plots.display()))?;
    let mut links = ChartLinks::new();
    for &ch in &opts.channels {
        for rho in &opts.rhos {
            let cell = section_rows(all, ch, rho);
            let mut charts = Vec::new();
            for (stem, title, label, get) in METRICS {
                let series: Vec<Series> = order
                    .iter()
                    .map(|m| Series {
                        label: m.clone(),
                        points: opts
                            .snrs_db
                            .iter()
                            .filter_map(|&snr| {
                                let rs =
                                    cell.iter().filter(|r| &r.method == m && same(r.snr_db, snr) && r.error.is_none());
                                mean(rs.map(|r| get(r))).map(|v| (snr, v))
                            })
                            .collect(),
                        dashed: m == "jpeg-capacity" || m == "softcast-oracle" || m == BEST,
                    })
                    .filter(|s| !s.points.is_empty())
                    .collect();
                if series.is_empty() {
                    continue;
                }
                let name = format!("{stem}_{}_rho{}", ch.name(), rho_stem(&rho.label));
                Chart {
                    title: format!(
                        "{title} vs SNR, {}, ρ = {} ({} image{} × {} realisation{})",
                        ch.name().to_uppercase(),
                        rho.label,
                        n_images,
                        if n_images == 1 { "" } else { "s" },
                        opts.realisations,
                        if opts.realisations == 1 { "" } else { "s" },
                    ),
                    x_label: "SNR Es/N0 (dB)".into(),
                    y_label: (*label).into(),
                    log_y: false,
                    series,
                    // Quality curves rise to the upper right; SWD falls.
                    legend_lower_left: *stem == "nonkey_swd",
                }
                .save(&plots.join(&name))
                .with_context(|| format!("plotting {name}"))?;
                charts.push(format!("[{stem}](plots/{name}.png)"));
            }
            links.insert((ch.name(), rho.label.clone()), charts);
        }
    }
    Ok(links)
}

/// summary.md: what was swept, a table of mean metrics per (channel, ρ) with links to
/// its charts, speed and memory, and what the grid shows.
fn summary_markdown(
    opts: &EvalOptions,
    images: &[EvalImage],
    methods: &[String],
    rows: &[Row],
    all: &[Row],
    charts: &ChartLinks,
) -> String {
    let mut md = intro(opts, images, methods);
    let order = report_methods(methods);
    for &ch in &opts.channels {
        for rho in &opts.rhos {
            md.push_str(&metrics_table(opts, &order, ch, rho, &section_rows(all, ch, rho)));
            if let Some(links) = charts.get(&(ch.name(), rho.label.clone())).filter(|l| !l.is_empty()) {
                let _ = writeln!(md, "Plots (PNG, SVG next to them): {}\n", links.join(", "));
            }
        }
    }
    md.push_str(&speed_table(opts, methods, rows));
    md.push_str(&grid_section(opts, images, methods));
    md
}

/// The title and the paragraphs on what was swept and how to read the tables.
fn intro(opts: &EvalOptions, images: &[EvalImage], methods: &[String]) -> String {
    let mut md = String::new();
    let sizes: Vec<String> =
        images.iter().map(|i| format!("{} {}×{}", i.name, i.image.width(), i.image.height())).collect();
    let _ = writeln!(md, "# semcom eval\n");
    let _ = writeln!(
        md,
        "Images: `{}`{} ({}). SNR: {} dB. Channels: {}{}. ρ: {}. Realisations: {} (seed {}). \
         Frame erasure probability: {}.\n",
        opts.images.display(),
        opts.max_side.map(|m| format!(", downscaled to at most {m} px")).unwrap_or_default(),
        sizes.join(", "),
        opts.snrs_db.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(", "),
        opts.channels.iter().map(|c| c.name()).collect::<Vec<_>>().join(", "),
        if opts.channels.contains(&ChannelKind::Rayleigh) {
            format!(" (Rayleigh block fading, coherence {} symbols)", opts.coherence)
        } else {
            String::new()
        },
        opts.rhos.iter().map(|r| r.label.as_str()).collect::<Vec<_>>().join(", "),
        opts.realisations,
        opts.seed,
        opts.erasure,
    );
    let _ = writeln!(
        md,
        "Every method gets the same channel-use budget round(ρ·3HW) and the same channel draw per \
         (image, channel, ρ, SNR, realisation). Values are means over images and realisations. \
         Key/non-key regions are semcom's key mask of that image, ρ and SNR, for every method. \
         `{BEST}`: per image and channel draw the fixed-MCS row with the highest PSNR (link \
         adaptation with hindsight, an upper bound on a real MCS choice). `jpeg-capacity` is a \
         reference line (the best JPEG within k·log2(1+SNR) bits), not a system; so is \
         `softcast-oracle` (SoftCast with 8×8 chunks, exact λ and means for free, perfect CSI, all k \
         channel uses analog). SWD (multi-scale \
         sliced Wasserstein distance of 7×7 patches) is lower-better. *failed blocks*: LDPC code blocks that failed their CRC / all blocks; \
         *undecodable*: rows where the receiver reconstructed nothing (mid-grey image).\n"
    );
    if methods.iter().any(|m| m == SEMCOM_DIFFUSION) {
        let d = &opts.diffusion;
        let _ = writeln!(
            md,
            "`{SEMCOM}` and `{SEMCOM_DIFFUSION}`: the semantic codec with the classical fill and with the diffusion \
             generator ({}, {} DDIM steps from {}, seam {} px, strength {}{}). Same key regions, symbols and channel \
             draw: they differ in the non-key regions only.\n",
            semcom_models::describe_diffusion(d),
            d.steps,
            if d.start < 1.0 { format!("the classical fill noised to {}·T", d.start) } else { "pure noise".into() },
            d.seam,
            d.strength,
            if d.match_energy { ", local energy matched to the classical fill's" } else { "" }
        );
    }
    md
}

/// The table of one (channel, ρ) section: mean metrics, failed blocks and undecodable
/// rows per SNR and method.
fn metrics_table(opts: &EvalOptions, order: &[String], ch: ChannelKind, rho: &Rho, cell: &[&Row]) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "## {}, ρ = {}\n", ch.name().to_uppercase(), rho.label);
    let _ = writeln!(
        md,
        "| SNR (dB) | method | PSNR | key PSNR | key SSIM | non-key PSNR | MS-SSIM | VSI | non-key SWD | failed blocks | undecodable |"
    );
    let _ = writeln!(md, "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for &snr in &opts.snrs_db {
        for m in order {
            let rs: Vec<&Row> =
                cell.iter().copied().filter(|r| &r.method == m && same(r.snr_db, snr) && r.error.is_none()).collect();
            let errors = cell.iter().filter(|r| &r.method == m && same(r.snr_db, snr) && r.error.is_some()).count();
            if rs.is_empty() && errors == 0 {
                continue;
            }
            let failed = if m.starts_with(LDPC_PREFIX) || m == BEST {
                let f: usize = rs.iter().filter_map(|r| r.blocks_failed).sum();
                let b: usize = rs.iter().filter_map(|r| r.blocks).sum();
                format!("{f}/{b}")
            } else {
                "–".into()
            };
            let und = rs.iter().filter(|r| r.undecodable).count();
            let mut undec = format!("{und}/{}", rs.len());
            if errors > 0 {
                let _ = write!(undec, " ({errors} refused)");
            }
            let _ = writeln!(
                md,
                "| {snr} | {m} | {} | {} | {} | {} | {} | {} | {} | {failed} | {undec} |",
                fmt(mean(rs.iter().map(|r| r.psnr)), 2),
                fmt(mean(rs.iter().map(|r| r.key_psnr)), 2),
                fmt(mean(rs.iter().map(|r| r.key_ssim)), 4),
                fmt(mean(rs.iter().map(|r| r.nonkey_psnr)), 2),
                fmt(mean(rs.iter().map(|r| r.ms_ssim)), 4),
                fmt(mean(rs.iter().map(|r| r.vsi)), 4),
                fmt(mean(rs.iter().map(|r| r.nonkey_swd)), 4),
            );
        }
    }
    let _ = writeln!(md);
    md
}

/// Speed: median wall-clock time per call over every row of the sweep, and the peak
/// memory of this process.
fn speed_table(opts: &EvalOptions, methods: &[String], rows: &[Row]) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "## Speed and memory\n");
    let _ = writeln!(md, "| method | runs | median encode (ms) | median decode (ms) |");
    let _ = writeln!(md, "|---|---:|---:|---:|");
    for m in methods {
        let rs: Vec<&Row> = rows.iter().filter(|r| &r.method == m && r.error.is_none()).collect();
        let _ = writeln!(
            md,
            "| {m} | {} | {} | {} |",
            rs.len(),
            fmt(median(rs.iter().map(|r| r.encode_ms).collect()), 1),
            fmt(median(rs.iter().map(|r| r.decode_ms).collect()), 1),
        );
    }
    let _ = writeln!(
        md,
        "\nTimes are wall-clock per call on {} worker thread(s) (rows resumed from an earlier run keep \
         their times); jpeg-capacity's search is counted as encoding. Peak memory of the eval process \
         (VmHWM): {}.\n",
        opts.jobs,
        peak_memory().unwrap_or_else(|| "n/a".into())
    );
    md
}

/// What `grid.png` shows: rows are images, columns the original then each method per
/// grid SNR.
fn grid_section(opts: &EvalOptions, images: &[EvalImage], methods: &[String]) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "## Image grid\n");
    let _ = writeln!(
        md,
        "`grid.png` ({}, ρ = {}, realisation 0): one row per image ({}); columns: the original, then {}.\n",
        opts.channels[0].name(),
        opts.rhos[0].label,
        images.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join(", "),
        opts.grid_snrs()
            .iter()
            .map(|s| format!("at {s} dB: {}", grid_methods(methods).join(", ")))
            .collect::<Vec<_>>()
            .join("; ")
    );
    md
}

/// Writes `grid.png` from the tiles the sweep kept.
fn write_grid(
    opts: &EvalOptions,
    images: &[EvalImage],
    methods: &[String],
    all: &[Row],
    tiles: &HashMap<TileKey, RgbImage>,
) -> Result<()> {
    grid(opts, images, &grid_methods(methods), &opts.grid_snrs(), all, tiles)?
        .save(opts.out.join("grid.png"))
        .context("writing grid.png")
}

fn grid(
    opts: &EvalOptions,
    images: &[EvalImage],
    methods: &[String],
    snrs: &[f64],
    rows: &[Row],
    tiles: &HashMap<TileKey, RgbImage>,
) -> Result<RgbImage> {
    let cols = 1 + snrs.len() * methods.len();
    let width = cols as u32 * (TILE_W + GAP) + snrs.len() as u32 * GROUP_GAP;
    let height = images.len() as u32 * (TILE_H + GAP);
    let mut out = RgbImage::from_pixel(width.max(1), height.max(1), Rgb([255, 255, 255]));
    let (ch, rho) = (opts.channels[0].name(), opts.rhos[0].value);
    for (i, img) in images.iter().enumerate() {
        let y = i as u32 * (TILE_H + GAP);
        imageops::overlay(&mut out, &tile(&img.image), 0, i64::from(y));
        let mut x = TILE_W + GAP;
        for &snr in snrs {
            x += GROUP_GAP;
            for m in methods {
                // The envelope's tile is the image of the MCS it picked.
                let source = if m == BEST {
                    rows.iter()
                        .find(|r| {
                            r.method == BEST
                                && r.image == img.name
                                && r.channel == ch
                                && (r.rho_value - rho).abs() < 1e-12
                                && same(r.snr_db, snr)
                                && r.realisation == 0
                        })
                        .and_then(|r| r.mcs.map(|mcs| format!("{LDPC_PREFIX}{mcs}")))
                } else {
                    Some(m.clone())
                };
                if let Some(t) = source.and_then(|s| tiles.get(&(i, s, snr_key(snr)))) {
                    imageops::overlay(&mut out, t, i64::from(x), i64::from(y));
                }
                x += TILE_W + GAP;
            }
        }
    }
    Ok(out)
}

/// Peak resident memory of this process (VmHWM), e.g. "812 MB"; `None` off Linux.
pub fn peak_memory() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: u64 =
        status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(format!("{:.0} MB", kb as f64 / 1024.0))
}

/// Path of a chart's PNG for a metric, channel and ρ label (for tests and the README).
pub fn plot_path(out: &Path, metric: &str, channel: &str, rho_label: &str) -> std::path::PathBuf {
    out.join("plots").join(format!("{metric}_{channel}_rho{}.png", rho_stem(rho_label)))
}
