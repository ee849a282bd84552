//! Multi-scale SSIM, exactly as `piq.multi_scale_ssim(x, y, data_range=1.)` with defaults.

use image::RgbImage;

use crate::{avg_pool, channel_plane, check_pair, gaussian_1d, ssim_channel, MetricsError, Plane, KERNEL_SIZE};

/// Scale weights from Wang et al. 2003 (piq's default), finest scale first.
pub const MS_SSIM_WEIGHTS: [f64; 5] = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333];

/// Minimum side length: `(kernel_size − 1)·2^(levels − 1) + 1 = 10·16 + 1`.
pub const MS_SSIM_MIN_SIZE: u32 = ((KERNEL_SIZE as u32) - 1) * (1 << (MS_SSIM_WEIGHTS.len() - 1)) + 1;

/// piq's between-scale downsampling: if either side is odd, replicate-pad ONE row at the top
/// and ONE column at the left (`F.pad(x, [p, 0, p, 0], mode='replicate')`, p = max(H%2, W%2)),
/// then 2×2 average pooling (remainder dropped). (h, w) → ((h+p)/2, (w+p)/2).
fn downsample(p: &Plane) -> Plane {
    let pad = (p.h % 2).max(p.w % 2);
    if pad == 0 {
        return avg_pool(p, 2);
    }
    let (w, h) = (p.w + pad, p.h + pad);
    let mut v = Vec::with_capacity(w * h);
    for y in 0..h {
        let sy = y.saturating_sub(pad);
        for x in 0..w {
            v.push(p.v[sy * p.w + x.saturating_sub(pad)]);
        }
    }
    avg_pool(&Plane { w, h, v }, 2)
}

/// Multi-scale structural similarity exactly as piq's `multi_scale_ssim` with defaults
/// (kernel 11, σ = 1.5, k1 = 0.01, k2 = 0.03, data range 1, weights [`MS_SSIM_WEIGHTS`]):
///
/// 1. scale to [0, 1]; **no** initial downsampling (unlike [`crate::ssim`]);
/// 2. for scales j = 0..5 (each after the first preceded by piq's pad-then-2×2-average-pool,
///    see `downsample`), per channel compute the mean SSIM map and mean contrast-structure
///    map `cs` with the 'valid' Gaussian window;
/// 3. per channel `Π_{j<4} relu(cs_j)^{w_j} · relu(ssim_4)^{w_4}`;
/// 4. mean over the three channels.
///
/// Errors if either side is below [`MS_SSIM_MIN_SIZE`] (161) pixels.
pub fn ms_ssim(a: &RgbImage, b: &RgbImage) -> Result<f64, MetricsError> {
    check_pair(a, b)?;
    if a.width() < MS_SSIM_MIN_SIZE || a.height() < MS_SSIM_MIN_SIZE {
        return Err(MetricsError::TooSmallForMsSsim { width: a.width(), height: a.height(), min: MS_SSIM_MIN_SIZE });
    }
    let g = gaussian_1d();
    let levels = MS_SSIM_WEIGHTS.len();
    let mut total = 0.0;
    for c in 0..3 {
        // (h, w) planes in [0, 1], halved (rounding per `downsample`) at each scale.
        let mut x = channel_plane(a, c);
        let mut y = channel_plane(b, c);
        let mut value = 1.0;
        for (j, &wj) in MS_SSIM_WEIGHTS.iter().enumerate() {
            if j > 0 {
                x = downsample(&x);
                y = downsample(&y);
            }
            let (s, cs) = ssim_channel(&x, &y, &g);
            let term = if j + 1 == levels { s } else { cs };
            value *= term.max(0.0).powf(wj);
        }
        total += value;
    }
    Ok(total / 3.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_size_is_161() {
        assert_eq!(MS_SSIM_MIN_SIZE, 161);
    }

    #[test]
    fn downsample_pads_top_left_when_odd() {
        // 3×3 plane 0..9 → padded 4×4 → 2×2.
        let p = Plane { w: 3, h: 3, v: (0..9).map(f64::from).collect() };
        let d = downsample(&p);
        assert_eq!((d.w, d.h), (2, 2));
        // Top-left 2×2 of the padded plane is [0, 0; 0, 0].
        assert_eq!(d.v[0], 0.0);
        // Bottom-right block: original (1,1),(1,2),(2,1),(2,2) = 4,5,7,8.
        assert_eq!(d.v[3], 6.0);
    }
}
