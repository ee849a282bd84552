//! channel-sim: the channel-impairment proxy between sender and receiver. It
//! terminates QUIC (mutual TLS) on both sides, applies the channel model to every
//! symbol frame (block fading, AWGN, frame erasures; see
//! `semcom_phy::link_channel`) and the network impairments (delay, jitter, rate
//! limit) to the stream, and exposes a gRPC control
//! API to read and change the channel while it runs. A change applies to the
//! transmissions that start after it, so each transmission sees one channel.

mod api;
pub mod config;
mod relay;
mod state;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result};
use semcom_net::Fingerprint;
use semcom_proto::v1::channel_control_server::ChannelControlServer;
use semcom_runtime::{node_credentials, GrpcError, GrpcServer, ServerTask};

pub use config::{BurstConfig, ChannelModelConfig, ChannelSimConfig, FadingKind, NetworkConfig};

pub struct RunningChannelSim {
    pub quic_addr: SocketAddr,
    pub control_addr: SocketAddr,
    pub fingerprint: Fingerprint,
    task: ServerTask<GrpcError>,
}

impl RunningChannelSim {
    pub async fn shutdown(self) -> Result<()> {
        Ok(self.task.shutdown().await?)
    }
}

pub async fn start(cfg: ChannelSimConfig) -> Result<RunningChannelSim> {
    let (identity, trust) = node_credentials(&cfg.data_dir, &cfg.node_name, &cfg.identity, &cfg.trust)
        .context("node identity and trust")?;
    let fingerprint = identity.fingerprint();
    // Validate the channel before accepting anything.
    cfg.channel.validate().context("[channel] settings")?;
    cfg.network.validate().map_err(anyhow::Error::msg).context("[network] settings")?;

    let server = semcom_net::server_endpoint(cfg.listen, &identity, &trust).context("QUIC server endpoint")?;
    let quic_addr = server.local_addr()?;
    let unspecified: SocketAddr = if cfg.upstream.is_ipv6() { "[::]:0".parse()? } else { "0.0.0.0:0".parse()? };
    let client = semcom_net::client_endpoint(unspecified, &identity, &trust).context("QUIC client endpoint")?;

    let shared = state::Shared::new(cfg.channel.clone(), cfg.network.clone());
    let upstream = Arc::new(relay::Upstream {
        endpoint: client.clone(),
        addr: cfg.upstream,
        server_name: cfg.upstream_name.clone(),
    });
    let control = ChannelControlServer::new(api::ControlApi { shared: shared.clone() });
    let grpc = GrpcServer::bind(cfg.control_listen, control).await.context("control API")?;
    let control_addr = grpc.local_addr();

    tracing::info!(%quic_addr, %control_addr, upstream = %cfg.upstream, %fingerprint,
        snr_db = cfg.channel.snr_db, "channel-sim listening");
    let relay_task = tokio::spawn(relay::serve(server.clone(), upstream, shared));
    let task = grpc.spawn(async move {
        server.close(0u32.into(), b"channel-sim shutting down");
        client.close(0u32.into(), b"channel-sim shutting down");
        relay_task.abort();
        server.wait_idle().await;
        client.wait_idle().await;
    });
    Ok(RunningChannelSim { quic_addr, control_addr, fingerprint, task })
}
