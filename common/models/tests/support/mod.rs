//! Helpers shared by the integration tests: seeded weights and inputs for tiny UNets,
//! comparisons, and small real images from `samples/`.
//!
//! Every random value in these tests comes from `NoiseRng` (SplitMix64) with a fixed
//! seed. candle's own initialisers draw from the thread RNG (the CPU device cannot be
//! seeded), so models built through a `VarMap` are re-filled here with seeded values.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;

use image::RgbImage;
use semcom_models::candle::{Device, Result, Tensor};
use semcom_models::candle_nn::VarMap;
use semcom_models::unet::Conditioning;
use semcom_models::{new_unet_trainable, NoiseRng, UNet, UNetConfig};

pub const DEV: Device = Device::Cpu;

/// Variables of a `VarMap`, sorted by name.
pub fn sorted_vars(vm: &VarMap) -> Vec<(String, semcom_models::candle::Var)> {
    let data = vm.data().lock().expect("varmap lock");
    let mut v: Vec<_> = data.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// Overwrites every UNet variable with seeded values of the usual magnitudes:
/// weights of rank ≥ 2 `N(0, 1/fan_in)`, norm scales `1 + N(0, 0.1²)`, biases and norm
/// shifts `N(0, 0.1²)`.
pub fn seed_unet_vars(vm: &VarMap, seed: u64) -> Result<()> {
    let mut rng = NoiseRng::new(seed);
    for (name, var) in sorted_vars(vm) {
        let dims = var.dims().to_vec();
        let z = rng.randn(dims.as_slice(), &DEV)?;
        let t = if dims.len() >= 2 {
            let fan_in: usize = dims[1..].iter().product();
            (z * (1.0 / (fan_in as f64).sqrt()))?
        } else if name.ends_with(".weight") {
            ((z * 0.1)? + 1.0)?
        } else {
            (z * 0.1)?
        };
        var.set(&t)?;
    }
    Ok(())
}

/// A UNet with seeded weights (and the `VarMap` that holds them).
pub fn seeded_unet(cfg: &UNetConfig, seed: u64) -> Result<(UNet, VarMap)> {
    let (model, vm) = new_unet_trainable(cfg, &DEV)?;
    seed_unet_vars(&vm, seed)?;
    Ok((model, vm))
}

/// One batch of UNet inputs at patch resolution.
pub struct Inputs {
    pub r_t: Tensor,
    pub analog: Tensor,
    pub mask: Tensor,
    pub texture: Option<Tensor>,
    pub t: Tensor,
}

impl Inputs {
    pub fn cond(&self) -> Conditioning<'_> {
        Conditioning { analog: &self.analog, mask: &self.mask, texture: self.texture.as_ref() }
    }
}

/// Uniform values in [lo, hi) from a seeded stream.
pub fn uniform(rng: &mut NoiseRng, dims: &[usize], lo: f64, hi: f64) -> Result<Tensor> {
    let n: usize = dims.iter().product();
    let v: Vec<f32> = (0..n).map(|_| (lo + (hi - lo) * rng.next_open01()) as f32).collect();
    Tensor::from_vec(v, dims, &DEV)
}

/// Random inputs of `b` images of `h × w` patches; the mask has both key (1) and
/// non-key (0) patches in every image (patch (0, 0) is key, patch (0, 1) is not).
pub fn inputs(cfg: &UNetConfig, b: usize, h: usize, w: usize, seed: u64) -> Result<Inputs> {
    let mut rng = NoiseRng::new(seed);
    let pc = cfg.patch_channels();
    let r_t = rng.randn((b, pc, h, w), &DEV)?;
    let analog = uniform(&mut rng, &[b, pc, h, w], -1.0, 1.0)?;
    let mut m = vec![0f32; b * h * w];
    for (i, v) in m.iter_mut().enumerate() {
        let j = i % (h * w);
        *v = match j {
            0 => 1.0,
            1 => 0.0,
            _ => f32::from(u8::from(rng.next_u64().is_multiple_of(3))),
        };
    }
    let mask = Tensor::from_vec(m, (b, 1, h, w), &DEV)?;
    let texture = if cfg.texture_features > 0 { Some(rng.randn((b, cfg.texture_features, h, w), &DEV)?) } else { None };
    let ts: Vec<f32> = (0..b).map(|i| [37.0, 801.0, 450.0, 999.0][i % 4]).collect();
    let t = Tensor::from_vec(ts, b, &DEV)?;
    Ok(Inputs { r_t, analog, mask, texture, t })
}

pub fn forward(model: &UNet, x: &Inputs) -> Result<Tensor> {
    model.forward(&x.r_t, &x.t, &x.cond())
}

pub fn values(t: &Tensor) -> Result<Vec<f32>> {
    t.flatten_all()?.to_vec1::<f32>()
}

pub fn bits(t: &Tensor) -> Result<Vec<u32>> {
    Ok(values(t)?.into_iter().map(f32::to_bits).collect())
}

/// Relative RMS error `‖a − b‖ / ‖b‖` (`b` is the reference).
pub fn rel_rms(a: &Tensor, reference: &Tensor) -> Result<f64> {
    let (a, b) = (values(a)?, values(reference)?);
    assert_eq!(a.len(), b.len(), "rel_rms: sizes differ");
    let num: f64 = a.iter().zip(&b).map(|(x, y)| (f64::from(*x) - f64::from(*y)).powi(2)).sum();
    let den: f64 = b.iter().map(|y| f64::from(*y).powi(2)).sum();
    Ok((num / den).sqrt())
}

/// Asserts all values are finite and not all zero (a model that outputs nothing would
/// make every equality test vacuous).
pub fn assert_live(t: &Tensor, what: &str) -> Result<()> {
    let v = values(t)?;
    assert!(v.iter().all(|x| x.is_finite()), "{what}: non-finite values");
    assert!(v.iter().any(|x| *x != 0.0), "{what}: all zeros");
    Ok(())
}

/// Asserts two maps of tensors hold the same names and bit-identical values.
pub fn assert_same_tensors(a: &HashMap<String, Tensor>, b: &HashMap<String, Tensor>, what: &str) -> Result<()> {
    let mut ka: Vec<&String> = a.keys().collect();
    let mut kb: Vec<&String> = b.keys().collect();
    ka.sort();
    kb.sort();
    assert_eq!(ka, kb, "{what}: tensor names differ");
    for k in ka {
        assert_eq!(a[k].dims(), b[k].dims(), "{what}: {k} shape");
        assert!(bits(&a[k])? == bits(&b[k])?, "{what}: {k} values differ");
    }
    Ok(())
}

/// A real photo from the workspace's `samples/` folder.
pub fn sample_image(name: &str) -> RgbImage {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../samples").join(name);
    image::open(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).to_rgb8()
}

/// A `w × h` crop of a sample photo at `(x, y)`.
pub fn sample_crop(name: &str, x: u32, y: u32, w: u32, h: u32) -> RgbImage {
    image::imageops::crop_imm(&sample_image(name), x, y, w, h).to_image()
}
