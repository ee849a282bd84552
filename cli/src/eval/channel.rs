//! The channel every method's stream crosses: `semcom_phy::link_channel`, the very
//! code channel-sim and the sender's in-process simulation run, applied frame by frame
//! as the sender frames a transmission (each section cut into frames of
//! [`FRAME_SYMBOLS`]); an erased frame arrives as NaN symbols, as the receiver sees it.

use anyhow::{bail, Result};
use semcom_codec::stream::Section;
use semcom_codec::C32;
use semcom_dsp::rng::mix;
use semcom_phy::link_channel::{FadingKind, LinkChannel, LinkChannelConfig};

/// Symbols per wire frame (the sender's default `frame_symbols`).
pub const FRAME_SYMBOLS: usize = 1024;

/// Which channel model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChannelKind {
    Awgn,
    /// Rayleigh block fading; the receiver estimates h from the codecs' pilots.
    Rayleigh,
}

impl ChannelKind {
    pub fn name(self) -> &'static str {
        match self {
            ChannelKind::Awgn => "awgn",
            ChannelKind::Rayleigh => "rayleigh",
        }
    }
}

impl std::str::FromStr for ChannelKind {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim() {
            "awgn" => Ok(ChannelKind::Awgn),
            "rayleigh" => Ok(ChannelKind::Rayleigh),
            other => bail!("unknown channel {other:?}: awgn or rayleigh"),
        }
    }
}

/// Everything that defines one cell's channel.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChannelSpec {
    pub kind: ChannelKind,
    pub snr_db: f64,
    /// Block-fading coherence, symbols.
    pub coherence: u32,
    /// Independent per-frame erasure probability.
    pub erasure: f64,
    pub seed: u64,
}

impl ChannelSpec {
    pub fn config(&self) -> LinkChannelConfig {
        LinkChannelConfig {
            enabled: true,
            snr_db: self.snr_db,
            seed: self.seed,
            fading: match self.kind {
                ChannelKind::Awgn => FadingKind::None,
                ChannelKind::Rayleigh => FadingKind::Rayleigh,
            },
            coherence_symbols: self.coherence,
            erasure_probability: self.erasure,
            ..LinkChannelConfig::default()
        }
    }
}

/// What came out of the channel: the whole stream in order and the frames lost.
pub struct ChannelOutput {
    pub stream: Vec<C32>,
    pub erased_frames: usize,
}

/// Sends a transmission's sections through the channel. Every call with the same spec
/// draws the same fading, noise and erasures sequence (seeded from `spec.seed`).
pub fn transmit(sections: &[Section], spec: &ChannelSpec) -> Result<ChannelOutput> {
    run_frames(sections, spec, None)
}

/// [`transmit`], also returning the true gain h of every symbol (for the perfect-CSI
/// reference lines): the same frames, draws and output.
pub fn transmit_with_gains(sections: &[Section], spec: &ChannelSpec) -> Result<(ChannelOutput, Vec<C32>)> {
    let mut gains = Vec::new();
    let out = run_frames(sections, spec, Some(&mut gains))?;
    Ok((out, gains))
}

fn run_frames(sections: &[Section], spec: &ChannelSpec, mut gains: Option<&mut Vec<C32>>) -> Result<ChannelOutput> {
    let mut ch = LinkChannel::new(&spec.config(), 0)?;
    let mut stream = Vec::with_capacity(sections.iter().map(|s| s.symbols.len()).sum());
    let mut erased_frames = 0;
    for section in sections {
        for frame in section.symbols.chunks(FRAME_SYMBOLS) {
            let start = stream.len();
            stream.extend_from_slice(frame);
            let f = &mut stream[start..];
            let effect = match gains.as_mut() {
                Some(g) => ch.apply_frame_with_gains(f, g),
                None => ch.apply_frame(f),
            };
            if effect.erased {
                f.fill(C32::new(f32::NAN, f32::NAN));
                erased_frames += 1;
            }
        }
    }
    Ok(ChannelOutput { stream, erased_frames })
}

/// A stable 64-bit hash (FNV-1a, then a SplitMix64 finaliser), so that seeds derived
/// from names do not change with the Rust version (std's hasher may).
pub fn stable_hash(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain(std::iter::once(0x1f)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    mix(h)
}

/// The channel seed of a cell: every method of one (image, channel, ρ, SNR,
/// realisation) sees the same channel draw.
pub fn cell_seed(base: u64, image: &str, channel: ChannelKind, rho: f64, snr_db: f64, realisation: u32) -> u64 {
    stable_hash(&[
        &base.to_string(),
        image,
        channel.name(),
        &format!("{rho:.9}"),
        &format!("{snr_db:.6}"),
        &realisation.to_string(),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use semcom_codec::stream::SectionKind;

    fn segs() -> Vec<Section> {
        vec![
            Section { kind: SectionKind::Pilot, symbols: vec![C32::new(1.0, 0.0); 16] },
            Section { kind: SectionKind::Analog, symbols: vec![C32::new(0.5, -0.5); 3000] },
        ]
    }

    #[test]
    fn same_seed_same_channel_and_erasures_become_nan() {
        let spec = ChannelSpec { kind: ChannelKind::Rayleigh, snr_db: 5.0, coherence: 64, erasure: 0.0, seed: 9 };
        let a = transmit(&segs(), &spec).unwrap();
        let b = transmit(&segs(), &spec).unwrap();
        assert_eq!(a.stream, b.stream);
        assert_eq!(a.stream.len(), 3016);
        let c = transmit(&segs(), &ChannelSpec { seed: 10, ..spec }).unwrap();
        assert_ne!(a.stream, c.stream);
        // Every frame lost: 1 pilot frame + 3 analog frames (1024, 1024, 952).
        let lost = transmit(&segs(), &ChannelSpec { erasure: 1.0, ..spec }).unwrap();
        assert_eq!(lost.erased_frames, 4);
        assert!(lost.stream.iter().all(|s| s.re.is_nan() && s.im.is_nan()));
    }

    #[test]
    fn cell_seeds_differ_per_coordinate() {
        let s = cell_seed(1, "a", ChannelKind::Awgn, 1.0 / 32.0, 10.0, 0);
        assert_eq!(s, cell_seed(1, "a", ChannelKind::Awgn, 1.0 / 32.0, 10.0, 0));
        for other in [
            cell_seed(2, "a", ChannelKind::Awgn, 1.0 / 32.0, 10.0, 0),
            cell_seed(1, "b", ChannelKind::Awgn, 1.0 / 32.0, 10.0, 0),
            cell_seed(1, "a", ChannelKind::Rayleigh, 1.0 / 32.0, 10.0, 0),
            cell_seed(1, "a", ChannelKind::Awgn, 1.0 / 16.0, 10.0, 0),
            cell_seed(1, "a", ChannelKind::Awgn, 1.0 / 32.0, 12.5, 0),
            cell_seed(1, "a", ChannelKind::Awgn, 1.0 / 32.0, 10.0, 1),
        ] {
            assert_ne!(s, other);
        }
    }

    #[test]
    fn gains_come_with_the_same_output() {
        let spec = ChannelSpec { kind: ChannelKind::Rayleigh, snr_db: 60.0, coherence: 100, erasure: 0.2, seed: 4 };
        let a = transmit(&segs(), &spec).unwrap();
        let (b, gains) = transmit_with_gains(&segs(), &spec).unwrap();
        assert_eq!(format!("{:?}", a.stream), format!("{:?}", b.stream)); // NaN-safe
        assert_eq!(a.erased_frames, b.erased_frames);
        assert_eq!(gains.len(), 3016);
        // Sent symbols are (1, 0) then (0.5, -0.5): y ≈ h·x where not erased.
        for (i, (y, h)) in b.stream.iter().zip(&gains).enumerate() {
            let x = if i < 16 { C32::new(1.0, 0.0) } else { C32::new(0.5, -0.5) };
            assert!(y.re.is_nan() || (*y - *h * x).norm() < 1e-2, "{i}: {y} vs {h}");
        }
        let awgn = ChannelSpec { kind: ChannelKind::Awgn, ..spec };
        assert!(transmit_with_gains(&segs(), &awgn).unwrap().1.iter().all(|h| *h == C32::new(1.0, 0.0)));
    }
}
