//! `semcom-sender`: configuration and sockets wired to the sender library.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Result;
use clap::Parser;
use semcom_runtime::Layers;
use semcom_sender::SenderConfig;

/// The semcom sender daemon.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// TOML configuration file.
    #[arg(short, long, env = "SEMCOM_SENDER_CONFIG")]
    config: Option<PathBuf>,
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// gRPC listen address.
    #[arg(long)]
    grpc_listen: Option<SocketAddr>,
    /// QUIC address of the receiver or of channel-sim.
    #[arg(long)]
    peer: Option<SocketAddr>,
    /// Default bandwidth ratio for requests that give none.
    #[arg(long)]
    default_rho: Option<f64>,
    /// Codec for requests that name none.
    #[arg(long, value_parser = ["semantic", "softcast"])]
    codec: Option<String>,
    #[arg(long)]
    json_logs: bool,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    semcom_runtime::init_tracing(args.json_logs);
    let layers = Layers::new("SEMCOM_SENDER")
        .file(args.config.as_deref())
        .set("data_dir", args.data_dir.map(|p| p.display().to_string()))
        .set("grpc_listen", args.grpc_listen)
        .set("peer", args.peer)
        .set("default_rho", args.default_rho)
        .set("codec", args.codec);
    let cfg: SenderConfig = semcom_runtime::load(&layers)?;
    let running = semcom_sender::start(cfg).await?;
    semcom_runtime::shutdown_signal().await;
    running.shutdown().await
}
