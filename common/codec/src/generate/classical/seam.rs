//! The ramp over which synthesised texture fades in from the key pixels.

/// Texture weight per pixel, row-major `h × w`: 0 on key pixels, `min(1, d / seam)` else,
/// `d` the two-pass chamfer distance (1 / √2 steps, px) to the nearest key pixel; 1
/// everywhere off key when there is no key pixel or `seam == 0`.
pub(super) fn seam_ramp(key: &[bool], w: usize, h: usize, seam: u32) -> Vec<f32> {
    const D: f32 = std::f32::consts::SQRT_2;
    let mut d: Vec<f32> = key.iter().map(|&k| if k { 0.0 } else { f32::INFINITY }).collect();
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            let mut v = d[i];
            if x > 0 {
                v = v.min(d[i - 1] + 1.0);
            }
            if y > 0 {
                v = v.min(d[i - w] + 1.0);
                if x > 0 {
                    v = v.min(d[i - w - 1] + D);
                }
                if x + 1 < w {
                    v = v.min(d[i - w + 1] + D);
                }
            }
            d[i] = v;
        }
    }
    for y in (0..h).rev() {
        for x in (0..w).rev() {
            let i = y * w + x;
            let mut v = d[i];
            if x + 1 < w {
                v = v.min(d[i + 1] + 1.0);
            }
            if y + 1 < h {
                v = v.min(d[i + w] + 1.0);
                if x + 1 < w {
                    v = v.min(d[i + w + 1] + D);
                }
                if x > 0 {
                    v = v.min(d[i + w - 1] + D);
                }
            }
            d[i] = v;
        }
    }
    d.into_iter()
        .zip(key)
        .map(|(d, &k)| match (k, seam) {
            (true, _) => 0.0,
            (false, 0) => 1.0,
            (false, s) => (d / s as f32).min(1.0),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seam_ramp_is_linear_in_the_distance_to_key() {
        let (w, h) = (64usize, 16usize);
        let key: Vec<bool> = (0..w * h).map(|i| i % w < 16).collect();
        let r = seam_ramp(&key, w, h, 4);
        let row: Vec<f32> = (14..22).map(|x| r[5 * w + x]).collect();
        assert_eq!(row, [0.0, 0.0, 0.25, 0.5, 0.75, 1.0, 1.0, 1.0]);
        assert!(seam_ramp(&key, w, h, 0).iter().zip(&key).all(|(&v, &k)| v == if k { 0.0 } else { 1.0 }));
        assert!(seam_ramp(&vec![false; w * h], w, h, 4).iter().all(|&v| v == 1.0));
    }
}
