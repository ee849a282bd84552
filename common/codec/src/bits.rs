//! MSB-first bit packing for the metadata block.

/// Appends fixed-width unsigned fields, most significant bit first.
#[derive(Debug, Default, Clone)]
pub(crate) struct BitWriter {
    bits: Vec<bool>,
}

impl BitWriter {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Writes the low `width` bits of `value` (width ≤ 64).
    pub(crate) fn put(&mut self, value: u64, width: u32) {
        for k in (0..width).rev() {
            self.bits.push((value >> k) & 1 == 1);
        }
    }

    pub(crate) fn put_bool(&mut self, b: bool) {
        self.bits.push(b);
    }

    pub(crate) fn len(&self) -> usize {
        self.bits.len()
    }

    pub(crate) fn into_bits(self) -> Vec<bool> {
        self.bits
    }
}

/// Reads fixed-width fields; every read is bounds-checked (returns `None` past the end).
#[derive(Debug, Clone)]
pub(crate) struct BitReader<'a> {
    bits: &'a [bool],
    pos: usize,
}

impl<'a> BitReader<'a> {
    pub(crate) fn new(bits: &'a [bool]) -> Self {
        Self { bits, pos: 0 }
    }

    pub(crate) fn get(&mut self, width: u32) -> Option<u64> {
        let w = width as usize;
        let end = self.pos.checked_add(w)?;
        let slice = self.bits.get(self.pos..end)?;
        self.pos = end;
        Some(slice.iter().fold(0u64, |acc, &b| (acc << 1) | b as u64))
    }

    pub(crate) fn get_bool(&mut self) -> Option<bool> {
        let b = *self.bits.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    pub(crate) fn remaining(&self) -> usize {
        self.bits.len() - self.pos
    }
}

/// Packs bits MSB-first into bytes, zero-padding the last byte.
pub(crate) fn to_bytes(bits: &[bool]) -> Vec<u8> {
    bits.chunks(8).map(|c| c.iter().enumerate().fold(0u8, |acc, (i, &b)| acc | ((b as u8) << (7 - i)))).collect()
}

/// Number of bits needed to represent `max_value` (at least 1).
pub(crate) fn bits_for(max_value: u64) -> u32 {
    (64 - max_value.leading_zeros()).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_fields() {
        let mut w = BitWriter::new();
        w.put(0xABC, 12);
        w.put_bool(true);
        w.put(5, 3);
        w.put(u64::MAX, 64);
        let bits = w.into_bits();
        assert_eq!(bits.len(), 80);
        let mut r = BitReader::new(&bits);
        assert_eq!(r.get(12), Some(0xABC));
        assert_eq!(r.get_bool(), Some(true));
        assert_eq!(r.get(3), Some(5));
        assert_eq!(r.get(64), Some(u64::MAX));
        assert_eq!(r.get(1), None);
        assert_eq!(to_bytes(&bits[..12]), vec![0xAB, 0xC0]);
        assert_eq!(bits_for(0), 1);
        assert_eq!(bits_for(1), 1);
        assert_eq!(bits_for(255), 8);
        assert_eq!(bits_for(256), 9);
    }
}
