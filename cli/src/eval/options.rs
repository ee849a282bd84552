//! What a sweep is asked to do: [`EvalOptions`] and the parsers of its command-line
//! lists (SNRs with ranges, bandwidth ratios).

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use semcom_models::DiffusionSettings;

use super::channel::ChannelKind;
use super::methods::{self, MethodChoice, DEFAULT_METHODS};
use super::rows::SweepSettings;

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
    /// `semcom`, `semcom-diffusion`, `softcast`, `softcast-oracle`, `jpeg-ldpc` (one
    /// method per entry of `mcs`), `jpeg-ldpc-mcsN`, `jpeg-capacity`.
    pub methods: Vec<MethodChoice>,
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
            methods: DEFAULT_METHODS.to_vec(),
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

    pub(super) fn validate(&self) -> Result<()> {
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
        if self.methods.contains(&MethodChoice::SemcomDiffusion) {
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

/// An SNR as an integer key (µdB), so that SNRs compare and hash exactly.
pub fn snr_key(snr: f64) -> i64 {
    (snr * 1e6).round() as i64
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

    /// `--max-side` below 16 pixels is refused (the downscaling itself: `images`).
    #[test]
    fn max_side_has_a_floor() {
        let mut o = EvalOptions::new("x");
        o.max_side = Some(8);
        assert!(o.validate().is_err());
    }
}
