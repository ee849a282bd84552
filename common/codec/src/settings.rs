//! The codec settings a receiver must share with the sender: those that shape the
//! symbols without travelling inside them (the pilot pattern; the semantic codec's key
//! encoder configuration). The sender puts them in the transmission header; the
//! receiver compares them with its own before decoding, so that a mismatch is an error
//! that names the setting instead of a garbage image.

use std::fmt;

pub use semcom_wire::v1::wire::{CodecSettings, HybridKeySettings};

use crate::key::HybridConfig;
use crate::semantic::SemanticConfig;
use crate::softcast::SoftCastConfig;

/// Why a transmission's codec settings are not the receiver's.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SettingsError {
    #[error("the transmission header carries no codec settings")]
    Missing,
    #[error("codec settings differ: {}", Differences(.0))]
    Differ(Vec<Difference>),
}

/// One setting that differs, by its configuration key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// Key within the codec's configuration section, e.g. `pilot_block` or `hybrid.group`.
    pub setting: &'static str,
    pub sender: String,
    pub receiver: String,
}

struct Differences<'a>(&'a [Difference]);

impl fmt::Display for Differences<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "sender {0} = {1}, receiver {0} = {2}", d.setting, d.sender, d.receiver)?;
        }
        Ok(())
    }
}

/// The shared settings of a semantic codec configuration.
pub fn semantic_settings(cfg: &SemanticConfig) -> CodecSettings {
    CodecSettings {
        pilot_block: cfg.pilot_block as u64,
        pilots_per_block: cfg.pilots_per_block as u64,
        hybrid: Some(hybrid_settings(&cfg.hybrid)),
    }
}

/// The shared settings of a SoftCast configuration (its chunk grids and λ bits travel
/// in its metadata).
pub fn softcast_settings(cfg: &SoftCastConfig) -> CodecSettings {
    CodecSettings { pilot_block: cfg.pilot_block as u64, pilots_per_block: cfg.pilots_per_block as u64, hybrid: None }
}

fn hybrid_settings(h: &HybridConfig) -> HybridKeySettings {
    HybridKeySettings {
        base_cutoff: h.base_cutoff as u64,
        base_grid_luma_rows: h.base_grid_luma.0 as u64,
        base_grid_luma_cols: h.base_grid_luma.1 as u64,
        base_grid_chroma_rows: h.base_grid_chroma.0 as u64,
        base_grid_chroma_cols: h.base_grid_chroma.1 as u64,
        bands_luma: h.bands_luma as u64,
        bands_chroma: h.bands_chroma as u64,
        group: h.group as u64,
        lambda_bits: u32::from(h.lambda_bits),
        alpha_bits: u32::from(h.alpha_bits),
        beta_bits: u32::from(h.beta_bits),
        correction_bits: u32::from(h.correction_bits),
    }
}

/// Checks the settings a transmission announces (`sent`) against the receiver's
/// (`own`); the error lists every setting that differs.
pub fn check(sent: Option<&CodecSettings>, own: &CodecSettings) -> Result<(), SettingsError> {
    let sent = sent.ok_or(SettingsError::Missing)?;
    let differences: Vec<Difference> = entries(sent)
        .into_iter()
        .zip(entries(own))
        .filter(|((_, s), (_, r))| s != r)
        .map(|((setting, sender), (_, receiver))| Difference { setting, sender, receiver })
        .collect();
    if differences.is_empty() {
        Ok(())
    } else {
        Err(SettingsError::Differ(differences))
    }
}

/// Every setting as (configuration key, value), in a fixed order; the key encoder's
/// read "unset" when there is none.
fn entries(s: &CodecSettings) -> Vec<(&'static str, String)> {
    let h = s.hybrid.as_ref();
    let key = |f: fn(&HybridKeySettings) -> String| h.map_or_else(|| "unset".to_owned(), f);
    vec![
        ("pilot_block", s.pilot_block.to_string()),
        ("pilots_per_block", s.pilots_per_block.to_string()),
        ("hybrid.base_cutoff", key(|h| h.base_cutoff.to_string())),
        ("hybrid.base_grid_luma", key(|h| format!("[{}, {}]", h.base_grid_luma_rows, h.base_grid_luma_cols))),
        ("hybrid.base_grid_chroma", key(|h| format!("[{}, {}]", h.base_grid_chroma_rows, h.base_grid_chroma_cols))),
        ("hybrid.bands_luma", key(|h| h.bands_luma.to_string())),
        ("hybrid.bands_chroma", key(|h| h.bands_chroma.to_string())),
        ("hybrid.group", key(|h| h.group.to_string())),
        ("hybrid.lambda_bits", key(|h| h.lambda_bits.to_string())),
        ("hybrid.alpha_bits", key(|h| h.alpha_bits.to_string())),
        ("hybrid.beta_bits", key(|h| h.beta_bits.to_string())),
        ("hybrid.correction_bits", key(|h| h.correction_bits.to_string())),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_settings_pass_and_a_missing_message_is_refused() {
        let own = semantic_settings(&SemanticConfig::default());
        assert_eq!(check(Some(&own), &own), Ok(()));
        let sc = softcast_settings(&SoftCastConfig::default());
        assert_eq!(check(Some(&sc), &sc), Ok(()));
        assert_eq!(check(None, &own), Err(SettingsError::Missing));
    }

    /// The error names each differing setting with both values, in the words of the
    /// configuration; settings that do not shape the symbols (MCS limits, key share,
    /// SoftCast's grids) are not compared.
    #[test]
    fn a_mismatch_names_the_setting() {
        let receiver = SemanticConfig::default();
        let sender = SemanticConfig { pilot_block: 512, max_mcs: 3, key_share: Some(0.2), ..receiver.clone() };
        let err = check(Some(&semantic_settings(&sender)), &semantic_settings(&receiver)).expect_err("differ");
        assert_eq!(err.to_string(), "codec settings differ: sender pilot_block = 512, receiver pilot_block = 1024");

        let mut hybrid = receiver.hybrid.clone();
        hybrid.group = 2;
        hybrid.base_grid_luma = (4, 6);
        let sender = SemanticConfig { hybrid, ..receiver.clone() };
        let err = check(Some(&semantic_settings(&sender)), &semantic_settings(&receiver)).expect_err("differ");
        assert_eq!(
            err.to_string(),
            "codec settings differ: sender hybrid.base_grid_luma = [4, 6], receiver hybrid.base_grid_luma = [6, 6]; \
             sender hybrid.group = 2, receiver hybrid.group = 4"
        );

        let receiver = SoftCastConfig::default();
        let sender = SoftCastConfig { pilots_per_block: 8, chunks_luma: (4, 4), ..receiver.clone() };
        let err = check(Some(&softcast_settings(&sender)), &softcast_settings(&receiver)).expect_err("differ");
        assert_eq!(
            err.to_string(),
            "codec settings differ: sender pilots_per_block = 8, receiver pilots_per_block = 16"
        );

        // Semantic settings against SoftCast's: the key encoder is missing on one side.
        let err = check(Some(&semantic_settings(&SemanticConfig::default())), &softcast_settings(&receiver))
            .expect_err("differ");
        assert!(err.to_string().contains("sender hybrid.group = 4, receiver hybrid.group = unset"), "{err}");
    }
}
