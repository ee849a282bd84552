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

pub mod args;
pub mod channel;
mod images;
mod jpeg;
pub mod method;
pub mod methods;
mod options;
mod oracle;
pub mod report;
pub mod rows;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};

use anyhow::{Context, Result};
use image::RgbImage;
use semcom_metrics::MetricsError;

pub use images::{load_images, EvalImage};
pub use methods::{MethodChoice, DEFAULT_METHODS};
pub use options::{parse_rhos, parse_snrs, snr_key, EvalOptions, Rho};
pub use report::{peak_memory, TileKey};

use channel::{cell_seed, ChannelKind, ChannelSpec};
use method::{Cell, Method, Outcome};
use rows::{Row, RowKey, RowWriter};

/// One (image, channel, ρ, SNR, realisation) cell of the sweep.
#[derive(Debug, Clone, Copy)]
struct Job {
    image: usize,
    channel: ChannelKind,
    rho: usize,
    snr_db: f64,
    realisation: u32,
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
        budget: method::budget(&img.image, rho.value),
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
