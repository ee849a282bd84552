//! Systematic encoder over the quasi-cyclic structure (38.212 §5.3.2).
//!
//! With s the K systematic bits, the parity is found in three steps:
//! 1. λ_i = Σ_k P^{v_ik} s_k for the 4 core rows;
//! 2. summing the 4 core rows cancels every core parity column except the
//!    first one, which keeps a single shift x: P^x p_1 = Σ λ_i;
//! 3. the remaining core columns follow by back-substitution along the double
//!    diagonal, and each extension row i ≥ 4 has one parity column of its own.
//!
//! Everything works on whole Z-bit blocks; a circular shift is two slice copies.

use crate::qc::QcCode;
use crate::{check_bits, LdpcError};

/// acc[r] ^= x[(r + v) mod Z]  (i.e. acc ^= P^v x).
#[inline]
fn xor_shifted(acc: &mut [u8], x: &[u8], v: usize) {
    let z = acc.len();
    let (a, b) = acc.split_at_mut(z - v);
    for (d, s) in a.iter_mut().zip(&x[v..]) {
        *d ^= *s;
    }
    for (d, s) in b.iter_mut().zip(&x[..v]) {
        *d ^= *s;
    }
}

/// Solves P^v out = acc, i.e. out[(r + v) mod Z] = acc[r].
#[inline]
fn solve_shifted(out: &mut [u8], acc: &[u8], v: usize) {
    let z = out.len();
    out[v..].copy_from_slice(&acc[..z - v]);
    out[..v].copy_from_slice(&acc[z - v..]);
}

impl QcCode {
    /// Encodes K = 22Z / 10Z systematic bits (fillers as 0) and returns the
    /// 38.212 output d of N = 66Z / 50Z bits (the first 2Z systematic bits are
    /// dropped).
    pub fn encode(&self, info: &[u8]) -> Result<Vec<u8>, LdpcError> {
        let mut cw = Vec::new();
        self.encode_full_into(info, self.num_base_cols(), &mut cw)?;
        Ok(cw.split_off(2 * self.z()))
    }

    /// Encodes into the full codeword (first 2Z bits included), computing only
    /// the first `active_cols` base columns (at least `info_cols + 4`; the
    /// extension parity beyond them is not needed when a rate matcher never
    /// reads it). `out` is resized to `active_cols · Z`.
    pub fn encode_full_into(&self, info: &[u8], active_cols: usize, out: &mut Vec<u8>) -> Result<(), LdpcError> {
        let z = self.z();
        let kb = self.base_graph().info_cols();
        if info.len() != self.k() {
            return Err(LdpcError::Length { what: "systematic bits (K)", expected: self.k(), got: info.len() });
        }
        check_bits(info)?;
        if active_cols < kb + 4 || active_cols > self.num_base_cols() {
            return Err(LdpcError::InvalidSize("active_cols must be in info_cols+4 ..= num_base_cols"));
        }
        out.clear();
        out.resize(active_cols * z, 0);
        out[..kb * z].copy_from_slice(info);

        // Step 1: λ for the core rows (info columns only).
        let mut lambda = vec![0u8; 4 * z];
        for i in 0..4 {
            let acc = &mut lambda[i * z..(i + 1) * z];
            for (c, v) in self.row(i).filter(|&(c, _)| c < kb) {
                xor_shifted(acc, &out[c * z..(c + 1) * z], v);
            }
        }
        // Step 2: p1 from the sum of the core rows.
        let mut sum = vec![0u8; z];
        for i in 0..4 {
            for (d, s) in sum.iter_mut().zip(&lambda[i * z..(i + 1) * z]) {
                *d ^= *s;
            }
        }
        solve_shifted(&mut out[kb * z..(kb + 1) * z], &sum, self.p1_shift);
        // Step 3: back-substitute the other core columns, row by row.
        let mut acc = vec![0u8; z];
        for &(i, unknown) in &self.core_order {
            acc.copy_from_slice(&lambda[i * z..(i + 1) * z]);
            let mut v_unknown = 0;
            for (c, v) in self.row(i).filter(|&(c, _)| c >= kb) {
                if c == unknown {
                    v_unknown = v;
                } else {
                    xor_shifted(&mut acc, &out[c * z..(c + 1) * z], v);
                }
            }
            solve_shifted(&mut out[unknown * z..(unknown + 1) * z], &acc, v_unknown);
        }
        // Extension rows: row i defines column kb + i from everything before it.
        for i in 4..self.active_rows(active_cols) {
            acc.fill(0);
            let own = kb + i;
            let mut v_own = 0;
            for (c, v) in self.row(i) {
                if c == own {
                    v_own = v;
                } else {
                    xor_shifted(&mut acc, &out[c * z..(c + 1) * z], v);
                }
            }
            solve_shifted(&mut out[own * z..(own + 1) * z], &acc, v_own);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::qc::{BaseGraph, QcCode};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn codewords_satisfy_parity_checks() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        // Several Z from every set index, both graphs, including the extremes.
        for bg in [BaseGraph::Bg1, BaseGraph::Bg2] {
            for z in [2, 3, 5, 7, 9, 11, 13, 15, 26, 52, 104, 144, 240, 352, 384] {
                let code = QcCode::get(bg, z).unwrap();
                for _ in 0..4 {
                    let info: Vec<u8> = (0..code.k()).map(|_| rng.random_range(0..2)).collect();
                    let mut cw = Vec::new();
                    code.encode_full_into(&info, code.num_base_cols(), &mut cw).unwrap();
                    assert!(code.is_codeword(&cw), "{bg:?} Z={z}");
                    assert_eq!(&cw[..code.k()], &info[..]);
                    // A single flipped bit must violate some check.
                    let pos = rng.random_range(0..cw.len());
                    cw[pos] ^= 1;
                    assert!(!code.is_codeword(&cw));
                    let d = code.encode(&info).unwrap();
                    assert_eq!(d.len(), code.n());
                }
            }
        }
    }

    #[test]
    fn partial_encoding_matches_prefix() {
        let code = QcCode::get(BaseGraph::Bg2, 104).unwrap();
        let info: Vec<u8> = (0..code.k()).map(|i| ((i * 7 + 3) % 5 == 0) as u8).collect();
        let (mut full, mut part) = (Vec::new(), Vec::new());
        code.encode_full_into(&info, 52, &mut full).unwrap();
        code.encode_full_into(&info, 20, &mut part).unwrap();
        assert_eq!(&full[..part.len()], &part[..]);
        assert!(code.encode(&info[1..]).is_err());
        assert!(code.encode_full_into(&info, 13, &mut part).is_err());
    }
}
