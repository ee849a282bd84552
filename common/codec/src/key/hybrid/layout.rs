//! The chunk layout both ends derive from the image size, the key mask and the
//! configuration: the base-layer chunks, the key blocks and their residual band chunks.

use std::collections::BTreeMap;

use super::HybridConfig;
use crate::key::KeyError;
use crate::segment::BlockMask;

/// A key block in pixels.
#[derive(Debug, Clone, Copy)]
pub(super) struct Block {
    pub(super) x0: usize,
    pub(super) y0: usize,
    pub(super) w: usize,
    pub(super) h: usize,
}

/// Where a chunk's coefficients live.
#[derive(Debug, Clone)]
pub(super) enum ChunkKind {
    /// Rectangle of the full-frame coefficient plane of `channel`.
    Base { row0: usize, rows: usize, col0: usize, cols: usize },
    /// Band rectangle (in block coefficient coordinates, per block size) of the listed
    /// key blocks; `alpha` and `beta` index the model parameters.
    Residual { band: (usize, usize), blocks: Vec<usize>, alpha: usize, beta: usize, gamma: usize, phi: f64 },
}

#[derive(Debug, Clone)]
pub(super) struct Chunk {
    pub(super) channel: usize,
    pub(super) kind: ChunkKind,
    pub(super) len: usize,
}

/// Everything both ends derive from (W, H, mask, config).
#[derive(Debug)]
pub(super) struct Layout {
    pub(super) width: usize,
    pub(super) hl: usize,
    pub(super) wl: usize,
    pub(super) blocks: Vec<Block>,
    pub(super) chunks: Vec<Chunk>,
    pub(super) base_chunks: usize,
    /// α parameters: per group with a key block, one for Y and one shared by Cb and Cr.
    pub(super) alphas: usize,
    /// β parameters: one per (channel, band).
    pub(super) betas: usize,
    /// γ parameters (spectral slope): one per group with a key block.
    pub(super) gammas: usize,
    pub(super) cfg: HybridConfig,
}

/// Band `i` of `n` over `len` coefficients: `[i·len/n, (i+1)·len/n)`.
fn band_range(i: usize, n: usize, len: usize) -> (usize, usize) {
    (i * len / n, (i + 1) * len / n)
}

impl Layout {
    pub(super) fn new(width: usize, height: usize, key: &BlockMask, cfg: &HybridConfig) -> Result<Self, KeyError> {
        let b = key.block() as usize;
        let (wb, hb) = (key.width_blocks() as usize, key.height_blocks() as usize);
        if width == 0 || height == 0 || b == 0 || wb * b < width || hb * b < height {
            return Err(KeyError::Input(format!(
                "mask grid {wb}x{hb} of {b}-px blocks does not cover a {width}x{height} image"
            )));
        }
        let f = cfg.base_cutoff;
        let hl = (f * height).div_ceil(b).clamp(1, height);
        let wl = (f * width).div_ceil(b).clamp(1, width);
        let mut chunks = Vec::new();
        for channel in 0..3 {
            let g = if channel == 0 { cfg.base_grid_luma } else { cfg.base_grid_chroma };
            let (gr, gc) = (g.0.clamp(1, hl), g.1.clamp(1, wl));
            for i in 0..gr {
                let (r0, r1) = band_range(i, gr, hl);
                for j in 0..gc {
                    let (c0, c1) = band_range(j, gc, wl);
                    chunks.push(Chunk {
                        channel,
                        kind: ChunkKind::Base { row0: r0, rows: r1 - r0, col0: c0, cols: c1 - c0 },
                        len: (r1 - r0) * (c1 - c0),
                    });
                }
            }
        }
        let base_chunks = chunks.len();

        // Key blocks (raster order, clipped to the image) and their groups.
        let mut blocks = Vec::new();
        let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        let gw = wb.div_ceil(cfg.group);
        for by in 0..hb {
            for bx in 0..wb {
                if !key.get(bx as u32, by as u32).unwrap_or(false) {
                    continue;
                }
                let (x0, y0) = (bx * b, by * b);
                if x0 >= width || y0 >= height {
                    continue;
                }
                groups.entry((by / cfg.group) * gw + bx / cfg.group).or_default().push(blocks.len());
                blocks.push(Block { x0, y0, w: b.min(width - x0), h: b.min(height - y0) });
            }
        }
        let mut alphas = 0;
        let mut gammas = 0;
        let mut beta_base = [0usize; 3];
        let mut betas = 0;
        for (channel, base) in beta_base.iter_mut().enumerate() {
            let n = if channel == 0 { cfg.bands_luma } else { cfg.bands_chroma };
            *base = betas;
            betas += n * n;
        }
        for members in groups.values() {
            for (channel, &beta0) in beta_base.iter().enumerate() {
                let n = if channel == 0 { cfg.bands_luma } else { cfg.bands_chroma };
                for bi in 0..n {
                    for bj in 0..n {
                        let len: usize = members
                            .iter()
                            .map(|&k| {
                                let (r0, r1) = band_range(bi, n, blocks[k].h);
                                let (c0, c1) = band_range(bj, n, blocks[k].w);
                                (r1 - r0) * (c1 - c0)
                            })
                            .sum();
                        if len > 0 {
                            chunks.push(Chunk {
                                channel,
                                kind: ChunkKind::Residual {
                                    band: (bi, bj),
                                    blocks: members.clone(),
                                    alpha: alphas + channel.min(1),
                                    beta: beta0 + bi * n + bj,
                                    gamma: gammas,
                                    phi: band_frequency(bi, bj),
                                },
                                len,
                            });
                        }
                    }
                }
            }
            alphas += 2;
            gammas += 1;
        }
        Ok(Self { width, hl, wl, blocks, chunks, base_chunks, alphas, betas, gammas, cfg: cfg.clone() })
    }

    fn bands(&self, channel: usize) -> usize {
        if channel == 0 {
            self.cfg.bands_luma
        } else {
            self.cfg.bands_chroma
        }
    }

    /// Coefficient positions of a chunk in transmission order: full-frame plane indices
    /// for a base chunk; (key block, index in its `h × w` coefficients) for a residual one.
    pub(super) fn for_each_coefficient(&self, chunk: &Chunk, mut f: impl FnMut(Coef)) {
        match &chunk.kind {
            ChunkKind::Base { row0, rows, col0, cols } => {
                for r in *row0..row0 + rows {
                    for c in *col0..col0 + cols {
                        f(Coef::Frame(r * self.width + c));
                    }
                }
            }
            ChunkKind::Residual { band, blocks, .. } => {
                let n = self.bands(chunk.channel);
                for &k in blocks {
                    let blk = self.blocks[k];
                    let (r0, r1) = band_range(band.0, n, blk.h);
                    let (c0, c1) = band_range(band.1, n, blk.w);
                    for r in r0..r1 {
                        for c in c0..c1 {
                            f(Coef::Block(k, r * blk.w + c));
                        }
                    }
                }
            }
        }
    }

    pub(super) fn total_coefficients(&self) -> usize {
        self.chunks.iter().map(|c| c.len).sum()
    }
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Coef {
    Frame(usize),
    Block(usize, usize),
}

/// Radial position of band (i, j) on a log scale: the regressor of the spectral slope.
fn band_frequency(i: usize, j: usize) -> f64 {
    ((1 + i + j) as f64).log2()
}
