//! The three daemons started together on loopback, each pinning the others'
//! certificates — the topology of `semcom demo` and of the end-to-end tests:
//!
//! ```text
//! client ─gRPC─▶ sender ─QUIC─▶ channel-sim ─QUIC─▶ receiver ◀─gRPC─ client
//! ```

use std::net::SocketAddr;
use std::path::Path;

use anyhow::{Context, Result};
use semcom_channel_sim::{ChannelModelConfig, ChannelSimConfig, RunningChannelSim};
use semcom_codec::semantic::SemanticConfig;
use semcom_codec::softcast::SoftCastConfig;
use semcom_models::GeneratorKind;
use semcom_net::Identity;
use semcom_receiver::{ReceiverConfig, RunningReceiver};
use semcom_runtime::TrustConfig;
use semcom_sender::{CodecKind, LimitsConfig, RunningSender, SenderConfig};

use crate::client::Clients;

/// Options of a loopback stack.
#[derive(Debug, Clone)]
pub struct StackOptions {
    /// Initial AWGN Es/N0 of channel-sim, dB.
    pub snr_db: f64,
    pub seed: u64,
    /// The sender's codec for requests that name none.
    pub codec: CodecKind,
    pub semantic: SemanticConfig,
    pub softcast: SoftCastConfig,
    pub default_rho: f64,
    /// Limits on images submitted to the sender.
    pub limits: LimitsConfig,
    /// The receiver's generator (default: the receiver's, the embedded diffusion model).
    pub generator: GeneratorKind,
}

impl Default for StackOptions {
    fn default() -> Self {
        Self {
            snr_db: 10.0,
            seed: 1,
            codec: CodecKind::default(),
            semantic: SemanticConfig::default(),
            softcast: SoftCastConfig::default(),
            default_rho: 1.0 / 32.0,
            limits: LimitsConfig::default(),
            generator: GeneratorKind::default(),
        }
    }
}

pub struct Stack {
    pub receiver: RunningReceiver,
    pub channel_sim: RunningChannelSim,
    pub sender: RunningSender,
}

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

impl Stack {
    /// Starts receiver, channel-sim and sender on loopback with ephemeral ports;
    /// identities live under `base` (one data directory per node).
    pub async fn start(base: &Path, opts: &StackOptions) -> Result<Stack> {
        let dirs = [base.join("receiver"), base.join("channel-sim"), base.join("sender")];
        let names = ["semcom-receiver", "semcom-channel-sim", "semcom-sender"];
        // Identities first, so that every node can pin the others from the start.
        let mut fps = Vec::new();
        for (dir, name) in dirs.iter().zip(names) {
            fps.push(
                Identity::load_or_generate(dir, name).with_context(|| format!("identity of {name}"))?.fingerprint(),
            );
        }
        let (rx_fp, sim_fp, tx_fp) = (fps[0], fps[1], fps[2]);

        let receiver = semcom_receiver::start(ReceiverConfig {
            data_dir: dirs[0].clone(),
            quic_listen: loopback(),
            grpc_listen: loopback(),
            trust: TrustConfig::pinned([sim_fp, tx_fp]),
            semantic: opts.semantic.clone(),
            softcast: opts.softcast.clone(),
            generator: opts.generator,
            ..ReceiverConfig::default()
        })
        .await
        .context("starting receiver")?;
        let channel_sim = semcom_channel_sim::start(ChannelSimConfig {
            data_dir: dirs[1].clone(),
            listen: loopback(),
            upstream: receiver.quic_addr,
            control_listen: loopback(),
            trust: TrustConfig::pinned([tx_fp, rx_fp]),
            channel: ChannelModelConfig {
                enabled: true,
                snr_db: opts.snr_db,
                seed: opts.seed,
                ..ChannelModelConfig::default()
            },
            ..ChannelSimConfig::default()
        })
        .await
        .context("starting channel-sim")?;
        let sender = semcom_sender::start(SenderConfig {
            data_dir: dirs[2].clone(),
            grpc_listen: loopback(),
            peer: channel_sim.quic_addr,
            trust: TrustConfig::pinned([sim_fp]),
            codec: opts.codec,
            semantic: opts.semantic.clone(),
            softcast: opts.softcast.clone(),
            default_rho: opts.default_rho,
            limits: opts.limits.clone(),
            ..SenderConfig::default()
        })
        .await
        .context("starting sender")?;
        Ok(Stack { receiver, channel_sim, sender })
    }

    pub async fn clients(&self) -> Result<Clients> {
        Clients::connect(
            &format!("http://{}", self.sender.grpc_addr),
            &format!("http://{}", self.receiver.grpc_addr),
            Some(&format!("http://{}", self.channel_sim.control_addr)),
        )
        .await
    }

    pub async fn shutdown(self) -> Result<()> {
        self.sender.shutdown().await?;
        self.channel_sim.shutdown().await?;
        self.receiver.shutdown().await
    }
}
