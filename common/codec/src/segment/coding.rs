//! Compact coding of a [`BlockMask`] for the digital link.
//!
//! Layout (bytes, then an MSB-first bit stream, zero-padded to a byte; nothing after):
//!
//! ```text
//! varint width_blocks | varint height_blocks | varint block      (LEB128, canonical, u32, ≥ 1)
//! bit mode: 0 = runs, 1 = raw
//!   raw:  width_blocks·height_blocks bits, row-major
//!   runs: bit first value | 4 bits code of 0-runs | 4 bits code of 1-runs
//!         | run lengths (≥ 1), alternating values, until they cover every block
//!         code 0 = Elias-gamma, code c in 1..=15 = Golomb-Rice with k = c − 1
//! ```
//!
//! The encoder picks, separately for the runs of zeros and the runs of ones, the code
//! that minimises their total length (so the code adapts to the mask: gamma for
//! scattered short runs, Rice with a large `k` for long background runs), and falls back
//! to raw bits when that is shorter (checkerboards). Worst case: header + ⌈(n+1)/8⌉ bytes.

use semcom_phy::bits::{pack, unpack, BitReader, BitWriter};

use super::{BlockMask, SegmentError};

/// Largest Rice parameter (code 15).
const MAX_RICE_K: u32 = 14;

/// The bit stream after the header: MSB-first bits read from bytes, every read checked.
struct Bits<'a>(BitReader<'a>);

impl Bits<'_> {
    fn bit(&mut self) -> Result<bool, SegmentError> {
        self.0.get_bool().ok_or(SegmentError::Truncated)
    }

    fn bits(&mut self, n: u32) -> Result<u64, SegmentError> {
        self.0.get(n).ok_or(SegmentError::Truncated)
    }

    /// The padding must be zero bits and nothing may follow.
    fn finish(&self) -> Result<(), SegmentError> {
        if self.0.remaining() >= 8 {
            return Err(SegmentError::Malformed("trailing bytes"));
        }
        if self.0.rest().iter().any(|&b| b) {
            return Err(SegmentError::Malformed("non-zero padding"));
        }
        Ok(())
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u32) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// Canonical LEB128 u32; returns the value and the bytes consumed.
fn get_varint(bytes: &[u8]) -> Result<(u32, usize), SegmentError> {
    let mut v = 0u64;
    for i in 0..5 {
        let b = *bytes.get(i).ok_or(SegmentError::Truncated)?;
        v |= ((b & 0x7f) as u64) << (7 * i);
        if b & 0x80 == 0 {
            if i > 0 && b == 0 {
                return Err(SegmentError::Malformed("overlong varint"));
            }
            return u32::try_from(v).map(|v| (v, i + 1)).map_err(|_| SegmentError::Malformed("varint exceeds u32"));
        }
    }
    Err(SegmentError::Malformed("varint longer than 5 bytes"))
}

/// Bits of run length `v ≥ 1` under `code`.
fn code_len(v: u64, code: u32) -> u64 {
    if code == 0 {
        2 * (63 - v.leading_zeros() as u64) + 1
    } else {
        let k = code - 1;
        ((v - 1) >> k) + 1 + k as u64
    }
}

fn put_run(w: &mut BitWriter, v: u64, code: u32) {
    if code == 0 {
        let l = 63 - v.leading_zeros();
        w.put(0, l);
        w.put(v, l + 1);
    } else {
        let k = code - 1;
        let u = v - 1;
        for _ in 0..(u >> k) {
            w.put_bool(true);
        }
        w.put_bool(false);
        w.put(u & ((1u64 << k) - 1), k);
    }
}

/// Read a run length under `code`; it must be in `1..=remaining`.
fn get_run(r: &mut Bits, code: u32, remaining: u64) -> Result<u64, SegmentError> {
    let too_long = SegmentError::Malformed("run longer than the remaining blocks");
    if code == 0 {
        let mut l = 0u32;
        while !r.bit()? {
            l += 1;
            if l > 40 || (1u64 << l) > remaining {
                return Err(too_long);
            }
        }
        let v = (1u64 << l) | r.bits(l)?;
        if v > remaining {
            return Err(too_long);
        }
        Ok(v)
    } else {
        let k = code - 1;
        let mut q = 0u64;
        while r.bit()? {
            q += 1;
            if q > (remaining - 1) >> k {
                return Err(too_long);
            }
        }
        let v = (q << k) + r.bits(k)? + 1;
        if v > remaining {
            return Err(too_long);
        }
        Ok(v)
    }
}

impl BlockMask {
    /// Compact binary form (see the module docs of `segment::coding` for the layout).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        put_varint(&mut out, self.width_blocks);
        put_varint(&mut out, self.height_blocks);
        put_varint(&mut out, self.block);

        // Runs of equal bits.
        let mut runs: Vec<(bool, u64)> = Vec::new();
        for &b in &self.bits {
            match runs.last_mut() {
                Some((v, len)) if *v == b => *len += 1,
                _ => runs.push((b, 1)),
            }
        }
        let best = |value: bool| -> (u32, u64) {
            (0..=MAX_RICE_K + 1)
                .map(|c| (c, runs.iter().filter(|r| r.0 == value).map(|r| code_len(r.1, c)).sum::<u64>()))
                .min_by_key(|&(c, len)| (len, c))
                .unwrap_or((0, 0))
        };
        let ((c0, l0), (c1, l1)) = (best(false), best(true));
        let run_bits = 1 + 1 + 8 + l0 + l1;
        let raw_bits = 1 + self.bits.len() as u64;

        let mut w = BitWriter::new();
        if raw_bits <= run_bits {
            w.put_bool(true);
            for &b in &self.bits {
                w.put_bool(b);
            }
        } else {
            w.put_bool(false);
            w.put_bool(runs.first().is_some_and(|r| r.0));
            w.put(c0 as u64, 4);
            w.put(c1 as u64, 4);
            for &(v, len) in &runs {
                put_run(&mut w, len, if v { c1 } else { c0 });
            }
        }
        out.extend(pack(w.bits()));
        out
    }

    /// Decode [`BlockMask::encode`] output. Rejects (never panics on) truncated,
    /// malformed or trailing data, zero dimensions, and grids of more than `max_blocks`
    /// blocks (checked before any allocation, so memory stays `O(max_blocks)`).
    pub fn decode(bytes: &[u8], max_blocks: usize) -> Result<BlockMask, SegmentError> {
        let (wb, a) = get_varint(bytes)?;
        let (hb, b) = get_varint(&bytes[a..])?;
        let (block, c) = get_varint(&bytes[a + b..])?;
        if wb == 0 || hb == 0 || block == 0 {
            return Err(SegmentError::Malformed("zero dimension"));
        }
        let n = wb as u64 * hb as u64;
        if n > max_blocks as u64 {
            return Err(SegmentError::TooManyBlocks { blocks: n, max: max_blocks });
        }
        let stream = unpack(&bytes[a + b + c..]);
        let mut r = Bits(BitReader::new(&stream));
        // Every block needs at least one bit in raw mode, and every run at least one bit:
        // reject early if the payload cannot possibly hold a raw mask of this size.
        let raw = r.bit()?;
        let mut bits = Vec::with_capacity(n as usize);
        if raw {
            if (stream.len() as u64) < n + 1 {
                return Err(SegmentError::Truncated);
            }
            for _ in 0..n {
                bits.push(r.bit()?);
            }
        } else {
            let mut value = r.bit()?;
            let c0 = r.bits(4)? as u32;
            let c1 = r.bits(4)? as u32;
            let mut done = 0u64;
            while done < n {
                let len = get_run(&mut r, if value { c1 } else { c0 }, n - done)?;
                bits.extend(std::iter::repeat_n(value, len as usize));
                done += len;
                value = !value;
            }
        }
        r.finish()?;
        Ok(BlockMask { width_blocks: wb, height_blocks: hb, block, bits })
    }
}
