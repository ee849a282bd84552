//! Weight I/O: models are trained against a `VarMap` and saved with `VarMap::save`
//! (safetensors); they are loaded from a file or an in-memory buffer through a
//! `VarBuilder`, so the exact same construction code builds trained and fresh models.

use std::path::Path;

use candle_core::{DType, Device, Result};
use candle_nn::{VarBuilder, VarMap};

use crate::unet::{Config, UNet};

/// A fresh, randomly initialised UNet whose weights live in a new `VarMap` (for
/// training, or for tests that write random weights). Save with `varmap.save(path)`.
pub fn new_unet_trainable(cfg: &Config, device: &Device) -> Result<(UNet, VarMap)> {
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, device);
    let model = UNet::new(cfg, vb)?;
    Ok((model, varmap))
}

/// Loads a UNet from a safetensors buffer (e.g. weights embedded with `include_bytes!`).
/// Every tensor the architecture needs must be present with the right shape.
pub fn load_unet_bytes(cfg: &Config, data: Vec<u8>, device: &Device) -> Result<UNet> {
    let vb = VarBuilder::from_buffered_safetensors(data, DType::F32, device)?;
    UNet::new(cfg, vb)
}

/// Loads a UNet from a safetensors file (read into memory; no `unsafe` mmap).
pub fn load_unet_file(cfg: &Config, path: impl AsRef<Path>, device: &Device) -> Result<UNet> {
    let path = path.as_ref();
    let data = std::fs::read(path).map_err(|e| candle_core::Error::Msg(format!("{}: {e}", path.display())))?;
    load_unet_bytes(cfg, data, device)
}
