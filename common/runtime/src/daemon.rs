//! What every daemon does around its servers: prepare the node's credentials, and
//! run the servers as one task that a stop signal ends.

use std::future::Future;
use std::path::Path;

use semcom_net::{Identity, NetError, PeerTrust};
use tokio::sync::oneshot;
use tokio::task::{JoinError, JoinHandle};

use crate::{IdentityConfig, TrustConfig};

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
