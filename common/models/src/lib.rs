//! semcom's embedded generative model (DESIGN.md §3–4, issue 6): a compact conditional
//! diffusion UNet written with candle, its noise schedule, a seeded few-step DDIM
//! inpainting sampler, and safetensors weight I/O.
//!
//! candle is a dependency of this crate only; other crates reach it through the
//! re-exports below.

pub mod ddim;
pub mod rng;
pub mod schedule;
pub mod unet;
pub mod weights;

pub use candle_core as candle;
pub use candle_nn;

pub use ddim::{DdimConfig, DdimSampler, InpaintInputs};
pub use rng::NoiseRng;
pub use schedule::{NoiseSchedule, ScheduleConfig, ScheduleKind};
pub use unet::{Config as UNetConfig, UNet};
pub use weights::{load_unet_bytes, load_unet_file, new_unet_trainable};
