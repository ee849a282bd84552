//! A sender and a receiver configured with different codec settings: the receiver
//! refuses the transmission before decoding, names the setting, stores nothing, and
//! the sender's job fails with that reason.
#![allow(clippy::unwrap_used)] // a test that fails should stop loudly

mod common;

use std::net::SocketAddr;

use common::{files_under, sample_bytes};
use semcom_cli::client::Clients;
use semcom_codec::semantic::SemanticConfig;
use semcom_codec::softcast::SoftCastConfig;
use semcom_models::GeneratorKind;
use semcom_net::Identity;
use semcom_proto::v1::{Codec, ListResultsRequest, TransmitOptions};
use semcom_receiver::ReceiverConfig;
use semcom_runtime::TrustConfig;
use semcom_sender::SenderConfig;

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mismatched_codec_settings_are_refused_by_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (rx_dir, tx_dir) = (dir.path().join("rx"), dir.path().join("tx"));
    let rx_fp = Identity::load_or_generate(&rx_dir, "semcom-receiver").expect("identity").fingerprint();
    let tx_fp = Identity::load_or_generate(&tx_dir, "semcom-sender").expect("identity").fingerprint();
    let receiver = semcom_receiver::start(ReceiverConfig {
        data_dir: rx_dir.clone(),
        quic_listen: loopback(),
        grpc_listen: loopback(),
        trust: TrustConfig::pinned([tx_fp]),
        generator: GeneratorKind::Classical,
        ..ReceiverConfig::default()
    })
    .await
    .expect("receiver starts");
    // Both codecs' pilot patterns differ from the receiver's defaults.
    let sender = semcom_sender::start(SenderConfig {
        data_dir: tx_dir,
        grpc_listen: loopback(),
        peer: receiver.quic_addr,
        trust: TrustConfig::pinned([rx_fp]),
        semantic: SemanticConfig { pilot_block: 512, ..SemanticConfig::default() },
        softcast: SoftCastConfig { pilots_per_block: 8, ..SoftCastConfig::default() },
        ..SenderConfig::default()
    })
    .await
    .expect("sender starts");
    let mut clients =
        Clients::connect(&format!("http://{}", sender.grpc_addr), &format!("http://{}", receiver.grpc_addr), None)
            .await
            .expect("clients");

    let direct =
        TransmitOptions { rho: 1.0 / 32.0, simulate_snr_db: Some(20.0), seed: 3, ..TransmitOptions::default() };
    for (codec, reason) in [
        (Codec::Semantic, "codec settings differ: sender pilot_block = 512, receiver pilot_block = 1024"),
        (Codec::Softcast, "codec settings differ: sender pilots_per_block = 8, receiver pilots_per_block = 16"),
    ] {
        let options = TransmitOptions { codec: codec as i32, ..direct.clone() };
        let err = clients.transmit("mismatch", sample_bytes("chelsea.png"), options).await.expect_err("refused");
        let msg = format!("{err:#}");
        assert!(msg.contains("receiver:") && msg.contains(reason), "{codec:?}: {msg}");
    }

    let listed = clients.receiver.list(ListResultsRequest {}).await.expect("list").into_inner();
    assert!(listed.results.is_empty(), "a mismatched transmission was stored");
    sender.shutdown().await.expect("sender shutdown");
    receiver.shutdown().await.expect("receiver shutdown");
    assert!(files_under(&rx_dir.join("results")).is_empty(), "files stored");
}
