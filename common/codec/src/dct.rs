//! Orthonormal full-frame 2-D DCT-II and its inverse (DCT-III) on row-major planes.
//!
//! Convention: for an `H×W` plane `x[r][c]` (row-major, `x[r*W + c]`),
//! `X[u][v] = a(u)·a(v)·Σ_r Σ_c x[r][c]·cos(π(r+½)u/H)·cos(π(c+½)v/W)` with
//! `a(0) = √(1/N)`, `a(k>0) = √(2/N)` for the respective length N. The transform is
//! orthonormal, so energy is preserved (Parseval) and the inverse is the transpose.
//! `X[0][0]` is `√(HW)` times the plane mean. Works for any `H, W ≥ 1`.
//!
//! rustdct computes the unnormalised DCT-II `Σ x_n cos(π(n+½)k/N)` and the DCT-III
//! `x_0/2 + Σ_{k≥1} X_k cos(π k(n+½)/N)`; the scale factors below turn them into the
//! orthonormal pair.

use rustdct::{DctPlanner, TransformType2And3};
use std::sync::Arc;

/// Errors for DCT input validation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DctError {
    /// The buffer length does not equal `height · width`.
    #[error("plane has {got} samples, expected {height}x{width} = {expected}")]
    ShapeMismatch { height: usize, width: usize, got: usize, expected: usize },
    /// A zero dimension has nothing to transform.
    #[error("plane dimensions must be non-zero, got {height}x{width}")]
    Empty { height: usize, width: usize },
}

/// Planned 2-D DCT for one plane size; reuse it for several planes of the same shape.
pub struct Dct2d {
    height: usize,
    width: usize,
    row: Arc<dyn TransformType2And3<f32>>,
    col: Arc<dyn TransformType2And3<f32>>,
}

impl std::fmt::Debug for Dct2d {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dct2d").field("height", &self.height).field("width", &self.width).finish()
    }
}

impl Dct2d {
    /// Plans transforms for an `height × width` plane.
    pub fn new(height: usize, width: usize) -> Result<Self, DctError> {
        if height == 0 || width == 0 {
            return Err(DctError::Empty { height, width });
        }
        let mut planner = DctPlanner::new();
        Ok(Self { height, width, row: planner.plan_dct2(width), col: planner.plan_dct2(height) })
    }

    /// Plane height (rows).
    pub fn height(&self) -> usize {
        self.height
    }

    /// Plane width (columns).
    pub fn width(&self) -> usize {
        self.width
    }

    fn check(&self, plane: &[f32]) -> Result<(), DctError> {
        let expected = self.height * self.width;
        if plane.len() != expected {
            return Err(DctError::ShapeMismatch { height: self.height, width: self.width, got: plane.len(), expected });
        }
        Ok(())
    }

    /// In-place forward orthonormal DCT-II of a row-major plane.
    pub fn forward(&self, plane: &mut [f32]) -> Result<(), DctError> {
        self.check(plane)?;
        self.pass(plane, true);
        Ok(())
    }

    /// In-place inverse (orthonormal DCT-III), exact inverse of [`Dct2d::forward`].
    pub fn inverse(&self, plane: &mut [f32]) -> Result<(), DctError> {
        self.check(plane)?;
        self.pass(plane, false);
        Ok(())
    }

    /// Rows, then columns via a transpose (keeps every 1-D transform on contiguous memory).
    fn pass(&self, plane: &mut [f32], forward: bool) {
        let (h, w) = (self.height, self.width);
        let mut scratch = vec![0.0f32; self.row.get_scratch_len().max(self.col.get_scratch_len())];
        for row in plane.chunks_exact_mut(w) {
            transform_1d(self.row.as_ref(), row, &mut scratch, forward);
        }
        let mut t = vec![0.0f32; h * w];
        transpose(plane, &mut t, h, w);
        for col in t.chunks_exact_mut(h) {
            transform_1d(self.col.as_ref(), col, &mut scratch, forward);
        }
        transpose(&t, plane, w, h);
    }
}

/// Orthonormal 1-D DCT-II (forward) or DCT-III (inverse) in place.
fn transform_1d(plan: &dyn TransformType2And3<f32>, buf: &mut [f32], scratch: &mut [f32], forward: bool) {
    let n = buf.len() as f32;
    let a0 = (1.0 / n).sqrt();
    let ak = (2.0 / n).sqrt();
    if forward {
        plan.process_dct2_with_scratch(buf, scratch);
        buf[0] *= a0;
        buf[1..].iter_mut().for_each(|x| *x *= ak);
    } else {
        // x_n = a0·X_0 + ak·Σ X_k cos(..); rustdct's DCT-III halves X_0, so pre-scale it by 2·a0.
        buf[0] *= 2.0 * a0;
        buf[1..].iter_mut().for_each(|x| *x *= ak);
        plan.process_dct3_with_scratch(buf, scratch);
    }
}

/// `dst (w×h) = srcᵀ` for `src` of `h` rows × `w` columns.
fn transpose(src: &[f32], dst: &mut [f32], h: usize, w: usize) {
    for r in 0..h {
        for c in 0..w {
            dst[c * h + r] = src[r * w + c];
        }
    }
}

/// One-shot forward orthonormal 2-D DCT-II of a row-major `height × width` plane.
pub fn dct2d(plane: &mut [f32], height: usize, width: usize) -> Result<(), DctError> {
    Dct2d::new(height, width)?.forward(plane)
}

/// One-shot inverse of [`dct2d`].
pub fn idct2d(plane: &mut [f32], height: usize, width: usize) -> Result<(), DctError> {
    Dct2d::new(height, width)?.inverse(plane)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic pseudo-random plane in [-1, 1) (no RNG dependency needed here).
    fn plane(h: usize, w: usize, seed: u32) -> Vec<f32> {
        let mut s = seed.wrapping_mul(747_796_405).wrapping_add(1);
        (0..h * w)
            .map(|_| {
                s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (s >> 8) as f32 / (1u32 << 23) as f32 - 1.0
            })
            .collect()
    }

    /// Direct O(N²·M²) evaluation of the definition in the module docs, in f64.
    fn reference(x: &[f32], h: usize, w: usize) -> Vec<f64> {
        let pi = std::f64::consts::PI;
        let a = |k: usize, n: usize| if k == 0 { (1.0 / n as f64).sqrt() } else { (2.0 / n as f64).sqrt() };
        let mut out = vec![0.0; h * w];
        for u in 0..h {
            for v in 0..w {
                let mut s = 0.0;
                for r in 0..h {
                    for c in 0..w {
                        s += x[r * w + c] as f64
                            * (pi * (r as f64 + 0.5) * u as f64 / h as f64).cos()
                            * (pi * (c as f64 + 0.5) * v as f64 / w as f64).cos();
                    }
                }
                out[u * w + v] = a(u, h) * a(v, w) * s;
            }
        }
        out
    }

    #[test]
    fn matches_direct_formula_on_odd_sizes() {
        for (h, w) in [(7, 5), (1, 9), (13, 1), (3, 11), (8, 6)] {
            let x = plane(h, w, (h * 31 + w) as u32);
            let mut y = x.clone();
            dct2d(&mut y, h, w).unwrap();
            let r = reference(&x, h, w);
            for (a, b) in y.iter().zip(&r) {
                assert!((*a as f64 - b).abs() < 1e-5, "{h}x{w}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn round_trip_and_parseval() {
        for (h, w) in [(64, 48), (37, 101), (512, 512), (1, 1), (300, 451)] {
            let x = plane(h, w, 3);
            let mut y = x.clone();
            let t = Dct2d::new(h, w).unwrap();
            t.forward(&mut y).unwrap();
            let ex: f64 = x.iter().map(|v| (*v as f64).powi(2)).sum();
            let ey: f64 = y.iter().map(|v| (*v as f64).powi(2)).sum();
            assert!((ex - ey).abs() / ex < 1e-5, "{h}x{w} parseval {ex} vs {ey}");
            t.inverse(&mut y).unwrap();
            let err = x.iter().zip(&y).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
            assert!(err < 1e-3, "{h}x{w} round trip max err {err}");
        }
    }

    #[test]
    fn dc_of_constant_plane() {
        let (h, w) = (10, 15);
        let mut x = vec![2.0f32; h * w];
        dct2d(&mut x, h, w).unwrap();
        assert!((x[0] - 2.0 * ((h * w) as f32).sqrt()).abs() < 1e-4);
        assert!(x[1..].iter().all(|v| v.abs() < 1e-4));
    }

    #[test]
    fn rejects_bad_shapes() {
        assert!(matches!(Dct2d::new(0, 4), Err(DctError::Empty { .. })));
        let mut x = vec![0.0f32; 11];
        assert!(matches!(dct2d(&mut x, 3, 4), Err(DctError::ShapeMismatch { .. })));
    }
}
