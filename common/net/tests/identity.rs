//! Node identities on disk.
#![allow(clippy::unwrap_used)] // a test or example that fails should stop loudly

use semcom_net::{Fingerprint, Identity, NetError, PeerTrust, CERT_FILE, KEY_FILE};

fn names_in(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn load_or_generate_persists_the_identity() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("state").join("identity"); // does not exist yet
    let first = Identity::load_or_generate(&dir, "sender-1").expect("generate");
    let second = Identity::load_or_generate(&dir, "sender-1").expect("load");
    assert_eq!(first.fingerprint(), second.fingerprint());
    assert_eq!(first.cert_chain, second.cert_chain);
    assert_eq!(first.key.secret_der(), second.key.secret_der());

    // Exactly the two files, no temp files left behind.
    assert_eq!(names_in(&dir), vec![CERT_FILE.to_string(), KEY_FILE.to_string()]);
    let shown = first.fingerprint().to_string();
    assert_eq!(shown.len(), 64);
    assert_eq!(shown.parse::<Fingerprint>().expect("parse"), first.fingerprint());

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join(KEY_FILE)).expect("key meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "key file mode {mode:o}");
    }

    // A different directory gives a different identity.
    let other = Identity::load_or_generate(&tmp.path().join("other"), "sender-1").expect("generate");
    assert_ne!(other.fingerprint(), first.fingerprint());
}

#[test]
fn partial_identities() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let original = Identity::load_or_generate(dir, "node").expect("generate");

    // Key without certificate: an interrupted first start, so a new identity is made.
    std::fs::remove_file(dir.join(CERT_FILE)).expect("rm cert");
    let regenerated = Identity::load_or_generate(dir, "node").expect("regenerate");
    assert_ne!(regenerated.fingerprint(), original.fingerprint());

    // Certificate without key: refused, the identity may be pinned elsewhere.
    std::fs::remove_file(dir.join(KEY_FILE)).expect("rm key");
    let err = Identity::load_or_generate(dir, "node").unwrap_err();
    assert!(matches!(&err, NetError::Identity(m) if m.contains("missing")), "{err}");
    assert!(dir.join(CERT_FILE).exists(), "the certificate must not be overwritten");
}

#[test]
fn bad_inputs_are_clear_errors() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let missing = tmp.path().join("nope.pem");
    let err = Identity::from_pem_files(&missing, &missing).unwrap_err();
    assert!(err.to_string().contains("nope.pem"), "{err}");

    let empty = tmp.path().join("empty.pem");
    std::fs::write(&empty, "not a pem\n").expect("write");
    assert!(matches!(PeerTrust::ca_from_pem_file(&empty), Err(NetError::Trust(_))));

    let err = Identity::load_or_generate(&tmp.path().join("x"), "bad name with spaces\u{e9}").unwrap_err();
    assert!(matches!(err, NetError::Identity(_)), "{err}");
}
