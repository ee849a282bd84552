//! Small numerical helpers used by tests and link-level analysis.

/// Complementary error function erfc(x), relative error < 1.2e-7 everywhere.
///
/// Chebyshev-fitted rational approximation (Numerical Recipes `erfcc`); std has no erfc,
/// and this precision is ample for comparing simulated BERs with theory.
pub fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let ans = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 {
        ans
    } else {
        2.0 - ans
    }
}

/// Gaussian tail probability Q(x) = P(N(0,1) > x) = erfc(x/√2)/2.
pub fn q_function(x: f64) -> f64 {
    0.5 * erfc(x / std::f64::consts::SQRT_2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q_function_known_values() {
        // Reference values from standard normal tables (10 significant digits).
        let cases = [
            (0.0, 0.5),
            (1.0, 0.158_655_253_9),
            (2.0, 0.022_750_131_95),
            (3.0, 0.001_349_898_032),
            (4.0, 3.167_124_183e-5),
            (-1.0, 0.841_344_746_1),
        ];
        for (x, q) in cases {
            let got = q_function(x);
            assert!(((got - q) / q).abs() < 2e-7, "Q({x}) = {got}, want {q}");
        }
    }
}
