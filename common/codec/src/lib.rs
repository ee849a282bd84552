//! Semantic codec: image I/O with limits, colour, DCT, SoftCast analog coding.
//!
//! * [`image_io`]: bounded PNG/JPEG decoding of untrusted input, PNG encoding.
//! * [`color`]: RGB ↔ YCbCr (JPEG full range) on f32 planes.
//! * [`dct`]: orthonormal full-frame 2-D DCT-II / DCT-III.
//! * [`softcast`]: SoftCast analog transmission of one image over the semcom PHY
//!   conventions (DESIGN §2): unit average power per complex symbol, ρ = channel uses / (3HW).

pub mod baseline;
pub mod color;
pub mod dct;
pub mod generate;
pub mod image_io;
pub mod key;
pub mod prompt;
pub mod segment;
pub mod semantic;
pub mod settings;
pub mod softcast;

pub use semcom_phy::C32;
