use thiserror::Error;

/// Errors of the LDPC / CRC / rate-matching API. Every input-reachable failure
/// is reported through this type; nothing panics on bad input.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum LdpcError {
    /// Z is not in 38.212 Table 5.3.2-1.
    #[error("lifting size Z={0} is not in 38.212 Table 5.3.2-1")]
    UnsupportedLiftingSize(usize),
    /// A bit slice contained something other than 0 or 1.
    #[error("bit {index} has value {value}, expected 0 or 1")]
    InvalidBit { index: usize, value: u8 },
    /// A slice had the wrong length.
    #[error("wrong length for {what}: expected {expected}, got {got}")]
    Length { what: &'static str, expected: usize, got: usize },
    /// The LLR vector given to the decoder has an unusable length.
    #[error("decoder input of {len} LLRs must be a multiple of Z={z} between {min} and {max}")]
    LlrLength { len: usize, z: usize, min: usize, max: usize },
    /// An LLR was NaN.
    #[error("LLR {index} is NaN")]
    NanLlr { index: usize },
    /// Bits per symbol not one of 1, 2, 4, 6, 8.
    #[error("modulation order Qm={0} not supported (1, 2, 4, 6, 8)")]
    ModulationOrder(usize),
    /// E (or G) is not a multiple of Qm.
    #[error("{what}={bits} is not a multiple of Qm={qm}")]
    NotMultipleOfQm { what: &'static str, bits: usize, qm: usize },
    /// A code block would carry more information bits than the base graph allows.
    #[error("{k} information bits exceed the maximum code block size {max} of {bg:?}")]
    BlockTooLarge { k: usize, max: usize, bg: crate::BaseGraph },
    /// A size was zero or too small to be meaningful.
    #[error("invalid size: {0}")]
    InvalidSize(&'static str),
    /// A decoder parameter is out of range.
    #[error("invalid decoder configuration: {0}")]
    InvalidConfig(&'static str),
    /// The decoder was built for a different code than the block being decoded.
    #[error("decoder was built for {got_bg:?} Z={got_z}, block needs {bg:?} Z={z}")]
    CodeMismatch { bg: crate::BaseGraph, z: usize, got_bg: crate::BaseGraph, got_z: usize },
}
