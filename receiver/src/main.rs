//! `semcom-receiver`: configuration and sockets wired to the receiver library.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Result;
use clap::Parser;
use semcom_receiver::ReceiverConfig;
use semcom_runtime::Layers;

/// The semcom receiver daemon.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// TOML configuration file.
    #[arg(short, long, env = "SEMCOM_RECEIVER_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory (identity and results).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// QUIC listen address.
    #[arg(long)]
    quic_listen: Option<SocketAddr>,
    /// gRPC listen address.
    #[arg(long)]
    grpc_listen: Option<SocketAddr>,
    /// Log as JSON lines.
    #[arg(long)]
    json_logs: bool,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    semcom_runtime::init_tracing(args.json_logs);
    let layers = Layers::new("SEMCOM_RECEIVER")
        .file(args.config.as_deref())
        .set("data_dir", args.data_dir.map(|p| p.display().to_string()))
        .set("quic_listen", args.quic_listen)
        .set("grpc_listen", args.grpc_listen);
    let cfg: ReceiverConfig = semcom_runtime::load(&layers)?;
    let running = semcom_receiver::start(cfg).await?;
    semcom_runtime::shutdown_signal().await;
    running.shutdown().await
}
