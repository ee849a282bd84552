//! CRCs of 38.212 §5.1 over bit slices (`u8` values 0/1, first bit = highest
//! power of D, exactly as the spec's a_0 … a_{A-1}).
//!
//! All three generators have zero initial value, no reflection and no final
//! XOR, so leading zero bits do not change the remainder. We use that to run the
//! table-driven [`crc`] catalogue implementations on arbitrary bit lengths: the
//! message is left-padded with zeros to a whole number of bytes and packed MSB
//! first.

use crate::{check_bits, LdpcError};

/// A 38.212 CRC polynomial.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CrcKind {
    /// gCRC24A(D) = D^24+D^23+D^18+D^17+D^14+D^11+D^10+D^7+D^6+D^5+D^4+D^3+D+1
    /// (0x864CFB; transport-block CRC).
    Crc24A,
    /// gCRC24B(D) = D^24+D^23+D^6+D^5+D+1 (0x800063; per-code-block CRC).
    Crc24B,
    /// gCRC16(D) = D^16+D^12+D^5+1 (0x1021, CRC-16/CCITT with zero init,
    /// i.e. CRC-16/XMODEM).
    Crc16,
}

static CRC24A: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_24_LTE_A);
static CRC24B: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_24_LTE_B);
static CRC16: crc::Crc<u16> = crc::Crc::<u16>::new(&crc::CRC_16_XMODEM);

impl CrcKind {
    /// Number of parity bits L.
    pub const fn len(self) -> usize {
        match self {
            CrcKind::Crc24A | CrcKind::Crc24B => 24,
            CrcKind::Crc16 => 16,
        }
    }

    /// Always false (a CRC has parity bits); present for clippy's `len` lint.
    pub const fn is_empty(self) -> bool {
        false
    }

    /// CRC remainder of a byte string (whole bytes, MSB first).
    pub fn checksum_bytes(self, bytes: &[u8]) -> u32 {
        match self {
            CrcKind::Crc24A => CRC24A.checksum(bytes),
            CrcKind::Crc24B => CRC24B.checksum(bytes),
            CrcKind::Crc16 => u32::from(CRC16.checksum(bytes)),
        }
    }

    /// CRC remainder of a bit string. Bits must be 0/1.
    pub fn checksum_bits(self, bits: &[u8]) -> Result<u32, LdpcError> {
        check_bits(bits)?;
        Ok(self.checksum_bits_unchecked(bits))
    }

    /// Same as [`checksum_bits`](Self::checksum_bits) but uses only the low bit of
    /// each element (callers that produced the bits themselves).
    pub(crate) fn checksum_bits_unchecked(self, bits: &[u8]) -> u32 {
        // Left-pad to a byte boundary: zero leading bits leave a zero-init CRC unchanged.
        let pad = (8 - bits.len() % 8) % 8;
        let mut bytes = Vec::with_capacity(bits.len().div_ceil(8));
        let mut acc = 0u8;
        let mut n = pad;
        for &b in bits {
            acc = (acc << 1) | (b & 1);
            n += 1;
            if n == 8 {
                bytes.push(acc);
                acc = 0;
                n = 0;
            }
        }
        self.checksum_bytes(&bytes)
    }

    /// Returns `bits` followed by the L parity bits p_0 … p_{L-1} (38.212 §5.1).
    pub fn attach(self, bits: &[u8]) -> Result<Vec<u8>, LdpcError> {
        let crc = self.checksum_bits(bits)?;
        let mut out = Vec::with_capacity(bits.len() + self.len());
        out.extend_from_slice(bits);
        push_parity(&mut out, crc, self.len());
        Ok(out)
    }

    /// True if the last L bits of `bits_with_crc` are the CRC of the rest
    /// (equivalently, the whole sequence has zero remainder). Too short an input
    /// or non-0/1 values count as a failed check, never as a pass.
    pub fn check(self, bits_with_crc: &[u8]) -> bool {
        let l = self.len();
        if bits_with_crc.len() < l || check_bits(bits_with_crc).is_err() {
            return false;
        }
        self.checksum_bits_unchecked(bits_with_crc) == 0
    }
}

pub(crate) fn push_parity(out: &mut Vec<u8>, crc: u32, l: usize) {
    for i in (0..l).rev() {
        out.push(((crc >> i) & 1) as u8);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Plain polynomial long division, straight from the definition in §5.1.
    fn reference(bits: &[u8], poly: u32, l: usize) -> u32 {
        let mut reg = 0u32;
        let mask = (1u32 << l) - 1;
        for &b in bits {
            let top = ((reg >> (l - 1)) & 1) ^ u32::from(b);
            reg = (reg << 1) & mask;
            if top == 1 {
                reg ^= poly;
            }
        }
        reg
    }

    #[test]
    fn catalogue_check_values() {
        // Standard "123456789" check values of the CRC catalogue.
        let msg = b"123456789";
        assert_eq!(CrcKind::Crc24A.checksum_bytes(msg), 0xCDE703);
        assert_eq!(CrcKind::Crc24B.checksum_bytes(msg), 0x23EF52);
        assert_eq!(CrcKind::Crc16.checksum_bytes(msg), 0x31C3);
        let bits = crate::bytes_to_bits(msg);
        assert_eq!(CrcKind::Crc24A.checksum_bits(&bits).unwrap(), 0xCDE703);
    }

    #[test]
    fn bit_lengths_match_long_division() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for len in [1usize, 7, 9, 23, 100, 333, 1001] {
            let bits: Vec<u8> = (0..len).map(|_| rng.random_range(0..2)).collect();
            for (kind, poly) in [(CrcKind::Crc24A, 0x864CFB), (CrcKind::Crc24B, 0x800063), (CrcKind::Crc16, 0x1021)] {
                assert_eq!(
                    kind.checksum_bits(&bits).unwrap(),
                    reference(&bits, poly, kind.len()),
                    "{kind:?} len {len}"
                );
                let with = kind.attach(&bits).unwrap();
                assert!(kind.check(&with));
                let mut bad = with.clone();
                bad[len / 2] ^= 1;
                assert!(!kind.check(&bad));
            }
        }
    }

    #[test]
    fn rejects_non_bits() {
        assert!(CrcKind::Crc16.attach(&[0, 1, 2]).is_err());
        assert!(!CrcKind::Crc16.check(&[0; 10]));
    }
}
