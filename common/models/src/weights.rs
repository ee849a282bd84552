//! Model files: one safetensors file holds the weights and, in its metadata, the
//! architecture (`semcom.unet`), the noise schedule (`semcom.schedule`) and the weight
//! format (`semcom.format`), so a file always loads with what it was trained with.
//!
//! Formats ([`WeightFormat`]):
//! * `f32`: every tensor as trained;
//! * `f16`: every tensor in half precision (converted to f32 at load);
//! * `int8`: convolution kernels **per output channel** symmetric int8 (`name` as U8
//!   holding `q + 128`, `name.scale` f32 per channel, `w ≈ q·scale`), linear weights whose
//!   input dimension is a multiple of 32 as **Q8_0** blocks (raw ggml bytes in
//!   `name.q8_0`, shape in the `semcom.q8_0` metadata) that run through candle's
//!   `QMatMul`; biases and norms stay f32.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use candle_core::quantized::{ggml_file::qtensor_from_ggml, GgmlDType, QTensor};
use candle_core::{DType, Device, Result, Tensor};
use candle_nn::{VarBuilder, VarMap};
use serde::{Deserialize, Serialize};

use crate::layers::Weights;
use crate::schedule::ScheduleConfig;
use crate::unet::{Config, UNet};

/// How the weights of a model file are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WeightFormat {
    F32,
    F16,
    Int8,
}

impl WeightFormat {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::F32 => "f32",
            Self::F16 => "f16",
            Self::Int8 => "int8",
        }
    }
}

impl std::str::FromStr for WeightFormat {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "f32" => Ok(Self::F32),
            "f16" => Ok(Self::F16),
            "int8" => Ok(Self::Int8),
            o => Err(format!("unknown weight format {o:?} (f32, f16, int8)")),
        }
    }
}

/// A fresh, randomly initialised UNet whose weights live in a new `VarMap`.
pub fn new_unet_trainable(cfg: &Config, device: &Device) -> Result<(UNet, VarMap)> {
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, device);
    let model = UNet::new(cfg, &Weights::new(vb))?;
    Ok((model, varmap))
}

/// A message error (the crate's errors are candle's).
pub(crate) fn msg(e: impl std::fmt::Display) -> candle_core::Error {
    candle_core::Error::Msg(e.to_string())
}

/// The string metadata of a safetensors buffer (empty when it has none).
pub(crate) fn safetensors_metadata(data: &[u8]) -> Result<HashMap<String, String>> {
    let (_, meta) = safetensors::SafeTensors::read_metadata(data).map_err(msg)?;
    Ok(meta.metadata().clone().unwrap_or_default())
}

/// The variables of a `VarMap` with their names, in name order (optimiser state and
/// checkpoints rely on a stable order).
pub fn sorted_vars(vm: &VarMap) -> Result<Vec<(String, candle_core::Var)>> {
    let data = vm.data().lock().map_err(|_| msg("varmap lock poisoned"))?;
    let mut v: Vec<(String, candle_core::Var)> = data.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(v)
}

/// Redraws every variable of `vm` from `NoiseRng(seed)` (candle's CPU initialisers cannot be
/// seeded), with the distributions the layers use: `.weight` of rank ≥ 2 Kaiming normal
/// (std √2/√fan_in), the matching `.bias` uniform ±1/√fan_in, `lora_a` normal with std
/// 1/√fan_in, `lora_b` zero; GroupNorm scales (1) and shifts (0) are left as they are.
/// Variables are visited in name order, so equal seeds give equal models.
pub fn reseed(vm: &VarMap, seed: u64) -> Result<()> {
    let data = vm.data().lock().map_err(|_| candle_core::Error::Msg("varmap lock poisoned".into()))?;
    let mut names: Vec<&String> = data.keys().collect();
    names.sort();
    let fan_in = |n: &str| -> Option<usize> {
        let w = data.get(&format!("{n}.weight"))?;
        (w.rank() >= 2).then(|| w.dims()[1..].iter().product())
    };
    let mut rng = crate::NoiseRng::new(seed);
    for name in names {
        let var = &data[name];
        let shape = var.shape().clone();
        let n = shape.elem_count();
        let dev = var.device().clone();
        let new = if name.ends_with(".lora_b") {
            Some(Tensor::zeros(shape.clone(), DType::F32, &dev)?)
        } else if name.ends_with(".lora_a") {
            let fi = (n / shape.dims()[0]).max(1);
            Some((rng.randn(shape.clone(), &dev)? * (1.0 / (fi as f64).sqrt()))?)
        } else if name.ends_with(".weight") && shape.rank() >= 2 {
            let fi = (n / shape.dims()[0]).max(1);
            Some((rng.randn(shape.clone(), &dev)? * (2f64.sqrt() / (fi as f64).sqrt()))?)
        } else if let Some(fi) = name.strip_suffix(".bias").and_then(fan_in) {
            let b = 1.0 / (fi as f64).sqrt();
            let u: Vec<f32> = (0..n).map(|_| ((2.0 * rng.next_open01() - 1.0) * b) as f32).collect();
            Some(Tensor::from_vec(u, shape.clone(), &dev)?)
        } else {
            None
        };
        if let Some(t) = new {
            var.set(&t)?;
        }
    }
    Ok(())
}

/// The tensors of a `VarMap`, by name.
pub fn varmap_tensors(vm: &VarMap) -> HashMap<String, Tensor> {
    let data = vm.data().lock().map(|d| d.iter().map(|(k, v)| (k.clone(), v.as_tensor().clone())).collect());
    data.unwrap_or_default()
}

/// A model file's content before it is turned into a model.
#[derive(Debug, Clone)]
pub struct ModelFile {
    pub unet: Config,
    pub schedule: ScheduleConfig,
    pub format: WeightFormat,
    /// Plain (dequantized) tensors, f32.
    pub tensors: HashMap<String, Tensor>,
    /// Q8_0 linear weights (int8 files only).
    pub q8: HashMap<String, Arc<QTensor>>,
    /// Other metadata entries (e.g. `semcom.training`).
    pub extra: HashMap<String, String>,
}

impl ModelFile {
    /// Parses a model file from memory (e.g. weights embedded with `include_bytes!`).
    pub fn from_bytes(data: &[u8], device: &Device) -> Result<Self> {
        let meta = safetensors_metadata(data).map_err(|e| msg(format!("model file: {e}")))?;
        let get = |k: &str| meta.get(k).ok_or_else(|| candle_core::Error::Msg(format!("model file: no {k} metadata")));
        let json = |k: &str, v: &str| candle_core::Error::Msg(format!("model file: {k}: {v}"));
        let unet: Config =
            serde_json::from_str(get("semcom.unet")?).map_err(|e| json("semcom.unet", &e.to_string()))?;
        unet.validate()?;
        let schedule: ScheduleConfig =
            serde_json::from_str(get("semcom.schedule")?).map_err(|e| json("semcom.schedule", &e.to_string()))?;
        let format: WeightFormat = get("semcom.format")?.parse().map_err(|e: String| json("semcom.format", &e))?;
        let q8_shapes: HashMap<String, Vec<usize>> = match meta.get("semcom.q8_0") {
            Some(s) => serde_json::from_str(s).map_err(|e| json("semcom.q8_0", &e.to_string()))?,
            None => HashMap::new(),
        };
        let raw = candle_core::safetensors::load_buffer(data, device)?;
        let mut tensors = HashMap::new();
        let mut q8 = HashMap::new();
        for (name, t) in &raw {
            if name.ends_with(".scale") {
                continue;
            }
            if let Some(base) = name.strip_suffix(".q8_0") {
                let dims = q8_shapes.get(base).ok_or_else(|| json("semcom.q8_0", &format!("no shape for {base}")))?;
                let bytes: Vec<u8> = t.to_vec1()?;
                // candle reads as many blocks as the shape claims: check before handing over.
                // Q8_0: blocks of 32 weights, 34 bytes each (f16 scale + 32 × i8).
                let ok = dims.len() == 2
                    && dims[1] > 0
                    && dims[1] % 32 == 0
                    && dims[0].checked_mul(dims[1]).is_some_and(|n| n / 32 * 34 == bytes.len());
                if !ok {
                    return Err(json(
                        "semcom.q8_0",
                        &format!("{base}: shape {dims:?} does not match {} bytes", bytes.len()),
                    ));
                }
                q8.insert(
                    base.to_string(),
                    Arc::new(qtensor_from_ggml(GgmlDType::Q8_0, &bytes, dims.clone(), device)?),
                );
                continue;
            }
            let t = if t.dtype() == DType::U8 {
                let scale =
                    raw.get(&format!("{name}.scale")).ok_or_else(|| json(name, "int8 tensor without .scale"))?;
                dequantize_per_channel(t, scale)?
            } else {
                t.to_dtype(DType::F32)?
            };
            tensors.insert(name.clone(), t);
        }
        let extra = meta.into_iter().filter(|(k, _)| !k.starts_with("semcom.unet") && k != "semcom.schedule").collect();
        Ok(Self { unet, schedule, format, tensors, q8, extra })
    }

    pub fn from_path(path: impl AsRef<Path>, device: &Device) -> Result<Self> {
        let path = path.as_ref();
        let data = std::fs::read(path).map_err(|e| candle_core::Error::Msg(format!("{}: {e}", path.display())))?;
        Self::from_bytes(&data, device).map_err(|e| candle_core::Error::Msg(format!("{}: {e}", path.display())))
    }

    /// Builds the UNet (Q8_0 linear layers through `QMatMul`), optionally with run-time
    /// LoRA adapters.
    pub fn build(&self, device: &Device, lora: Option<(&HashMap<String, Tensor>, crate::LoraConfig)>) -> Result<UNet> {
        let vb = VarBuilder::from_tensors(self.tensors.clone(), DType::F32, device);
        let mut w = Weights::new(vb);
        if !self.q8.is_empty() {
            w = w.with_q8(Arc::new(self.q8.clone()));
        }
        if let Some((adapters, cfg)) = lora {
            w = w.with_lora(VarBuilder::from_tensors(adapters.clone(), DType::F32, device), cfg)?;
        }
        UNet::new(&self.unet, &w)
    }
}

/// `q`: U8 `(c_out, …)` holding `q + 128`; `scale`: f32 `(c_out,)`.
fn dequantize_per_channel(q: &Tensor, scale: &Tensor) -> Result<Tensor> {
    let c = q.dim(0)?;
    let rest: usize = q.dims()[1..].iter().product();
    let v = ((q.to_dtype(DType::F32)? - 128.0)?.reshape((c, rest))?).broadcast_mul(&scale.reshape((c, 1))?)?;
    v.reshape(q.shape())
}

/// Per-output-channel symmetric int8: `(U8 q + 128, f32 scale)`.
fn quantize_per_channel(w: &Tensor) -> Result<(Tensor, Tensor)> {
    let c = w.dim(0)?;
    let rest: usize = w.dims()[1..].iter().product();
    let flat = w.reshape((c, rest))?;
    let scale = (flat.abs()?.max_keepdim(1)? / 127.0)?.maximum(1e-12)?;
    let q = flat.broadcast_div(&scale)?.round()?.clamp(-127f32, 127f32)?;
    let q = (q + 128.0)?.to_dtype(DType::U8)?.reshape(w.shape())?;
    Ok((q, scale.reshape(c)?))
}

/// Writes a model file atomically (temporary file + rename).
pub fn save_model(
    path: impl AsRef<Path>,
    unet: &Config,
    schedule: &ScheduleConfig,
    tensors: &HashMap<String, Tensor>,
    format: WeightFormat,
    extra: &HashMap<String, String>,
) -> Result<()> {
    let path = path.as_ref();
    let err = |e: String| candle_core::Error::Msg(format!("{}: {e}", path.display()));
    let mut out: Vec<(String, Tensor)> = Vec::new();
    let mut q8_shapes: HashMap<String, Vec<usize>> = HashMap::new();
    let mut names: Vec<&String> = tensors.keys().collect();
    names.sort();
    for name in names {
        let t = tensors[name].to_dtype(DType::F32)?;
        match format {
            WeightFormat::F32 => out.push((name.clone(), t)),
            WeightFormat::F16 => out.push((name.clone(), t.to_dtype(DType::F16)?)),
            WeightFormat::Int8 => {
                let is_weight = name.ends_with(".weight");
                if is_weight && t.rank() == 4 {
                    let (q, s) = quantize_per_channel(&t)?;
                    out.push((name.clone(), q));
                    out.push((format!("{name}.scale"), s));
                } else if is_weight && t.rank() == 2 && t.dim(1)? % 32 == 0 {
                    let q = QTensor::quantize(&t, GgmlDType::Q8_0)?;
                    let bytes = q.data()?.to_vec();
                    let n = bytes.len();
                    out.push((format!("{name}.q8_0"), Tensor::from_vec(bytes, n, t.device())?));
                    q8_shapes.insert(name.clone(), t.dims().to_vec());
                } else {
                    out.push((name.clone(), t));
                }
            }
        }
    }
    let mut meta: HashMap<String, String> = extra.clone();
    meta.insert("semcom.unet".into(), serde_json::to_string(unet).map_err(|e| err(e.to_string()))?);
    meta.insert("semcom.schedule".into(), serde_json::to_string(schedule).map_err(|e| err(e.to_string()))?);
    meta.insert("semcom.format".into(), format.as_str().into());
    if !q8_shapes.is_empty() {
        meta.insert("semcom.q8_0".into(), serde_json::to_string(&q8_shapes).map_err(|e| err(e.to_string()))?);
    }
    save_tensors_atomic(path, &out, meta)
}

/// Writes named tensors and string metadata as safetensors, atomically.
pub fn save_tensors_atomic(path: &Path, tensors: &[(String, Tensor)], meta: HashMap<String, String>) -> Result<()> {
    let err = |e: String| candle_core::Error::Msg(format!("{}: {e}", path.display()));
    let views: Vec<(String, TensorBytes)> =
        tensors.iter().map(|(n, t)| Ok((n.clone(), TensorBytes::of(t)?))).collect::<Result<_>>()?;
    let bytes = safetensors::serialize(views, Some(meta)).map_err(|e| err(e.to_string()))?;
    let tmp = path.with_extension("safetensors.tmp");
    std::fs::write(&tmp, &bytes).map_err(|e| err(e.to_string()))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        err(e.to_string())
    })
}

/// A tensor's bytes for `safetensors::serialize`.
struct TensorBytes {
    dtype: safetensors::Dtype,
    shape: Vec<usize>,
    data: Vec<u8>,
}

impl TensorBytes {
    fn of(t: &Tensor) -> Result<Self> {
        let shape = t.dims().to_vec();
        let t = t.flatten_all()?;
        let (dtype, data) = match t.dtype() {
            DType::F32 => (safetensors::Dtype::F32, t.to_vec1::<f32>()?.iter().flat_map(|v| v.to_le_bytes()).collect()),
            DType::F16 => {
                (safetensors::Dtype::F16, t.to_vec1::<half::f16>()?.iter().flat_map(|v| v.to_le_bytes()).collect())
            }
            DType::U8 => (safetensors::Dtype::U8, t.to_vec1::<u8>()?),
            d => candle_core::bail!("cannot store {d:?} tensors"),
        };
        Ok(Self { dtype, shape, data })
    }
}

impl safetensors::View for TensorBytes {
    fn dtype(&self) -> safetensors::Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> std::borrow::Cow<'_, [u8]> {
        std::borrow::Cow::Borrowed(&self.data)
    }
    fn data_len(&self) -> usize {
        self.data.len()
    }
}
