//! The error type every codec of this crate returns (SoftCast, the semantic codec and the
//! JPEG + LDPC baseline).

use semcom_phy::PhyError;

use crate::dct::DctError;

/// Errors of the codecs.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("invalid codec configuration: {0}")]
    InvalidConfig(String),
    #[error("invalid bandwidth ratio rho = {0}: must be finite and positive")]
    InvalidRho(f64),
    #[error("image size {width}x{height} not supported: each side must be in 1..=65535")]
    UnsupportedImageSize { width: u32, height: u32 },
    #[error(
        "channel-use budget {budget} too small: pilots and metadata alone need {needed} \
         (rho = {rho}, {width}x{height})"
    )]
    BudgetTooSmall { budget: usize, needed: usize, rho: f64, width: u32, height: u32 },
    #[error("physical layer: {0}")]
    Phy(#[from] PhyError),
    #[error("metadata corrupt, cannot reconstruct: {0}")]
    MetadataCorrupt(String),
    #[error("metadata passed its CRC but is invalid: {0}")]
    MetadataInvalid(String),
    #[error("internal DCT error: {0}")]
    Dct(#[from] DctError),
    /// The generator could not fill the non-key regions (semantic codec).
    #[error("regeneration failed: {0}")]
    Generate(String),
}
