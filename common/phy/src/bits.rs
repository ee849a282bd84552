//! MSB-first bit fields: the one writer and reader behind the digital link's transport
//! block payload, the SoftCast metadata, the key encoder's side information and the
//! block-mask code.
//!
//! A bit is a `bool`, or a `u8` holding 0 or 1 ([`Bit`]). Packed byte forms are MSB first with the last byte zero-padded
//! ([`pack`], [`unpack`]).

/// Something that holds one bit: `bool`, or `u8` restricted to 0 and 1 (the channel code
/// and the mapper work on bytes).
pub trait Bit: Copy {
    fn from_bool(b: bool) -> Self;
    /// The bit as 0 or 1, or `None` if the value is not a bit.
    fn to_bit(self) -> Option<u8>;
}

impl Bit for bool {
    fn from_bool(b: bool) -> Self {
        b
    }

    fn to_bit(self) -> Option<u8> {
        Some(self as u8)
    }
}

impl Bit for u8 {
    fn from_bool(b: bool) -> Self {
        u8::from(b)
    }

    fn to_bit(self) -> Option<u8> {
        (self <= 1).then_some(self)
    }
}

/// Appends fixed-width unsigned fields, most significant bit first.
#[derive(Debug, Clone)]
pub struct BitWriter<B = bool> {
    bits: Vec<B>,
}

impl<B> Default for BitWriter<B> {
    fn default() -> Self {
        Self { bits: Vec::new() }
    }
}

impl<B: Bit> BitWriter<B> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_capacity(bits: usize) -> Self {
        Self { bits: Vec::with_capacity(bits) }
    }

    /// Writes the low `width` bits of `value` (width ≤ 64).
    pub fn put(&mut self, value: u64, width: u32) {
        for k in (0..width).rev() {
            self.bits.push(B::from_bool((value >> k) & 1 == 1));
        }
    }

    pub fn put_bool(&mut self, b: bool) {
        self.bits.push(B::from_bool(b));
    }

    pub fn len(&self) -> usize {
        self.bits.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bits.is_empty()
    }

    /// The bits written so far.
    pub fn bits(&self) -> &[B] {
        &self.bits
    }

    pub fn into_bits(self) -> Vec<B> {
        self.bits
    }
}

/// Reads fixed-width fields; every read is bounds-checked (returns `None` past the end).
#[derive(Debug, Clone)]
pub struct BitReader<'a, B = bool> {
    bits: &'a [B],
    pos: usize,
}

impl<'a, B: Bit> BitReader<'a, B> {
    pub fn new(bits: &'a [B]) -> Self {
        Self { bits, pos: 0 }
    }

    /// The next `width` bits as an unsigned number, first bit most significant; `None`
    /// past the end or on a value that is not a bit.
    pub fn get(&mut self, width: u32) -> Option<u64> {
        let w = width as usize;
        let end = self.pos.checked_add(w)?;
        let slice = self.bits.get(self.pos..end)?;
        let v = slice.iter().try_fold(0u64, |acc, &b| Some((acc << 1) | u64::from(b.to_bit()?)))?;
        self.pos = end;
        Some(v)
    }

    pub fn get_bool(&mut self) -> Option<bool> {
        let b = self.bits.get(self.pos)?.to_bit()?;
        self.pos += 1;
        Some(b == 1)
    }

    /// Bits read so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    pub fn remaining(&self) -> usize {
        self.bits.len() - self.pos
    }

    /// The bits not read yet.
    pub fn rest(&self) -> &'a [B] {
        &self.bits[self.pos..]
    }
}

/// Packs bits MSB-first into bytes, zero-padding the last byte.
pub fn pack(bits: &[bool]) -> Vec<u8> {
    bits.chunks(8).map(|c| c.iter().enumerate().fold(0u8, |acc, (i, &b)| acc | (u8::from(b) << (7 - i)))).collect()
}

/// Every bit of `bytes`, MSB first (the inverse of [`pack`] up to the padding).
pub fn unpack(bytes: &[u8]) -> Vec<bool> {
    bytes.iter().flat_map(|&b| (0..8).map(move |i| b >> (7 - i) & 1 == 1)).collect()
}

/// Number of bits needed to represent `max_value` (at least 1).
pub fn bits_for(max_value: u64) -> u32 {
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
        assert_eq!(pack(&bits[..12]), vec![0xAB, 0xC0]);
        assert_eq!(unpack(&[0xAB, 0xC0])[..12], bits[..12]);
        assert_eq!(bits_for(0), 1);
        assert_eq!(bits_for(1), 1);
        assert_eq!(bits_for(255), 8);
        assert_eq!(bits_for(256), 9);
    }

    #[test]
    fn byte_bits_read_like_bools() {
        let mut w = BitWriter::<u8>::new();
        w.put(0x5A, 7);
        w.put_bool(false);
        let bits = w.into_bits();
        assert_eq!(bits, [1, 0, 1, 1, 0, 1, 0, 0]);
        let mut r = BitReader::new(&bits);
        assert_eq!(r.get_bool(), Some(true));
        assert_eq!(r.get(6), Some(0x1A));
        assert_eq!((r.position(), r.remaining(), r.rest()), (7, 1, &[0u8][..]));
        assert_eq!(BitReader::new(&[1u8, 2]).get(2), None);
    }
}
