//! The two codecs behind one interface: whatever the codec, the link sends a run of
//! sections (pilots, digital, analog), tells the receiver the digital part's MCS in
//! the Meta frame headers and names the codec in the transmission header. Everything
//! codec-specific ends here.

use image::RgbImage;
use semcom_codec::error::CodecError;
use semcom_codec::segment::Roi;
use semcom_codec::semantic::{self, SemanticConfig, SemanticReport, SemanticRequest};
use semcom_codec::settings::{semantic_settings, softcast_settings, CodecSettings};
use semcom_codec::softcast::{self, SoftCastConfig};
use semcom_codec::stream::{ChannelUseSplit, Section};
use serde::Deserialize;

/// Which codec encodes an image. Configured per sender (`codec = "semantic"`), and
/// selectable per request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CodecKind {
    /// Key regions analog, the rest as a structured prompt (docs/architecture.md §3).
    #[default]
    Semantic,
    /// Whole-image SoftCast: the baseline.
    Softcast,
}

/// Per-request parameters; each codec uses what it understands.
#[derive(Debug, Clone, Default)]
pub(crate) struct EncodeRequest {
    pub rho: f64,
    /// Expected Es/N0 at the receiver (CSI feedback), dB.
    pub snr_db: Option<f64>,
    pub rois: Vec<Roi>,
    pub caption: Option<String>,
}

/// One encoded image, ready for the link.
#[derive(Debug, Clone)]
pub(crate) struct Encoded {
    pub sections: Vec<Section>,
    /// MCS index of the digital part, carried as the Meta frames' modulation id.
    pub meta_mcs: u8,
    pub split: ChannelUseSplit,
    /// Wire id for the transmission header.
    pub codec_id: &'static str,
    /// The settings the receiver must share, for the transmission header.
    pub settings: CodecSettings,
    /// Semantic codec only.
    pub semantic: Option<SemanticReport>,
}

/// Both codecs' configurations (they must match the receiver's).
#[derive(Debug, Clone)]
pub(crate) struct Codecs {
    pub softcast: SoftCastConfig,
    pub semantic: SemanticConfig,
}

impl Codecs {
    pub fn encode(&self, kind: CodecKind, img: &RgbImage, req: &EncodeRequest) -> Result<Encoded, CodecError> {
        match kind {
            CodecKind::Softcast => {
                // SoftCast has no use for the SNR, ROIs or caption: it treats every
                // pixel alike, which is what makes it the baseline.
                let t = softcast::encode(img, req.rho, &self.softcast)?;
                Ok(Encoded {
                    sections: t.sections,
                    meta_mcs: self.softcast.meta_mcs,
                    split: t.split,
                    codec_id: softcast::CODEC_ID,
                    settings: softcast_settings(&self.softcast),
                    semantic: None,
                })
            }
            CodecKind::Semantic => {
                let sreq = SemanticRequest {
                    rho: req.rho,
                    snr_db: req.snr_db,
                    rois: req.rois.clone(),
                    caption: req.caption.clone(),
                };
                let t = semantic::encode(img, &sreq, &self.semantic)?;
                Ok(Encoded {
                    sections: t.sections,
                    meta_mcs: t.report.mcs,
                    split: t.split,
                    codec_id: semantic::CODEC_ID,
                    settings: semantic_settings(&self.semantic),
                    semantic: Some(t.report),
                })
            }
        }
    }
}
