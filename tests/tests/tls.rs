//! Mutual TLS between the daemons: a peer whose certificate is not trusted is
//! refused in both directions, and the receiver keeps serving trusted peers.
#![allow(clippy::unwrap_used)] // a test that fails should stop loudly

mod common;

use std::net::SocketAddr;
use std::path::Path;

use common::{decode, files_under, sample_bytes, semantic_files};
use semcom_cli::client::Clients;
use semcom_net::{Fingerprint, Identity};
use semcom_proto::v1::TransmitOptions;
use semcom_receiver::ReceiverConfig;
use semcom_runtime::TrustConfig;
use semcom_sender::SenderConfig;

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

fn identity(dir: &Path, name: &str) -> Fingerprint {
    Identity::load_or_generate(dir, name).expect("identity").fingerprint()
}

async fn sender(dir: &Path, peer: SocketAddr, pins: Vec<Fingerprint>) -> semcom_sender::RunningSender {
    semcom_sender::start(SenderConfig {
        data_dir: dir.to_path_buf(),
        grpc_listen: loopback(),
        peer,
        trust: TrustConfig::pinned(pins),
        ..SenderConfig::default()
    })
    .await
    .expect("sender starts")
}

fn direct() -> TransmitOptions {
    // No channel-sim here: the sender adds the AWGN itself.
    TransmitOptions { rho: 1.0 / 32.0, simulate_snr_db: Some(15.0), seed: 3, ..TransmitOptions::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_peers_are_refused_and_trusted_ones_served() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (rx_dir, good_dir, rogue_dir, wrong_pin_dir) =
        (dir.path().join("rx"), dir.path().join("good"), dir.path().join("rogue"), dir.path().join("wrongpin"));
    let rx_fp = identity(&rx_dir, "semcom-receiver");
    let good_fp = identity(&good_dir, "good-sender");
    let rogue_fp = identity(&rogue_dir, "rogue-sender");
    let wrong_pin_fp = identity(&wrong_pin_dir, "wrong-pin-sender");

    // The receiver trusts the good sender and the wrong-pin sender, not the rogue.
    let receiver = semcom_receiver::start(ReceiverConfig {
        data_dir: rx_dir.clone(),
        quic_listen: loopback(),
        grpc_listen: loopback(),
        trust: TrustConfig::pinned([good_fp, wrong_pin_fp]),
        ..ReceiverConfig::default()
    })
    .await
    .expect("receiver starts");
    let rx_url = format!("http://{}", receiver.grpc_addr);

    // 1. A client certificate the receiver does not trust.
    let rogue = sender(&rogue_dir, receiver.quic_addr, vec![rx_fp]).await;
    let mut c = Clients::connect(&format!("http://{}", rogue.grpc_addr), &rx_url, None).await.expect("clients");
    let err = c.transmit("rogue", sample_bytes("chelsea.png"), direct()).await.expect_err("rogue refused");
    assert!(format!("{err:#}").contains("failed"), "{err:#}");

    // 2. A sender that expects another server certificate refuses the receiver.
    let wrong_pin = sender(&wrong_pin_dir, receiver.quic_addr, vec![rogue_fp]).await;
    let mut c2 = Clients::connect(&format!("http://{}", wrong_pin.grpc_addr), &rx_url, None).await.expect("clients");
    let err = c2.transmit("wrong-pin", sample_bytes("chelsea.png"), direct()).await.expect_err("server refused");
    assert!(format!("{err:#}").to_lowercase().contains("certificate"), "{err:#}");

    // 3. The trusted sender is served by the same receiver, which kept running.
    let good = sender(&good_dir, receiver.quic_addr, vec![rx_fp]).await;
    let mut c3 = Clients::connect(&format!("http://{}", good.grpc_addr), &rx_url, None).await.expect("clients");
    let d = c3.transmit("good", sample_bytes("chelsea.png"), direct()).await.expect("delivered");
    assert_eq!(decode(&d.result.png).dimensions(), (451, 300));
    let info = d.result.info.expect("info");
    assert_eq!(info.peer, good_fp.to_string(), "result records the peer that sent it");

    for s in [rogue, wrong_pin, good] {
        s.shutdown().await.expect("sender shutdown");
    }
    receiver.shutdown().await.expect("receiver shutdown");
    let mut results: Vec<String> =
        files_under(&rx_dir.join("results")).iter().filter_map(|p| p.file_name()?.to_str().map(String::from)).collect();
    results.sort();
    assert_eq!(results, semantic_files(&info.id), "only the trusted transmission is stored");
}
