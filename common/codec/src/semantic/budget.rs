//! Budget control (sender): which MCS the semantics use. The key share comes from
//! [`crate::segment::key_share_for`], the prompt detail from the records' size
//! ([`super::encode`]).

use semcom_phy::digital::MCS_TABLE;

/// SNR (dB) at which each MCS of [`MCS_TABLE`] reaches BLER ≤ 10 % on AWGN with a
/// 1000-bit payload, measured by `semcom phy-curves` (docs/phy.md, BLER figure).
pub const MCS_THRESHOLD_DB: [f64; MCS_TABLE.len()] =
    [-7.0, -3.5, -1.0, 1.5, 3.5, 6.5, 9.0, 10.5, 14.0, 15.5, 17.5, 20.5, 22.5];

/// Link adaptation for the semantic part: the fastest MCS up to `max_mcs` whose
/// threshold is at least `margin_db` below the expected SNR; `default_mcs` when the
/// SNR is unknown. The margin covers SNR misestimation and fading dips: semantics must
/// survive where the key symbols are already noisy (docs/architecture.md §2).
pub fn semantic_mcs(snr_db: Option<f64>, margin_db: f64, max_mcs: u8, default_mcs: u8) -> u8 {
    let Some(snr) = snr_db.filter(|s| s.is_finite()) else {
        return default_mcs;
    };
    let cap = usize::from(max_mcs).min(MCS_TABLE.len() - 1);
    (0..=cap).rev().find(|&i| MCS_THRESHOLD_DB[i] + margin_db <= snr).unwrap_or(0) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mcs_rises_with_snr_and_keeps_the_margin() {
        assert_eq!(semantic_mcs(None, 6.0, 5, 1), 1);
        assert_eq!(semantic_mcs(Some(f64::NAN), 6.0, 5, 1), 1);
        assert_eq!(semantic_mcs(Some(-20.0), 6.0, 5, 1), 0);
        let mut last = 0;
        for snr in -10..40 {
            let m = semantic_mcs(Some(f64::from(snr)), 6.0, 5, 1);
            assert!(m >= last && m <= 5);
            assert!(m == 0 || MCS_THRESHOLD_DB[usize::from(m)] + 6.0 <= f64::from(snr));
            last = m;
        }
        assert_eq!(semantic_mcs(Some(10.0), 6.0, 12, 1), 4);
        assert_eq!(semantic_mcs(Some(30.0), 6.0, 5, 1), 5);
    }
}
