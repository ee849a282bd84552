//! The 2-D discrete Fourier transform of a row-major buffer, over rustfft.

use rustfft::num_complex::Complex;
use rustfft::{FftNum, FftPlanner};

/// In-place 2-D FFT of a row-major `h × w` buffer: every row, then every column (through
/// a transpose, so each pass is one batched 1-D transform). Unnormalised in both
/// directions, as rustfft: a forward then inverse transform scales by `w·h`.
pub fn fft2<T: FftNum>(planner: &mut FftPlanner<T>, data: &mut [Complex<T>], w: usize, h: usize, inverse: bool) {
    let plan = |p: &mut FftPlanner<T>, n: usize| if inverse { p.plan_fft_inverse(n) } else { p.plan_fft_forward(n) };
    plan(planner, w).process(data);
    let mut t = transpose(data, w, h);
    plan(planner, h).process(&mut t);
    data.copy_from_slice(&transpose(&t, h, w));
}

/// Transpose of a row-major `h × w` buffer (row-major `w × h`).
fn transpose<T: FftNum>(data: &[Complex<T>], w: usize, h: usize) -> Vec<Complex<T>> {
    let mut out = vec![Complex::new(T::zero(), T::zero()); data.len()];
    for y in 0..h {
        for x in 0..w {
            out[x * h + y] = data[y * w + x];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Direct O(n²) 2-D DFT for comparison.
    fn dft2(data: &[Complex<f64>], w: usize, h: usize) -> Vec<Complex<f64>> {
        let mut out = vec![Complex::new(0.0, 0.0); w * h];
        for (k, o) in out.iter_mut().enumerate() {
            let (kx, ky) = (k % w, k / w);
            for (i, &z) in data.iter().enumerate() {
                let (x, y) = (i % w, i / w);
                let phase = -std::f64::consts::TAU * ((kx * x) as f64 / w as f64 + (ky * y) as f64 / h as f64);
                *o += z * Complex::from_polar(1.0, phase);
            }
        }
        out
    }

    #[test]
    fn matches_the_direct_transform_and_inverts() {
        let (w, h) = (6, 5);
        let data: Vec<Complex<f64>> =
            (0..w * h).map(|i| Complex::new((i as f64 * 0.37).sin(), (i as f64 * 0.11).cos())).collect();
        let mut planner = FftPlanner::new();
        let mut buf = data.clone();
        fft2(&mut planner, &mut buf, w, h, false);
        for (a, b) in buf.iter().zip(dft2(&data, w, h)) {
            assert!((a - b).norm() < 1e-9, "{a} vs {b}");
        }
        fft2(&mut planner, &mut buf, w, h, true);
        for (a, b) in buf.iter().zip(&data) {
            assert!((a / (w * h) as f64 - b).norm() < 1e-12);
        }
    }
}
