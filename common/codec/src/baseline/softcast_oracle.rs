//! Idealised SoftCast, a reference line for the evaluation (issue 14): what the analog
//! layer could reach if side information and channel knowledge were free. Not a system.
//!
//! Sender ([`encode`]): RGB → YCbCr, per-channel mean removed exactly (f32), orthonormal
//! full-frame 2-D DCT per channel, coefficient planes cut into 8×8 chunks (edge chunks
//! smaller), λ_i = mean square of chunk i. Chunks are taken in decreasing λ while they
//! fit 2·k real dimensions, the next one partially; gains g_i = c·λ_i^(−1/4) with c
//! fixing the average power at exactly 1 per complex symbol over all k channel uses;
//! two coefficients per complex symbol (I, Q). No pilots, no metadata: every channel
//! use carries analog symbols, and the receiver is handed [`OracleSide`] (sizes,
//! means, the chunks and their λ and gains) for free.
//!
//! Receiver ([`decode`]): perfect CSI (the true h of every symbol and N0), the LLSE
//! estimate per real dimension (`crate::analog`), unsent or lost coefficients 0,
//! inverse DCT, means added, YCbCr → RGB.

use image::RgbImage;

use crate::analog::{gain, to_symbols, AnalogRx};
use crate::color::{rgb_to_ycbcr, ycbcr_to_rgb, Planes};
use crate::dct::Dct2d;
use crate::error::CodecError;
use crate::C32;

/// Side of the square chunks the coefficient planes are cut into.
pub const CHUNK: usize = 8;

/// One chunk that is (partly) sent: where it is and how it was scaled.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SentChunk {
    /// 0 = Y, 1 = Cb, 2 = Cr.
    pub channel: usize,
    pub row: usize,
    pub col: usize,
    pub rows: usize,
    pub cols: usize,
    /// Mean square of the chunk's coefficients.
    pub lambda: f64,
    /// Gain g = c·λ^(−1/4).
    pub gain: f64,
    /// Coefficients sent, row-major within the chunk (all of them but for the last chunk).
    pub count: usize,
}

impl SentChunk {
    /// Plane indices of the sent coefficients, in transmission order.
    fn indices(&self, width: usize) -> impl Iterator<Item = usize> + '_ {
        (0..self.rows)
            .flat_map(move |r| (0..self.cols).map(move |c| (self.row + r) * width + self.col + c))
            .take(self.count)
    }
}

/// What the receiver is given for free.
#[derive(Debug, Clone, PartialEq)]
pub struct OracleSide {
    pub width: u32,
    pub height: u32,
    /// Exact per-channel means (Y, Cb, Cr).
    pub means: [f32; 3],
    /// Sent chunks in transmission order.
    pub chunks: Vec<SentChunk>,
}

/// Sender output: exactly `channel_uses` symbols and the free side channel.
#[derive(Debug, Clone, PartialEq)]
pub struct OracleTransmission {
    pub symbols: Vec<C32>,
    pub side: OracleSide,
}

/// Encodes `img` into exactly `channel_uses` analog symbols of average power 1.
pub fn encode(img: &RgbImage, channel_uses: usize) -> Result<OracleTransmission, CodecError> {
    let (width, height) = img.dimensions();
    if width == 0 || height == 0 {
        return Err(CodecError::UnsupportedImageSize { width, height });
    }
    let (h, w) = (height as usize, width as usize);
    let (means, coeffs) = forward(img)?;

    // All chunks of the three planes with their energies.
    let mut all: Vec<SentChunk> = Vec::new();
    for (channel, plane) in coeffs.iter().enumerate() {
        for row in (0..h).step_by(CHUNK) {
            for col in (0..w).step_by(CHUNK) {
                let mut c = SentChunk {
                    channel,
                    row,
                    col,
                    rows: CHUNK.min(h - row),
                    cols: CHUNK.min(w - col),
                    lambda: 0.0,
                    gain: 0.0,
                    count: 0,
                };
                c.count = c.rows * c.cols;
                let e: f64 = c.indices(w).map(|i| f64::from(plane[i]).powi(2)).sum();
                c.lambda = e / c.count as f64;
                all.push(c);
            }
        }
    }
    // Zero-energy chunks carry nothing (and their gain would be infinite); their LLSE
    // estimate is 0 whether sent or not. Stable sort: ties keep plane order.
    all.retain(|c| c.lambda > 0.0);
    all.sort_by(|a, b| b.lambda.total_cmp(&a.lambda));

    let mut room = 2 * channel_uses;
    let mut chunks = Vec::new();
    for mut c in all {
        if room == 0 {
            break;
        }
        c.count = c.count.min(room);
        room -= c.count;
        chunks.push(c);
    }

    // c² from the energy actually sent, so the power over the k symbols is exactly 1
    // (a partial chunk's sent energy is not count·λ).
    let weighted: f64 = chunks
        .iter()
        .map(|c| {
            let plane = &coeffs[c.channel];
            c.indices(w).map(|i| f64::from(plane[i]).powi(2)).sum::<f64>() / c.lambda.sqrt()
        })
        .sum();
    let scale = if weighted > 0.0 { (channel_uses as f64 / weighted).sqrt() } else { 0.0 };
    let mut reals = Vec::with_capacity(2 * channel_uses);
    for c in &mut chunks {
        c.gain = gain(scale, c.lambda);
        let plane = &coeffs[c.channel];
        reals.extend(c.indices(w).map(|i| (f64::from(plane[i]) * c.gain) as f32));
    }
    reals.resize(2 * channel_uses, 0.0);
    Ok(OracleTransmission { symbols: to_symbols(reals), side: OracleSide { width, height, means, chunks } })
}

/// Reconstructs the image from the received symbols `y = h·x + n` given each symbol's
/// true gain `h` and the noise power `n0` per complex symbol. Lost symbols (NaN) and
/// missing ones (shorter slices) are estimated as 0.
pub fn decode(side: &OracleSide, received: &[C32], gains: &[C32], n0: f64) -> Result<RgbImage, CodecError> {
    let mut coeffs = estimate_coefficients(side, received, gains, n0);
    let (h, w) = (side.height as usize, side.width as usize);
    let dct = Dct2d::new(h, w)?;
    for (plane, mean) in coeffs.iter_mut().zip(side.means) {
        dct.inverse(plane)?;
        plane.iter_mut().for_each(|v| *v += mean);
    }
    let [y, cb, cr] = coeffs;
    // ycbcr_to_rgb rounds and clamps to 0..=255.
    Ok(ycbcr_to_rgb(&Planes { width: side.width, height: side.height, y, cb, cr }))
}

/// Exact means and DCT coefficient planes (Y, Cb, Cr) of an image.
fn forward(img: &RgbImage) -> Result<([f32; 3], [Vec<f32>; 3]), CodecError> {
    let (width, height) = img.dimensions();
    let dct = Dct2d::new(height as usize, width as usize)?;
    let planes = rgb_to_ycbcr(img);
    let mut means = [0f32; 3];
    let mut coeffs: [Vec<f32>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    for (c, plane) in planes.channels().into_iter().enumerate() {
        let mean = (plane.iter().map(|&v| f64::from(v)).sum::<f64>() / plane.len() as f64) as f32;
        let mut p: Vec<f32> = plane.iter().map(|&v| v - mean).collect();
        dct.forward(&mut p)?;
        means[c] = mean;
        coeffs[c] = p;
    }
    Ok((means, coeffs))
}

/// LLSE estimates of the DCT coefficient planes (unsent and lost coefficients 0).
fn estimate_coefficients(side: &OracleSide, received: &[C32], gains: &[C32], n0: f64) -> [Vec<f32>; 3] {
    let (h, w) = (side.height as usize, side.width as usize);
    let noise_var = vec![n0 as f32; received.len()];
    let rx = AnalogRx { symbols: received, h: gains, noise_var: &noise_var };
    let mut coeffs: [Vec<f32>; 3] = [vec![0.0; h * w], vec![0.0; h * w], vec![0.0; h * w]];
    let mut t = 0usize; // running real dimension
    for c in &side.chunks {
        let plane = &mut coeffs[c.channel];
        for i in c.indices(w) {
            if let Some(x) = rx.estimate(t, c.gain, c.lambda) {
                plane[i] = x as f32;
            }
            t += 1;
        }
    }
    coeffs
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use semcom_phy::channel::Awgn;

    use super::*;
    use crate::softcast::{self, SoftCastConfig};
    use crate::stream::Received;

    fn synthetic(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            let v = |a: f32| (128.0 + 100.0 * a.sin()) as u8;
            image::Rgb([
                v(x as f32 * 0.11 + y as f32 * 0.05),
                v(x as f32 * 0.03 - y as f32 * 0.17),
                (((x * 7 + y * 13) % 97) as u8).wrapping_mul(2),
            ])
        })
    }

    fn awgn(symbols: &[C32], snr_db: f64, seed: u64) -> (Vec<C32>, f64) {
        let ch = Awgn::from_snr_db(snr_db).unwrap();
        let mut y = symbols.to_vec();
        ch.apply(&mut y, &mut ChaCha8Rng::seed_from_u64(seed));
        (y, ch.n0())
    }

    fn sample(name: &str) -> RgbImage {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples").join(name);
        image::open(&path).unwrap().to_rgb8()
    }

    /// Exactly k symbols of average power 1, for budgets that cut a chunk, that send
    /// everything and that leave room over.
    #[test]
    fn k_symbols_of_unit_power() {
        let img = synthetic(45, 37); // not multiples of 8: edge chunks
        let n = 45 * 37 * 3;
        for k in [1, 77, 500, n / 2, n / 2 + 1, 2 * n] {
            let tx = encode(&img, k).unwrap();
            assert_eq!(tx.symbols.len(), k);
            let p = tx.symbols.iter().map(|s| f64::from(s.norm_sqr())).sum::<f64>() / k as f64;
            assert!((p - 1.0).abs() < 1e-3, "k {k}: power {p}");
            let sent: usize = tx.side.chunks.iter().map(|c| c.count).sum();
            assert!(sent <= 2 * k);
        }
    }

    #[test]
    fn noiseless_full_budget_is_near_lossless() {
        let img = synthetic(45, 37);
        let k = 45 * 37 * 3; // twice what every coefficient needs
        let tx = encode(&img, k).unwrap();
        let gains = vec![C32::new(1.0, 0.0); k];
        let rec = decode(&tx.side, &tx.symbols, &gains, 1e-12).unwrap();
        let psnr = semcom_metrics::psnr(&img, &rec).unwrap();
        assert!(psnr > 50.0, "PSNR {psnr}");
    }

    /// Measured coefficient MSE on AWGN at 10 dB against the LLSE theory: per sent
    /// coefficient x, E(x − a(gx + n))² = (1 − ag)²x² + a²σ² with a = gλ/(g²λ + σ²)
    /// (summing to n_i·λ_i·σ²/(g_i²λ_i + σ²) over a whole chunk), plus the energy of
    /// the coefficients not sent. Averaged over seeded noise draws: a few high-λ chunks
    /// carry most of the noise, so one draw scatters by ≈ 10 %.
    #[test]
    fn coefficient_mse_matches_llse_theory() {
        let img = synthetic(96, 80);
        let k = 96 * 80 * 3 / 8;
        let tx = encode(&img, k).unwrap();
        let (_, truth) = forward(&img).unwrap();
        let w = 96;
        let n0 = 0.1; // 10 dB
        let sigma2 = n0 / 2.0;
        let total: f64 = truth.iter().flatten().map(|&v| f64::from(v).powi(2)).sum();
        let mut expected = total;
        for c in &tx.side.chunks {
            let a = c.gain * c.lambda / (c.gain * c.gain * c.lambda + sigma2);
            for i in c.indices(w) {
                let x2 = f64::from(truth[c.channel][i]).powi(2);
                expected += (1.0 - a * c.gain).powi(2) * x2 + a * a * sigma2 - x2;
            }
        }
        let gains = vec![C32::new(1.0, 0.0); k];
        let draws = 40;
        let mut measured = 0.0;
        for seed in 0..draws {
            let (y, n0_ch) = awgn(&tx.symbols, 10.0, seed);
            assert!((n0_ch - n0).abs() < 1e-12);
            let est = estimate_coefficients(&tx.side, &y, &gains, n0);
            measured += (0..3)
                .flat_map(|ch| truth[ch].iter().zip(&est[ch]).map(|(&t, &e)| f64::from(t - e).powi(2)))
                .sum::<f64>()
                / f64::from(draws as u32);
        }
        let rel = (measured / expected - 1.0).abs();
        assert!(rel < 0.05, "measured {measured}, theory {expected}");
        // The noise term matters: the unsent energy alone is not the answer.
        let unsent = total
            - tx.side
                .chunks
                .iter()
                .flat_map(|c| c.indices(w).map(|i| f64::from(truth[c.channel][i]).powi(2)))
                .sum::<f64>();
        assert!(expected > 1.5 * unsent, "theory {expected}, unsent {unsent}");
    }

    /// An oracle beats the real SoftCast at the same channel uses, SNR and AWGN.
    #[test]
    fn beats_softcast_on_a_sample() {
        let img = sample("chelsea.png");
        let rho = 1.0 / 32.0;
        let (w, h) = img.dimensions();
        let k = (rho * 3.0 * f64::from(w) * f64::from(h)).round() as usize;
        for snr in [0.0, 10.0] {
            let cfg = SoftCastConfig::default();
            let sc = softcast::encode(&img, rho, &cfg).unwrap();
            let mut rx = Received::from_sections(&sc.sections, cfg.meta_mcs);
            rx.stream = awgn(&rx.stream, snr, 3).0;
            let sc_psnr = semcom_metrics::psnr(&img, &softcast::decode(&rx, &cfg).unwrap().image).unwrap();

            let tx = encode(&img, k).unwrap();
            let (y, n0) = awgn(&tx.symbols, snr, 3);
            let rec = decode(&tx.side, &y, &vec![C32::new(1.0, 0.0); k], n0).unwrap();
            let oracle_psnr = semcom_metrics::psnr(&img, &rec).unwrap();
            assert!(oracle_psnr > sc_psnr + 0.5, "SNR {snr}: oracle {oracle_psnr} dB, softcast {sc_psnr} dB");
        }
    }

    /// Lost symbols become 0 coefficients, not NaN pixels.
    #[test]
    fn erased_symbols_are_zero() {
        let img = synthetic(40, 24);
        let k = 400;
        let tx = encode(&img, k).unwrap();
        let mut y = tx.symbols.clone();
        y[..200].fill(C32::new(f32::NAN, f32::NAN));
        let gains = vec![C32::new(1.0, 0.0); k];
        let est = estimate_coefficients(&tx.side, &y, &gains, 0.1);
        assert!(est.iter().flatten().all(|v| v.is_finite()));
        let first = tx.side.chunks[0];
        assert_eq!(est[first.channel][first.row * 40 + first.col], 0.0);
        decode(&tx.side, &y[..300], &gains, 0.1).unwrap();
    }
}
