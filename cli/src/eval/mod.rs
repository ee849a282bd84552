//! `semcom eval`: quality-versus-SNR sweeps of the semantic codec (with the classical
//! fill, `semcom`, and with the diffusion generator, `semcom-diffusion`) against the
//! analog (SoftCast) and separation (JPEG + LDPC, JPEG at capacity) baselines, every method
//! at exactly the same channel uses and SNR, through the channel channel-sim runs.
//!
//! Output folder:
//! * `results.csv` / `results.jsonl`: one row per image × method × channel × ρ × SNR ×
//!   realisation ([`rows::Row`]), streamed as rows finish; a rerun skips the rows
//!   already in `results.csv` (resume) unless they were computed with other settings
//!   (`settings.json`);
//! * `plots/`: each metric vs SNR, one line per method, one chart per (channel, ρ);
//! * `grid.png`: original and reconstructions at a few SNRs;
//! * `summary.md`: mean metrics per (channel, ρ, SNR, method), failure counts, median
//!   encode/decode times and peak memory (so eval doubles as the codec benchmark).
//!
//! Region metrics use semcom's key mask of that image, ρ and SNR for every method, so
//! all methods are measured on the same pixels.

pub mod channel;
mod jpeg;
pub mod methods;
pub mod report;
pub mod rows;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};

use anyhow::{bail, Context, Result};
use image::RgbImage;
use semcom_codec::image_io::{decode_image, ImageLimits};
use semcom_metrics::MetricsError;
use semcom_models::DiffusionSettings;

use channel::{cell_seed, ChannelKind, ChannelSpec};
use methods::{Cell, Method, Outcome};
use rows::{Row, RowKey, RowWriter, SweepSettings};

/// A bandwidth ratio as given on the command line and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Rho {
    pub label: String,
    pub value: f64,
}

impl std::str::FromStr for Rho {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        let label = s.trim().to_string();
        let value = crate::demo::parse_ratio(&label).map_err(anyhow::Error::msg)?;
        Ok(Rho { label, value })
    }
}

/// Parses a comma list of ρ values (`1/16,1/32,0.01`).
pub fn parse_rhos(s: &str) -> Result<Vec<Rho>> {
    s.split(',').filter(|p| !p.trim().is_empty()).map(str::parse).collect()
}

/// Parses SNRs in dB: a comma list whose items are values or inclusive ranges
/// `from:to:step` (`-5:20:2.5`, `0,10,20`, `-5:5:5,20`). Sorted, duplicates removed.
pub fn parse_snrs(s: &str) -> Result<Vec<f64>> {
    let num = |p: &str| -> Result<f64> {
        let v: f64 = p.trim().parse().with_context(|| format!("not a number: {p:?} in {s:?}"))?;
        if !v.is_finite() {
            bail!("SNR {p:?} is not finite");
        }
        Ok(v)
    };
    let mut out = Vec::new();
    for item in s.split(',').filter(|p| !p.trim().is_empty()) {
        let parts: Vec<&str> = item.split(':').collect();
        match parts[..] {
            [v] => out.push(num(v)?),
            [a, b, step] => {
                let (a, b, step) = (num(a)?, num(b)?, num(step)?);
                if step <= 0.0 || b < a {
                    bail!("SNR range {item:?}: need from <= to and a positive step");
                }
                let n = ((b - a) / step + 1e-9).floor() as usize;
                if n > 10_000 {
                    bail!("SNR range {item:?} has more than 10000 points");
                }
                // Rounded to µdB so 2.5-dB steps print and compare as 2.5, not 2.4999….
                out.extend((0..=n).map(|i| ((a + i as f64 * step) * 1e6).round() / 1e6));
            }
            _ => bail!("SNR item {item:?}: a value or from:to:step"),
        }
    }
    if out.is_empty() {
        bail!("no SNR given");
    }
    out.sort_by(f64::total_cmp);
    out.dedup();
    Ok(out)
}

/// The methods of a sweep unless told otherwise: all of them.
pub const DEFAULT_METHODS: [&str; 5] = ["semcom", "semcom-diffusion", "softcast", "jpeg-ldpc", "jpeg-capacity"];

/// Everything a sweep needs.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    /// Folder of PNG/JPEG images.
    pub images: PathBuf,
    /// Images whose longer side exceeds this are downscaled to it (Lanczos) before the
    /// sweep; `None`: as they are.
    pub max_side: Option<u32>,
    pub snrs_db: Vec<f64>,
    pub channels: Vec<ChannelKind>,
    pub rhos: Vec<Rho>,
    /// `semcom`, `semcom-diffusion`, `softcast`, `jpeg-ldpc` (one method per entry of
    /// `mcs`), `jpeg-ldpc-mcsN`, `jpeg-capacity`.
    pub methods: Vec<String>,
    pub mcs: Vec<u8>,
    /// The generator of `semcom-diffusion` (default: the embedded int8 model).
    pub diffusion: DiffusionSettings,
    pub realisations: u32,
    pub seed: u64,
    /// Worker threads.
    pub jobs: usize,
    pub out: PathBuf,
    /// SNRs shown in the image grid (snapped to the nearest swept SNR); `None`: the
    /// lowest, middle and highest swept SNR.
    pub grid_snrs: Option<Vec<f64>>,
    /// Block-fading coherence, symbols (Rayleigh).
    pub coherence: u32,
    /// Per-frame erasure probability.
    pub erasure: f64,
    /// Draw a progress bar on stderr.
    pub progress: bool,
}

impl EvalOptions {
    /// The defaults of the command: the bundled samples, −5…20 dB in 5-dB steps, AWGN,
    /// ρ = 1/32, every method, one realisation, all cores.
    pub fn new(out: impl Into<PathBuf>) -> Self {
        Self {
            images: PathBuf::from("samples"),
            max_side: None,
            snrs_db: vec![-5.0, 0.0, 5.0, 10.0, 15.0, 20.0],
            channels: vec![ChannelKind::Awgn],
            rhos: vec![Rho { label: "1/32".into(), value: 1.0 / 32.0 }],
            methods: DEFAULT_METHODS.map(String::from).to_vec(),
            mcs: vec![1, 3, 5, 8],
            diffusion: DiffusionSettings::default(),
            realisations: 1,
            seed: 1,
            jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
            out: out.into(),
            grid_snrs: None,
            coherence: 1024,
            erasure: 0.0,
            progress: false,
        }
    }

    fn validate(&self) -> Result<()> {
        if self.snrs_db.is_empty() || self.channels.is_empty() || self.rhos.is_empty() {
            bail!("need at least one SNR, channel and rho");
        }
        if self.realisations == 0 {
            bail!("--realisations must be at least 1");
        }
        if self.max_side.is_some_and(|m| m < 16) {
            bail!("--max-side must be at least 16 pixels");
        }
        if self.coherence == 0 {
            bail!("--coherence must be at least 1 symbol");
        }
        if !(0.0..=1.0).contains(&self.erasure) {
            bail!("--erasure must be a probability in [0, 1]");
        }
        for s in &self.snrs_db {
            if !(-50.0..=100.0).contains(s) {
                bail!("SNR {s} dB outside the channel's range [-50, 100]");
            }
        }
        Ok(())
    }

    /// What the rows depend on beyond their key: checked when a sweep resumes.
    pub fn row_settings(&self) -> Result<SweepSettings> {
        let common = serde_json::json!({
            "max_side": self.max_side,
            "coherence": self.coherence,
            "erasure": self.erasure,
        });
        let mut per_method = std::collections::BTreeMap::new();
        if self.methods.iter().any(|m| m == methods::SEMCOM_DIFFUSION) {
            per_method.insert(methods::SEMCOM_DIFFUSION.to_string(), serde_json::to_value(&self.diffusion)?);
        }
        Ok(SweepSettings { common, methods: per_method })
    }

    /// The swept SNRs the grid shows.
    pub fn grid_snrs(&self) -> Vec<f64> {
        let snrs = &self.snrs_db;
        let mut out: Vec<f64> = match &self.grid_snrs {
            Some(g) => g
                .iter()
                .filter_map(|&want| snrs.iter().copied().min_by(|a, b| (a - want).abs().total_cmp(&(b - want).abs())))
                .collect(),
            None if snrs.is_empty() => Vec::new(),
            None => vec![snrs[0], snrs[snrs.len() / 2], snrs[snrs.len() - 1]],
        };
        out.sort_by(f64::total_cmp);
        out.dedup();
        out
    }
}

/// One loaded image.
pub struct EvalImage {
    pub name: String,
    pub image: RgbImage,
}

/// Limits for the local files a sweep reads: above the daemons' defaults so that camera
/// photos (20+ Mpx) load and `--max-side` can bring them down; still a guard against an
/// absurd header.
const LOCAL_IMAGE_LIMITS: ImageLimits =
    ImageLimits { max_width: 16384, max_height: 16384, max_pixels: 64 << 20, max_input_bytes: 128 << 20 };

/// Loads the images of a folder (sorted by name), downscaled so that the longer side is
/// at most `max_side` when one is given (camera photos are far larger than the channel
/// budgets and the generators are meant for).
pub fn load_images(dir: &Path, max_side: Option<u32>) -> Result<Vec<EvalImage>> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for path in crate::demo::image_files(dir)? {
        let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("image").to_string();
        if !seen.insert(name.clone()) {
            bail!("two images named {name:?} in {} (rows are keyed by the file stem)", dir.display());
        }
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let image =
            decode_image(&bytes, &LOCAL_IMAGE_LIMITS).with_context(|| format!("decoding {}", path.display()))?;
        let image = match max_side {
            Some(m) => fit_within(image, m),
            None => image,
        };
        out.push(EvalImage { name, image });
    }
    Ok(out)
}

/// `image` scaled down (aspect kept, Lanczos) so that its longer side is at most `max_side`.
fn fit_within(image: RgbImage, max_side: u32) -> RgbImage {
    let (w, h) = image.dimensions();
    let long = w.max(h);
    if long <= max_side {
        return image;
    }
    let scale = f64::from(max_side) / f64::from(long);
    let (nw, nh) = ((f64::from(w) * scale).round().max(1.0) as u32, (f64::from(h) * scale).round().max(1.0) as u32);
    image::imageops::resize(&image, nw.min(max_side), nh.min(max_side), image::imageops::FilterType::Lanczos3)
}

/// One (image, channel, ρ, SNR, realisation) cell of the sweep.
#[derive(Debug, Clone, Copy)]
struct Job {
    image: usize,
    channel: ChannelKind,
    rho: usize,
    snr_db: f64,
    realisation: u32,
}

/// Identifies a grid tile: (image index, method, SNR in µdB).
pub type TileKey = (usize, String, i64);

fn snr_key(snr: f64) -> i64 {
    (snr * 1e6).round() as i64
}

/// What a sweep did.
pub struct EvalSummary {
    /// Rows computed by this run, and rows in the sweep (including resumed ones).
    pub new_rows: usize,
    pub rows: usize,
    /// Rows whose method refused the cell.
    pub errors: usize,
    /// The markdown written to summary.md.
    pub markdown: String,
}

/// Region metrics need the mask; computed once per (image, ρ, SNR).
type MaskCache = Mutex<HashMap<(usize, usize, i64), Arc<Option<(Vec<bool>, f64)>>>>;

/// Runs a sweep (module docs).
pub fn run(opts: &EvalOptions) -> Result<EvalSummary> {
    opts.validate()?;
    let images = load_images(&opts.images, opts.max_side)?;
    let methods = methods::build(&opts.methods, &opts.mcs, &opts.diffusion)?;
    std::fs::create_dir_all(&opts.out).with_context(|| format!("creating {}", opts.out.display()))?;
    let (mut writer, existing) = RowWriter::open(&opts.out, &opts.row_settings()?)?;

    let grid_snrs: HashSet<i64> = opts.grid_snrs().iter().map(|&s| snr_key(s)).collect();
    let is_grid_cell = |j: &Job| {
        j.channel == opts.channels[0] && j.rho == 0 && j.realisation == 0 && grid_snrs.contains(&snr_key(j.snr_db))
    };
    let key = |j: &Job, m: &dyn Method| {
        RowKey::new(
            &images[j.image].name,
            &m.name(),
            j.channel.name(),
            opts.rhos[j.rho].value,
            j.snr_db,
            j.realisation,
            opts.seed,
        )
    };

    let mut all_jobs = Vec::new();
    for realisation in 0..opts.realisations {
        for &channel in &opts.channels {
            for rho in 0..opts.rhos.len() {
                for &snr_db in &opts.snrs_db {
                    for image in 0..images.len() {
                        all_jobs.push(Job { image, channel, rho, snr_db, realisation });
                    }
                }
            }
        }
    }
    // The grid is deterministic: rebuild it only when it is missing or one of its
    // cells gets new rows (rerunning the tiles of already-finished rows otherwise).
    let grid_path = opts.out.join("grid.png");
    let pending = |j: &Job| methods.iter().filter(|m| !existing.keys.contains(&key(j, m.as_ref()))).count();
    let rebuild_grid = !grid_path.exists() || all_jobs.iter().any(|j| is_grid_cell(j) && pending(j) > 0);
    // (job, indices of the methods to run, whether to keep tiles)
    let work: Vec<(Job, Vec<usize>, bool)> = all_jobs
        .iter()
        .filter_map(|j| {
            let tiles = rebuild_grid && is_grid_cell(j);
            let ms: Vec<usize> = (0..methods.len())
                .filter(|&i| tiles || !existing.keys.contains(&key(j, methods[i].as_ref())))
                .collect();
            (!ms.is_empty()).then_some((*j, ms, tiles))
        })
        .collect();
    let runs: usize = work.iter().map(|w| w.1.len()).sum();

    let bar = progress_bar(opts.progress, runs as u64);
    let masks: MaskCache = Mutex::new(HashMap::new());
    let next = AtomicUsize::new(0);
    let abort = AtomicBool::new(false);
    let mut tiles: HashMap<TileKey, RgbImage> = HashMap::new();
    let mut new_rows = 0usize;
    let (tx, rx) = mpsc::channel::<(Row, bool, Option<RgbImage>)>();
    let write_result: Result<()> = std::thread::scope(|s| {
        for _ in 0..opts.jobs.clamp(1, work.len().max(1)) {
            let tx = tx.clone();
            let (work, images, methods, masks, next, abort, existing) =
                (&work, &images, &methods, &masks, &next, &abort, &existing);
            s.spawn(move || loop {
                if abort.load(Ordering::Relaxed) {
                    break;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((job, ms, tiles)) = work.get(i) else {
                    break;
                };
                let mask = mask_for(masks, images, opts, job);
                for &m in ms {
                    let method = methods[m].as_ref();
                    let row = run_one(opts, images, job, method, &mask);
                    let new = !existing.keys.contains(&row.0.key());
                    let tile = if *tiles { row.1.as_ref().map(report::tile) } else { None };
                    if tx.send((row.0, new, tile)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        // The single writer: rows reach the disk in completion order, one flush each.
        for (row, new, tile) in rx {
            if let Some(t) = tile {
                if let Some(img) = images.iter().position(|i| i.name == row.image) {
                    tiles.insert((img, row.method.clone(), snr_key(row.snr_db)), t);
                }
            }
            if new {
                if let Some(e) = &row.error {
                    bar.suspend(|| eprintln!("{} {} {} dB: {e}", row.image, row.method, row.snr_db));
                }
                if let Err(e) = writer.write(&row) {
                    abort.store(true, Ordering::Relaxed);
                    return Err(e).context("writing results");
                }
                new_rows += 1;
            }
            bar.inc(1);
        }
        Ok(())
    });
    write_result?;
    bar.finish_and_clear();
    drop(writer);

    // Reports come from the file, so resumed rows count like new ones; only this
    // sweep's coordinates are kept (an output folder may hold other sweeps too).
    let wanted: HashSet<RowKey> =
        all_jobs.iter().flat_map(|j| methods.iter().map(move |m| key(j, m.as_ref()))).collect();
    let rows: Vec<Row> =
        rows::read_csv(&opts.out.join("results.csv"))?.into_iter().filter(|r| wanted.contains(&r.key())).collect();
    let method_names: Vec<String> = methods.iter().map(|m| m.name()).collect();
    let markdown = report::write_all(opts, &images, &method_names, &rows, rebuild_grid.then_some(&tiles))?;
    Ok(EvalSummary { new_rows, rows: rows.len(), errors: rows.iter().filter(|r| r.error.is_some()).count(), markdown })
}

fn progress_bar(show: bool, len: u64) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::with_draw_target(Some(len), indicatif::ProgressDrawTarget::stderr());
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{elapsed_precise} [{wide_bar}] {pos}/{len} runs, ETA {eta_precise}")
    {
        bar.set_style(style);
    }
    bar
}

fn mask_for(masks: &MaskCache, images: &[EvalImage], opts: &EvalOptions, job: &Job) -> Arc<Option<(Vec<bool>, f64)>> {
    let k = (job.image, job.rho, snr_key(job.snr_db));
    if let Some(m) = masks.lock().ok().and_then(|c| c.get(&k).cloned()) {
        return m;
    }
    // Computed outside the lock (two workers may race to compute the same mask; both
    // get the same deterministic result).
    let m = Arc::new(methods::key_mask(&images[job.image].image, opts.rhos[job.rho].value, job.snr_db).ok());
    if let Ok(mut c) = masks.lock() {
        c.insert(k, m.clone());
    }
    m
}

/// Runs one method on one cell and measures it; the reconstruction comes back for the grid.
fn run_one(
    opts: &EvalOptions,
    images: &[EvalImage],
    job: &Job,
    method: &dyn Method,
    mask: &Option<(Vec<bool>, f64)>,
) -> (Row, Option<RgbImage>) {
    let img = &images[job.image];
    let rho = &opts.rhos[job.rho];
    let seed = cell_seed(opts.seed, &img.name, job.channel, rho.value, job.snr_db, job.realisation);
    let spec =
        ChannelSpec { kind: job.channel, snr_db: job.snr_db, coherence: opts.coherence, erasure: opts.erasure, seed };
    let cell = Cell { image: &img.image, rho: rho.value, snr_db: job.snr_db, channel: spec };
    let mut row = Row {
        image: img.name.clone(),
        width: img.image.width(),
        height: img.image.height(),
        method: method.name(),
        channel: job.channel.name().into(),
        coherence: (job.channel == ChannelKind::Rayleigh).then_some(opts.coherence),
        erasure: opts.erasure,
        rho: rho.label.clone(),
        rho_value: rho.value,
        snr_db: job.snr_db,
        realisation: job.realisation,
        seed: opts.seed,
        channel_seed: seed,
        pilots: 0,
        digital: 0,
        analog: 0,
        total: 0,
        budget: methods::budget(&img.image, rho.value),
        mcs: None,
        payload_bytes: None,
        jpeg_quality: None,
        jpeg_bytes: None,
        jpeg_scale: None,
        blocks: None,
        blocks_failed: None,
        undecodable: false,
        erased_frames: 0,
        key_share: mask.as_ref().map(|m| m.1),
        psnr: None,
        ssim: None,
        ms_ssim: None,
        vsi: None,
        gmsd: None,
        key_psnr: None,
        key_ssim: None,
        nonkey_psnr: None,
        nonkey_swd: None,
        encode_ms: 0.0,
        decode_ms: 0.0,
        error: None,
    };
    let outcome = method.run(&cell).and_then(|o| {
        let m = measure(&img.image, &o.image, mask.as_ref().map(|m| m.0.as_slice()))?;
        Ok((o, m))
    });
    match outcome {
        Ok((o, m)) => {
            fill(&mut row, &o, m);
            (row, Some(o.image))
        }
        Err(e) => {
            row.error = Some(format!("{e:#}"));
            (row, None)
        }
    }
}

fn fill(row: &mut Row, o: &Outcome, m: Metrics) {
    row.pilots = o.split.pilots;
    row.digital = o.split.meta;
    row.analog = o.split.analog;
    row.total = o.split.total;
    row.budget = o.split.budget;
    row.mcs = o.mcs;
    row.payload_bytes = o.payload_bytes;
    row.jpeg_quality = o.jpeg.map(|j| j.quality);
    row.jpeg_bytes = o.jpeg.map(|j| j.bytes);
    row.jpeg_scale = o.jpeg.map(|j| j.scale);
    row.blocks = o.blocks;
    row.blocks_failed = o.blocks_failed;
    row.undecodable = o.undecodable;
    row.erased_frames = o.erased_frames;
    row.psnr = Some(m.psnr);
    row.ssim = Some(m.ssim);
    row.ms_ssim = m.ms_ssim;
    row.vsi = Some(m.vsi);
    row.gmsd = Some(m.gmsd);
    row.key_psnr = m.key_psnr;
    row.key_ssim = m.key_ssim;
    row.nonkey_psnr = m.nonkey_psnr;
    row.nonkey_swd = m.nonkey_swd;
    row.encode_ms = o.encode_ms;
    row.decode_ms = o.decode_ms;
}

/// Every metric of one reconstruction.
pub struct Metrics {
    pub psnr: f64,
    pub ssim: f64,
    pub ms_ssim: Option<f64>,
    pub vsi: f64,
    pub gmsd: f64,
    pub key_psnr: Option<f64>,
    pub key_ssim: Option<f64>,
    pub nonkey_psnr: Option<f64>,
    pub nonkey_swd: Option<f64>,
}

/// SWD's patch subsampling and directions: one fixed seed, so every method and cell is
/// measured with the same projections.
const SWD_SEED: u64 = semcom_metrics::REPORT_SWD_SEED;

/// Whole-image and region metrics; `key` is the per-pixel key mask.
pub fn measure(reference: &RgbImage, img: &RgbImage, key: Option<&[bool]>) -> Result<Metrics> {
    use semcom_metrics as m;
    let ms_ssim = match m::ms_ssim(reference, img) {
        Ok(v) => Some(v),
        Err(MetricsError::TooSmallForMsSsim { .. }) => None,
        Err(e) => return Err(e.into()),
    };
    // SWD over the key region too would double the cost of a row (SWD dominates it).
    let swd = |mask: &[bool]| -> Result<Option<f64>> {
        match m::swd(reference, img, Some(mask), SWD_SEED) {
            Ok(r) => Ok(Some(r.mean)),
            Err(MetricsError::TooSmallForSwd { .. } | MetricsError::MaskTooSmall { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    };
    let (mut key_psnr, mut key_ssim, mut nonkey_psnr, mut nonkey_swd) = (None, None, None, None);
    if let Some(key) = key {
        let nonkey: Vec<bool> = key.iter().map(|k| !k).collect();
        key_psnr = m::psnr_masked(reference, img, key)?;
        key_ssim = m::ssim_masked(reference, img, key)?;
        nonkey_psnr = m::psnr_masked(reference, img, &nonkey)?;
        nonkey_swd = swd(&nonkey)?;
    }
    Ok(Metrics {
        psnr: m::psnr(reference, img)?,
        ssim: m::ssim(reference, img)?,
        ms_ssim,
        vsi: m::vsi(reference, img)?,
        gmsd: m::gmsd(reference, img)?,
        key_psnr,
        key_ssim,
        nonkey_psnr,
        nonkey_swd,
    })
}

/// Peak resident memory of this process (VmHWM), e.g. "812 MB"; `None` off Linux.
pub fn peak_memory() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: u64 =
        status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(format!("{:.0} MB", kb as f64 / 1024.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snr_lists_and_ranges() {
        assert_eq!(parse_snrs("-5:20:2.5").unwrap().len(), 11);
        assert_eq!(parse_snrs("-5:20:2.5").unwrap()[3], 2.5);
        assert_eq!(parse_snrs("10,0,-5:5:5").unwrap(), vec![-5.0, 0.0, 5.0, 10.0]);
        assert_eq!(parse_snrs("0:1:0.3").unwrap(), vec![0.0, 0.3, 0.6, 0.9]);
        for bad in ["", "a", "5:0:1", "0:5:0", "0:5", "nan"] {
            assert!(parse_snrs(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn rho_lists_and_grid_snrs() {
        let r = parse_rhos("1/16, 1/32,0.01").unwrap();
        assert_eq!(r.iter().map(|r| r.label.as_str()).collect::<Vec<_>>(), ["1/16", "1/32", "0.01"]);
        assert_eq!(r[1].value, 1.0 / 32.0);
        assert!(parse_rhos("1/0").is_err());
        let mut o = EvalOptions::new("x");
        o.snrs_db = parse_snrs("-5:20:2.5").unwrap();
        assert_eq!(o.grid_snrs(), vec![-5.0, 7.5, 20.0]);
        o.grid_snrs = Some(vec![1.0, 9.0, 100.0]);
        assert_eq!(o.grid_snrs(), vec![0.0, 10.0, 20.0]);
    }

    /// `--max-side` keeps the aspect ratio, leaves images that already fit untouched, and
    /// preserves a flat colour (Lanczos weights sum to one).
    #[test]
    fn max_side_downscales_only_what_is_too_large() {
        let wide = RgbImage::from_pixel(1000, 400, image::Rgb([200, 100, 50]));
        let small = fit_within(wide.clone(), 250);
        assert_eq!(small.dimensions(), (250, 100));
        assert!(small.pixels().all(|p| p.0 == [200, 100, 50]), "flat colour changed");
        let tall = fit_within(RgbImage::new(333, 1000), 100);
        assert_eq!(tall.dimensions(), (33, 100));
        assert_eq!(fit_within(wide.clone(), 1000), wide);
        let mut o = EvalOptions::new("x");
        o.max_side = Some(8);
        assert!(o.validate().is_err());
    }
}
