//! The semcom sender daemon: a gRPC API (`Submit`, `Watch`) takes images, the codec
//! library encodes them into channel symbols, and a QUIC link (mutual TLS) streams
//! them to the configured peer — the receiver, or channel-sim in front of it.
//!
//! The binary (`semcom-sender`) only wires configuration to [`start`]; the demo and
//! the end-to-end tests call [`start`] directly.

mod api;
mod codec;
pub mod config;
mod jobs;
mod link;

use std::net::SocketAddr;

use anyhow::{Context, Result};
use semcom_net::Fingerprint;
use semcom_proto::v1::sender_server::SenderServer;
use semcom_runtime::{node_credentials, GrpcError, GrpcServer, ServerTask};
use tokio::sync::mpsc;

pub use codec::CodecKind;
pub use config::{LimitsConfig, SenderConfig};
pub use link::modulation;

/// Jobs waiting for the link beyond this many make `Submit` wait (back-pressure).
const QUEUE_DEPTH: usize = 64;

pub struct RunningSender {
    pub grpc_addr: SocketAddr,
    pub fingerprint: Fingerprint,
    task: ServerTask<GrpcError>,
}

impl RunningSender {
    pub async fn shutdown(self) -> Result<()> {
        Ok(self.task.shutdown().await?)
    }
}

pub async fn start(cfg: SenderConfig) -> Result<RunningSender> {
    // A bad codec section should stop the daemon at start, not fail every request.
    cfg.semantic.validate().context("[semantic] configuration")?;
    cfg.softcast.validate().context("[softcast] configuration")?;
    let (identity, trust) = node_credentials(&cfg.data_dir, &cfg.node_name, &cfg.identity, &cfg.trust)
        .context("node identity and trust")?;
    let fingerprint = identity.fingerprint();
    let bind: SocketAddr = if cfg.peer.is_ipv6() { "[::]:0".parse()? } else { "0.0.0.0:0".parse()? };
    let endpoint = semcom_net::client_endpoint(bind, &identity, &trust).context("QUIC endpoint")?;

    let jobs = jobs::Jobs::new(cfg.jobs_retained);
    let (queue_tx, queue_rx) = mpsc::channel(QUEUE_DEPTH);
    let link =
        link::Link { endpoint: endpoint.clone(), peer: cfg.peer, peer_name: cfg.peer_name.clone(), jobs: jobs.clone() };
    let api = api::SenderApi {
        jobs,
        queue: queue_tx,
        limits: cfg.limits.image_limits(),
        codecs: codec::Codecs { softcast: cfg.softcast.clone(), semantic: cfg.semantic.clone() },
        default_codec: cfg.codec,
        default_rho: cfg.default_rho,
        frame_symbols: cfg.frame_symbols,
    };
    // Requests larger than the image limit plus room for the other fields are cut
    // off by tonic itself; up to that size our own check answers INVALID_ARGUMENT.
    let max_message = cfg.limits.max_input_bytes.saturating_mul(2).saturating_add(1 << 20);
    let grpc = GrpcServer::bind(cfg.grpc_listen, SenderServer::new(api).max_decoding_message_size(max_message)).await?;
    let grpc_addr = grpc.local_addr();

    tracing::info!(%grpc_addr, peer = %cfg.peer, %fingerprint, "sender listening");
    let link_task = tokio::spawn(link.run(queue_rx));
    let task = grpc.spawn(async move {
        link_task.abort();
        endpoint.close(0u32.into(), b"sender shutting down");
        endpoint.wait_idle().await;
    });
    Ok(RunningSender { grpc_addr, fingerprint, task })
}
