//! SplitMix64 (Steele, Lea & Flood, "Fast splittable pseudorandom number generators",
//! OOPSLA 2014) and Box–Muller normals.
//!
//! Tiny, fully specified and independent of any crate version, so every seeded stream
//! built on it (the pilot sequence, synthesised texture, diffusion noise, evaluation
//! seeds) stays the same across dependency upgrades and platforms.
//!
//! Two normal samplers exist because two streams are fixed by their users:
//! [`SplitMix64::gaussian_pair`] (uniforms in (0, 1], both values returned) and
//! [`SplitMix64::next_normal`] (uniforms in (0, 1), the second value kept for the next
//! call).

/// SplitMix64's state increment (the golden ratio in 64-bit fixed point).
pub const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's output function: a bijective 64-bit finaliser, also a good hash of a
/// counter or of any 64-bit value.
pub fn mix(z: u64) -> u64 {
    let z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    let z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// SplitMix64 generator with Box–Muller normal transforms.
#[derive(Debug, Clone, PartialEq)]
pub struct SplitMix64 {
    state: u64,
    /// The second value of the last [`Self::next_normal`] draw, not yet returned.
    spare: Option<f64>,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self { state: seed, spare: None }
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN_GAMMA);
        mix(self.state)
    }

    /// Uniform in the half-open interval (0, 1]: `((x >> 11) + 1) / 2^53`.
    pub fn next_unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in the open interval (0, 1): `((x >> 11) + 0.5) / 2^53`.
    pub fn next_open01(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64)
    }

    /// Two independent standard normal samples (Box–Muller on two [`Self::next_unit`]
    /// draws: radius from the first, angle from the second).
    pub fn gaussian_pair(&mut self) -> (f64, f64) {
        let r = (-2.0 * self.next_unit().ln()).sqrt();
        let t = std::f64::consts::TAU * self.next_unit();
        (r * t.cos(), r * t.sin())
    }

    /// One standard normal sample: Box–Muller on two [`Self::next_open01`] draws returns
    /// the cosine half and keeps the sine half for the next call.
    pub fn next_normal(&mut self) -> f64 {
        if let Some(s) = self.spare.take() {
            return s;
        }
        let u1 = self.next_open01();
        let u2 = self.next_open01();
        let r = (-2.0 * u1.ln()).sqrt();
        let th = std::f64::consts::TAU * u2;
        self.spare = Some(r * th.sin());
        r * th.cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_values() {
        // SplitMix64 from seed 0 (the reference implementation's first outputs).
        let mut r = SplitMix64::new(0);
        assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        assert_eq!(mix(GOLDEN_GAMMA), 0xE220_A839_7B1D_CDAF);
    }

    #[test]
    fn uniforms_stay_inside_their_intervals() {
        let mut r = SplitMix64::new(7);
        for _ in 0..10_000 {
            let (u, v) = (r.next_unit(), r.next_open01());
            assert!(u > 0.0 && u <= 1.0 && v > 0.0 && v < 1.0);
        }
    }

    #[test]
    fn next_normal_returns_both_halves_of_one_draw() {
        let mut a = SplitMix64::new(3);
        let (u1, u2) = (a.next_open01(), a.next_open01());
        let (r, th) = ((-2.0 * u1.ln()).sqrt(), std::f64::consts::TAU * u2);
        let mut b = SplitMix64::new(3);
        assert_eq!((b.next_normal(), b.next_normal()), (r * th.cos(), r * th.sin()));
        assert_eq!(b.next_u64(), a.next_u64());
    }

    #[test]
    fn normals_have_unit_variance() {
        let mut r = SplitMix64::new(11);
        let n = 200_000;
        let (mut s, mut ss) = (0.0, 0.0);
        for _ in 0..n / 2 {
            let (a, b) = r.gaussian_pair();
            let c = r.next_normal();
            s += a + b + c;
            ss += a * a + b * b + c * c;
        }
        let k = (3 * n / 2) as f64;
        let (mean, var) = (s / k, ss / k - (s / k).powi(2));
        assert!(mean.abs() < 0.01 && (var - 1.0).abs() < 0.01, "mean {mean} var {var}");
    }
}
