//! Chunk geometry and the metadata block shared by sender and receiver.
//!
//! Everything the receiver needs to invert the analog mapping is derived from
//! [`Metadata`] by the same code on both sides ([`AnalogPlan::new`]), so the two ends agree
//! bit-for-bit on chunk order, gains and symbol counts.

use crate::analog::{gain, LambdaQuant, LOG2_FIXED_SCALE, LOG2_LAMBDA_MAX, LOG2_LAMBDA_MIN};
use semcom_phy::bits::{bits_for, pack, BitReader, BitWriter};

/// Metadata format version (first field on the wire).
pub(crate) const META_VERSION: u8 = 1;
/// CRC over the metadata bits: CRC-16/IBM-3740 (CCITT-FALSE), over MSB-first packed bytes.
const CRC16: crc::Crc<u16> = crc::Crc::<u16>::new(&crc::CRC_16_IBM_3740);
pub(crate) const CRC_BITS: usize = 16;
/// Fixed header: version 8, H 16, W 16, λ bits 4, two grids 4×8, three means 3×8,
/// log2 λ min and max 2×16.
pub(crate) const HEADER_BITS: usize = 8 + 16 + 16 + 4 + 32 + 24 + 32;

/// One rectangular block of DCT coefficients of one colour channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Chunk {
    /// Colour channel 0 = Y, 1 = Cb, 2 = Cr.
    pub channel: usize,
    pub row0: usize,
    pub rows: usize,
    pub col0: usize,
    pub cols: usize,
}

impl Chunk {
    pub(crate) fn len(&self) -> usize {
        self.rows * self.cols
    }

    /// Plane indices of the chunk's coefficients in row-major order within the chunk.
    pub(crate) fn indices(&self, width: usize) -> impl Iterator<Item = usize> + '_ {
        (self.row0..self.row0 + self.rows)
            .flat_map(move |r| (self.col0..self.col0 + self.cols).map(move |c| r * width + c))
    }
}

/// Grid clamped to the plane size so that no chunk is empty (a 16×16 grid on an 8-pixel
/// high image becomes 8×16).
pub(crate) fn effective_grid(grid: (u16, u16), height: usize, width: usize) -> (usize, usize) {
    ((grid.0 as usize).clamp(1, height.max(1)), (grid.1 as usize).clamp(1, width.max(1)))
}

/// All chunks, global index order: channel Y, Cb, Cr; within a channel row-major over the
/// grid. Chunk edges are `i·H/rows` (integer division), so any size works.
pub(crate) fn chunks(height: usize, width: usize, luma: (usize, usize), chroma: (usize, usize)) -> Vec<Chunk> {
    let mut out = Vec::with_capacity(luma.0 * luma.1 + 2 * chroma.0 * chroma.1);
    for channel in 0..3 {
        let (gr, gc) = if channel == 0 { luma } else { chroma };
        for i in 0..gr {
            let (r0, r1) = (i * height / gr, (i + 1) * height / gr);
            for j in 0..gc {
                let (c0, c1) = (j * width / gc, (j + 1) * width / gc);
                out.push(Chunk { channel, row0: r0, rows: r1 - r0, col0: c0, cols: c1 - c0 });
            }
        }
    }
    out
}

/// Largest chunk size for the grids, used to size the partial-count field.
fn max_chunk_len(height: usize, width: usize, luma: (usize, usize), chroma: (usize, usize)) -> usize {
    let m = |g: (usize, usize)| height.div_ceil(g.0) * width.div_ceil(g.1);
    m(luma).max(m(chroma))
}

/// A chunk sent only in part: its first `count` coefficients in row-major order within the
/// chunk, filling analog channel uses that could not hold one more whole chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Partial {
    pub chunk: usize,
    pub lambda_idx: u16,
    pub count: usize,
}

/// Everything the receiver needs about one image, with a CRC-16; sent on the digital
/// link (CRC-24A, 5G NR LDPC, QAM at `meta_mcs`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Metadata {
    pub height: u16,
    pub width: u16,
    /// Effective (clamped) grids, (rows, cols), each in 1..=255.
    pub grid_luma: (u8, u8),
    pub grid_chroma: (u8, u8),
    /// Channel means Y, Cb, Cr rounded to integers (0..=255) and subtracted before the DCT.
    pub means: [u8; 3],
    pub quant: LambdaQuant,
    /// One flag per chunk in global index order.
    pub selected: Vec<bool>,
    /// λ̂ level of each selected chunk, in global index order.
    pub lambda_idx: Vec<u16>,
    pub partial: Option<Partial>,
}

/// Sizes of the variable fields, which depend only on H, W and the grids.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FieldWidths {
    pub total_chunks: usize,
    pub chunk_idx_bits: u32,
    pub count_bits: u32,
}

impl FieldWidths {
    pub(crate) fn new(height: usize, width: usize, luma: (usize, usize), chroma: (usize, usize)) -> Self {
        let total_chunks = luma.0 * luma.1 + 2 * chroma.0 * chroma.1;
        Self {
            total_chunks,
            chunk_idx_bits: bits_for(total_chunks.saturating_sub(1) as u64),
            count_bits: bits_for(max_chunk_len(height, width, luma, chroma).saturating_sub(1) as u64),
        }
    }

    /// Metadata size in bits (CRC included) for `selected` whole chunks, with or without a
    /// partial chunk.
    pub(crate) fn meta_bits(&self, lambda_bits: u8, selected: usize, partial: bool) -> usize {
        let lb = lambda_bits as usize;
        let partial_bits = if partial { self.chunk_idx_bits as usize + lb + self.count_bits as usize } else { 0 };
        HEADER_BITS + self.total_chunks + selected * lb + 1 + partial_bits + CRC_BITS
    }
}

/// Why received metadata bits could not be turned into a [`Metadata`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MetaParseError {
    /// CRC mismatch or too short to hold one: the bits are corrupt.
    Crc(String),
    /// CRC passed but the content is inconsistent or outside limits.
    Invalid(String),
}

impl Metadata {
    pub(crate) fn luma(&self) -> (usize, usize) {
        (self.grid_luma.0 as usize, self.grid_luma.1 as usize)
    }

    pub(crate) fn chroma(&self) -> (usize, usize) {
        (self.grid_chroma.0 as usize, self.grid_chroma.1 as usize)
    }

    pub(crate) fn widths(&self) -> FieldWidths {
        FieldWidths::new(self.height as usize, self.width as usize, self.luma(), self.chroma())
    }

    /// Serialises to bits, CRC-16 appended.
    pub(crate) fn to_bits(&self) -> Vec<bool> {
        let fw = self.widths();
        let lb = self.quant.bits as u32;
        let mut w = BitWriter::new();
        w.put(META_VERSION as u64, 8);
        w.put(self.height as u64, 16);
        w.put(self.width as u64, 16);
        w.put(self.quant.bits as u64, 4);
        w.put(self.grid_luma.0 as u64, 8);
        w.put(self.grid_luma.1 as u64, 8);
        w.put(self.grid_chroma.0 as u64, 8);
        w.put(self.grid_chroma.1 as u64, 8);
        for m in self.means {
            w.put(m as u64, 8);
        }
        w.put(self.quant.lo_q as u16 as u64, 16);
        w.put(self.quant.hi_q as u16 as u64, 16);
        for &s in &self.selected {
            w.put_bool(s);
        }
        for &i in &self.lambda_idx {
            w.put(i as u64, lb);
        }
        w.put_bool(self.partial.is_some());
        if let Some(p) = self.partial {
            w.put(p.chunk as u64, fw.chunk_idx_bits);
            w.put(p.lambda_idx as u64, lb);
            w.put(p.count as u64, fw.count_bits);
        }
        let crc = CRC16.checksum(&pack(&w.clone().into_bits()));
        w.put(crc as u64, CRC_BITS as u32);
        debug_assert_eq!(w.len(), fw.meta_bits(self.quant.bits, self.lambda_idx.len(), self.partial.is_some()));
        w.into_bits()
    }

    /// Checks the CRC, then parses and validates. `max_pixels` caps H·W so corrupted but
    /// CRC-passing metadata cannot make the receiver allocate absurd planes.
    pub(crate) fn from_bits(bits: &[bool], max_pixels: u64) -> Result<Self, MetaParseError> {
        if bits.len() < HEADER_BITS + 1 + CRC_BITS {
            return Err(MetaParseError::Crc(format!(
                "{} metadata bits, fewer than the minimum {}",
                bits.len(),
                HEADER_BITS + 1 + CRC_BITS
            )));
        }
        let (body, crc_bits) = bits.split_at(bits.len() - CRC_BITS);
        let got = BitReader::new(crc_bits).get(CRC_BITS as u32).unwrap_or(0) as u16;
        let want = CRC16.checksum(&pack(body));
        if got != want {
            return Err(MetaParseError::Crc(format!("CRC-16 mismatch (received {got:#06x}, computed {want:#06x})")));
        }
        let inv = |s: &str| MetaParseError::Invalid(s.to_string());
        let short = || inv("metadata ends early");
        let mut r = BitReader::new(body);
        let version = r.get(8).ok_or_else(short)? as u8;
        if version != META_VERSION {
            return Err(MetaParseError::Invalid(format!("unsupported metadata version {version}")));
        }
        let height = r.get(16).ok_or_else(short)? as u16;
        let width = r.get(16).ok_or_else(short)? as u16;
        if height == 0 || width == 0 {
            return Err(inv("zero image size"));
        }
        if height as u64 * width as u64 > max_pixels {
            return Err(MetaParseError::Invalid(format!(
                "image size {width}x{height} exceeds the receiver limit of {max_pixels} pixels"
            )));
        }
        let lambda_bits = r.get(4).ok_or_else(short)? as u8;
        if lambda_bits == 0 {
            return Err(inv("lambda_bits is 0"));
        }
        let mut grid = [0u8; 4];
        for g in grid.iter_mut() {
            *g = r.get(8).ok_or_else(short)? as u8;
        }
        let (h, w) = (height as usize, width as usize);
        let luma = (grid[0] as usize, grid[1] as usize);
        let chroma = (grid[2] as usize, grid[3] as usize);
        for (gr, gc) in [luma, chroma] {
            if gr == 0 || gc == 0 || gr > h || gc > w {
                return Err(MetaParseError::Invalid(format!("chunk grid {gr}x{gc} invalid for {w}x{h}")));
            }
        }
        let mut means = [0u8; 3];
        for m in means.iter_mut() {
            *m = r.get(8).ok_or_else(short)? as u8;
        }
        let lo_q = r.get(16).ok_or_else(short)? as u16 as i16;
        let hi_q = r.get(16).ok_or_else(short)? as u16 as i16;
        let range_q = |v: f64| (v * LOG2_FIXED_SCALE) as i16;
        if lo_q > hi_q || lo_q < range_q(LOG2_LAMBDA_MIN) || hi_q > range_q(LOG2_LAMBDA_MAX) + 1 {
            return Err(MetaParseError::Invalid(format!("invalid log2 lambda range [{lo_q}, {hi_q}]/256")));
        }
        let fw = FieldWidths::new(h, w, luma, chroma);
        if r.remaining() < fw.total_chunks {
            return Err(short());
        }
        let mut selected = Vec::with_capacity(fw.total_chunks);
        for _ in 0..fw.total_chunks {
            selected.push(r.get_bool().ok_or_else(short)?);
        }
        let nsel = selected.iter().filter(|&&s| s).count();
        if r.remaining() < nsel * lambda_bits as usize {
            return Err(short());
        }
        let mut lambda_idx = Vec::with_capacity(nsel);
        for _ in 0..nsel {
            lambda_idx.push(r.get(lambda_bits as u32).ok_or_else(short)? as u16);
        }
        let partial = if r.get_bool().ok_or_else(short)? {
            let chunk = r.get(fw.chunk_idx_bits).ok_or_else(short)? as usize;
            let lambda_idx = r.get(lambda_bits as u32).ok_or_else(short)? as u16;
            let count = r.get(fw.count_bits).ok_or_else(short)? as usize;
            let all = chunks(h, w, luma, chroma);
            let Some(c) = all.get(chunk) else {
                return Err(inv("partial chunk index out of range"));
            };
            if selected[chunk] || count == 0 || count >= c.len() {
                return Err(inv("inconsistent partial chunk"));
            }
            Some(Partial { chunk, lambda_idx, count })
        } else {
            None
        };
        if r.remaining() != 0 {
            return Err(MetaParseError::Invalid(format!("{} unexpected trailing metadata bits", r.remaining())));
        }
        Ok(Self {
            height,
            width,
            grid_luma: (grid[0], grid[1]),
            grid_chroma: (grid[2], grid[3]),
            means,
            quant: LambdaQuant { bits: lambda_bits, lo_q, hi_q },
            selected,
            lambda_idx,
            partial,
        })
    }
}

/// The analog mapping both ends derive from [`Metadata`]: which coefficients go where, with
/// which gain, and how many complex symbols that takes.
#[derive(Debug, Clone)]
pub(crate) struct AnalogPlan {
    pub chunks: Vec<Chunk>,
    /// Transmission order: (chunk index, λ̂, gain g, number of coefficients sent).
    /// Whole chunks by decreasing λ̂ (ties: lower index first), then the partial chunk.
    pub order: Vec<(usize, f64, f64, usize)>,
    /// Real coefficients sent; complex symbols = ceil(real / 2).
    pub real_dims: usize,
}

impl AnalogPlan {
    pub(crate) fn new(meta: &Metadata) -> Self {
        let chunks = chunks(meta.height as usize, meta.width as usize, meta.luma(), meta.chroma());
        let mut sel: Vec<(usize, u16)> = meta
            .selected
            .iter()
            .enumerate()
            .filter(|(_, &s)| s)
            .map(|(i, _)| i)
            .zip(meta.lambda_idx.iter().copied())
            .collect();
        sel.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut order: Vec<(usize, f64, f64, usize)> =
            sel.into_iter().map(|(i, q)| (i, meta.quant.value(q), 0.0, chunks[i].len())).collect();
        if let Some(p) = meta.partial {
            order.push((p.chunk, meta.quant.value(p.lambda_idx), 0.0, p.count));
        }
        let real_dims: usize = order.iter().map(|o| o.3).sum();
        // Power allocation g_i = c·λ̂_i^(-1/4) (SoftCast). Expected energy of the analog
        // part is Σ n_i g_i² λ̂_i = c²·Σ n_i √λ̂_i; it must equal the number of complex
        // symbols (unit power per symbol), which fixes c.
        let symbols = real_dims.div_ceil(2);
        let denom: f64 = order.iter().map(|o| o.3 as f64 * o.1.sqrt()).sum();
        let c = if denom > 0.0 { (symbols as f64 / denom).sqrt() } else { 0.0 };
        for o in order.iter_mut() {
            o.2 = gain(c, o.1);
        }
        Self { chunks, order, real_dims }
    }

    pub(crate) fn symbols(&self) -> usize {
        self.real_dims.div_ceil(2)
    }
}
