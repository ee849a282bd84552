//! Separation baselines for the evaluation (docs/architecture.md §6): what a careful engineer gets
//! from a standard image codec over the same channel uses and SNR as the semantic codec.
//!
//! * [`best_jpeg`]: the strongest JPEG (quality and downscale searched) that fits a
//!   byte budget, and [`decode_jpeg`] for untrusted, possibly damaged JPEG data.
//! * [`jpeg_ldpc_encode`] / [`jpeg_ldpc_decode`]: JPEG + 5G NR LDPC + QAM at one fixed
//!   MCS, with the same pilots as SoftCast, and a receiver that behaves like a real one
//!   when code blocks fail (the cliff effect).
//! * [`softcast_oracle`]: idealised SoftCast (exact side information and perfect CSI
//!   for free, every channel use analog), the analog reference line.
//! * [`jpeg_capacity`]: the separation reference line, the best JPEG that fits
//!   k·log2(1+SNR) bits delivered error-free. Not a system: a bound for JPEG-based ones.
//!
//! The digital baselines send JPEG in its abbreviated form (tables agreed out of band,
//! ITU-T T.81 B.4; see [`jpeg`]), so ≈ 600 bytes of fixed headers do not count against
//! a budget of a few kB.

pub mod capacity;
pub mod jpeg;
pub mod jpeg_ldpc;
pub mod softcast_oracle;

pub use capacity::{jpeg_capacity, JpegAtCapacity};
pub use jpeg::{best_jpeg, decode_jpeg, mid_grey, JpegChoice, LADDER_STOP_DB, MAX_QUALITY, MIN_SIDE, WIRE_SIDE_BYTES};
pub use jpeg_ldpc::{
    jpeg_ldpc_decode, jpeg_ldpc_encode, JpegLdpcConfig, JpegLdpcReconstruction, JpegLdpcTransmission, CODEC_ID,
    HEADER_BYTES,
};
pub use softcast_oracle::{OracleSide, OracleTransmission, SentChunk};
