use std::net::SocketAddr;
use std::path::PathBuf;

use semcom_runtime::{IdentityConfig, TrustConfig};
use serde::Deserialize;

/// channel-sim configuration (TOML file, `SEMCOM_CHANNEL_SIM__*` environment, flags).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ChannelSimConfig {
    pub node_name: String,
    /// Identity files (generated here on first start).
    pub data_dir: PathBuf,
    /// QUIC listen address (the sender connects here).
    pub listen: SocketAddr,
    /// The receiver's QUIC address.
    pub upstream: SocketAddr,
    /// TLS server name of the receiver (checked in CA mode; pinning ignores names).
    pub upstream_name: String,
    /// gRPC control API listen address.
    pub control_listen: SocketAddr,
    pub identity: IdentityConfig,
    /// Peers accepted on both sides (the sender's and the receiver's certificates).
    pub trust: TrustConfig,
    pub channel: ChannelModelConfig,
    pub network: NetworkConfig,
}

/// Network impairments in front of the channel.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct NetworkConfig {
    /// One-way delay added to every frame, ms.
    pub delay_ms: f64,
    /// Uniform jitter ± this many ms around the delay (frames stay in order).
    pub jitter_ms: f64,
    /// Symbol-rate limit, symbols per second; 0 = unlimited, otherwise at least
    /// [`MIN_RATE_SYMBOLS_PER_S`].
    pub rate_symbols_per_s: f64,
}

impl NetworkConfig {
    pub fn validate(&self) -> Result<(), String> {
        for (name, v) in [("delay_ms", self.delay_ms), ("jitter_ms", self.jitter_ms)] {
            if !v.is_finite() || !(0.0..=60_000.0).contains(&v) {
                return Err(format!("{name} must be within [0, 60000] ms, got {v}"));
            }
        }
        let rate = self.rate_symbols_per_s;
        if !rate.is_finite() || !(rate == 0.0 || rate >= MIN_RATE_SYMBOLS_PER_S) {
            return Err(format!(
                "rate_symbols_per_s must be 0 (unlimited) or at least {MIN_RATE_SYMBOLS_PER_S} symbol/s, got {rate}"
            ));
        }
        Ok(())
    }
}

/// Slowest rate limit accepted: below it one frame would take days to serialise, which is
/// no channel anyone means to simulate.
pub const MIN_RATE_SYMBOLS_PER_S: f64 = 1.0;

impl Default for ChannelSimConfig {
    fn default() -> Self {
        Self {
            node_name: "semcom-channel-sim".into(),
            data_dir: PathBuf::from("./data/channel-sim"),
            listen: SocketAddr::from(([0, 0, 0, 0], 4434)),
            upstream: SocketAddr::from(([127, 0, 0, 1], 4433)),
            upstream_name: "localhost".into(),
            control_listen: SocketAddr::from(([127, 0, 0, 1], 50053)),
            identity: IdentityConfig::default(),
            trust: TrustConfig::default(),
            channel: ChannelModelConfig::default(),
            network: NetworkConfig::default(),
        }
    }
}

pub use semcom_phy::link_channel::{BurstConfig, FadingKind, LinkChannelConfig as ChannelModelConfig};

#[cfg(test)]
mod tests {
    use super::*;

    /// A rate limit is 0 (none) or a real rate: a vanishing one is refused with the key
    /// and the floor named, as are negative and non-finite ones.
    #[test]
    fn rate_limits_below_the_floor_are_refused() {
        let net = |rate_symbols_per_s| NetworkConfig { rate_symbols_per_s, ..NetworkConfig::default() };
        for ok in [0.0, MIN_RATE_SYMBOLS_PER_S, 2e6] {
            assert!(net(ok).validate().is_ok(), "{ok}");
        }
        for bad in [1e-20, 0.5, -1.0, f64::NAN, f64::INFINITY] {
            let err = net(bad).validate().expect_err("refused");
            assert!(err.contains("rate_symbols_per_s") && err.contains("at least 1"), "{bad}: {err}");
        }
    }
}
