//! What the receiver decoded → the UNet's conditioning tensors, and the sampled residual
//! → the output image. Training builds its conditions through the same functions
//! ([`PatchInputs::from_generator_input`]), so the model sees at run time exactly what
//! it was trained on.

use candle_core::{Device, Result, Tensor};
use image::RgbImage;
use semcom_codec::color::{ycbcr_to_rgb, Planes};
use semcom_codec::generate::{render_colour_layout, GeneratorInput};
use semcom_codec::prompt::{texture_features, TEXTURE_FEATURES};

use crate::unet::{space_to_depth, Conditioning, Config};

/// The conditioning of one image at patch resolution, padded to a multiple of
/// [`Config::size_multiple`] by repeating the last row and column.
#[derive(Debug, Clone)]
pub struct PatchInputs {
    /// The analog estimate (or the colour layout when the analog stream was lost),
    /// `(1, 3, H', W')` in `[-1, 1]`, padded.
    pub analog_pixels: Tensor,
    /// `(1, 3·p², h, w)`.
    pub analog: Tensor,
    /// `(1, 1, h, w)`, 1 = key patch.
    pub mask: Tensor,
    /// `(1, F, h, w)` or `None` when the model takes no texture features.
    pub texture: Option<Tensor>,
    /// Key pixels (unpadded, row-major).
    pub key_pixels: Vec<bool>,
    /// The analog estimate as an image (unpadded): the key pixels of the output.
    pub analog_rgb: RgbImage,
    pub width: u32,
    pub height: u32,
}

impl PatchInputs {
    /// Builds the conditioning from what the semantic decoder hands a generator.
    pub fn from_generator_input(input: &GeneratorInput<'_>, cfg: &Config, device: &Device) -> Result<Self> {
        let (w, h) = (input.analog.width, input.analog.height);
        let n = w as usize * h as usize;
        if w == 0 || h == 0 || input.analog.y.len() != n || input.analog.cb.len() != n || input.analog.cr.len() != n {
            candle_core::bail!("generator input: analog planes do not hold {w}x{h} pixels");
        }
        if (input.prompt.width, input.prompt.height) != (w, h) {
            candle_core::bail!(
                "generator input: prompt is {}x{} but the image {w}x{h}",
                input.prompt.width,
                input.prompt.height
            );
        }
        let b = input.key.block().max(1);
        if (input.key.width_blocks(), input.key.height_blocks()) != (w.div_ceil(b), h.div_ceil(b)) {
            candle_core::bail!("generator input: key mask does not cover a {w}x{h} image");
        }
        let analog_rgb = if input.analog_valid {
            let clean = |v: &[f32]| v.iter().map(|&x| if x.is_finite() { x } else { 128.0 }).collect();
            ycbcr_to_rgb(&Planes {
                width: w,
                height: h,
                y: clean(&input.analog.y),
                cb: clean(&input.analog.cb),
                cr: clean(&input.analog.cr),
            })
        } else {
            let layout = render_colour_layout(input.prompt).map_err(|e| candle_core::Error::Msg(e.to_string()))?;
            ycbcr_to_rgb(&layout)
        };
        let key_pixels = input.key.pixel_mask(w, h);

        let m = cfg.size_multiple();
        let (pw, ph) = ((w as usize).div_ceil(m) * m, (h as usize).div_ceil(m) * m);
        let p = cfg.patch;
        let (gw, gh) = (pw / p, ph / p);

        let analog_pixels = padded_tensor(&analog_rgb, pw, ph, device)?;
        let analog = space_to_depth(&analog_pixels, p)?;

        // A patch counts as key when its centre pixel is (blocks are multiples of the
        // patch in the default configuration, so this is exact there).
        let centre =
            |gx: usize, gy: usize| ((gx * p + p / 2).min(w as usize - 1), (gy * p + p / 2).min(h as usize - 1));
        let mask: Vec<f32> = (0..gh * gw)
            .map(|i| {
                let (x, y) = centre(i % gw, i / gw);
                f32::from(u8::from(key_pixels[y * w as usize + x]))
            })
            .collect();
        let mask = Tensor::from_vec(mask, (1, 1, gh, gw), device)?;

        let texture = if cfg.texture_features > 0 {
            // Features only ever grow at the end, so a model trained on an earlier prompt
            // takes the first ones it knows.
            let nf = cfg.texture_features;
            if nf > TEXTURE_FEATURES {
                candle_core::bail!("model takes {nf} texture features, the prompt gives {TEXTURE_FEATURES}");
            }
            let feats = texture_features(input.prompt).map_err(|e| candle_core::Error::Msg(format!("prompt: {e}")))?;
            let wb = w.div_ceil(input.prompt.block.max(1)) as usize;
            let pb = input.prompt.block.max(1) as usize;
            let mut t = vec![0f32; nf * gh * gw];
            for i in 0..gh * gw {
                let (x, y) = centre(i % gw, i / gw);
                let f = &feats[(y / pb) * wb + x / pb];
                for (k, v) in f.iter().take(nf).enumerate() {
                    t[k * gh * gw + i] = *v;
                }
            }
            Some(Tensor::from_vec(t, (1, nf, gh, gw), device)?)
        } else {
            None
        };
        Ok(Self { analog_pixels, analog, mask, texture, key_pixels, analog_rgb, width: w, height: h })
    }

    pub fn conditioning(&self) -> Conditioning<'_> {
        Conditioning { analog: &self.analog, mask: &self.mask, texture: self.texture.as_ref() }
    }

    /// The residual that turns the analog estimate into `image` (training target):
    /// `s·(x − a)` at patch resolution, `(1, 3·p², h, w)`. `image` must be the size of the
    /// input; it is padded the same way.
    pub fn residual_target(&self, image: &RgbImage, cfg: &Config) -> Result<Tensor> {
        if (image.width(), image.height()) != (self.width, self.height) {
            candle_core::bail!(
                "target image is {}x{}, conditioning {}x{}",
                image.width(),
                image.height(),
                self.width,
                self.height
            );
        }
        let (_, _, ph, pw) = self.analog_pixels.dims4()?;
        let x = padded_tensor(image, pw, ph, self.analog_pixels.device())?;
        space_to_depth(&((x - &self.analog_pixels)? * cfg.residual_scale)?, cfg.patch)
    }

    /// The output image: analog estimate + `strength` × sampled residual outside the key
    /// regions, the analog estimate (the key pixels) inside them, and a linear ramp over
    /// `seam` pixels on the generated side of each key boundary. With `luma_only` the
    /// residual is reduced to its luma (BT.601 weights) and added to all three channels:
    /// colour then comes from the analog base alone, as in the classical fill, which
    /// keeps a small model's chroma noise out of the image.
    ///
    /// `residual`: `(1, 3·p², h, w)` as sampled.
    pub fn compose(
        &self,
        residual: &Tensor,
        cfg: &Config,
        seam: u32,
        strength: f64,
        luma_only: bool,
    ) -> Result<RgbImage> {
        let mut r = (crate::unet::depth_to_space(residual, cfg.patch)? * (strength / cfg.residual_scale))?;
        if luma_only {
            let (_, _, h, w) = r.dims4()?;
            let wts = Tensor::from_vec(vec![0.299f32, 0.587, 0.114], (1, 3, 1, 1), r.device())?;
            // (1, 1, H, W) → (1, 3, H, W)
            r = r.broadcast_mul(&wts)?.sum_keepdim(1)?.broadcast_as((1, 3, h, w))?.contiguous()?;
        }
        let x = (r + &self.analog_pixels)?.clamp(-1f32, 1f32)?;
        // (3, H', W') → Vec
        let (_, _, ph, pw) = x.dims4()?;
        let v: Vec<f32> = x.flatten_all()?.to_vec1()?;
        let (w, h) = (self.width as usize, self.height as usize);
        let dist = seam_distance(&self.key_pixels, w, h, seam as usize);
        let mut out = RgbImage::new(self.width, self.height);
        for y in 0..h {
            for x in 0..w {
                let i = y * w + x;
                let a = self.analog_rgb.get_pixel(x as u32, y as u32).0;
                if self.key_pixels[i] {
                    out.put_pixel(x as u32, y as u32, image::Rgb(a));
                    continue;
                }
                // Weight of the generated value: d/(seam+1) within the seam, 1 beyond.
                let g = match dist[i] {
                    Some(d) if seam > 0 => d as f32 / (seam as f32 + 1.0),
                    _ => 1.0,
                };
                let mut px = [0u8; 3];
                for c in 0..3 {
                    let gen = (v[c * pw * ph + y * pw + x] + 1.0) * 127.5;
                    let val = g * gen + (1.0 - g) * f32::from(a[c]);
                    px[c] = val.round().clamp(0.0, 255.0) as u8;
                }
                out.put_pixel(x as u32, y as u32, image::Rgb(px));
            }
        }
        Ok(out)
    }
}

/// `img` as a `(1, 3, ph, pw)` tensor in `[-1, 1]`, padded to `pw × ph` by repeating
/// its last row and column.
fn padded_tensor(img: &RgbImage, pw: usize, ph: usize, device: &Device) -> Result<Tensor> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let mut px = vec![0f32; 3 * pw * ph];
    for y in 0..ph {
        let sy = y.min(h - 1) as u32;
        for x in 0..pw {
            let v = img.get_pixel(x.min(w - 1) as u32, sy).0;
            for c in 0..3 {
                px[c * pw * ph + y * pw + x] = f32::from(v[c]) / 127.5 - 1.0;
            }
        }
    }
    Tensor::from_vec(px, (1, 3, ph, pw), device)
}

/// Chessboard distance (1…seam) from each non-key pixel to the nearest key pixel, `None`
/// beyond `seam`.
fn seam_distance(key: &[bool], w: usize, h: usize, seam: usize) -> Vec<Option<usize>> {
    let mut d = vec![None; w * h];
    if seam == 0 {
        return d;
    }
    for y in 0..h {
        for x in 0..w {
            if key[y * w + x] {
                continue;
            }
            let (y0, y1) = (y.saturating_sub(seam), (y + seam).min(h - 1));
            let (x0, x1) = (x.saturating_sub(seam), (x + seam).min(w - 1));
            let mut best: Option<usize> = None;
            for yy in y0..=y1 {
                for xx in x0..=x1 {
                    if key[yy * w + xx] {
                        let dd = yy.abs_diff(y).max(xx.abs_diff(x));
                        best = Some(best.map_or(dd, |b| b.min(dd)));
                    }
                }
            }
            d[y * w + x] = best;
        }
    }
    d
}
