//! `semcom eval` through its library entry point: a small sweep (two 256×256 crops of
//! the samples, three SNRs, ρ = 1/32, AWGN, one realisation) run once and shared by the
//! tests, then checked for its schema, the baselines' textbook behaviour, equal budgets,
//! the reports, and resuming.
#![allow(clippy::unwrap_used)] // a test or example that fails should stop loudly

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use image::RgbImage;
use semcom_cli::eval::report::{plot_path, GAP, GROUP_GAP, TILE_H, TILE_W};
use semcom_cli::eval::rows::{header_line, read_csv, Row, COLUMNS, SETTINGS_FILE};
use semcom_cli::eval::{self, channel::ChannelKind, parse_rhos, EvalOptions, MethodChoice};
use semcom_codec::baseline::{decode_jpeg, jpeg_ldpc_encode, mid_grey, JpegLdpcConfig};

const SNRS: [f64; 3] = [-5.0, 10.0, 25.0];
const METHODS: [&str; 4] = ["softcast", "jpeg-ldpc-mcs5", "jpeg-capacity", "semcom"];

fn sample(name: &str) -> PathBuf {
    PathBuf::from(format!("{}/../samples/{name}", env!("CARGO_MANIFEST_DIR")))
}

/// A 256×256 centre crop (keeps the sweep fast; large enough for MS-SSIM's 161 px).
fn crop(name: &str) -> RgbImage {
    let img = image::open(sample(name)).expect("sample").to_rgb8();
    let (x, y) = ((img.width() - 256) / 2, (img.height() - 256) / 2);
    image::imageops::crop_imm(&img, x, y, 256, 256).to_image()
}

struct Sweep {
    _dir: tempfile::TempDir,
    images: PathBuf,
    out: PathBuf,
    opts: EvalOptions,
    summary: eval::EvalSummary,
    rows: Vec<Row>,
}

fn options(images: &Path, out: &Path) -> EvalOptions {
    let mut o = EvalOptions::new(out);
    o.images = images.to_path_buf();
    o.snrs_db = SNRS.to_vec();
    o.rhos = parse_rhos("1/32").expect("rho");
    o.channels = vec![ChannelKind::Awgn];
    o.methods = METHODS.map(|m| m.parse().expect("method")).to_vec();
    o.mcs = vec![5];
    o.realisations = 1;
    o.seed = 7;
    o.jobs = 2;
    o
}

/// The sweep, run once for all tests of this file.
fn sweep() -> &'static Sweep {
    static SWEEP: OnceLock<Sweep> = OnceLock::new();
    SWEEP.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let images = dir.path().join("images");
        std::fs::create_dir(&images).expect("mkdir");
        for name in ["chelsea", "coffee"] {
            crop(&format!("{name}.png")).save(images.join(format!("{name}.png"))).expect("write crop");
        }
        let out = dir.path().join("out");
        let opts = options(&images, &out);
        let summary = eval::run(&opts).expect("sweep");
        let rows = read_csv(&out.join("results.csv")).expect("results.csv");
        Sweep { _dir: dir, images, out, opts, summary, rows }
    })
}

fn row<'a>(rows: &'a [Row], image: &str, method: &str, snr: f64) -> &'a Row {
    rows.iter()
        .find(|r| r.image == image && r.method == method && r.snr_db == snr)
        .unwrap_or_else(|| panic!("no row for {image} {method} {snr} dB"))
}

#[test]
fn results_have_the_schema_and_one_row_per_cell_and_method() {
    let s = sweep();
    let csv = std::fs::read_to_string(s.out.join("results.csv")).expect("csv");
    assert_eq!(csv.lines().next(), Some(header_line().as_str()));
    assert_eq!(header_line().split(',').count(), COLUMNS.len());
    for col in [
        "image",
        "method",
        "snr_db",
        "pilots",
        "digital",
        "analog",
        "total",
        "budget",
        "psnr",
        "key_psnr",
        "key_ssim",
        "nonkey_psnr",
        "ms_ssim",
        "vsi",
        "nonkey_swd",
        "blocks_failed",
        "undecodable",
        "jpeg_quality",
        "encode_ms",
        "decode_ms",
    ] {
        assert!(COLUMNS.contains(&col), "missing column {col}");
    }
    let n = 2 * SNRS.len() * METHODS.len();
    assert_eq!(s.rows.len(), n);
    assert_eq!(s.summary.rows, n);
    assert_eq!(s.summary.new_rows, n);
    assert_eq!(s.summary.errors, 0, "{:?}", s.rows.iter().filter_map(|r| r.error.as_ref()).collect::<Vec<_>>());
    // The JSON lines hold the same rows.
    let jsonl = std::fs::read_to_string(s.out.join("results.jsonl")).expect("jsonl");
    let json: Vec<Row> = jsonl.lines().map(|l| serde_json::from_str(l).expect("JSON row")).collect();
    assert_eq!(json.len(), n);
    for (a, b) in json.iter().zip(&s.rows) {
        assert_eq!((&a.image, &a.method, a.snr_db), (&b.image, &b.method, b.snr_db));
        // serde_json's default float parser may be 1 ulp off.
        assert!((a.psnr.expect("psnr") - b.psnr.expect("psnr")).abs() < 1e-9);
    }
    for image in ["chelsea", "coffee"] {
        for m in METHODS {
            for snr in SNRS {
                let r = row(&s.rows, image, m, snr);
                assert_eq!((r.width, r.height), (256, 256));
                assert!(r.psnr.is_some() && r.ssim.is_some() && r.ms_ssim.is_some() && r.vsi.is_some());
                assert!(
                    r.key_psnr.is_some() && r.key_ssim.is_some() && r.nonkey_psnr.is_some() && r.nonkey_swd.is_some(),
                    "{m} {snr}"
                );
                assert!(r.encode_ms > 0.0, "{m}: encode time");
            }
        }
    }
    // The envelope is derived for the reports, never stored as a row.
    assert!(s.rows.iter().all(|r| r.method != "jpeg-ldpc-best"));
}

#[test]
fn every_method_of_a_cell_gets_the_same_budget_channel_and_regions() {
    let s = sweep();
    let mut cells: HashMap<(String, i64), Vec<&Row>> = HashMap::new();
    for r in &s.rows {
        cells.entry((r.image.clone(), r.snr_db as i64)).or_default().push(r);
    }
    assert_eq!(cells.len(), 2 * SNRS.len());
    let budget = (256.0f64 * 256.0 * 3.0 / 32.0).round() as usize;
    let mut seeds = Vec::new();
    for rows in cells.values() {
        assert_eq!(rows.len(), METHODS.len());
        for r in rows {
            assert_eq!(r.budget, budget, "{} {}", r.method, r.snr_db);
            assert!(r.total <= r.budget, "{}: {} > {}", r.method, r.total, r.budget);
            assert_eq!(r.pilots + r.digital + r.analog, r.total, "{}", r.method);
            assert_eq!(r.channel_seed, rows[0].channel_seed, "one channel draw per cell");
            assert_eq!(r.key_share, rows[0].key_share, "one key mask per cell");
        }
        seeds.push(rows[0].channel_seed);
        // The codecs spend most of the budget (the capacity line counts all of it).
        for m in ["softcast", "semcom", "jpeg-capacity"] {
            let r = rows.iter().find(|r| r.method == m).expect("method");
            assert!(r.total as f64 >= 0.9 * budget as f64, "{m} sends only {} of {budget}", r.total);
        }
    }
    seeds.sort_unstable();
    seeds.dedup();
    assert_eq!(seeds.len(), cells.len(), "cells draw independent channels");
}

#[test]
fn jpeg_ldpc_falls_off_its_cliff_below_threshold_and_is_exact_above() {
    let s = sweep();
    for name in ["chelsea", "coffee"] {
        let original = crop(&format!("{name}.png"));
        // MCS 5 (16-QAM) needs about 6.5 dB: at -5 dB nothing survives.
        let low = row(&s.rows, name, "jpeg-ldpc-mcs5", -5.0);
        let grey = semcom_metrics::psnr(&original, &mid_grey(256, 256)).expect("psnr");
        let psnr = low.psnr.expect("psnr");
        assert!(low.undecodable || (psnr - grey).abs() < 3.0, "{name}: {psnr} dB vs grey {grey} dB");
        assert!(low.blocks_failed.expect("blocks") > 0);
        // At 25 dB every block decodes and the picture is the sender's JPEG exactly.
        let high = row(&s.rows, name, "jpeg-ldpc-mcs5", 25.0);
        assert_eq!(high.blocks_failed, Some(0));
        assert!(!high.undecodable);
        let tx = jpeg_ldpc_encode(&original, 1.0 / 32.0, &JpegLdpcConfig { mcs: 5, ..JpegLdpcConfig::default() })
            .expect("encode");
        let jpeg = tx.jpeg.expect("a JPEG fits");
        let noiseless = decode_jpeg(&jpeg.bytes, 256, 256).expect("decodes");
        let expected = semcom_metrics::psnr(&original, &noiseless).expect("psnr");
        assert!((high.psnr.expect("psnr") - expected).abs() < 1e-9, "{} vs {expected}", high.psnr.unwrap());
        assert_eq!(high.jpeg_quality, Some(jpeg.quality));
        assert!(expected > psnr + 8.0, "the cliff: {expected} dB above, {psnr} dB below");
        // The capacity line bounds the fixed-MCS scheme at the same SNR.
        let cap = row(&s.rows, name, "jpeg-capacity", 25.0).psnr.expect("psnr");
        assert!(cap >= expected - 0.5, "capacity {cap} dB < jpeg-ldpc {expected} dB");
    }
}

#[test]
fn softcast_improves_with_snr() {
    let s = sweep();
    for name in ["chelsea", "coffee"] {
        let p: Vec<f64> = SNRS.iter().map(|&snr| row(&s.rows, name, "softcast", snr).psnr.expect("psnr")).collect();
        assert!(p[0] < p[1] && p[1] < p[2], "{name}: {p:?}");
        assert!(p[2] - p[1] > 1.0, "{name}: analog quality keeps rising at high SNR: {p:?}");
    }
}

#[test]
fn plots_grid_and_summary_are_written() {
    let s = sweep();
    for metric in ["psnr", "key_psnr", "ms_ssim", "vsi", "nonkey_swd"] {
        let png = plot_path(&s.out, metric, "awgn", "1/32");
        assert!(std::fs::metadata(&png).map(|m| m.len() > 1000).unwrap_or(false), "{}", png.display());
        assert!(png.with_extension("svg").exists());
    }
    let grid = image::open(s.out.join("grid.png")).expect("grid.png").to_rgb8();
    // Rows: 2 images; columns: original + 3 SNRs × (semcom, softcast, jpeg-ldpc-best, jpeg-capacity).
    assert_eq!(grid.width(), (1 + 3 * 4) * (TILE_W + GAP) + 3 * GROUP_GAP);
    assert_eq!(grid.height(), 2 * (TILE_H + GAP));
    let md = std::fs::read_to_string(s.out.join("summary.md")).expect("summary.md");
    assert_eq!(md, s.summary.markdown);
    assert!(md.contains("## AWGN, ρ = 1/32"));
    for m in METHODS.iter().chain(&["jpeg-ldpc-best"]) {
        assert_eq!(md.matches(&format!("| {m} |")).count(), SNRS.len() + usize::from(*m != "jpeg-ldpc-best"), "{m}");
    }
    assert!(md.contains("median encode (ms)") && md.contains("VmHWM"));
    // The table's mean PSNR is the mean of the rows.
    let mean = (row(&s.rows, "chelsea", "softcast", 10.0).psnr.unwrap()
        + row(&s.rows, "coffee", "softcast", 10.0).psnr.unwrap())
        / 2.0;
    assert!(md.contains(&format!("| 10 | softcast | {mean:.2} |")), "{md}");
}

/// Columns that must come out the same when a row is recomputed (times may differ).
fn measured(r: &Row) -> Row {
    Row { encode_ms: 0.0, decode_ms: 0.0, ..r.clone() }
}

#[test]
fn a_rerun_resumes_instead_of_recomputing() {
    let s = sweep();
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    std::fs::create_dir(&out).expect("mkdir");
    for f in ["results.csv", "results.jsonl", "grid.png", SETTINGS_FILE] {
        std::fs::copy(s.out.join(f), out.join(f)).expect("copy");
    }
    let opts = EvalOptions { out: out.clone(), ..s.opts.clone() };
    let csv_before = std::fs::read_to_string(out.join("results.csv")).expect("csv");

    // Other settings the rows depend on (frame erasures here): refused, file untouched.
    let err = eval::run(&EvalOptions { erasure: 0.1, ..opts.clone() }).err().expect("other settings refused");
    assert!(format!("{err:#}").contains("erasure"), "{err:#}");
    assert_eq!(std::fs::read_to_string(out.join("results.csv")).expect("csv"), csv_before);

    // Everything is there: nothing is recomputed, the file is unchanged.
    let again = eval::run(&opts).expect("rerun");
    assert_eq!((again.new_rows, again.rows), (0, s.rows.len()));
    assert_eq!(std::fs::read_to_string(out.join("results.csv")).expect("csv"), csv_before);
    assert!(out.join("summary.md").exists());

    // Interrupted: the last two rows missing and a torn third. Exactly those three are
    // recomputed, with the same results (seeded channel, deterministic codecs).
    let lines: Vec<&str> = csv_before.lines().collect();
    let keep = lines.len() - 3;
    let torn = &lines[keep][..lines[keep].len() / 2];
    std::fs::write(out.join("results.csv"), format!("{}\n{torn}", lines[..keep].join("\n"))).expect("truncate");
    let resumed = eval::run(&opts).expect("resume");
    assert_eq!((resumed.new_rows, resumed.rows), (3, s.rows.len()));
    let rows = read_csv(&out.join("results.csv")).expect("csv");
    assert_eq!(rows.len(), s.rows.len());
    let mut a: Vec<Row> = rows.iter().map(measured).collect();
    let mut b: Vec<Row> = s.rows.iter().map(measured).collect();
    let by_key =
        |x: &Row, y: &Row| x.image.cmp(&y.image).then(x.method.cmp(&y.method)).then(x.snr_db.total_cmp(&y.snr_db));
    a.sort_by(by_key);
    b.sort_by(by_key);
    assert_eq!(a, b);
    // results.jsonl follows the CSV (no duplicate of the torn row).
    assert_eq!(std::fs::read_to_string(out.join("results.jsonl")).expect("jsonl").lines().count(), s.rows.len());
}

#[test]
fn the_command_line_runs_a_rayleigh_sweep() {
    let s = sweep();
    let dir = tempfile::tempdir().expect("tempdir");
    let images = dir.path().join("images");
    std::fs::create_dir(&images).expect("mkdir");
    std::fs::copy(s.images.join("chelsea.png"), images.join("chelsea.png")).expect("copy");
    let out = dir.path().join("out");
    let run = Command::new(env!("CARGO_BIN_EXE_semcom"))
        .args([
            "eval",
            "--snr",
            "-5:15:10",
            "--channel",
            "rayleigh",
            "--coherence",
            "256",
            "--methods",
            "softcast",
            "--rho",
            "1/32",
            "--jobs",
            "1",
            "--images",
        ])
        .arg(&images)
        .arg("--out")
        .arg(&out)
        .output()
        .expect("run semcom");
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let rows = read_csv(&out.join("results.csv")).expect("csv");
    assert_eq!(rows.len(), 3);
    let mut snrs: Vec<f64> = rows.iter().map(|r| r.snr_db).collect();
    snrs.sort_by(f64::total_cmp);
    assert_eq!(snrs, [-5.0, 5.0, 15.0]);
    assert!(rows.iter().all(|r| r.channel == "rayleigh" && r.coherence == Some(256) && r.method == "softcast"));
    assert!(String::from_utf8_lossy(&run.stdout).contains("## RAYLEIGH, ρ = 1/32"));
    assert!(plot_path(&out, "psnr", "rayleigh", "1/32").exists());
}

/// `semcom-diffusion` next to `semcom` on one small crop at one SNR: both rows exist with
/// the same channel draw, split and key share; the key regions are the same analog
/// estimate (equal key PSNR, identical key pixels) and the non-key regions are
/// regenerated differently (the diffusion model instead of the classical fill).
#[test]
fn semcom_diffusion_shares_semcoms_key_regions_and_regenerates_the_rest() {
    use semcom_cli::eval::channel::{cell_seed, ChannelSpec};
    use semcom_cli::eval::method::Cell;
    use semcom_cli::eval::methods;

    const SIDE: u32 = 128;
    let full = image::open(sample("chelsea.png")).expect("sample").to_rgb8();
    let small = image::imageops::crop_imm(&full, 150, 60, SIDE, SIDE).to_image();
    let dir = tempfile::tempdir().expect("tempdir");
    let images = dir.path().join("images");
    std::fs::create_dir(&images).expect("mkdir");
    small.save(images.join("cat.png")).expect("write crop");
    let out = dir.path().join("out");
    let mut o = options(&images, &out);
    o.snrs_db = vec![10.0];
    o.methods = vec![MethodChoice::Semcom, MethodChoice::SemcomDiffusion];
    let summary = eval::run(&o).expect("sweep");
    let rows = read_csv(&out.join("results.csv")).expect("results.csv");
    assert_eq!(
        (rows.len(), summary.errors),
        (2, 0),
        "{:?}",
        rows.iter().filter_map(|r| r.error.as_ref()).collect::<Vec<_>>()
    );
    let (c, d) = (row(&rows, "cat", "semcom", 10.0), row(&rows, "cat", "semcom-diffusion", 10.0));
    assert_eq!((d.width, d.height), (SIDE, SIDE));
    assert!(!c.undecodable && !d.undecodable);
    assert_eq!(d.channel_seed, c.channel_seed);
    assert_eq!(d.key_share, c.key_share);
    assert_eq!((d.pilots, d.digital, d.analog, d.total), (c.pilots, c.digital, c.analog, c.total));
    let (kc, kd) = (c.key_psnr.expect("key PSNR"), d.key_psnr.expect("key PSNR"));
    assert!((kc - kd).abs() < 1e-6, "key PSNR {kc} (semcom) vs {kd} (semcom-diffusion)");
    assert_ne!(c.nonkey_psnr, d.nonkey_psnr, "non-key regions should differ");
    assert!(d.psnr.is_some() && d.vsi.is_some() && d.nonkey_psnr.is_some() && d.decode_ms > 0.0);
    // The reports carry it like any method.
    assert_eq!(summary.markdown.matches("| semcom-diffusion |").count(), 2, "{}", summary.markdown);
    let described = format!("diffusion generator (embedded int8 weights, {} DDIM steps", o.diffusion.steps);
    assert!(summary.markdown.contains(&described), "{}", summary.markdown);
    assert!(plot_path(&out, "psnr", "awgn", "1/32").exists());

    // Resuming with other diffusion settings would mix two generators in one file:
    // refused. A sweep without semcom-diffusion is not concerned by them.
    let mut other = o.clone();
    other.diffusion.start = 0.25;
    let err = eval::run(&other).err().expect("other diffusion settings refused");
    assert!(format!("{err:#}").contains("semcom-diffusion") && format!("{err:#}").contains("0.25"), "{err:#}");
    other.methods = vec![MethodChoice::Semcom];
    assert_eq!(eval::run(&other).expect("classical only").new_rows, 0);
    assert_eq!(eval::run(&o).expect("the original settings").new_rows, 0, "settings record lost");

    // The reconstructions themselves, from the methods the sweep ran on the same cell.
    let built = methods::build(&o.methods, &o.mcs, &o.diffusion).expect("methods");
    let seed = cell_seed(o.seed, "cat", ChannelKind::Awgn, 1.0 / 32.0, 10.0, 0);
    let spec = ChannelSpec { kind: ChannelKind::Awgn, snr_db: 10.0, coherence: o.coherence, erasure: 0.0, seed };
    let cell = Cell { image: &small, rho: 1.0 / 32.0, snr_db: 10.0, channel: spec };
    let recon: Vec<RgbImage> = built.iter().map(|m| m.run(&cell).expect("run").image).collect();
    let (mask, _) = methods::key_mask(&small, 1.0 / 32.0, 10.0).expect("key mask");
    let (mut key, mut differing) = (0usize, 0usize);
    for (i, (a, b)) in recon[0].pixels().zip(recon[1].pixels()).enumerate() {
        if mask[i] {
            key += 1;
            assert_eq!(a, b, "key pixel {i}");
        } else if a != b {
            differing += 1;
        }
    }
    let non_key = mask.len() - key;
    assert!(key > 0 && non_key > 0, "{key} key pixels of {}", mask.len());
    assert!(differing * 2 > non_key, "only {differing} of {non_key} non-key pixels differ");
}
