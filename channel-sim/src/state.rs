//! The channel settings shared between the relay and the control API, and the
//! proxy's counters.

use std::sync::{Arc, Mutex};

use semcom_proto::v1::{ChannelSettings, ChannelStats, Fading, GilbertElliott};

use crate::config::{BurstConfig, ChannelModelConfig, FadingKind, NetworkConfig};

#[derive(Clone)]
pub(crate) struct Shared {
    inner: Arc<Mutex<Inner>>,
}

struct Inner {
    channel: ChannelModelConfig,
    network: NetworkConfig,
    transmissions: u64,
    frames: u64,
    symbols: u64,
    frames_erased: u64,
    symbols_erased: u64,
    signal_energy: f64,
    noise_energy: f64,
    gain_energy: f64,
    delay_ms_total: f64,
}

/// What the relay reports after each frame.
pub(crate) struct FrameRecord {
    pub symbols: usize,
    pub erased: bool,
    pub signal_energy: f64,
    pub noise_energy: f64,
    pub gain_energy: f64,
    pub delay_ms: f64,
}

impl Shared {
    pub fn new(channel: ChannelModelConfig, network: NetworkConfig) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Inner {
                channel,
                network,
                transmissions: 0,
                frames: 0,
                symbols: 0,
                frames_erased: 0,
                symbols_erased: 0,
                signal_energy: 0.0,
                noise_energy: 0.0,
                gain_energy: 0.0,
                delay_ms_total: 0.0,
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Plain numbers cannot be left inconsistent by a panic elsewhere, so a
        // poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Settings for a transmission that starts now, and its index (for the seed).
    pub fn begin_transmission(&self) -> (ChannelModelConfig, NetworkConfig, u64) {
        let mut g = self.lock();
        let n = g.transmissions;
        g.transmissions += 1;
        (g.channel.clone(), g.network.clone(), n)
    }

    pub fn record_frame(&self, r: &FrameRecord) {
        let mut g = self.lock();
        g.frames += 1;
        g.delay_ms_total += r.delay_ms;
        if r.erased {
            g.frames_erased += 1;
            g.symbols_erased += r.symbols as u64;
            return;
        }
        g.symbols += r.symbols as u64;
        g.signal_energy += r.signal_energy;
        g.noise_energy += r.noise_energy;
        g.gain_energy += r.gain_energy;
    }

    pub fn settings(&self) -> ChannelSettings {
        let g = self.lock();
        to_proto(&g.channel, &g.network)
    }

    /// Applies the fields that are set, after validating the result as a whole.
    pub fn update(&self, req: &ChannelSettings) -> Result<ChannelSettings, String> {
        let mut g = self.lock();
        let (mut channel, mut network) = (g.channel.clone(), g.network.clone());
        apply_proto(req, &mut channel, &mut network)?;
        channel.validate().map_err(|e| e.to_string())?;
        network.validate()?;
        g.channel = channel;
        g.network = network;
        Ok(to_proto(&g.channel, &g.network))
    }

    pub fn stats(&self) -> ChannelStats {
        let g = self.lock();
        let n = g.symbols.max(1) as f64;
        ChannelStats {
            transmissions: g.transmissions,
            frames: g.frames,
            symbols: g.symbols,
            signal_power: g.signal_energy / n,
            noise_power: g.noise_energy / n,
            mean_channel_gain: g.gain_energy / n,
            frames_erased: g.frames_erased,
            symbols_erased: g.symbols_erased,
            mean_delay_ms: g.delay_ms_total / g.frames.max(1) as f64,
            settings: Some(to_proto(&g.channel, &g.network)),
        }
    }
}

fn to_proto(c: &ChannelModelConfig, n: &NetworkConfig) -> ChannelSettings {
    let fading = match c.fading {
        FadingKind::None => Fading::None,
        FadingKind::Rayleigh => Fading::Rayleigh,
        FadingKind::Rician => Fading::Rician,
    };
    ChannelSettings {
        snr_db: Some(c.snr_db),
        enabled: Some(c.enabled),
        seed: Some(c.seed),
        fading: fading as i32,
        rician_k: Some(c.rician_k),
        coherence_symbols: Some(c.coherence_symbols),
        erasure_probability: Some(c.erasure_probability),
        burst: Some(GilbertElliott {
            enabled: c.burst.enabled,
            p_good_to_bad: c.burst.p_good_to_bad,
            p_bad_to_good: c.burst.p_bad_to_good,
            loss_good: c.burst.loss_good,
            loss_bad: c.burst.loss_bad,
        }),
        delay_ms: Some(n.delay_ms),
        jitter_ms: Some(n.jitter_ms),
        rate_symbols_per_s: Some(n.rate_symbols_per_s),
    }
}

fn apply_proto(r: &ChannelSettings, c: &mut ChannelModelConfig, n: &mut NetworkConfig) -> Result<(), String> {
    if let Some(v) = r.snr_db {
        c.snr_db = v;
    }
    if let Some(v) = r.enabled {
        c.enabled = v;
    }
    if let Some(v) = r.seed {
        c.seed = v;
    }
    match Fading::try_from(r.fading).map_err(|_| format!("unknown fading model {}", r.fading))? {
        Fading::Unspecified => {}
        Fading::None => c.fading = FadingKind::None,
        Fading::Rayleigh => c.fading = FadingKind::Rayleigh,
        Fading::Rician => c.fading = FadingKind::Rician,
    }
    if let Some(v) = r.rician_k {
        c.rician_k = v;
    }
    if let Some(v) = r.coherence_symbols {
        c.coherence_symbols = v;
    }
    if let Some(v) = r.erasure_probability {
        c.erasure_probability = v;
    }
    if let Some(b) = &r.burst {
        c.burst = BurstConfig {
            enabled: b.enabled,
            p_good_to_bad: b.p_good_to_bad,
            p_bad_to_good: b.p_bad_to_good,
            loss_good: b.loss_good,
            loss_bad: b.loss_bad,
        };
    }
    if let Some(v) = r.delay_ms {
        n.delay_ms = v;
    }
    if let Some(v) = r.jitter_ms {
        n.jitter_ms = v;
    }
    if let Some(v) = r.rate_symbols_per_s {
        n.rate_symbols_per_s = v;
    }
    Ok(())
}
