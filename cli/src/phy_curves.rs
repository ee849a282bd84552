//! `semcom phy-curves`: Monte Carlo BER/BLER and channel-estimation curves of the
//! physical layer next to their closed forms, written as CSV and plotted (PNG, SVG).
//! The figures in docs/phy/ come from this command.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use semcom_phy::channel::{Awgn, BlockFading, FadingModel};
use semcom_phy::digital::{self, MCS_TABLE};
use semcom_phy::mapping::{DemapMethod, Gains, Modulation};
use semcom_phy::math::q_function;
use semcom_phy::pilots::{Csi, Estimator, PilotPattern};
use semcom_phy::C32;
use semcom_plot::{Chart, Series};

/// `semcom phy-curves`.
#[derive(Args, Debug)]
pub struct PhyCurvesArgs {
    /// Output folder. docs/phy holds the committed figures: `--out docs/phy`
    /// regenerates them.
    #[arg(long, default_value = "phy-out")]
    out: PathBuf,
    /// A fast, low-precision run.
    #[arg(long)]
    quick: bool,
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// Runs the simulations (on a blocking thread) and prints the MCS threshold table.
pub async fn command(args: PhyCurvesArgs) -> Result<()> {
    let effort = if args.quick { Effort::QUICK } else { Effort::FULL };
    let table = tokio::task::spawn_blocking(move || run(&args.out, effort, args.seed)).await??;
    println!("{table}");
    Ok(())
}

/// How much simulation effort per point.
#[derive(Debug, Clone, Copy)]
pub struct Effort {
    /// Stop a BER point after this many bit errors...
    pub bit_errors: usize,
    /// ...or this many bits.
    pub max_bits: usize,
    /// Stop a BLER point after this many block errors or frames.
    pub block_errors: usize,
    pub max_frames: usize,
}

impl Effort {
    pub const FULL: Effort = Effort { bit_errors: 400, max_bits: 4_000_000, block_errors: 60, max_frames: 2000 };
    pub const QUICK: Effort = Effort { bit_errors: 50, max_bits: 100_000, block_errors: 5, max_frames: 20 };
}

/// One curve's points plus its label.
struct Curve {
    label: String,
    points: Vec<(f64, f64)>,
    theory: bool,
}

fn csv(curves: &[Curve], x: &str, y: &str) -> String {
    let mut s = format!("curve,{x},{y}\n");
    for c in curves {
        for (a, b) in &c.points {
            let _ = writeln!(s, "{},{a},{b:e}", c.label);
        }
    }
    s
}

fn save(out: &Path, stem: &str, title: &str, x: &str, y: &str, log_y: bool, curves: &[Curve]) -> Result<()> {
    // BLER waterfalls fill the upper right; their legend goes lower left.
    let legend_lower_left = stem.starts_with("bler");
    std::fs::write(out.join(format!("{stem}.csv")), csv(curves, x, y))?;
    Chart {
        title: title.into(),
        x_label: x.into(),
        y_label: y.into(),
        log_y,
        series: curves
            .iter()
            .map(|c| Series { label: c.label.clone(), points: c.points.clone(), dashed: c.theory })
            .collect(),
        legend_lower_left,
    }
    .save(&out.join(stem))
    .with_context(|| format!("plotting {stem}"))
}

fn snr_grid(from: f64, to: f64, step: f64) -> Vec<f64> {
    let n = ((to - from) / step).round() as usize;
    (0..=n).map(|i| from + i as f64 * step).collect()
}

fn random_bits(n: usize, rng: &mut impl Rng) -> Vec<u8> {
    (0..n).map(|_| rng.random_range(0..2u8)).collect()
}

/// Uncoded BER of every modulation in AWGN, against the exact Gray-mapping BER.
fn ber_awgn(effort: Effort, rng: &mut ChaCha8Rng) -> Result<Vec<Curve>> {
    let mut curves = Vec::new();
    for m in Modulation::ALL {
        let qm = m.bits_per_symbol();
        let (lo, hi) = match m {
            Modulation::Bpsk => (-4.0, 10.0),
            Modulation::Qpsk => (-2.0, 12.0),
            Modulation::Qam16 => (2.0, 18.0),
            Modulation::Qam64 => (8.0, 24.0),
            Modulation::Qam256 => (14.0, 30.0),
        };
        let (mut sim, mut theory) = (Vec::new(), Vec::new());
        for snr in snr_grid(lo, hi, 2.0) {
            let awgn = Awgn::from_snr_db(snr)?;
            let (mut errors, mut bits) = (0usize, 0usize);
            while errors < effort.bit_errors && bits < effort.max_bits {
                let tx = random_bits(qm * 4096, rng);
                let mut y = m.map(&tx)?;
                awgn.apply(&mut y, rng);
                errors += m.demap_hard(&y).iter().zip(&tx).filter(|(a, b)| a != b).count();
                bits += tx.len();
            }
            if errors > 0 {
                sim.push((snr, errors as f64 / bits as f64));
            }
            theory.push((snr, m.ber_awgn(awgn.n0())));
        }
        curves.push(Curve { label: m.name().to_string(), points: sim, theory: false });
        curves.push(Curve { label: format!("{} theory", m.name()), points: theory, theory: true });
    }
    Ok(curves)
}

/// BPSK in Rayleigh block fading: perfect CSI and pilot-estimated (LMMSE) CSI,
/// against ½(1 − √(γ/(1+γ))). Short coherence blocks (64 channel uses, 4 pilots)
/// so that a point averages over many independent fades: the BER of fading is
/// dominated by the rare deep fades, so the stopping rule counts bits, not errors.
fn ber_rayleigh(effort: Effort, rng: &mut ChaCha8Rng) -> Result<Vec<Curve>> {
    let coherence = 64;
    let pattern = PilotPattern::new(coherence, 4)?;
    let (mut perfect, mut estimated, mut theory) = (Vec::new(), Vec::new(), Vec::new());
    for snr in snr_grid(0.0, 30.0, 3.0) {
        let fading = BlockFading::from_snr_db(FadingModel::Rayleigh, coherence, snr)?;
        let (mut e_p, mut e_e, mut bits) = (0usize, 0usize, 0usize);
        while bits < effort.max_bits {
            let tx = random_bits(pattern.data_per_block() * 256, rng);
            let x = Modulation::Bpsk.map(&tx)?;
            let mut y = pattern.insert(&x);
            let h = fading.apply(&mut y, rng);
            for (csi, errs) in [(Csi::Perfect(&h), &mut e_p), (Csi::Estimated, &mut e_e)] {
                let eq = pattern.extract(&y, None, Estimator::Lmmse, csi)?;
                let hard = Modulation::Bpsk.demap_hard(&eq.equalize());
                *errs += hard.iter().zip(&tx).filter(|(a, b)| a != b).count();
            }
            bits += tx.len();
        }
        let g = 10f64.powf(snr / 10.0);
        for (pts, e) in [(&mut perfect, e_p), (&mut estimated, e_e)] {
            if e > 0 {
                pts.push((snr, e as f64 / bits as f64));
            }
        }
        theory.push((snr, 0.5 * (1.0 - (g / (1.0 + g)).sqrt())));
    }
    Ok(vec![
        Curve { label: "BPSK, perfect CSI (reference)".into(), points: perfect, theory: false },
        Curve { label: "BPSK, LMMSE pilots 4/64".into(), points: estimated, theory: false },
        Curve { label: "theory ½(1−√(γ/(1+γ)))".into(), points: theory, theory: true },
        Curve {
            label: "AWGN Q(√(2γ))".into(),
            points: snr_grid(0.0, 10.0, 1.0)
                .into_iter()
                .map(|s| (s, q_function((2.0 * 10f64.powf(s / 10.0)).sqrt())))
                .collect(),
            theory: true,
        },
    ])
}

/// Per MCS (its curve's label), the lowest simulated SNR with BLER ≤ 10 %.
type Thresholds = Vec<(String, Option<f64>)>;

/// Coded BLER of every MCS in AWGN (1000-bit payloads, max-log demapping).
/// Returns the curves and the MCS thresholds.
fn bler_awgn(effort: Effort, rng: &mut ChaCha8Rng) -> Result<(Vec<Curve>, Thresholds)> {
    let payload_bytes = 125;
    let mut curves = Vec::new();
    let mut thresholds = Vec::new();
    for mcs in MCS_TABLE {
        let se = mcs.spectral_efficiency();
        // Start ~3 dB below the Shannon limit of this spectral efficiency.
        let shannon = 10.0 * (2f64.powf(se) - 1.0).log10();
        let mut pts = Vec::new();
        let mut threshold = None;
        let mut snr = (shannon - 3.0).floor();
        let mut zero_runs = 0;
        while zero_runs < 1 && snr < shannon + 12.0 {
            let awgn = Awgn::from_snr_db(snr)?;
            let (mut errors, mut frames) = (0usize, 0usize);
            while errors < effort.block_errors && frames < effort.max_frames {
                let payload: Vec<u8> = (0..payload_bytes).map(|_| rng.random()).collect();
                let mut y = digital::encode(&payload, &mcs)?;
                awgn.apply(&mut y, rng);
                let out = digital::decode(&y, Gains::Unit, awgn.n0(), &mcs, DemapMethod::MaxLog)?;
                if out.payload.as_deref() != Some(&payload[..]) {
                    errors += 1;
                }
                frames += 1;
            }
            let bler = errors as f64 / frames as f64;
            if bler <= 0.1 && threshold.is_none() {
                threshold = Some(snr);
            }
            if errors == 0 {
                zero_runs += 1;
            } else {
                pts.push((snr, bler));
            }
            snr += 0.5;
        }
        let label = format!("MCS{} {} R={:.2}", mcs.index, mcs.modulation.name(), mcs.rate);
        thresholds.push((label.clone(), threshold));
        curves.push(Curve { label, points: pts, theory: false });
    }
    Ok((curves, thresholds))
}

/// MSE of the per-block channel estimate vs pilot SNR: LS (N0/P) and LMMSE (N0/(P+N0)).
fn chest_mse(effort: Effort, rng: &mut ChaCha8Rng) -> Result<Vec<Curve>> {
    let p = 16;
    let pattern = PilotPattern::new(p + 1, p)?;
    let mut curves: Vec<Curve> = ["LS", "LMMSE", "LS theory N0/P", "LMMSE theory N0/(P+N0)"]
        .iter()
        .enumerate()
        .map(|(i, l)| Curve { label: l.to_string(), points: Vec::new(), theory: i >= 2 })
        .collect();
    let blocks = (effort.max_bits / 400).clamp(200, 20_000);
    for snr in snr_grid(-10.0, 20.0, 2.5) {
        let fading = BlockFading::from_snr_db(FadingModel::Rayleigh, p + 1, snr)?;
        let n0 = fading.n0();
        let (mut ls, mut lmmse) = (0f64, 0f64);
        for _ in 0..blocks {
            let mut y = pattern.insert(&[C32::new(1.0, 0.0)]);
            let h = fading.apply(&mut y, rng);
            for (est, acc) in [(Estimator::Ls, &mut ls), (Estimator::Lmmse, &mut lmmse)] {
                let eq = pattern.extract(&y, Some(n0), est, Csi::Estimated)?;
                *acc += f64::from((eq.h[0] - h[p]).norm_sqr());
            }
        }
        let pf = p as f64;
        curves[0].points.push((snr, ls / blocks as f64));
        curves[1].points.push((snr, lmmse / blocks as f64));
        curves[2].points.push((snr, n0 / pf));
        curves[3].points.push((snr, n0 / (pf + n0)));
    }
    Ok(curves)
}

/// Runs every simulation and writes `<out>/*.csv`, `*.png`, `*.svg` and
/// `thresholds.md`. Returns the MCS threshold table as markdown.
pub fn run(out: &Path, effort: Effort, seed: u64) -> Result<String> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let es = "Es/N0 (dB)";
    save(out, "ber_awgn", "Uncoded BER, Gray QAM, AWGN", es, "BER", true, &ber_awgn(effort, &mut rng)?)?;
    save(
        out,
        "ber_rayleigh",
        "Uncoded BPSK BER, Rayleigh block fading",
        "average Es/N0 (dB)",
        "BER",
        true,
        &ber_rayleigh(effort, &mut rng)?,
    )?;
    let (bler, thresholds) = bler_awgn(effort, &mut rng)?;
    save(out, "bler_awgn", "Coded BLER per MCS (1000-bit payload, 5G NR LDPC), AWGN", es, "BLER", true, &bler)?;
    save(
        out,
        "chest_mse",
        "Channel estimate MSE, 16 pilots, Rayleigh",
        "pilot Es/N0 (dB)",
        "MSE",
        true,
        &chest_mse(effort, &mut rng)?,
    )?;
    let mut table = String::from("| MCS | Es/N0 for BLER ≤ 10 % (dB) |\n|---|---|\n");
    for (label, t) in thresholds {
        let _ = writeln!(table, "| {label} | {} |", t.map_or("not reached".to_string(), |v| format!("{v:.1}")));
    }
    std::fs::write(out.join("thresholds.md"), &table)?;
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A quick run writes every artefact, and its simulated points sit near theory.
    #[test]
    fn quick_run_writes_every_artefact() {
        let dir = tempfile::tempdir().expect("tempdir");
        let table = run(dir.path(), Effort::QUICK, 1).expect("run");
        for stem in ["ber_awgn", "ber_rayleigh", "bler_awgn", "chest_mse"] {
            for ext in ["csv", "png", "svg"] {
                let p = dir.path().join(format!("{stem}.{ext}"));
                assert!(std::fs::metadata(&p).map(|m| m.len() > 100).unwrap_or(false), "{}", p.display());
            }
        }
        assert!(table.contains("MCS0") && table.contains("MCS12"));
        let csv = std::fs::read_to_string(dir.path().join("chest_mse.csv")).expect("csv");
        assert!(csv.starts_with("curve,pilot Es/N0 (dB),MSE"));
    }
}
