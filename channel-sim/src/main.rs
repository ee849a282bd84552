//! `semcom-channel-sim`: configuration and sockets wired to the proxy library.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Result;
use clap::Parser;
use semcom_channel_sim::ChannelSimConfig;
use semcom_runtime::Layers;

/// The semcom channel-impairment proxy.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// TOML configuration file.
    #[arg(short, long, env = "SEMCOM_CHANNEL_SIM_CONFIG")]
    config: Option<PathBuf>,
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// QUIC listen address (senders connect here).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// The receiver's QUIC address.
    #[arg(long)]
    upstream: Option<SocketAddr>,
    /// gRPC control API listen address.
    #[arg(long)]
    control_listen: Option<SocketAddr>,
    /// AWGN Es/N0 in dB.
    #[arg(long)]
    snr_db: Option<f64>,
    #[arg(long)]
    json_logs: bool,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    semcom_runtime::init_tracing(args.json_logs);
    let layers = Layers::new("SEMCOM_CHANNEL_SIM")
        .file(args.config.as_deref())
        .set("data_dir", args.data_dir.map(|p| p.display().to_string()))
        .set("listen", args.listen)
        .set("upstream", args.upstream)
        .set("control_listen", args.control_listen)
        .set("channel.snr_db", args.snr_db);
    let cfg: ChannelSimConfig = semcom_runtime::load(&layers)?;
    let running = semcom_channel_sim::start(cfg).await?;
    semcom_runtime::shutdown_signal().await;
    running.shutdown().await
}
