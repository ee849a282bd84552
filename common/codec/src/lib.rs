//! Semantic codec: image I/O with limits, colour, DCT, the codecs (SoftCast, the semantic
//! codec, the separation baselines) and the pieces they share.
//!
//! * [`analog`]: analog chunk transmission shared by SoftCast and the key encoder (λ
//!   quantiser, gains, LLSE).
//! * [`baseline`]: separation baselines (JPEG + LDPC, the JPEG capacity line).
//! * [`color`]: RGB ↔ YCbCr (JPEG full range) on f32 planes.
//! * [`dct`]: orthonormal full-frame 2-D DCT-II / DCT-III.
//! * [`error`]: the codecs' error type.
//! * [`generate`]: regeneration of the non-key regions at the receiver.
//! * [`image_io`]: bounded PNG/JPEG decoding of untrusted input, PNG encoding.
//! * [`key`]: key-region encoders (pixels of the key blocks → analog symbols).
//! * [`prompt`]: structured prompt of the non-key segments.
//! * [`segment`]: importance map, key/non-key block mask, its compact coding.
//! * [`semantic`]: the semantic codec (key blocks analog, the rest as a prompt).
//! * [`softcast`]: SoftCast analog transmission of one image over the semcom PHY
//!   conventions (docs/architecture.md §2): unit average power per complex symbol, ρ = channel uses / (3HW).
//! * [`stream`]: the transmitted symbol stream (sections, pilots, channel-use split,
//!   equalisation) every codec shares.

pub mod analog;
pub mod baseline;
pub mod color;
pub mod dct;
pub mod error;
pub mod generate;
pub mod image_io;
pub mod key;
pub mod prompt;
pub mod segment;
pub mod semantic;
pub mod settings;
pub mod softcast;
pub mod stream;

pub use semcom_phy::C32;
