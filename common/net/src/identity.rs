//! Node identities (certificate chain + private key) and certificate fingerprints.

use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};

use crate::NetError;

/// File name of the PEM certificate inside an identity directory.
pub const CERT_FILE: &str = "node.crt";
/// File name of the PEM private key inside an identity directory.
pub const KEY_FILE: &str = "node.key";

/// SHA-256 of a certificate's DER encoding: what pinned peers are identified by.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// SHA-256 fingerprint of a DER certificate.
pub fn fingerprint(cert: &CertificateDer<'_>) -> Fingerprint {
    Fingerprint(Sha256::digest(cert.as_ref()).into())
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

/// Why a string is not a fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid SHA-256 fingerprint {input:?}: {reason} (expected 64 hex digits, optionally colon-separated)")]
pub struct ParseFingerprintError {
    pub input: String,
    pub reason: &'static str,
}

impl FromStr for Fingerprint {
    type Err = ParseFingerprintError;

    /// Accepts `ab12…` (64 hex digits) or the `AB:12:…` form most tools print.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason| ParseFingerprintError { input: s.to_string(), reason };
        let trimmed = s.trim();
        let digits: String = if trimmed.contains(':') {
            let parts: Vec<&str> = trimmed.split(':').collect();
            if parts.iter().any(|p| p.len() != 2) {
                return Err(err("colon-separated groups must be two hex digits each"));
            }
            parts.concat()
        } else {
            trimmed.to_string()
        };
        if digits.len() != 64 {
            return Err(err("wrong length"));
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(&digits, &mut out).map_err(|_| err("not hexadecimal"))?;
        Ok(Fingerprint(out))
    }
}

/// A node's TLS identity: its certificate chain (end-entity first) and private key.
#[derive(Debug)]
pub struct Identity {
    pub cert_chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

impl Clone for Identity {
    fn clone(&self) -> Self {
        Identity { cert_chain: self.cert_chain.clone(), key: self.key.clone_key() }
    }
}

impl Identity {
    /// Loads `dir/node.crt` + `dir/node.key`, or creates a self-signed identity
    /// there on first start (SANs: `node_name`, `localhost`, 127.0.0.1, ::1).
    ///
    /// The key is written before the certificate, so a key without a certificate
    /// can only come from an interrupted first start and is replaced; a
    /// certificate without its key is an error (its fingerprint may be pinned
    /// somewhere, so we do not silently change identity).
    pub fn load_or_generate(dir: &Path, node_name: &str) -> Result<Identity, NetError> {
        let cert_path = dir.join(CERT_FILE);
        let key_path = dir.join(KEY_FILE);
        match (cert_path.exists(), key_path.exists()) {
            (true, true) => return Identity::from_pem_files(&cert_path, &key_path),
            (true, false) => {
                return Err(NetError::Identity(format!(
                    "{} exists but {} is missing; restore the key or remove the certificate",
                    cert_path.display(),
                    key_path.display()
                )))
            }
            (false, true) => tracing::warn!(
                key = %key_path.display(),
                "found a key without a certificate (interrupted first start?); generating a new identity"
            ),
            (false, false) => {}
        }

        fs::create_dir_all(dir).map_err(|e| NetError::file("creating directory", dir, e))?;
        let (cert_pem, key_pem) = generate_self_signed(node_name)?;
        write_atomically(&key_path, key_pem.as_bytes(), true)?;
        write_atomically(&cert_path, cert_pem.as_bytes(), false)?;
        let id = Identity::from_pem_files(&cert_path, &key_path)?;
        tracing::info!(
            node = node_name,
            dir = %dir.display(),
            fingerprint = %id.fingerprint(),
            "generated a new self-signed node identity"
        );
        Ok(id)
    }

    /// Loads a supplied PEM certificate chain (end-entity first, possibly followed
    /// by intermediates) and its PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Identity, NetError> {
        let cert_chain = certs_from_pem_file(cert)?;
        let key_bytes = fs::read(key).map_err(|e| NetError::file("reading", key, e))?;
        let key = PrivateKeyDer::from_pem_slice(&key_bytes)
            .map_err(|e| NetError::Identity(format!("no usable private key in {}: {e}", key.display())))?;
        Ok(Identity { cert_chain, key })
    }

    /// The end-entity certificate (the one peers pin); `None` only for a
    /// hand-built identity with an empty chain.
    pub fn end_entity(&self) -> Option<&CertificateDer<'static>> {
        self.cert_chain.first()
    }

    /// Fingerprint of the end-entity certificate.
    ///
    /// # Panics
    /// If `cert_chain` is empty, which the constructors never produce.
    pub fn fingerprint(&self) -> Fingerprint {
        let cert = self.end_entity().expect("Identity::cert_chain must hold the end-entity certificate");
        fingerprint(cert)
    }
}

/// Reads every certificate of a PEM file; an empty file is an error.
pub(crate) fn certs_from_pem_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, NetError> {
    let bytes = fs::read(path).map_err(|e| NetError::file("reading", path, e))?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| NetError::Identity(format!("bad PEM certificate in {}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(NetError::Identity(format!("no certificate found in {}", path.display())));
    }
    Ok(certs)
}

/// Returns (certificate PEM, key PEM) of a fresh self-signed node certificate.
fn generate_self_signed(node_name: &str) -> Result<(String, String), NetError> {
    let mut sans = vec![node_name.to_string()];
    for extra in ["localhost", "127.0.0.1", "::1"] {
        if !sans.iter().any(|s| s == extra) {
            sans.push(extra.to_string());
        }
    }
    let mut params = rcgen::CertificateParams::new(sans)
        .map_err(|e| NetError::Identity(format!("node name {node_name:?} is not a valid DNS name or IP: {e}")))?;
    params.distinguished_name.push(rcgen::DnType::CommonName, node_name);
    // The same certificate serves as server and as client certificate (mutual TLS).
    params.extended_key_usages =
        vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth, rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let key = rcgen::KeyPair::generate().map_err(|e| NetError::Identity(format!("generating a key pair: {e}")))?;
    let cert =
        params.self_signed(&key).map_err(|e| NetError::Identity(format!("self-signing the node certificate: {e}")))?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// Writes `path` so that readers see either the old file or the whole new one:
/// temp file in the same directory, fsync, rename, fsync the directory.
fn write_atomically(path: &Path, contents: &[u8], secret: bool) -> Result<(), NetError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    // Unique per process and call, so concurrent writers never share a temp file.
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp: PathBuf = dir.join(format!(".{file_name}.tmp-{}-{n}", std::process::id()));

    let result = (|| {
        let mut options = fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        if secret {
            use std::os::unix::fs::OpenOptionsExt;
            // Created 0600 from the start: the key is never world-readable, not even briefly.
            options.mode(0o600);
        }
        #[cfg(not(unix))]
        let _ = secret;
        let mut file = options.open(&tmp).map_err(|e| NetError::file("creating", &tmp, e))?;
        file.write_all(contents).map_err(|e| NetError::file("writing", &tmp, e))?;
        file.sync_all().map_err(|e| NetError::file("syncing", &tmp, e))?;
        fs::rename(&tmp, path).map_err(|e| NetError::file("renaming into place", path, e))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
        return result;
    }
    // Make the rename itself durable; not every platform can open a directory.
    #[cfg(unix)]
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_parses_plain_and_colon_forms() {
        let fp = Fingerprint([0xab; 32]);
        let plain = fp.to_string();
        assert_eq!(plain.len(), 64);
        assert_eq!(plain, "ab".repeat(32));
        assert_eq!(plain.parse::<Fingerprint>(), Ok(fp));
        let colons = vec!["AB"; 32].join(":");
        assert_eq!(colons.parse::<Fingerprint>(), Ok(fp));
    }

    #[test]
    fn fingerprint_rejects_garbage() {
        assert!("abc".parse::<Fingerprint>().is_err());
        assert!("zz".repeat(32).parse::<Fingerprint>().is_err());
        assert!("ab:c".parse::<Fingerprint>().is_err());
        let err = "ab".repeat(31).parse::<Fingerprint>().unwrap_err();
        assert!(err.to_string().contains("64 hex digits"), "{err}");
    }
}
