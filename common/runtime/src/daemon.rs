//! What every daemon does around its servers: read its command line and
//! configuration, prepare the node's credentials, run the servers as one task that a
//! stop signal ends, and stop on Ctrl-C or SIGTERM.

use std::future::Future;
use std::path::{Path, PathBuf};

use semcom_net::{Identity, NetError, PeerTrust};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::oneshot;
use tokio::task::{JoinError, JoinHandle};

use crate::{load, shutdown_signal, ConfigError, IdentityConfig, Layers, TrustConfig};

/// Command-line flags every daemon has.
#[derive(Debug, clap::Args)]
pub struct DaemonArgs {
    /// TOML configuration file.
    #[arg(short, long)]
    pub config: Option<PathBuf>,
    /// Data directory (the node's identity, and the receiver's results).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Log as JSON lines.
    #[arg(long)]
    pub json_logs: bool,
}

/// A daemon's command line: the flags every daemon has, then its own (`F`), each of
/// those named after the configuration key it sets (a dotted key where the field is
/// renamed, `#[serde(rename = "channel.snr_db")]`).
#[derive(Debug, clap::Parser)]
pub struct CommandLine<F: clap::Args> {
    #[command(flatten)]
    pub daemon: DaemonArgs,
    #[command(flatten)]
    pub flags: F,
}

/// What a daemon binary states besides its flags: its name and description, and the
/// environment variables its configuration comes from. [`daemon_main!`](crate::daemon_main)
/// fills it in from the binary's package and one environment prefix.
pub struct DaemonMain {
    /// The binary's name and one-line description, for `--version` and `--help`.
    pub name: &'static str,
    pub about: &'static str,
    /// Prefix of the configuration's environment variables: `SEMCOM_SENDER` reads
    /// `SEMCOM_SENDER__PEER` and so on ([`Layers`]).
    pub env_prefix: &'static str,
    /// The variable that may name the configuration file instead of `--config`.
    pub config_env: &'static str,
}

/// The [`DaemonMain`] of the binary that expands it: its Cargo name and description,
/// and the environment prefix given (`daemon_main!("SEMCOM_SENDER")`: variables
/// `SEMCOM_SENDER__*`, configuration file `SEMCOM_SENDER_CONFIG`).
#[macro_export]
macro_rules! daemon_main {
    ($env_prefix:literal) => {
        $crate::DaemonMain {
            name: env!("CARGO_BIN_NAME"),
            about: env!("CARGO_PKG_DESCRIPTION"),
            env_prefix: $env_prefix,
            config_env: concat!($env_prefix, "_CONFIG"),
        }
    };
}

impl DaemonMain {
    /// Parses the command line (exiting with clap's message on a bad one).
    pub fn parse<F: clap::Args>(&self) -> CommandLine<F> {
        self.try_parse_from(std::env::args_os()).unwrap_or_else(|e| e.exit())
    }

    fn try_parse_from<F: clap::Args>(
        &self,
        args: impl IntoIterator<Item = impl Into<std::ffi::OsString> + Clone>,
    ) -> Result<CommandLine<F>, clap::Error> {
        use clap::{CommandFactory, FromArgMatches};
        // The workspace shares one version, so the library's is the binary's.
        let matches = CommandLine::<F>::command()
            .name(self.name)
            .about(self.about)
            .version(env!("CARGO_PKG_VERSION"))
            .mut_arg("config", |a| a.env(self.config_env))
            .try_get_matches_from(args)?;
        CommandLine::from_arg_matches(&matches)
    }

    /// A daemon binary's life: logging, its configuration (defaults, file,
    /// environment, then the flags), `start`, and `shutdown` once the process is asked
    /// to stop.
    pub async fn run<F, C, R, E, Started, Stopped>(
        &self,
        command_line: CommandLine<F>,
        start: impl FnOnce(C) -> Started,
        shutdown: impl FnOnce(R) -> Stopped,
    ) -> Result<(), E>
    where
        F: clap::Args + Serialize,
        C: DeserializeOwned,
        Started: Future<Output = Result<R, E>>,
        Stopped: Future<Output = Result<(), E>>,
        E: From<ConfigError>,
    {
        let CommandLine { daemon, flags } = command_line;
        crate::init_tracing(daemon.json_logs);
        let layers = Layers::new(self.env_prefix)
            .file(daemon.config.as_deref())
            .set("data_dir", daemon.data_dir.as_ref().map(|p| p.display().to_string()))
            .set_all(&flags)?;
        let cfg: C = load(&layers)?;
        let running = start(cfg).await?;
        shutdown_signal().await;
        shutdown(running).await
    }
}

/// Creates the data directory, loads (or generates) the node's identity and builds
/// the peer-trust policy — in that order, so a bad trust setting is reported only
/// after the identity exists (its fingerprint is what the operator pins elsewhere).
pub fn node_credentials(
    data_dir: &Path,
    node_name: &str,
    identity: &IdentityConfig,
    trust: &TrustConfig,
) -> Result<(Identity, PeerTrust), NetError> {
    std::fs::create_dir_all(data_dir).map_err(|source| NetError::File {
        op: "creating data directory",
        path: data_dir.to_path_buf(),
        source,
    })?;
    let id = identity.load(data_dir, node_name)?;
    let trust = trust.to_peer_trust()?;
    Ok((id, trust))
}

/// Resolves when the daemon is asked to stop.
pub struct StopSignal(oneshot::Receiver<()>);

impl StopSignal {
    pub async fn wait(self) {
        // A dropped sender also means "stop".
        let _ = self.0.await;
    }
}

/// A daemon's server task and the means to stop it.
pub struct ServerTask<E> {
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), E>>,
}

impl<E> ServerTask<E>
where
    E: From<JoinError> + Send + 'static,
{
    /// Spawns `serve`, which must return once its [`StopSignal`] resolves.
    pub fn spawn<F, Fut>(serve: F) -> Self
    where
        F: FnOnce(StopSignal) -> Fut,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        Self { stop: Some(tx), task: tokio::spawn(serve(StopSignal(rx))) }
    }

    /// Signals the servers to stop and waits until they have.
    pub async fn shutdown(mut self) -> Result<(), E> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.await?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, clap::Args, Serialize)]
    struct Flags {
        #[arg(long)]
        port: Option<u16>,
    }

    /// The common flags parse next to a daemon's own, and the configuration file comes
    /// from the daemon's variable unless `--config` names one.
    #[test]
    fn the_config_file_comes_from_the_flag_or_the_daemons_variable() {
        // A unique variable keeps this test independent of the others' environment.
        let main = DaemonMain {
            name: "semcom-test",
            about: "A test daemon.",
            env_prefix: "SEMCOM_RUNTIME_TEST",
            config_env: "SEMCOM_RUNTIME_TEST_CONFIG",
        };
        let parse = |args: &[&str]| main.try_parse_from::<Flags>(args.iter().copied());
        let a = parse(&["d", "--data-dir", "/d", "--json-logs", "--port", "7"]).expect("parse");
        let d = &a.daemon;
        assert_eq!((d.config.as_deref(), d.data_dir.as_deref(), a.flags.port), (None, Some(Path::new("/d")), Some(7)));
        assert!(d.json_logs);

        std::env::set_var("SEMCOM_RUNTIME_TEST_CONFIG", "/from/env.toml");
        let a = parse(&["d"]).expect("parse");
        assert_eq!(a.daemon.config.as_deref(), Some(Path::new("/from/env.toml")));
        let a = parse(&["d", "-c", "/from/flag.toml"]).expect("parse");
        assert_eq!(a.daemon.config.as_deref(), Some(Path::new("/from/flag.toml")));
        assert!(parse(&["d", "--no-such-flag"]).is_err());
        let version = parse(&["d", "--version"]).expect_err("version");
        assert!(version.to_string().starts_with("semcom-test "), "{version}");
    }
}
