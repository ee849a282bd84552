//! Results on disk: `<id>.png` and `<id>.json` per result, each written atomically
//! (temp file, fsync, rename, fsync of the directory). The JSON is written last, so
//! its presence marks a complete result; leftovers of a crash are swept at start.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use semcom_proto::v1::ResultInfo;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

/// Metadata stored next to each reconstructed image.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResultMeta {
    pub id: String,
    pub codec: String,
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
    /// LDPC iterations the metadata needed.
    #[serde(default)]
    pub meta_iterations: usize,
    /// Channel uses received, by part.
    pub channel_uses: ChannelUses,
    /// Bandwidth ratio rho = channel uses / (H*W*3), and channel uses per pixel.
    pub rho: f64,
    pub symbols_per_pixel: f64,
    pub chunks_sent: usize,
    pub receive_ms: f64,
    pub decode_ms: f64,
    pub stored_at_ms: u64,
    /// Certificate fingerprint of the QUIC peer that delivered it.
    pub peer: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ChannelUses {
    pub pilots: usize,
    pub meta: usize,
    pub analog: usize,
    pub total: usize,
}

impl ResultMeta {
    pub fn to_info(&self) -> ResultInfo {
        ResultInfo {
            id: self.id.clone(),
            name: String::new(),
            width: self.width,
            height: self.height,
            snr_est_db: self.snr_est_db,
            split: Some(semcom_proto::v1::ChannelUseSplit {
                pilots: self.channel_uses.pilots as u64,
                meta: self.channel_uses.meta as u64,
                analog: self.channel_uses.analog as u64,
                total: self.channel_uses.total as u64,
                rho: self.rho,
                symbols_per_pixel: self.symbols_per_pixel,
            }),
            stored_at_ms: self.stored_at_ms,
            receive_ms: self.receive_ms,
            decode_ms: self.decode_ms,
            peer: self.peer.clone(),
            metadata_json: serde_json::to_string_pretty(self).unwrap_or_default(),
        }
    }
}

/// The result store: files on disk plus an in-memory index and a feed of new results.
#[derive(Clone)]
pub struct Store {
    dir: PathBuf,
    index: Arc<Mutex<BTreeMap<String, ResultMeta>>>,
    feed: broadcast::Sender<ResultMeta>,
}

/// Result ids become file names: allow only what a UUID or simple id contains.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl Store {
    pub fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut index = BTreeMap::new();
        for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
            let path = entry?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
            if name.ends_with(".tmp") {
                // A write interrupted by a crash: never a complete result.
                let _ = std::fs::remove_file(&path);
                continue;
            }
            if let Some(id) = name.strip_suffix(".json") {
                let meta: Option<ResultMeta> =
                    std::fs::read(&path).ok().and_then(|b| serde_json::from_slice(&b).ok());
                match meta {
                    Some(m) if m.id == id && dir.join(format!("{id}.png")).exists() => {
                        index.insert(id.to_owned(), m);
                    }
                    _ => tracing::warn!(path = %path.display(), "ignoring unreadable result metadata"),
                }
            }
        }
        let (feed, _) = broadcast::channel(256);
        Ok(Self { dir: dir.to_path_buf(), index: Arc::new(Mutex::new(index)), feed })
    }

    /// Stores one result atomically and announces it. Blocking file I/O: call from
    /// a blocking context.
    pub fn put(&self, meta: &ResultMeta, png: &[u8]) -> Result<()> {
        anyhow::ensure!(valid_id(&meta.id), "invalid result id {:?}", meta.id);
        write_atomic(&self.dir, &format!("{}.png", meta.id), png)?;
        let json = serde_json::to_vec_pretty(meta)?;
        write_atomic(&self.dir, &format!("{}.json", meta.id), &json)?;
        self.index.lock().map_err(|_| anyhow::anyhow!("store index poisoned"))?.insert(meta.id.clone(), meta.clone());
        let _ = self.feed.send(meta.clone());
        Ok(())
    }

    pub fn list(&self) -> Vec<ResultMeta> {
        self.index.lock().map(|i| i.values().cloned().collect()).unwrap_or_default()
    }

    pub fn get(&self, id: &str) -> Option<(ResultMeta, PathBuf)> {
        if !valid_id(id) {
            return None;
        }
        let meta = self.index.lock().ok()?.get(id).cloned()?;
        Some((meta, self.dir.join(format!("{id}.png"))))
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
            channel_uses: ChannelUses::default(),
            rho: 0.1,
            symbols_per_pixel: 0.3,
            chunks_sent: 1,
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
        store.put(&meta("abc"), b"png-bytes").expect("put");
        assert!(store.get("abc").is_some());
        assert!(store.get("../etc/passwd").is_none());
        std::fs::write(dir.path().join(".x.png.1.tmp"), b"half").expect("write");
        // A PNG without its JSON is an unfinished result and is not listed.
        std::fs::write(dir.path().join("lonely.png"), b"half").expect("write");

        let reopened = Store::open(dir.path()).expect("reopen");
        let ids: Vec<_> = reopened.list().into_iter().map(|m| m.id).collect();
        assert_eq!(ids, vec!["abc".to_string()]);
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .expect("read_dir")
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn invalid_ids_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        assert!(store.put(&meta("a/b"), b"x").is_err());
        assert!(store.list().is_empty());
    }
}
