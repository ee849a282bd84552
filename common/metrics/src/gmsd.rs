//! Gradient Magnitude Similarity Deviation, exactly as `piq.gmsd(x, y, data_range=1.)`.

use image::RgbImage;

use crate::{avg_pool, check_pair, MetricsError, Plane};

/// piq's GMSD stability constant `t = 170 / 255²` (for data range 1).
const T: f64 = 170.0 / (255.0 * 255.0);

/// Luminance plane in [0, 1]: piq's `rgb2yiq(x)[:, :1]`, `Y = 0.299 R + 0.587 G + 0.114 B`.
pub(crate) fn luma_yiq(img: &RgbImage) -> Plane {
    let v = img
        .as_raw()
        .chunks_exact(3)
        .map(|p| {
            let (r, g, b) = (p[0] as f64 / 255.0, p[1] as f64 / 255.0, p[2] as f64 / 255.0);
            0.299 * r + 0.587 * g + 0.114 * b
        })
        .collect();
    Plane { w: img.width() as usize, h: img.height() as usize, v }
}

/// 3×3 correlation with zero padding 1 (`F.conv2d(x, k, padding=1)`), (h, w) → (h, w).
pub(crate) fn correlate3_zero(p: &Plane, k: &[[f64; 3]; 3]) -> Vec<f64> {
    let (w, h) = (p.w as isize, p.h as isize);
    let mut out = vec![0.0; p.w * p.h];
    for y in 0..h {
        for x in 0..w {
            let mut s = 0.0;
            for (ky, row) in k.iter().enumerate() {
                let yy = y + ky as isize - 1;
                if yy < 0 || yy >= h {
                    continue;
                }
                for (kx, &kv) in row.iter().enumerate() {
                    let xx = x + kx as isize - 1;
                    if xx < 0 || xx >= w {
                        continue;
                    }
                    s += kv * p.v[(yy * w + xx) as usize];
                }
            }
            out[(y * w + x) as usize] = s;
        }
    }
    out
}

/// Gradient magnitude `sqrt(gx² + gy²)` with kernel `k` (x direction) and its transpose,
/// piq's `gradient_map` (zero padding, output same size as input).
pub(crate) fn gradient_magnitude(p: &Plane, k: &[[f64; 3]; 3]) -> Vec<f64> {
    let mut kt = [[0.0; 3]; 3];
    for (i, row) in k.iter().enumerate() {
        for (j, &v) in row.iter().enumerate() {
            kt[j][i] = v;
        }
    }
    let gx = correlate3_zero(p, k);
    let gy = correlate3_zero(p, &kt);
    gx.iter().zip(&gy).map(|(a, b)| (a * a + b * b).sqrt()).collect()
}

/// Gradient magnitude similarity deviation exactly as `piq.gmsd` with defaults
/// (lower is better, 0 for identical images):
///
/// 1. luminance `Y = 0.299 R + 0.587 G + 0.114 B` on [0, 1] (piq's YIQ conversion);
/// 2. if either side is odd, zero-pad ONE row at the bottom and ONE column at the right
///    (`F.pad(x, [0, p, 0, p])`, p = max(H%2, W%2)), then 2×2 average pooling (remainder
///    dropped): (h, w) → ((h+p)/2, (w+p)/2);
/// 3. Prewitt gradients (`[[-1,0,1]]×3 / 3` and its transpose, zero padding 1), magnitude
///    `m = sqrt(gx² + gy²)`;
/// 4. `gms = (2 m_a m_b + t)/(m_a² + m_b² + t)`, `t = 170/255²`;
/// 5. GMSD = population standard deviation of the gms map.
pub fn gmsd(a: &RgbImage, b: &RgbImage) -> Result<f64, MetricsError> {
    check_pair(a, b)?;
    let prewitt = [[-1.0 / 3.0, 0.0, 1.0 / 3.0]; 3];
    let prep = |img: &RgbImage| {
        let y = luma_yiq(img);
        let pad = (y.h % 2).max(y.w % 2);
        let y = if pad == 0 {
            y
        } else {
            let (w, h) = (y.w + pad, y.h + pad);
            let mut v = vec![0.0; w * h];
            for r in 0..y.h {
                v[r * w..r * w + y.w].copy_from_slice(&y.v[r * y.w..(r + 1) * y.w]);
            }
            Plane { w, h, v }
        };
        // (h', w') = ((h+p)/2, (w+p)/2)
        gradient_magnitude(&avg_pool(&y, 2), &prewitt)
    };
    let (ga, gb) = (prep(a), prep(b));
    let gms: Vec<f64> = ga.iter().zip(&gb).map(|(x, y)| (2.0 * x * y + T) / (x * x + y * y + T)).collect();
    let n = gms.len() as f64;
    let mean = gms.iter().sum::<f64>() / n;
    let var = gms.iter().map(|g| (g - mean) * (g - mean)).sum::<f64>() / n;
    Ok(var.sqrt())
}
