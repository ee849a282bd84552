//! semcom's embedded generative model (docs/architecture.md §3–4, issue 6): a compact conditional
//! diffusion UNet written with candle, its noise schedule, a seeded few-step DDIM
//! inpainting sampler, and safetensors weight I/O.
//!
//! candle is a dependency of this crate only; other crates reach it through the
//! re-exports below.

mod choice;
pub mod conditions;
pub mod ddim;
pub mod embedded;
pub mod generator;
pub mod layers;
pub mod lora;
pub mod rng;
pub mod schedule;
pub mod unet;
pub mod weights;

pub use candle_core as candle;
pub use candle_nn;

pub use choice::{describe_diffusion, GeneratorBuildError, GeneratorKind};
pub use conditions::PatchInputs;
pub use ddim::{DdimConfig, DdimSampler};
pub use embedded::{build_generator, DiffusionSettings, LoraMode};
pub use generator::{match_local_energy, ComposeSettings, DiffusionGenerator};
pub use layers::{LoraConfig, Weights};
pub use rng::NoiseRng;
pub use schedule::{NoiseSchedule, ScheduleConfig, ScheduleKind};
pub use unet::{Conditioning, Config as UNetConfig, UNet};
pub use weights::{new_unet_trainable, reseed, save_model, ModelFile, WeightFormat};
pub mod train;
