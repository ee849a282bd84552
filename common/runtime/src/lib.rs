//! What every semcom daemon shares: its command line and layered configuration (TOML
//! file, then environment variables, then command-line flags), the node's TLS identity
//! and the peers it trusts, logging, the gRPC server with health and reflection, and a
//! shutdown signal.

mod daemon;
mod grpc;
mod settings;
mod shutdown;
mod trust;

pub use daemon::{node_credentials, CommandLine, DaemonArgs, DaemonMain, ServerTask, StopSignal};
pub use grpc::{GrpcError, GrpcServer};
pub use settings::{load, ConfigError, Layers};
pub use shutdown::shutdown_signal;
pub use trust::{IdentityConfig, TrustConfig};

/// Installs the global `tracing` subscriber: human-readable or JSON lines on stderr,
/// filtered by `RUST_LOG` (default `info`). Safe to call more than once (later calls
/// are no-ops), so the demo and tests can start several daemons in one process.
pub fn init_tracing(json: bool) {
    use tracing_subscriber::{fmt, EnvFilter};
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if json { builder.json().try_init() } else { builder.try_init() };
}
