//! Configuration of a node's TLS identity and of the peers it accepts.

use std::path::{Path, PathBuf};

use semcom_net::{Fingerprint, Identity, NetError, PeerTrust};
use serde::Deserialize;

/// Where the node's certificate comes from. With neither file set, a self-signed
/// certificate is generated on first start into the data directory and reused.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct IdentityConfig {
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
}

impl IdentityConfig {
    pub fn load(&self, data_dir: &Path, node_name: &str) -> Result<Identity, NetError> {
        match (&self.cert_file, &self.key_file) {
            (Some(cert), Some(key)) => Identity::from_pem_files(cert, key),
            (None, None) => Identity::load_or_generate(data_dir, node_name),
            _ => Err(NetError::Identity("identity.cert_file and identity.key_file must be given together".into())),
        }
    }
}

/// The peers a node accepts (as server) and verifies (as client): either pinned
/// certificate fingerprints (SHA-256, hex) or a CA certificate file. Exactly one
/// must be configured: there is no "accept anyone" mode.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct TrustConfig {
    pub pinned: Vec<String>,
    pub ca_file: Option<PathBuf>,
}

impl TrustConfig {
    pub fn pinned(fingerprints: impl IntoIterator<Item = Fingerprint>) -> Self {
        Self { pinned: fingerprints.into_iter().map(|f| f.to_string()).collect(), ca_file: None }
    }

    pub fn to_peer_trust(&self) -> Result<PeerTrust, NetError> {
        match (&self.ca_file, self.pinned.is_empty()) {
            (Some(ca), true) => PeerTrust::ca_from_pem_file(ca),
            (None, false) => {
                let pins = self
                    .pinned
                    .iter()
                    .map(|s| {
                        s.parse::<Fingerprint>().map_err(|e| NetError::Trust(format!("trust.pinned entry {s:?}: {e}")))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(PeerTrust::Pinned(pins))
            }
            (Some(_), false) => Err(NetError::Trust("set either trust.pinned or trust.ca_file, not both".into())),
            (None, true) => Err(NetError::Trust(
                "no trusted peers: set trust.pinned (peer certificate SHA-256 fingerprints) or trust.ca_file".into(),
            )),
        }
    }
}
