//! The symbol stream every codec of this crate sends and receives (docs/architecture.md §2): known
//! pilots at the start of every block of L channel uses, then data symbols — first the
//! digital part (LDPC + QAM), then the analog part.
//!
//! * [`Section`]: a run of symbols of one [`SectionKind`], in transmission order; the wire
//!   layer maps a kind to a frame type.
//! * [`ChannelUseSplit`]: channel uses by purpose.
//! * [`Received`]: the stream after the channel, with what the frame headers said.
//! * Pilots: [`check_pilots`] and [`pilot_pattern`] turn the configured pilot settings
//!   into a [`PilotPattern`]; [`data_capacity`] is what a budget leaves for data;
//!   [`equalise`] gives a channel estimate and noise variance per data symbol.

use semcom_phy::pilots::{Csi, Equalized, Estimator, PilotPattern};
use semcom_phy::C32;

use crate::error::CodecError;

/// What a section of symbols carries; the wire layer maps it to a frame type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize, serde::Serialize)]
pub enum SectionKind {
    /// Known pilot symbols (`semcom_phy::pilots::pilot_sequence`).
    Pilot,
    /// Digital data: LDPC + QAM on the digital link (metadata, headers, prompt records).
    Meta,
    /// Analog symbols (SoftCast coefficients, key-region coefficients).
    Analog,
}

/// A run of symbols of one kind, in transmission order.
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    pub kind: SectionKind,
    pub symbols: Vec<C32>,
}

/// Channel uses by purpose. `total = pilots + meta + analog` is exactly what is sent;
/// `budget = round(ρ·H·W·3)` is what was allowed (`total ≤ budget`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct ChannelUseSplit {
    pub pilots: usize,
    pub meta: usize,
    pub analog: usize,
    pub total: usize,
    pub budget: usize,
}

impl ChannelUseSplit {
    /// Bandwidth ratio actually used, `total / (H·W·3)` (docs/architecture.md §2); 0 for an empty image.
    pub fn rho(&self, height: u32, width: u32) -> f64 {
        let px = height as f64 * width as f64;
        if px > 0.0 {
            self.total as f64 / (3.0 * px)
        } else {
            0.0
        }
    }

    /// Channel uses per pixel, `total / (H·W)`; 0 for an empty image.
    pub fn symbols_per_pixel(&self, height: u32, width: u32) -> f64 {
        3.0 * self.rho(height, width)
    }
}

/// Receiver input: every channel use of the transmission in order (pilots
/// included; lost symbols NaN), and what the frame headers said: how many data
/// symbols are digital (metadata) and at which MCS.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Received {
    pub stream: Vec<C32>,
    pub meta_symbols: usize,
    pub meta_mcs: u8,
}

impl Received {
    /// The sections of a transmission as they were sent (no channel).
    pub fn from_sections<'a>(sections: impl IntoIterator<Item = &'a Section>, meta_mcs: u8) -> Self {
        let mut r = Self { meta_mcs, ..Self::default() };
        for b in sections {
            r.stream.extend_from_slice(&b.symbols);
            if b.kind == SectionKind::Meta {
                r.meta_symbols += b.symbols.len();
            }
        }
        r
    }
}

/// Checks pilot settings: every block of `pilot_block` channel uses starts with
/// `pilots_per_block` pilots, at least 2 (to estimate N0) and fewer than the block.
pub(crate) fn check_pilots(pilot_block: usize, pilots_per_block: usize) -> Result<(), CodecError> {
    if pilots_per_block < 2 || pilot_block <= pilots_per_block {
        return Err(CodecError::InvalidConfig(format!(
            "pilots_per_block = {pilots_per_block} must be at least 2 (to estimate N0) and below \
             pilot_block = {pilot_block}"
        )));
    }
    Ok(())
}

/// The pilot pattern of the settings `(pilot_block, pilots_per_block)`.
pub(crate) fn pilot_pattern(pilot_block: usize, pilots_per_block: usize) -> Result<PilotPattern, CodecError> {
    Ok(PilotPattern::new(pilot_block, pilots_per_block)?)
}

/// Data channel uses that fit in `budget` channel uses once the pilots are in.
pub(crate) fn data_capacity(pattern: &PilotPattern, budget: usize) -> usize {
    let (l, p) = (pattern.block_len(), pattern.pilots_per_block());
    (budget / l) * (l - p) + (budget % l).saturating_sub(p)
}

/// Cuts the pilot-framed stream into sections of one kind, in order: pilots at their
/// pattern positions, then data symbols (the first `meta` of them digital).
pub(crate) fn sections(pattern: &PilotPattern, stream: &[C32], meta: usize) -> Vec<Section> {
    let (l, p) = (pattern.block_len(), pattern.pilots_per_block());
    let mut out: Vec<Section> = Vec::new();
    let mut data_index = 0usize;
    for (pos, &s) in stream.iter().enumerate() {
        let kind = if pos % l < p {
            SectionKind::Pilot
        } else {
            data_index += 1;
            if data_index <= meta {
                SectionKind::Meta
            } else {
                SectionKind::Analog
            }
        };
        match out.last_mut() {
            Some(b) if b.kind == kind => b.symbols.push(s),
            _ => out.push(Section { kind, symbols: vec![s] }),
        }
    }
    out
}

/// All symbols of `sections` concatenated in transmission order.
pub(crate) fn concat(sections: &[Section]) -> Vec<C32> {
    sections.iter().flat_map(|b| b.symbols.iter().copied()).collect()
}

/// Channel estimates and noise for every data symbol of a received stream (LMMSE per
/// pilot block, pooled N̂0). A stream cut inside a pilot block is padded with erasures
/// to a valid length; only then is it copied.
pub(crate) fn equalise(stream: &[C32], pattern: &PilotPattern) -> Result<Equalized, CodecError> {
    let padded: Vec<C32>;
    let rem = stream.len() % pattern.block_len();
    let stream: &[C32] = if rem != 0 && rem <= pattern.pilots_per_block() {
        let mut s = stream.to_vec();
        s.resize(s.len() - rem + pattern.pilots_per_block() + 1, C32::new(f32::NAN, f32::NAN));
        padded = s;
        &padded
    } else {
        stream
    };
    Ok(pattern.extract(stream, None, Estimator::Lmmse, Csi::Estimated)?)
}

/// Mean |ĥ|² over the data symbols that were received.
pub(crate) fn mean_gain(eq: &Equalized) -> f64 {
    let live: Vec<f64> = eq.h.iter().map(|h| f64::from(h.norm_sqr())).filter(|g| *g > 0.0).collect();
    live.iter().sum::<f64>() / live.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_capacity_is_the_largest_data_length_that_fits() {
        for (l, p) in [(1024, 16), (256, 8), (5, 2)] {
            let pattern = PilotPattern::new(l, p).unwrap();
            for budget in 0..3 * l + 7 {
                let cap = data_capacity(&pattern, budget);
                assert!(pattern.total_len(cap) <= budget, "L {l} P {p} budget {budget}: cap {cap}");
                assert!(pattern.total_len(cap + 1) > budget, "L {l} P {p} budget {budget}: cap {cap} not maximal");
            }
        }
    }
}
