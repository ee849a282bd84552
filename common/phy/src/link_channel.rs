//! The channel that a transmission's symbol stream crosses, frame by frame:
//! block fading (Rayleigh or Rician) over coherence blocks counted along the
//! stream, AWGN, and frame erasures (i.i.d. and Gilbert–Elliott bursts).
//!
//! channel-sim applies it on the wire and the sender applies it in-process when
//! told to simulate: the same code gives the same numbers for the same seed.
//!
//! Conventions (docs/architecture.md §2): y = h·x + n with E|h|² = 1, n ~ CN(0, N0),
//! N0 = 10^(−SNR/10), so `snr_db` is the average received Es/N0. Coherence blocks
//! start at the first symbol of the transmission and run across frame boundaries.
//! An erased frame still occupies its channel uses (the slot was spent) and the
//! fading process advances over it.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use crate::channel::{Awgn, BlockFading, Erasures, FadingModel, FrameLoss, GilbertElliott};
use crate::{PhyError, C32};

/// Small-scale fading model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FadingKind {
    /// h = 1 (AWGN only).
    #[default]
    None,
    /// h ~ CN(0, 1).
    Rayleigh,
    /// h = √(K/(K+1))·e^{jθ} + √(1/(K+1))·CN(0,1), θ uniform per block
    /// ([`FadingModel::Rician`]).
    Rician,
}

/// Gilbert–Elliott burst erasures, one state transition per frame (see
/// [`GilbertElliott`]; the chain starts from its stationary distribution).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BurstConfig {
    pub enabled: bool,
    pub p_good_to_bad: f64,
    pub p_bad_to_good: f64,
    /// Erasure probability of a frame in the good / bad state.
    pub loss_good: f64,
    pub loss_bad: f64,
}

impl Default for BurstConfig {
    fn default() -> Self {
        Self { enabled: false, p_good_to_bad: 0.01, p_bad_to_good: 0.3, loss_good: 0.0, loss_bad: 1.0 }
    }
}

impl BurstConfig {
    /// The loss process these settings describe.
    pub fn process(&self) -> Result<GilbertElliott, PhyError> {
        GilbertElliott::new(self.p_good_to_bad, self.p_bad_to_good, self.loss_good, self.loss_bad)
    }
}

/// Everything that defines the link channel. Serde names match the TOML keys of
/// channel-sim's `[channel]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LinkChannelConfig {
    /// When false the link is ideal: symbols pass untouched, nothing is erased.
    pub enabled: bool,
    /// Average received Es/N0, dB.
    pub snr_db: f64,
    /// Transmission n uses the RNG seeded with `seed + n`.
    pub seed: u64,
    pub fading: FadingKind,
    /// Rician K factor (linear).
    pub rician_k: f64,
    /// Coherence length in symbols (block fading).
    pub coherence_symbols: u32,
    /// Independent per-frame erasure probability.
    pub erasure_probability: f64,
    pub burst: BurstConfig,
}

impl Default for LinkChannelConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            snr_db: 10.0,
            seed: 1,
            fading: FadingKind::None,
            rician_k: 4.0,
            coherence_symbols: 1024,
            erasure_probability: 0.0,
            burst: BurstConfig::default(),
        }
    }
}

impl LinkChannelConfig {
    /// Checks every field; nothing else in this module can fail afterwards.
    pub fn validate(&self) -> Result<(), PhyError> {
        if !self.snr_db.is_finite() || !(-50.0..=100.0).contains(&self.snr_db) {
            return Err(PhyError::InvalidParameter {
                name: "snr_db",
                value: self.snr_db,
                reason: "must be finite and within [-50, 100] dB",
            });
        }
        if !self.rician_k.is_finite() || self.rician_k < 0.0 {
            return Err(PhyError::InvalidParameter {
                name: "rician_k",
                value: self.rician_k,
                reason: "must be finite and >= 0",
            });
        }
        if self.coherence_symbols == 0 {
            return Err(PhyError::InvalidParameter {
                name: "coherence_symbols",
                value: 0.0,
                reason: "must be at least 1",
            });
        }
        Erasures::new(self.erasure_probability)?;
        self.burst.process()?;
        Ok(())
    }
}

/// What the channel did to one frame.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FrameEffect {
    /// The frame was lost; its symbols must not be delivered.
    pub erased: bool,
    /// Σ|x|² of the transmitted symbols.
    pub signal_energy: f64,
    /// Σ|n|² of the added noise.
    pub noise_energy: f64,
    /// Σ|h|² over the frame's symbols.
    pub gain_energy: f64,
}

/// The channel state of one transmission.
pub struct LinkChannel {
    enabled: bool,
    coherence: u64,
    awgn: Awgn,
    /// `None` without fading (h = 1).
    fading: Option<BlockFading>,
    erasures: Erasures,
    burst: Option<GilbertElliott>,
    rng: ChaCha8Rng,
    /// Symbols consumed so far (position along the stream).
    position: u64,
    h: C32,
}

impl LinkChannel {
    /// The channel for transmission number `index` (seeded with `seed + index`).
    pub fn new(cfg: &LinkChannelConfig, index: u64) -> Result<Self, PhyError> {
        cfg.validate()?;
        let awgn = Awgn::from_snr_db(cfg.snr_db)?;
        let coherence = cfg.coherence_symbols as usize;
        let fading = match cfg.fading {
            FadingKind::None => None,
            FadingKind::Rayleigh => Some(BlockFading::new(FadingModel::Rayleigh, coherence, awgn.n0())?),
            FadingKind::Rician => {
                Some(BlockFading::new(FadingModel::Rician { k_factor: cfg.rician_k }, coherence, awgn.n0())?)
            }
        };
        Ok(Self {
            enabled: cfg.enabled,
            coherence: u64::from(cfg.coherence_symbols),
            awgn,
            fading,
            erasures: Erasures::new(cfg.erasure_probability)?,
            burst: if cfg.burst.enabled { Some(cfg.burst.process()?) } else { None },
            rng: ChaCha8Rng::seed_from_u64(cfg.seed.wrapping_add(index)),
            position: 0,
            h: C32::new(1.0, 0.0),
        })
    }

    /// Decides whether the next frame is lost (both loss processes step once).
    fn next_erased(&mut self) -> bool {
        let iid = self.erasures.next_lost(&mut self.rng);
        let burst = self.burst.as_mut().is_some_and(|b| b.next_lost(&mut self.rng));
        iid || burst
    }

    /// Applies the channel to one frame in place. A disabled channel leaves the
    /// symbols untouched.
    pub fn apply_frame(&mut self, symbols: &mut [C32]) -> FrameEffect {
        self.apply_frame_inner(symbols, None)
    }

    /// [`apply_frame`](Self::apply_frame), also pushing the gain h of every symbol of the
    /// frame onto `gains` (for perfect-CSI comparisons; a frame can span coherence
    /// blocks). Draws exactly what `apply_frame` draws.
    pub fn apply_frame_with_gains(&mut self, symbols: &mut [C32], gains: &mut Vec<C32>) -> FrameEffect {
        self.apply_frame_inner(symbols, Some(gains))
    }

    fn apply_frame_inner(&mut self, symbols: &mut [C32], mut gains: Option<&mut Vec<C32>>) -> FrameEffect {
        let mut effect = FrameEffect {
            signal_energy: symbols.iter().map(|s| f64::from(s.norm_sqr())).sum(),
            ..FrameEffect::default()
        };
        if !self.enabled {
            effect.gain_energy = symbols.len() as f64;
            if let Some(g) = gains.as_mut() {
                g.extend(std::iter::repeat_n(C32::new(1.0, 0.0), symbols.len()));
            }
            return effect;
        }
        effect.erased = self.next_erased();
        let sigma = (self.awgn.n0() / 2.0).sqrt();
        for s in symbols.iter_mut() {
            if self.position.is_multiple_of(self.coherence) {
                if let Some(f) = &self.fading {
                    self.h = f.draw_gain(&mut self.rng);
                }
            }
            self.position += 1;
            if let Some(g) = gains.as_mut() {
                g.push(self.h);
            }
            effect.gain_energy += f64::from(self.h.norm_sqr());
            if effect.erased {
                continue;
            }
            let n_re: f64 = StandardNormal.sample(&mut self.rng);
            let n_im: f64 = StandardNormal.sample(&mut self.rng);
            let n = C32::new((n_re * sigma) as f32, (n_im * sigma) as f32);
            effect.noise_energy += f64::from(n.norm_sqr());
            *s = self.h * *s + n;
        }
        effect
    }

    /// The gain in force for the most recent symbol (for perfect-CSI comparisons).
    pub fn current_gain(&self) -> C32 {
        self.h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit_symbols(n: usize) -> Vec<C32> {
        vec![C32::new(1.0, 0.0); n]
    }

    #[test]
    fn awgn_noise_power_matches_n0_and_h_is_one() {
        let cfg = LinkChannelConfig { snr_db: 3.0, ..LinkChannelConfig::default() };
        let mut ch = LinkChannel::new(&cfg, 0).expect("channel");
        let (mut noise, mut n) = (0.0, 0usize);
        for _ in 0..50 {
            let mut s = unit_symbols(4000);
            let e = ch.apply_frame(&mut s);
            assert!(!e.erased);
            assert!((e.gain_energy - 4000.0).abs() < 1e-6);
            noise += e.noise_energy;
            n += 4000;
        }
        let n0 = 10f64.powf(-0.3);
        // 200k complex samples: the variance estimate's relative sd is ~1/sqrt(n) = 0.22 %.
        assert!((noise / n as f64 / n0 - 1.0).abs() < 5.0 * (1.0 / (n as f64)).sqrt(), "{}", noise / n as f64);
    }

    #[test]
    fn rayleigh_gain_is_unit_power_and_constant_within_a_block() {
        let cfg = LinkChannelConfig {
            fading: FadingKind::Rayleigh,
            coherence_symbols: 100,
            snr_db: 100.0,
            ..LinkChannelConfig::default()
        };
        let mut ch = LinkChannel::new(&cfg, 0).expect("channel");
        let mut gains = Vec::new();
        // Frames of 30 symbols: blocks of 100 straddle frame boundaries.
        for _ in 0..(20_000 / 30) {
            let mut s = unit_symbols(30);
            ch.apply_frame(&mut s);
            gains.extend(s);
        }
        for block in gains.chunks(100) {
            let h0 = block[0];
            assert!(block.iter().all(|h| (h - h0).norm() < 1e-3), "gain changed inside a block");
        }
        let blocks = gains.chunks(100).count() as f64;
        let mean: f64 = gains.chunks(100).map(|b| f64::from(b[0].norm_sqr())).sum::<f64>() / blocks;
        // |h|² ~ Exp(1): sd of the mean over 200 blocks is 1/sqrt(200) = 0.07.
        assert!((mean - 1.0).abs() < 5.0 / blocks.sqrt(), "mean |h|^2 = {mean}");
    }

    #[test]
    fn gilbert_elliott_loss_rate_matches_stationary_formula() {
        let cfg = LinkChannelConfig {
            burst: BurstConfig {
                enabled: true,
                p_good_to_bad: 0.05,
                p_bad_to_good: 0.25,
                loss_good: 0.01,
                loss_bad: 0.9,
            },
            ..LinkChannelConfig::default()
        };
        let mut ch = LinkChannel::new(&cfg, 3).expect("channel");
        let n = 200_000;
        let lost = (0..n).filter(|_| ch.apply_frame(&mut unit_symbols(1)).erased).count();
        let rate = lost as f64 / n as f64;
        let theory = cfg.burst.process().expect("valid").loss_rate();
        // Correlated samples: allow 5 sd of a Markov chain with mean burst 4 frames
        // (variance inflation ~ (1+ρ)/(1-ρ) with ρ = 1 - p_gb - p_bg = 0.7 → ×5.7).
        let sd = (theory * (1.0 - theory) * 5.7 / n as f64).sqrt();
        assert!((rate - theory).abs() < 5.0 * sd, "rate {rate} vs {theory}");
    }

    #[test]
    fn disabled_channel_is_ideal_and_bad_settings_are_refused() {
        let cfg = LinkChannelConfig { enabled: false, erasure_probability: 1.0, ..LinkChannelConfig::default() };
        let mut ch = LinkChannel::new(&cfg, 0).expect("channel");
        let mut s = vec![C32::new(0.3, -0.7); 10];
        let e = ch.apply_frame(&mut s);
        assert!(!e.erased && s.iter().all(|x| *x == C32::new(0.3, -0.7)));
        for bad in [
            LinkChannelConfig { snr_db: f64::NAN, ..LinkChannelConfig::default() },
            LinkChannelConfig { coherence_symbols: 0, ..LinkChannelConfig::default() },
            LinkChannelConfig { erasure_probability: 1.5, ..LinkChannelConfig::default() },
            LinkChannelConfig { rician_k: -1.0, ..LinkChannelConfig::default() },
        ] {
            assert!(LinkChannel::new(&bad, 0).is_err());
        }
    }

    #[test]
    fn same_seed_same_numbers() {
        let cfg =
            LinkChannelConfig { fading: FadingKind::Rician, coherence_symbols: 7, ..LinkChannelConfig::default() };
        let run = || {
            let mut ch = LinkChannel::new(&cfg, 5).expect("channel");
            let mut s = unit_symbols(100);
            ch.apply_frame(&mut s);
            s
        };
        assert_eq!(run(), run());
    }

    /// Recording the gains changes nothing the channel draws, and on noiseless-looking
    /// unit symbols each recorded h is the one applied (frames spanning coherence blocks).
    #[test]
    fn recorded_gains_are_the_applied_ones() {
        let cfg = LinkChannelConfig {
            fading: FadingKind::Rayleigh,
            coherence_symbols: 37,
            snr_db: 80.0,
            erasure_probability: 0.3,
            ..LinkChannelConfig::default()
        };
        let (mut a, mut b) = (LinkChannel::new(&cfg, 2).expect("channel"), LinkChannel::new(&cfg, 2).expect("channel"));
        let mut gains = Vec::new();
        for len in [100, 64, 3, 250] {
            let (mut x, mut y) = (unit_symbols(len), unit_symbols(len));
            let ea = a.apply_frame(&mut x);
            let start = gains.len();
            let eb = b.apply_frame_with_gains(&mut y, &mut gains);
            assert_eq!(ea, eb);
            assert_eq!(x, y);
            assert_eq!(gains.len(), start + len);
            if !eb.erased {
                for (s, h) in y.iter().zip(&gains[start..]) {
                    assert!((*s - *h).norm() < 1e-3, "{s} vs {h}");
                }
            }
        }
        assert!(gains.windows(2).any(|w| w[0] != w[1]));
    }
}
