//! `semcom-channel-sim`: configuration and sockets wired to the proxy library.

use std::net::SocketAddr;

use anyhow::Result;
use semcom_runtime::DaemonMain;
use serde::Serialize;

const MAIN: DaemonMain = semcom_runtime::daemon_main!("SEMCOM_CHANNEL_SIM");

/// channel-sim's own flags, each named after the configuration key it sets.
#[derive(Debug, clap::Args, Serialize)]
struct Flags {
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
    #[serde(rename = "channel.snr_db")]
    snr_db: Option<f64>,
}

#[tokio::main]
async fn main() -> Result<()> {
    MAIN.run(MAIN.parse::<Flags>(), semcom_channel_sim::start, semcom_channel_sim::RunningChannelSim::shutdown).await
}
