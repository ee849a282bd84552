//! Results on disk: `<id>.png` and `<id>.json` per result, and for the semantic codec
//! `<id>.mask.png`, `<id>.prompt.json` and `<id>.prompt.txt` next to them. Each file is
//! written atomically (temp file, fsync, rename, fsync of the directory); the JSON is
//! written last, so its presence marks a complete result. A failed store removes what
//! it had written; leftovers of a crash (temp files, files without their JSON) are
//! swept at start.

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use semcom_codec::stream::ChannelUseSplit;
use semcom_proto::v1::{ResultInfo, SemanticResult};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

/// Metadata stored next to each reconstructed image.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResultMeta {
    pub id: String,
    /// Wire id of the codec: "semantic-v1" (semantic) or "softcast-v1".
    pub codec: String,
    /// Generator that filled the non-key regions (semantic codec only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator: Option<String>,
    pub width: u32,
    pub height: u32,
    /// Es/N0 estimated by the receiver from the pilots, dB.
    pub snr_est_db: f64,
    /// Noise variance N0 estimated from the pilots.
    pub n0_est: f64,
    /// Mean |ĥ|² over the data symbols (1 on AWGN; varies with fading).
    #[serde(default)]
    pub mean_gain_est: f64,
    /// Analog symbols lost on the link (estimated as 0).
    #[serde(default)]
    pub erased_analog: usize,
    /// LDPC iterations SoftCast's metadata needed (0 for the semantic codec).
    #[serde(default)]
    pub meta_iterations: usize,
    /// MCS index of the digital part (from the Meta frame headers).
    #[serde(default)]
    pub mcs: u8,
    /// Channel uses received, by part.
    pub channel_uses: ChannelUses,
    /// Bandwidth ratio rho = channel uses / (H*W*3), and channel uses per pixel.
    pub rho: f64,
    pub symbols_per_pixel: f64,
    /// SoftCast chunks sent (SoftCast only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunks_sent: Option<usize>,
    /// What the semantic decoder found (semantic codec only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub semantic: Option<SemanticMeta>,
    pub receive_ms: f64,
    pub decode_ms: f64,
    pub stored_at_ms: u64,
    /// Certificate fingerprint of the QUIC peer that delivered it.
    pub peer: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelUses {
    pub pilots: usize,
    /// Every digital symbol: SoftCast's metadata, or the semantic header + prompt.
    pub meta: usize,
    pub analog: usize,
    pub total: usize,
    /// Semantic codec: `meta` split into header (preamble, mask, key side
    /// information) and prompt records (None for SoftCast).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<usize>,
}

impl ChannelUses {
    pub fn from_split(s: &ChannelUseSplit) -> Self {
        Self { pilots: s.pilots, meta: s.meta, analog: s.analog, total: s.total, header: None, prompt: None }
    }
}

/// The semantic part of a result's metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SemanticMeta {
    /// Share of key blocks in the received mask, key blocks, all blocks.
    pub key_share: f64,
    pub key_blocks: usize,
    pub blocks: usize,
    /// Segments in the prompt as used (after repair).
    pub prompt_segments: usize,
    /// Prompt records that failed their CRC or did not parse.
    pub failed_records: Vec<usize>,
    /// Segments whose colour/texture came from a safe prior.
    pub repairs: Vec<RepairMeta>,
    /// The prompt as used, as text (also in `<id>.prompt.txt`).
    pub prompt_text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepairMeta {
    pub segment: usize,
    pub geometry_replaced: bool,
    /// "neighbours" (mean of the segments listed) or "neutral_prior".
    pub source: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub neighbours: Vec<usize>,
}

impl ResultMeta {
    pub fn to_info(&self) -> ResultInfo {
        let cu = &self.channel_uses;
        ResultInfo {
            id: self.id.clone(),
            name: String::new(),
            width: self.width,
            height: self.height,
            snr_est_db: self.snr_est_db,
            split: Some(semcom_proto::v1::ChannelUseSplit {
                pilots: cu.pilots as u64,
                meta: cu.meta as u64,
                analog: cu.analog as u64,
                total: cu.total as u64,
                rho: self.rho,
                symbols_per_pixel: self.symbols_per_pixel,
                header_symbols: cu.header.unwrap_or(0) as u64,
                prompt_symbols: cu.prompt.unwrap_or(0) as u64,
                budget: 0,
            }),
            stored_at_ms: self.stored_at_ms,
            receive_ms: self.receive_ms,
            decode_ms: self.decode_ms,
            peer: self.peer.clone(),
            metadata_json: serde_json::to_string_pretty(self).unwrap_or_default(),
            codec: self.codec.clone(),
            mcs: u32::from(self.mcs),
            semantic: self.semantic.as_ref().map(|s| SemanticResult {
                generator: self.generator.clone().unwrap_or_default(),
                key_share: s.key_share,
                key_blocks: s.key_blocks as u32,
                blocks: s.blocks as u32,
                prompt_segments: s.prompt_segments as u32,
                prompt_text: s.prompt_text.clone(),
                failed_records: s.failed_records.iter().map(|&i| i as u32).collect(),
                repaired_segments: s.repairs.len() as u32,
            }),
        }
    }
}

/// The result store: files on disk plus an in-memory index and a feed of new results.
#[derive(Clone)]
pub struct Store {
    dir: PathBuf,
    index: Arc<Mutex<Index>>,
    feed: broadcast::Sender<ResultMeta>,
}

struct Index {
    results: BTreeMap<String, ResultMeta>,
    /// Ids being written: a second transmission with the same id must neither
    /// overwrite a stored result nor remove its files when it fails.
    writing: HashSet<String>,
}

/// Result ids become file names: allow only what a UUID or simple id contains.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Suffixes of every file a result may have besides `<id>.json`.
const RESULT_SUFFIXES: [&str; 4] = [".png", ".mask.png", ".prompt.json", ".prompt.txt"];

/// The result id a (non-JSON) result file belongs to.
fn owner_of(name: &str) -> Option<&str> {
    // Ids contain no '.', so only the full suffix leaves a valid id ("x.mask.png"
    // is x's mask, not a PNG of "x.mask").
    RESULT_SUFFIXES.iter().filter_map(|s| name.strip_suffix(s)).find(|id| valid_id(id))
}

impl Store {
    pub fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut results = BTreeMap::new();
        let mut others = Vec::new();
        for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
            let path = entry?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
            if name.ends_with(".tmp") {
                // A write interrupted by a crash: never a complete result.
                let _ = std::fs::remove_file(&path);
                continue;
            }
            match name.strip_suffix(".json").filter(|id| valid_id(id)) {
                Some(id) => {
                    let meta: Option<ResultMeta> =
                        std::fs::read(&path).ok().and_then(|b| serde_json::from_slice(&b).ok());
                    match meta {
                        Some(m) if m.id == id && dir.join(format!("{id}.png")).exists() => {
                            results.insert(id.to_owned(), m);
                        }
                        _ => tracing::warn!(path = %path.display(), "ignoring unreadable result metadata"),
                    }
                }
                None => others.push((path, name)),
            }
        }
        // Files of a result whose JSON never got written: a store cut short by a crash.
        for (path, name) in others {
            if owner_of(&name).is_some_and(|id| !dir.join(format!("{id}.json")).exists()) {
                tracing::info!(path = %path.display(), "removing a file of an unfinished result");
                let _ = std::fs::remove_file(&path);
            }
        }
        let (feed, _) = broadcast::channel(256);
        let index = Index { results, writing: HashSet::new() };
        Ok(Self { dir: dir.to_path_buf(), index: Arc::new(Mutex::new(index)), feed })
    }

    fn index(&self) -> Result<std::sync::MutexGuard<'_, Index>> {
        self.index.lock().map_err(|_| anyhow::anyhow!("store index poisoned"))
    }

    /// Stores one result atomically and announces it: the image, then the `extra`
    /// files (`<id><suffix>`, suffixes from [`RESULT_SUFFIXES`]), then the JSON. On
    /// failure nothing of it is left. Refuses an id that is already stored. Blocking
    /// file I/O: call from a blocking context.
    pub fn put(&self, meta: &ResultMeta, png: &[u8], extra: &[(&str, &[u8])]) -> Result<()> {
        anyhow::ensure!(valid_id(&meta.id), "invalid result id {:?}", meta.id);
        for (suffix, _) in extra {
            anyhow::ensure!(RESULT_SUFFIXES[1..].contains(suffix), "unknown result file suffix {suffix:?}");
        }
        {
            let mut index = self.index()?;
            anyhow::ensure!(
                !index.results.contains_key(&meta.id) && index.writing.insert(meta.id.clone()),
                "result {:?} already stored",
                meta.id
            );
        }
        let result = self.write_all(meta, png, extra);
        let mut index = self.index()?;
        index.writing.remove(&meta.id);
        result?;
        index.results.insert(meta.id.clone(), meta.clone());
        drop(index);
        let _ = self.feed.send(meta.clone());
        Ok(())
    }

    fn write_all(&self, meta: &ResultMeta, png: &[u8], extra: &[(&str, &[u8])]) -> Result<()> {
        let json = serde_json::to_vec_pretty(meta)?;
        let files: Vec<(String, &[u8])> = std::iter::once((format!("{}.png", meta.id), png))
            .chain(extra.iter().map(|(suffix, bytes)| (format!("{}{suffix}", meta.id), *bytes)))
            .chain(std::iter::once((format!("{}.json", meta.id), json.as_slice())))
            .collect();
        for (i, (name, bytes)) in files.iter().enumerate() {
            if let Err(e) = write_atomic(&self.dir, name, bytes) {
                // No half result: without its JSON nobody would list it, but its
                // files would sit there until the next start.
                // (`..=i`: the failing step may have renamed before it failed.)
                for (written, _) in &files[..=i] {
                    let _ = std::fs::remove_file(self.dir.join(written));
                }
                return Err(e);
            }
        }
        Ok(())
    }

    pub fn list(&self) -> Vec<ResultMeta> {
        self.index.lock().map(|i| i.results.values().cloned().collect()).unwrap_or_default()
    }

    /// A stored result's metadata and the path of its file with `suffix` (".png",
    /// ".mask.png", ...).
    pub fn get(&self, id: &str) -> Option<(ResultMeta, PathBuf)> {
        if !valid_id(id) {
            return None;
        }
        let meta = self.index.lock().ok()?.results.get(id).cloned()?;
        Some((meta, self.dir.join(format!("{id}.png"))))
    }

    /// Path of one of a stored result's files.
    pub fn file(&self, id: &str, suffix: &str) -> Option<PathBuf> {
        (valid_id(id) && RESULT_SUFFIXES.contains(&suffix)).then(|| self.dir.join(format!("{id}{suffix}")))
    }

    pub fn subscribe(&self) -> broadcast::Receiver<ResultMeta> {
        self.feed.subscribe()
    }
}

fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    let tmp = dir.join(format!(".{name}.{}.tmp", uuid::Uuid::new_v4()));
    let result = (|| -> Result<()> {
        let mut f = std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, dir.join(name))?;
        // Make the rename itself durable.
        std::fs::File::open(dir)?.sync_all()?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.with_context(|| format!("storing {name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(id: &str) -> ResultMeta {
        ResultMeta {
            id: id.into(),
            codec: "softcast-v1".into(),
            width: 2,
            height: 2,
            snr_est_db: 10.0,
            n0_est: 0.1,
            mean_gain_est: 1.0,
            erased_analog: 0,
            meta_iterations: 1,
            mcs: 1,
            generator: None,
            channel_uses: ChannelUses::default(),
            rho: 0.1,
            symbols_per_pixel: 0.3,
            chunks_sent: Some(1),
            semantic: None,
            receive_ms: 1.0,
            decode_ms: 1.0,
            stored_at_ms: 1,
            peer: "x".into(),
        }
    }

    #[test]
    fn put_get_reopen_and_sweep_temp_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        store.put(&meta("abc"), b"png-bytes", &[(".mask.png", b"mask")]).expect("put");
        assert!(store.get("abc").is_some());
        assert!(store.get("../etc/passwd").is_none());
        std::fs::write(dir.path().join(".x.png.1.tmp"), b"half").expect("write");
        // Files without their JSON are an unfinished result: not listed, swept.
        std::fs::write(dir.path().join("lonely.png"), b"half").expect("write");
        std::fs::write(dir.path().join("lonely.mask.png"), b"half").expect("write");
        // Files that are no result's are none of the store's business.
        std::fs::write(dir.path().join("notes.txt"), b"mine").expect("write");

        let reopened = Store::open(dir.path()).expect("reopen");
        let ids: Vec<_> = reopened.list().into_iter().map(|m| m.id).collect();
        assert_eq!(ids, vec!["abc".to_string()]);
        assert_eq!(names(dir.path()), ["abc.json", "abc.mask.png", "abc.png", "notes.txt"]);
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut n: Vec<String> = std::fs::read_dir(dir)
            .expect("read_dir")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        n.sort();
        n
    }

    /// A store that fails part-way leaves nothing of the result behind, and a
    /// second result under a stored id is refused without touching the first.
    #[test]
    fn failed_or_duplicate_puts_leave_no_partial_result() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        // A directory where the prompt text should go makes its rename fail.
        std::fs::create_dir(dir.path().join("r1.prompt.txt")).expect("mkdir");
        std::fs::write(dir.path().join("r1.prompt.txt").join("x"), b"x").expect("write");
        let extra: [(&str, &[u8]); 3] = [(".mask.png", b"m"), (".prompt.json", b"{}"), (".prompt.txt", b"t")];
        assert!(store.put(&meta("r1"), b"png", &extra).is_err());
        assert!(store.list().is_empty());
        assert_eq!(names(dir.path()), ["r1.prompt.txt"]);

        store.put(&meta("r2"), b"png", &extra).expect("put");
        let err = store.put(&meta("r2"), b"other", &[]).expect_err("duplicate id");
        assert!(err.to_string().contains("already stored"), "{err}");
        assert_eq!(std::fs::read(dir.path().join("r2.png")).expect("read"), b"png");
        assert!(store.put(&meta("r3"), b"png", &[(".exe", b"x")]).is_err());
        assert_eq!(store.list().len(), 1);
    }

    #[test]
    fn invalid_ids_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        assert!(store.put(&meta("a/b"), b"x", &[]).is_err());
        assert!(store.list().is_empty());
    }
}
