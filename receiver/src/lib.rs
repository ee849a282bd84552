//! The semcom receiver daemon: accepts transmissions over QUIC (mutual TLS),
//! reconstructs each image with the codec its header names (semantic or SoftCast),
//! stores it atomically (PNG + JSON metadata, and for the semantic codec the key
//! mask and the prompt), and serves the results over gRPC (List, Get, Watch).
//!
//! The binary (`semcom-receiver`) only wires configuration to [`start`]; the demo
//! and the end-to-end tests call [`start`] directly.

mod api;
pub mod config;
mod decode;
mod link;
mod store;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{anyhow, Context, Result};
use semcom_net::Fingerprint;
use semcom_proto::v1::receiver_server::ReceiverServer;
use semcom_runtime::{node_credentials, GrpcError, GrpcServer, ServerTask};

pub use config::ReceiverConfig;
pub use store::{ChannelUses, RepairMeta, ResultMeta, SemanticMeta};

/// A started receiver: its bound addresses and certificate fingerprint.
pub struct RunningReceiver {
    pub quic_addr: SocketAddr,
    pub grpc_addr: SocketAddr,
    pub fingerprint: Fingerprint,
    task: ServerTask<GrpcError>,
}

impl RunningReceiver {
    /// Stops accepting, closes connections and waits for the servers to end.
    pub async fn shutdown(self) -> Result<()> {
        Ok(self.task.shutdown().await?)
    }
}

/// Binds the QUIC and gRPC sockets and starts serving.
pub async fn start(cfg: ReceiverConfig) -> Result<RunningReceiver> {
    // A bad codec section should stop the daemon at start, not fail every transmission;
    // checked before anything is written to the data directory.
    cfg.semantic.validate().context("[semantic] configuration")?;
    cfg.softcast.validate().context("[softcast] configuration")?;
    if cfg.max_concurrent_decodes == 0 {
        return Err(anyhow!("max_concurrent_decodes must be at least 1"));
    }
    let (identity, trust) = node_credentials(&cfg.data_dir, &cfg.node_name, &cfg.identity, &cfg.trust)
        .context("node identity and trust")?;
    let fingerprint = identity.fingerprint();
    // Built once here (loading and dequantizing a model takes a moment) and shared by
    // every decode; a bad `[diffusion]` section stops the daemon at start.
    let (kind, settings) = (cfg.generator, cfg.diffusion.clone());
    let generator = tokio::task::spawn_blocking(move || kind.build(&settings))
        .await
        .context("generator task")?
        .with_context(|| format!("generator = {:?}", cfg.generator.name()))?;
    tracing::info!(generator = generator.name(), "generator ready");
    let store = store::Store::open(&cfg.results_dir())?;

    let endpoint = semcom_net::server_endpoint(cfg.quic_listen, &identity, &trust).context("QUIC endpoint")?;
    let quic_addr = endpoint.local_addr()?;

    let ctx = Arc::new(link::LinkContext {
        store: store.clone(),
        decoders: decode::Decoders { softcast: cfg.softcast.clone(), semantic: cfg.semantic.clone(), generator },
        max_symbols: cfg.max_symbols,
        max_dimension: cfg.max_dimension,
        decode_slots: Arc::new(tokio::sync::Semaphore::new(cfg.max_concurrent_decodes)),
    });
    let grpc = GrpcServer::bind(cfg.grpc_listen, ReceiverServer::new(api::ReceiverApi { store })).await?;
    let grpc_addr = grpc.local_addr();

    tracing::info!(%quic_addr, %grpc_addr, %fingerprint, "receiver listening");
    let quic_task = tokio::spawn(link::serve(endpoint.clone(), ctx));
    let task = grpc.spawn(async move {
        endpoint.close(0u32.into(), b"receiver shutting down");
        quic_task.abort();
        endpoint.wait_idle().await;
    });
    Ok(RunningReceiver { quic_addr, grpc_addr, fingerprint, task })
}

#[cfg(test)]
mod tests {
    use semcom_models::GeneratorKind;

    use super::*;

    /// A configuration that could never decode anything stops the daemon at start, with
    /// the key named, before it writes anything (no identity generated).
    #[tokio::test]
    async fn zero_decode_slots_is_a_startup_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = ReceiverConfig {
            data_dir: dir.path().to_path_buf(),
            quic_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            grpc_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            generator: GeneratorKind::Classical,
            max_concurrent_decodes: 0,
            ..ReceiverConfig::default()
        };
        let err = start(cfg).await.err().expect("refused");
        assert!(format!("{err:#}").contains("max_concurrent_decodes"), "{err:#}");
        assert_eq!(std::fs::read_dir(dir.path()).expect("data dir").count(), 0, "files written");
    }
}
