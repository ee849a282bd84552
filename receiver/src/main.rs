//! `semcom-receiver`: configuration and sockets wired to the receiver library.

use std::net::SocketAddr;

use anyhow::Result;
use semcom_runtime::DaemonMain;
use serde::Serialize;

const MAIN: DaemonMain = semcom_runtime::daemon_main!("SEMCOM_RECEIVER");

/// The receiver's own flags, each named after the configuration key it sets.
#[derive(Debug, clap::Args, Serialize)]
struct Flags {
    /// QUIC listen address.
    #[arg(long)]
    quic_listen: Option<SocketAddr>,
    /// gRPC listen address.
    #[arg(long)]
    grpc_listen: Option<SocketAddr>,
}

#[tokio::main]
async fn main() -> Result<()> {
    MAIN.run(MAIN.parse::<Flags>(), semcom_receiver::start, semcom_receiver::RunningReceiver::shutdown).await
}
