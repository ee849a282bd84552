//! LoRA adapter files and merging.
//!
//! An adapter file is a small safetensors file with `<layer>.lora_a` and `<layer>.lora_b`
//! for every adapted layer (see [`crate::layers`] for the shapes) and, in its metadata,
//! the rank and α (`semcom.lora`) and the architecture of the base model it was trained
//! on (`semcom.unet`), which must match at load time.
//!
//! Apply an adapter at run time ([`crate::weights::ModelFile::build`] with adapters) or
//! merge it into the base weights once ([`merge`]): `W' = W + (α/r)·B·A`, reshaped for
//! convolutions. Both give the same outputs up to float rounding.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Result, Tensor};

use crate::layers::LoraConfig;
use crate::unet::Config;
use crate::weights::{msg, safetensors_metadata};

/// A loaded adapter.
#[derive(Debug, Clone)]
pub struct Adapter {
    pub lora: LoraConfig,
    pub unet: Config,
    /// `<layer>.lora_a` / `<layer>.lora_b`, f32.
    pub tensors: HashMap<String, Tensor>,
}

impl Adapter {
    pub fn from_bytes(data: &[u8], device: &Device) -> Result<Self> {
        let meta = safetensors_metadata(data).map_err(|e| msg(format!("adapter file: {e}")))?;
        let get = |k: &str| meta.get(k).ok_or_else(|| msg(format!("adapter file: no {k} metadata")));
        let lora: LoraConfig =
            serde_json::from_str(get("semcom.lora")?).map_err(|e| msg(format!("semcom.lora: {e}")))?;
        lora.validate()?;
        let unet: Config = serde_json::from_str(get("semcom.unet")?).map_err(|e| msg(format!("semcom.unet: {e}")))?;
        let tensors = candle_core::safetensors::load_buffer(data, device)?
            .into_iter()
            .map(|(k, v)| Ok((k, v.to_dtype(DType::F32)?)))
            .collect::<Result<HashMap<_, _>>>()?;
        if tensors.is_empty() || tensors.keys().any(|k| !(k.ends_with(".lora_a") || k.ends_with(".lora_b"))) {
            return Err(msg("adapter file: expected only <layer>.lora_a / <layer>.lora_b tensors"));
        }
        Ok(Self { lora, unet, tensors })
    }

    pub fn from_path(path: impl AsRef<Path>, device: &Device) -> Result<Self> {
        let path = path.as_ref();
        let data = std::fs::read(path).map_err(|e| msg(format!("{}: {e}", path.display())))?;
        Self::from_bytes(&data, device).map_err(|e| msg(format!("{}: {e}", path.display())))
    }

    /// Writes the adapter atomically.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let mut tensors: Vec<(String, Tensor)> = self.tensors.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        tensors.sort_by(|a, b| a.0.cmp(&b.0));
        let mut meta = HashMap::new();
        meta.insert("semcom.lora".to_string(), serde_json::to_string(&self.lora).map_err(msg)?);
        meta.insert("semcom.unet".to_string(), serde_json::to_string(&self.unet).map_err(msg)?);
        crate::weights::save_tensors_atomic(path.as_ref(), &tensors, meta)
    }

    /// Errors unless the adapter was trained on this architecture.
    pub fn check_base(&self, unet: &Config) -> Result<()> {
        // The residual scale is a property of the data, not of the layer shapes.
        let mut a = self.unet.clone();
        a.residual_scale = unet.residual_scale;
        if &a != unet {
            return Err(msg("adapter was trained for a different model architecture"));
        }
        Ok(())
    }
}

/// Base weights with the adapter merged in: `W' = W + (α/r)·B·A` for every adapted layer.
///
/// Errors when an adapter names a layer the base does not have or shapes disagree.
pub fn merge(base: &HashMap<String, Tensor>, adapter: &Adapter) -> Result<HashMap<String, Tensor>> {
    let mut out = base.clone();
    let scale = adapter.lora.scale();
    for (name, a) in &adapter.tensors {
        let Some(layer) = name.strip_suffix(".lora_a") else {
            continue;
        };
        let b = adapter
            .tensors
            .get(&format!("{layer}.lora_b"))
            .ok_or_else(|| msg(format!("adapter: {layer}.lora_b missing")))?;
        let wname = format!("{layer}.weight");
        let w = base.get(&wname).ok_or_else(|| msg(format!("adapter: base has no {wname}")))?;
        let r = a.dim(0)?;
        let c_out = b.dim(0)?;
        let fan_in = a.elem_count() / r;
        // (c_out, r) · (r, fan_in) → (c_out, fan_in)
        let delta = b.reshape((c_out, r))?.matmul(&a.reshape((r, fan_in))?)?;
        if delta.elem_count() != w.elem_count() || w.dim(0)? != c_out {
            return Err(msg(format!(
                "adapter: {layer} shapes {:?}·{:?} do not fit {:?}",
                b.dims(),
                a.dims(),
                w.dims()
            )));
        }
        let merged = (w.to_dtype(DType::F32)? + (delta.reshape(w.shape())? * scale)?)?;
        out.insert(wname, merged);
    }
    Ok(out)
}
