//! One result row per image × method × channel × ρ × SNR × realisation, and the
//! two files they are streamed to: `results.csv` (tidy, one column per field, the
//! resume index) and `results.jsonl` (the same rows as JSON objects).
//!
//! The CSV goes through the `csv` crate with [`Row`]'s serde derive: numbers as serde
//! writes them (the shortest text that reads back to the same value), booleans as
//! `true`/`false`, `None` as an empty field, strings quoted when they hold a comma or a
//! quote. Newlines in strings are replaced by spaces so that one row is always one line,
//! written with its line break in one write: text after the last line break of the file
//! is a row torn by an interrupt, and is dropped.

use std::collections::{BTreeMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One measured transmission. Field order is the CSV column order ([`COLUMNS`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// Image file stem.
    pub image: String,
    pub width: u32,
    pub height: u32,
    /// Method name (`semcom`, `softcast`, `jpeg-ldpc-mcs5`, `jpeg-capacity`, ...).
    pub method: String,
    /// `awgn` or `rayleigh`.
    pub channel: String,
    /// Coherence length of the block fading, symbols (`None` on AWGN).
    pub coherence: Option<u32>,
    /// Per-frame erasure probability of the channel.
    pub erasure: f64,
    /// ρ as given (`1/32`) and its value.
    pub rho: String,
    pub rho_value: f64,
    /// Es/N0 of the channel (and the CSI told to the sender), dB.
    pub snr_db: f64,
    pub realisation: u32,
    /// The sweep's `--seed` and the seed of this cell's channel (the same for every
    /// method of the cell).
    pub seed: u64,
    pub channel_seed: u64,
    /// Channel uses by purpose; `digital` = metadata, header, prompt or JPEG payload.
    pub pilots: usize,
    pub digital: usize,
    pub analog: usize,
    pub total: usize,
    /// round(ρ·3HW), the same for every method of a cell.
    pub budget: usize,
    /// MCS of the digital part (`None` for jpeg-capacity).
    pub mcs: Option<u8>,
    /// Bytes the digital part could carry (jpeg-ldpc's payload, jpeg-capacity's bound).
    pub payload_bytes: Option<usize>,
    /// The JPEG sent: quality, bytes on the link (abbreviated form: scan + quality +
    /// coded size) and downscale factor (coded width / width).
    pub jpeg_quality: Option<u8>,
    pub jpeg_bytes: Option<usize>,
    pub jpeg_scale: Option<f64>,
    /// jpeg-ldpc: LDPC code blocks and how many failed their CRC.
    pub blocks: Option<usize>,
    pub blocks_failed: Option<usize>,
    /// The receiver could not reconstruct anything (JPEG undecodable, or the codec's
    /// metadata/header lost): the image is mid-grey.
    pub undecodable: bool,
    /// Channel frames erased.
    pub erased_frames: usize,
    /// Share of 16×16 blocks in semcom's key mask (the region split of every method);
    /// `None` when semcom's encoder refused the cell (no region metrics then).
    pub key_share: Option<f64>,
    pub psnr: Option<f64>,
    pub ssim: Option<f64>,
    /// `None` for images below 161 px on a side.
    pub ms_ssim: Option<f64>,
    pub vsi: Option<f64>,
    pub gmsd: Option<f64>,
    pub key_psnr: Option<f64>,
    /// SSIM averaged over the windows centred in the key region.
    pub key_ssim: Option<f64>,
    pub nonkey_psnr: Option<f64>,
    /// Multi-scale SWD restricted to the non-key region (`None` when it has too few
    /// patches). Not computed for the key region: SWD is ~90 % of a row's metric time.
    pub nonkey_swd: Option<f64>,
    pub encode_ms: f64,
    pub decode_ms: f64,
    /// Why the method produced no image (encoder refused the cell); metrics are empty then.
    pub error: Option<String>,
}

/// CSV columns, in order (the field names of [`Row`]).
pub const COLUMNS: &[&str] = &[
    "image",
    "width",
    "height",
    "method",
    "channel",
    "coherence",
    "erasure",
    "rho",
    "rho_value",
    "snr_db",
    "realisation",
    "seed",
    "channel_seed",
    "pilots",
    "digital",
    "analog",
    "total",
    "budget",
    "mcs",
    "payload_bytes",
    "jpeg_quality",
    "jpeg_bytes",
    "jpeg_scale",
    "blocks",
    "blocks_failed",
    "undecodable",
    "erased_frames",
    "key_share",
    "psnr",
    "ssim",
    "ms_ssim",
    "vsi",
    "gmsd",
    "key_psnr",
    "key_ssim",
    "nonkey_psnr",
    "nonkey_swd",
    "encode_ms",
    "decode_ms",
    "error",
];

/// What identifies a row for resuming: the sweep coordinates and the base seed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RowKey(String);

impl RowKey {
    pub fn new(image: &str, method: &str, channel: &str, rho: f64, snr_db: f64, realisation: u32, seed: u64) -> Self {
        // Formatted numbers so that values read back from the CSV compare equal.
        RowKey(format!(
            "{image}\u{1f}{method}\u{1f}{channel}\u{1f}{rho:.9}\u{1f}{snr_db:.6}\u{1f}{realisation}\u{1f}{seed}"
        ))
    }
}

impl Row {
    pub fn key(&self) -> RowKey {
        RowKey::new(&self.image, &self.method, &self.channel, self.rho_value, self.snr_db, self.realisation, self.seed)
    }
}

pub fn header_line() -> String {
    COLUMNS.join(",")
}

/// The row as one CSV line (no newline).
pub fn csv_line(row: &Row) -> Result<String> {
    let one_line = |s: &str| s.replace(['\n', '\r'], " ");
    let flat = Row {
        image: one_line(&row.image),
        method: one_line(&row.method),
        channel: one_line(&row.channel),
        rho: one_line(&row.rho),
        error: row.error.as_deref().map(one_line),
        ..row.clone()
    };
    let mut w = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::new());
    w.serialize(&flat).context("formatting a result row")?;
    let bytes = w.into_inner().map_err(|e| anyhow::anyhow!("formatting a result row: {}", e.error()))?;
    let mut line = String::from_utf8(bytes).context("formatting a result row")?;
    if line.ends_with('\n') {
        line.pop();
    }
    Ok(line)
}

/// Whether a CSV header record is [`COLUMNS`].
fn is_header(record: &csv::StringRecord) -> bool {
    record.iter().eq(COLUMNS.iter().copied())
}

/// The rows of a results.csv being resumed: only the complete lines (text after the
/// last line break is a torn write), and of them the ones that parse as rows. An empty
/// file has no rows; a header other than [`COLUMNS`] is an error.
fn read_resumable(bytes: &[u8], path: &Path) -> Result<Vec<Row>> {
    let complete = &bytes[..bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1)];
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(complete);
    let header = reader.headers().with_context(|| format!("reading {}", path.display()))?;
    if !header.is_empty() && !is_header(header) {
        bail!(
            "{} was written with other columns (an older semcom?); move it away or use another --out",
            path.display()
        );
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.with_context(|| format!("reading {}", path.display()))?;
        if record.len() == COLUMNS.len() {
            if let Ok(row) = record.deserialize(None) {
                rows.push(row);
            }
        }
    }
    Ok(rows)
}

/// File next to `results.csv` recording the [`SweepSettings`] its rows were computed with.
pub const SETTINGS_FILE: &str = "settings.json";

/// What rows depend on beyond their key (image, method, channel, ρ, SNR, realisation,
/// seed). Resuming under other values would mix two experiments in one file, so a sweep
/// refuses to add to rows computed with different ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepSettings {
    /// Settings every row depends on (image scaling, channel options).
    pub common: Value,
    /// Settings of the methods that have their own (e.g. the diffusion generator's), for
    /// the methods of this sweep.
    pub methods: BTreeMap<String, Value>,
}

impl SweepSettings {
    /// Why rows already in the file (`existing`, computed under `self`) cannot be resumed
    /// under `now`: one entry per differing part; empty if they can.
    fn conflicts(&self, now: &SweepSettings, existing: &[Row]) -> Vec<String> {
        let mut out = Vec::new();
        if self.common != now.common {
            out.push(format!("{} (was {})", now.common, self.common));
        }
        for (method, settings) in &now.methods {
            let was = self.methods.get(method);
            if existing.iter().any(|r| r.method == *method) && was != Some(settings) {
                let was = was.map_or_else(|| "not recorded".to_string(), Value::to_string);
                out.push(format!("{method}: {settings} (was {was})"));
            }
        }
        out
    }
}

/// Streams rows to `results.csv` and `results.jsonl`, flushing after each row so that
/// an interrupted sweep keeps every finished row.
pub struct RowWriter {
    csv: File,
    jsonl: File,
}

/// The rows already on disk when a sweep starts.
pub struct Existing {
    pub rows: Vec<Row>,
    pub keys: HashSet<RowKey>,
}

impl RowWriter {
    /// Opens the two files in `out`. An existing `results.csv` with this schema is kept
    /// (a torn last line is dropped) and its rows returned for resuming, unless they were
    /// computed with other `settings` ([`SETTINGS_FILE`]; a folder without one, from an
    /// older semcom, is taken as matching); `results.jsonl` is rewritten from it so both
    /// files always hold the same rows.
    pub fn open(out: &Path, settings: &SweepSettings) -> Result<(Self, Existing)> {
        let csv_path = out.join("results.csv");
        let jsonl_path = out.join("results.jsonl");
        let rows = if csv_path.exists() {
            let bytes = std::fs::read(&csv_path).with_context(|| format!("reading {}", csv_path.display()))?;
            read_resumable(&bytes, &csv_path)?
        } else {
            Vec::new()
        };
        let settings_path = out.join(SETTINGS_FILE);
        let mut recorded = settings.clone();
        if settings_path.exists() {
            let text = std::fs::read_to_string(&settings_path)
                .with_context(|| format!("reading {}", settings_path.display()))?;
            let old: SweepSettings = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a settings record", settings_path.display()))?;
            let conflicts = old.conflicts(settings, &rows);
            if !conflicts.is_empty() {
                bail!(
                    "{} holds rows computed with other settings, which a resume would mix with these: {}; \
                     use another --out, or remove results.csv to recompute",
                    csv_path.display(),
                    conflicts.join("; ")
                );
            }
            // Methods this sweep does not run keep the settings their rows were made with.
            for (m, v) in old.methods {
                recorded.methods.entry(m).or_insert(v);
            }
        }
        // Written whole or not at all: a torn record would stop every later resume.
        let tmp = out.join(format!("{SETTINGS_FILE}.tmp"));
        std::fs::write(&tmp, format!("{:#}\n", serde_json::to_value(&recorded)?))
            .with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &settings_path).with_context(|| format!("writing {}", settings_path.display()))?;

        // Rewrite both files from the rows that survived: drops a torn line and any
        // JSON line whose CSV twin was lost.
        let mut csv = File::create(&csv_path).with_context(|| format!("writing {}", csv_path.display()))?;
        let mut jsonl = File::create(&jsonl_path).with_context(|| format!("writing {}", jsonl_path.display()))?;
        writeln!(csv, "{}", header_line())?;
        for r in &rows {
            writeln!(csv, "{}", csv_line(r)?)?;
            writeln!(jsonl, "{}", serde_json::to_string(r)?)?;
        }
        csv.flush()?;
        jsonl.flush()?;
        drop((csv, jsonl));
        let csv = OpenOptions::new().append(true).open(&csv_path)?;
        let jsonl = OpenOptions::new().append(true).open(&jsonl_path)?;
        let keys = rows.iter().map(Row::key).collect();
        Ok((Self { csv, jsonl }, Existing { rows, keys }))
    }

    pub fn write(&mut self, row: &Row) -> Result<()> {
        // One write per line: a crash mid-row leaves at most one torn line.
        self.csv.write_all(format!("{}\n", csv_line(row)?).as_bytes())?;
        self.csv.flush()?;
        self.jsonl.write_all(format!("{}\n", serde_json::to_string(row)?).as_bytes())?;
        self.jsonl.flush()?;
        Ok(())
    }
}

/// Reads every row of a results.csv (for reports and tests).
pub fn read_csv(path: &Path) -> Result<Vec<Row>> {
    let mut reader = csv::Reader::from_path(path).with_context(|| format!("reading {}", path.display()))?;
    if !is_header(reader.headers().with_context(|| format!("reading {}", path.display()))?) {
        bail!("{}: unexpected header", path.display());
    }
    reader
        .deserialize()
        .enumerate()
        .map(|(i, row)| row.with_context(|| format!("{}: line {} is not a result row", path.display(), i + 2)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> Row {
        Row {
            image: "a,\"b\"".into(),
            width: 10,
            height: 20,
            method: "jpeg-ldpc-mcs5".into(),
            channel: "rayleigh".into(),
            coherence: Some(1024),
            erasure: 0.0,
            rho: "1/32".into(),
            rho_value: 1.0 / 32.0,
            snr_db: -2.5,
            realisation: 1,
            seed: 7,
            channel_seed: u64::MAX,
            pilots: 16,
            digital: 100,
            analog: 0,
            total: 116,
            budget: 120,
            mcs: Some(5),
            payload_bytes: Some(40),
            jpeg_quality: None,
            jpeg_bytes: None,
            jpeg_scale: Some(0.5),
            blocks: Some(2),
            blocks_failed: Some(1),
            undecodable: true,
            erased_frames: 0,
            key_share: Some(0.25),
            psnr: Some(12.5),
            ssim: Some(0.1),
            ms_ssim: None,
            vsi: Some(0.8),
            gmsd: Some(0.2),
            key_psnr: Some(11.0),
            key_ssim: Some(0.5),
            nonkey_psnr: Some(13.0),
            nonkey_swd: Some(0.01),
            encode_ms: 1.5,
            decode_ms: 2.0,
            error: Some("line\nbreak, comma".into()),
        }
    }

    #[test]
    fn columns_are_the_row_fields_in_order() {
        let v = serde_json::to_value(row()).unwrap();
        let keys: HashSet<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, COLUMNS.iter().copied().collect::<HashSet<_>>());
        assert_eq!(keys.len(), COLUMNS.len());
    }

    #[test]
    fn csv_line_round_trips() {
        let r = row();
        let line = csv_line(&r).unwrap();
        let file = format!("{}\n{line}\n", header_line());
        let back = read_resumable(file.as_bytes(), Path::new("results.csv")).expect("parses");
        let mut expected = r.clone();
        expected.error = Some("line break, comma".into());
        assert_eq!(back, [expected]);
        assert_eq!(back[0].key(), r.key());
        // A torn line is rejected, not misread: cut anywhere, even in the last field.
        for cut in [line.len() / 2, line.len() - 3] {
            let torn = format!("{}\n{line}\n{}", header_line(), &line[..cut]);
            assert_eq!(read_resumable(torn.as_bytes(), Path::new("results.csv")).expect("parses").len(), 1);
        }
        // Another schema is refused.
        assert!(read_resumable(b"image,method\nx,y\n", Path::new("results.csv")).is_err());
    }

    /// The line is the one the hand-written format gave: fields in column order, `None`
    /// empty, floats in their shortest form with a `.0` on whole values, strings with a
    /// comma or quote quoted with `""` escapes.
    #[test]
    fn csv_line_format() {
        assert_eq!(
            csv_line(&row()).unwrap(),
            "\"a,\"\"b\"\"\",10,20,jpeg-ldpc-mcs5,rayleigh,1024,0.0,1/32,0.03125,-2.5,1,7,18446744073709551615,16,\
             100,0,116,120,5,40,,,0.5,2,1,true,0,0.25,12.5,0.1,,0.8,0.2,11.0,0.5,13.0,0.01,1.5,2.0,\
             \"line break, comma\""
        );
    }
}
