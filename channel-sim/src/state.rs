//! The channel settings shared between the relay and the control API, and the
//! proxy's counters.

use std::sync::{Arc, Mutex};

use semcom_proto::v1::{ChannelSettings, ChannelStats};

use crate::config::ChannelModelConfig;

#[derive(Clone)]
pub(crate) struct Shared {
    inner: Arc<Mutex<Inner>>,
}

struct Inner {
    model: ChannelModelConfig,
    transmissions: u64,
    frames: u64,
    symbols: u64,
    signal_energy: f64,
    noise_energy: f64,
}

impl Shared {
    pub fn new(model: ChannelModelConfig) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Inner {
                model,
                transmissions: 0,
                frames: 0,
                symbols: 0,
                signal_energy: 0.0,
                noise_energy: 0.0,
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave these plain numbers
        // inconsistent, so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Settings for a transmission that starts now, and its index (for the seed).
    pub fn begin_transmission(&self) -> (ChannelModelConfig, u64) {
        let mut g = self.lock();
        let n = g.transmissions;
        g.transmissions += 1;
        (g.model.clone(), n)
    }

    pub fn record_frame(&self, symbols: usize, signal_energy: f64, noise_energy: f64) {
        let mut g = self.lock();
        g.frames += 1;
        g.symbols += symbols as u64;
        g.signal_energy += signal_energy;
        g.noise_energy += noise_energy;
    }

    pub fn settings(&self) -> ChannelSettings {
        let g = self.lock();
        ChannelSettings { snr_db: Some(g.model.snr_db), enabled: Some(g.model.enabled), seed: Some(g.model.seed) }
    }

    /// Applies the fields that are set; validates before changing anything.
    pub fn update(&self, req: &ChannelSettings) -> Result<ChannelSettings, String> {
        if let Some(snr) = req.snr_db {
            if !snr.is_finite() || !(-50.0..=100.0).contains(&snr) {
                return Err(format!("snr_db must be a finite value in [-50, 100] dB, got {snr}"));
            }
        }
        {
            let mut g = self.lock();
            if let Some(snr) = req.snr_db {
                g.model.snr_db = snr;
            }
            if let Some(enabled) = req.enabled {
                g.model.enabled = enabled;
            }
            if let Some(seed) = req.seed {
                g.model.seed = seed;
            }
        }
        Ok(self.settings())
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
        }
    }
}
