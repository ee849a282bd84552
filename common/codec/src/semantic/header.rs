//! The semantic header ("core" record) and the fixed-size preamble in front of it.
//!
//! Digital part of a semantic transmission, one transport block (own CRC-24A) per record,
//! in this order:
//! 1. preamble, [`PREAMBLE_BYTES`] bytes: version 8 · core length 16 · records' MCS 8, at
//!    [`preamble_mcs`] (never faster than MCS 1: a 4-byte block has little coding gain,
//!    measured to fail 1 time in 3 at MCS 5 1.5 dB above the 1000-bit threshold);
//!
//! At the records' MCS (the frame headers carry its id):
//! 2. core: width 16 · height 16 · block 8 · key encoder id 8 · analog symbols 32 ·
//!    prompt detail 8 · mask length 16 · mask ([`BlockMask::encode`]) · side length 16 ·
//!    key side information · record count 8 · record lengths 16 each;
//! 3. one record per non-key segment: its `SegmentPrompt` protobuf.
//!
//! A failed preamble or core loses the image (nothing can be placed without the mask
//! and side information); a failed segment record only loses that segment's
//! description, which the receiver repairs from its neighbours.

use crate::segment::{BlockMask, SegmentError};

/// Version of this layout.
pub const SEMANTIC_VERSION: u8 = 1;
/// Size of the preamble record.
pub const PREAMBLE_BYTES: usize = 4;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Core {
    pub width: u16,
    pub height: u16,
    pub block: u8,
    pub key_encoder: u8,
    pub analog_symbols: u32,
    pub detail: u8,
    pub mask: Vec<u8>,
    pub side: Vec<u8>,
    pub records: Vec<u16>,
}

/// Fastest MCS the preamble uses.
pub const PREAMBLE_MAX_MCS: u8 = 1;

/// MCS of the preamble for records sent at `records_mcs`.
pub fn preamble_mcs(records_mcs: u8) -> u8 {
    records_mcs.min(PREAMBLE_MAX_MCS)
}

pub(crate) fn preamble(core_len: usize, records_mcs: u8) -> [u8; PREAMBLE_BYTES] {
    let l = (core_len.min(u16::MAX as usize) as u16).to_be_bytes();
    [SEMANTIC_VERSION, l[0], l[1], records_mcs]
}

/// (core length, records' MCS) from a preamble, or why it is unusable.
pub(crate) fn parse_preamble(b: &[u8]) -> Result<(usize, u8), String> {
    match b {
        [v, hi, lo, m] if *v == SEMANTIC_VERSION => Ok((u16::from_be_bytes([*hi, *lo]) as usize, *m)),
        [v, _, _, _] => Err(format!("semantic version {v}, this receiver speaks {SEMANTIC_VERSION}")),
        _ => Err(format!("preamble of {} bytes, expected {PREAMBLE_BYTES}", b.len())),
    }
}

impl Core {
    /// Length of [`Core::to_bytes`] for these part sizes.
    pub fn encoded_len(mask: usize, side: usize, records: usize) -> usize {
        16 + mask + side + 2 * records
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut o = Vec::with_capacity(24 + self.mask.len() + self.side.len() + 2 * self.records.len());
        o.extend_from_slice(&self.width.to_be_bytes());
        o.extend_from_slice(&self.height.to_be_bytes());
        o.push(self.block);
        o.push(self.key_encoder);
        o.extend_from_slice(&self.analog_symbols.to_be_bytes());
        o.push(self.detail);
        for part in [&self.mask, &self.side] {
            o.extend_from_slice(&(part.len() as u16).to_be_bytes());
            o.extend_from_slice(part);
        }
        o.push(self.records.len() as u8);
        for r in &self.records {
            o.extend_from_slice(&r.to_be_bytes());
        }
        debug_assert_eq!(o.len(), Self::encoded_len(self.mask.len(), self.side.len(), self.records.len()));
        o
    }

    pub fn from_bytes(b: &[u8]) -> Result<Self, String> {
        let mut r = Reader(b);
        let width = r.u16()?;
        let height = r.u16()?;
        let block = r.u8()?;
        let key_encoder = r.u8()?;
        let analog_symbols = u32::from_be_bytes([r.u8()?, r.u8()?, r.u8()?, r.u8()?]);
        let detail = r.u8()?;
        let ml = r.u16()? as usize;
        let mask = r.take(ml)?.to_vec();
        let sl = r.u16()? as usize;
        let side = r.take(sl)?.to_vec();
        let n = r.u8()? as usize;
        let records = (0..n).map(|_| r.u16()).collect::<Result<_, _>>()?;
        if !r.0.is_empty() {
            return Err(format!("{} trailing bytes after the semantic header", r.0.len()));
        }
        if width == 0 || height == 0 || block == 0 {
            return Err(format!("image {width}x{height}, block {block}: zero size"));
        }
        Ok(Self { width, height, block, key_encoder, analog_symbols, detail, mask, side, records })
    }

    /// The key mask, checked against the image size (max blocks bounds the allocation).
    pub fn key_mask(&self, max_blocks: usize) -> Result<BlockMask, SegmentError> {
        let m = BlockMask::decode(&self.mask, max_blocks)?;
        let b = u32::from(self.block);
        if m.block() != b
            || m.width_blocks() != u32::from(self.width).div_ceil(b)
            || m.height_blocks() != u32::from(self.height).div_ceil(b)
        {
            return Err(SegmentError::Malformed("mask grid does not match the image size"));
        }
        Ok(m)
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err("semantic header truncated".into());
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, String> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_round_trips_and_rejects_truncation() {
        let c = Core {
            width: 451,
            height: 300,
            block: 16,
            key_encoder: 1,
            analog_symbols: 12345,
            detail: 1,
            mask: vec![1, 2, 3],
            side: vec![9; 40],
            records: vec![17, 300],
        };
        let b = c.to_bytes();
        assert_eq!(Core::from_bytes(&b).unwrap(), c);
        for cut in 0..b.len() {
            assert!(Core::from_bytes(&b[..cut]).is_err(), "cut at {cut}");
        }
        let mut longer = b.clone();
        longer.push(0);
        assert!(Core::from_bytes(&longer).is_err());
        assert_eq!(parse_preamble(&preamble(b.len(), 5)).unwrap(), (b.len(), 5));
        assert!(parse_preamble(&[2, 0, 5, 0]).is_err());
    }
}
