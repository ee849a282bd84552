//! `semcom-sender`: configuration and sockets wired to the sender library.

use std::net::SocketAddr;

use anyhow::Result;
use semcom_runtime::DaemonMain;
use serde::Serialize;

const MAIN: DaemonMain = semcom_runtime::daemon_main!("SEMCOM_SENDER");

/// The sender's own flags, each named after the configuration key it sets.
#[derive(Debug, clap::Args, Serialize)]
struct Flags {
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
}

#[tokio::main]
async fn main() -> Result<()> {
    MAIN.run(MAIN.parse::<Flags>(), semcom_sender::start, semcom_sender::RunningSender::shutdown).await
}
