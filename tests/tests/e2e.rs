//! The three real daemons on loopback (real QUIC with mutual TLS, real gRPC):
//! images go sender → channel-sim (AWGN) → receiver and come back out of the
//! receiver's API.
#![allow(clippy::unwrap_used)] // a test that fails should stop loudly

mod common;

use std::time::Instant;

use common::{decode, png_with_dimensions, result_files, sample_bytes, semantic_files};
use semcom_cli::client::Clients;
use semcom_cli::stack::{Stack, StackOptions};
use semcom_proto::v1::{
    ChannelSettings, Codec, GetChannelRequest, GetResultRequest, ListResultsRequest, StatsRequest, SubmitRequest,
    TransmitOptions,
};

/// Options for the sender's default codec (semantic), no CSI.
fn options(rho: f64) -> TransmitOptions {
    TransmitOptions { rho, seed: 7, ..TransmitOptions::default() }
}

/// Whole-image SoftCast, for the tests of SoftCast's own behaviour.
fn softcast(rho: f64) -> TransmitOptions {
    TransmitOptions { codec: Codec::Softcast as i32, ..options(rho) }
}

/// SoftCast (selected per request; the sender's default is the semantic codec):
/// PSNR must rise strictly with the channel SNR, and the control API's change must
/// show in the very next transmission. The floor at 20 dB: at rho = 1/32 SoftCast
/// sends about 3/16 of the DCT coefficients (less the pilot and metadata share);
/// with LLSE at 20 dB those arrive nearly clean, so the error is dominated by the
/// dropped high-frequency chunks, which on this photo costs well under the 26 dB
/// floor (the codec's own test measures the same image without the network).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psnr_rises_with_snr_through_channel_sim() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stack = Stack::start(dir.path(), &StackOptions::default()).await.expect("stack starts");
    let mut clients = stack.clients().await.expect("clients");
    let bytes = sample_bytes("astronaut.png");
    let original = decode(&bytes);

    let mut psnrs = Vec::new();
    for snr in [0.0, 10.0, 20.0] {
        let set = clients.set_snr(snr).await.expect("set SNR");
        assert_eq!(set.snr_db, Some(snr));
        let d = clients.transmit("astronaut", bytes.clone(), softcast(1.0 / 32.0)).await.expect("delivered");
        assert_eq!(d.submit.codec, "softcast-v1");
        assert!(d.submit.semantic.is_none() && d.result.mask_png.is_empty() && d.result.prompt_text.is_empty());
        let recon = decode(&d.result.png);
        assert_eq!(recon.dimensions(), original.dimensions());
        let info = d.result.info.expect("info");
        assert_eq!(info.codec, "softcast-v1");
        assert!(info.semantic.is_none());
        // The receiver's pilot-based estimate must be near the configured SNR
        // (64 pilots: the N0 estimate's standard deviation is ~0.55 dB).
        assert!((info.snr_est_db - snr).abs() < 2.0, "estimated {} dB for {snr} dB", info.snr_est_db);
        let split = info.split.expect("split");
        assert!(split.total > 0 && split.rho <= 1.0 / 32.0 + 1e-9, "split {split:?}");
        psnrs.push(semcom_metrics::psnr(&original, &recon).expect("psnr"));
    }
    assert!(psnrs[0] < psnrs[1] && psnrs[1] < psnrs[2], "PSNR not increasing with SNR: {psnrs:?}");
    assert!(psnrs[2] > 26.0, "PSNR at 20 dB only {:.2}", psnrs[2]);

    let stats = clients.control.as_mut().expect("control").stats(StatsRequest {}).await.expect("stats").into_inner();
    assert_eq!(stats.transmissions, 3);
    // Power normalisation: the average transmitted power per symbol is 1.
    assert!((stats.signal_power - 1.0).abs() < 0.05, "signal power {}", stats.signal_power);

    let listed = clients.receiver.list(ListResultsRequest {}).await.expect("list").into_inner();
    assert_eq!(listed.results.len(), 3);
    stack.shutdown().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_api_reads_validates_and_changes_the_channel() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stack =
        Stack::start(dir.path(), &StackOptions { snr_db: 3.0, ..StackOptions::default() }).await.expect("stack starts");
    let mut clients = stack.clients().await.expect("clients");
    let control = clients.control.as_mut().expect("control");
    let got = control.get_channel(GetChannelRequest {}).await.expect("get").into_inner();
    assert_eq!(got.snr_db, Some(3.0));
    let err = control
        .set_channel(ChannelSettings { snr_db: Some(f64::NAN), ..ChannelSettings::default() })
        .await
        .expect_err("NaN SNR refused");
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    let set = control
        .set_channel(ChannelSettings { snr_db: Some(-4.5), seed: Some(9), ..ChannelSettings::default() })
        .await
        .expect("set")
        .into_inner();
    assert_eq!((set.snr_db, set.seed, set.enabled), (Some(-4.5), Some(9), Some(true)));
    // A rate limit of almost nothing is refused, naming the floor.
    let err = control
        .set_channel(ChannelSettings { rate_symbols_per_s: Some(1e-20), ..ChannelSettings::default() })
        .await
        .expect_err("vanishing rate refused");
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().contains("rate_symbols_per_s") && err.message().contains("at least"), "{}", err.message());
    stack.shutdown().await.expect("clean shutdown");
}

/// Every daemon serves the standard gRPC health service, and reflection that lists
/// its service and describes every semcom proto, the link messages included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemons_report_healthy_and_serve_reflection() {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;
    use tonic_health::pb::HealthCheckRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    use tonic_reflection::pb::v1::ServerReflectionRequest;

    let dir = tempfile::tempdir().expect("tempdir");
    let stack = Stack::start(dir.path(), &StackOptions::default()).await.expect("stack starts");
    for (addr, service) in [
        (stack.sender.grpc_addr, "semcom.v1.Sender"),
        (stack.receiver.grpc_addr, "semcom.v1.Receiver"),
        (stack.channel_sim.control_addr, "semcom.v1.ChannelControl"),
    ] {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .expect("uri")
            .connect()
            .await
            .expect("connect");
        let mut health = HealthClient::new(channel.clone());
        let resp =
            health.check(HealthCheckRequest { service: service.into() }).await.expect("health check").into_inner();
        assert_eq!(resp.status, ServingStatus::Serving as i32, "{service}");

        let requests = [
            MessageRequest::ListServices(String::new()),
            MessageRequest::FileContainingSymbol("semcom.v1.wire.TransmissionHeader".into()),
        ]
        .map(|r| ServerReflectionRequest { host: String::new(), message_request: Some(r) });
        let mut replies = ServerReflectionClient::new(channel)
            .server_reflection_info(tokio_stream::iter(requests))
            .await
            .expect("reflection")
            .into_inner();
        let Some(MessageResponse::ListServicesResponse(list)) =
            replies.message().await.expect("reply").and_then(|r| r.message_response)
        else {
            panic!("{service}: no service list");
        };
        assert!(list.service.iter().any(|s| s.name == service), "{service}: {list:?}");
        let Some(MessageResponse::FileDescriptorResponse(files)) =
            replies.message().await.expect("reply").and_then(|r| r.message_response)
        else {
            panic!("{service}: no descriptor of the wire messages");
        };
        let name = b"semcom/v1/wire.proto";
        assert!(
            files.file_descriptor_proto.iter().any(|f| f.windows(name.len()).any(|w| w == name)),
            "{service}: wire.proto not described"
        );
    }
    stack.shutdown().await.expect("clean shutdown");
}

/// Bad images get INVALID_ARGUMENT with a reason; nothing reaches the receiver;
/// the sender keeps serving and the next good image goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_and_the_daemons_keep_serving() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = StackOptions {
        limits: semcom_sender::LimitsConfig {
            max_input_bytes: 2 << 20,
            max_width: 4096,
            max_height: 4096,
            max_pixels: 1 << 22,
        },
        ..StackOptions::default()
    };
    let stack = Stack::start(dir.path(), &opts).await.expect("stack starts");
    let mut clients = stack.clients().await.expect("clients");

    let png = sample_bytes("astronaut.png");
    let jpeg = sample_bytes("rocket.jpg");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", Vec::new(), "empty"),
        ("not an image", b"GIF89a? no: just some text that is not an image".to_vec(), "format"),
        ("truncated PNG", png[..png.len() / 2].to_vec(), ""),
        ("truncated JPEG", jpeg[..jpeg.len() / 3].to_vec(), ""),
        ("zero width", png_with_dimensions(0, 512), ""),
        ("absurd dimensions", png_with_dimensions(100_000, 100_000), ""),
        ("oversized request", vec![0u8; (2 << 20) + 1], "bytes"),
    ];
    for (what, bytes, needle) in cases {
        let err = clients
            .sender
            .submit(SubmitRequest { image: bytes, name: what.into(), options: Some(options(1.0 / 32.0)) })
            .await
            .expect_err(what);
        assert_eq!(err.code(), tonic::Code::InvalidArgument, "{what}: {}", err.message());
        assert!(!err.message().is_empty(), "{what}: empty reason");
        assert!(err.message().to_lowercase().contains(needle), "{what}: reason {:?} lacks {needle:?}", err.message());
    }
    // Absurd bandwidth ratios too.
    for rho in [-1.0, f64::NAN, 1e6] {
        let err = clients
            .sender
            .submit(SubmitRequest { image: png.clone(), name: "rho".into(), options: Some(options(rho)) })
            .await
            .expect_err("bad rho");
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
    }
    let listed = clients.receiver.list(ListResultsRequest {}).await.expect("list").into_inner();
    assert!(listed.results.is_empty(), "bad input reached the receiver");

    // Still serving: a good image goes through.
    let d = clients.transmit("coffee", sample_bytes("coffee.png"), options(1.0 / 32.0)).await.expect("delivered");
    assert_eq!(decode(&d.result.png).dimensions(), (600, 400));

    // Unknown ids are NOT_FOUND, not errors of the server.
    let err = clients.receiver.get(GetResultRequest { id: "no-such-result".into() }).await.expect_err("unknown id");
    assert_eq!(err.code(), tonic::Code::NotFound);

    stack.shutdown().await.expect("clean shutdown");
    // Exactly one result on disk, complete (the semantic codec's five files), and
    // no temporary files anywhere.
    let id = d.result.info.expect("info").id;
    assert_eq!(result_files(dir.path()), semantic_files(&id));
}

/// Lost frames reach the receiver as erasures: it refuses to reconstruct without its
/// pilots and metadata, says so, and keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_sim_erasures_reach_the_receiver() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stack = Stack::start(dir.path(), &StackOptions { snr_db: 15.0, ..StackOptions::default() })
        .await
        .expect("stack starts");
    let mut clients = stack.clients().await.expect("clients");
    let bytes = sample_bytes("chelsea.png");

    // Every frame lost: the receiver gets only erasures.
    let control = clients.control.as_mut().expect("control");
    control
        .set_channel(ChannelSettings { erasure_probability: Some(1.0), ..ChannelSettings::default() })
        .await
        .expect("set erasures");
    let err = clients.transmit("lost", bytes.clone(), options(1.0 / 32.0)).await.expect_err("all frames lost");
    assert!(format!("{err:#}").contains("receiver"), "{err:#}");
    let stats = clients.control.as_mut().expect("control").stats(StatsRequest {}).await.expect("stats").into_inner();
    assert_eq!(stats.frames_erased, stats.frames);
    assert!(stats.frames > 1);

    // Lossless again: delivered.
    let control = clients.control.as_mut().expect("control");
    control
        .set_channel(ChannelSettings { erasure_probability: Some(0.0), ..ChannelSettings::default() })
        .await
        .expect("lossless");
    let d = clients.transmit("after", bytes, options(1.0 / 32.0)).await.expect("delivered");
    assert_eq!(decode(&d.result.png).dimensions(), (451, 300));
    stack.shutdown().await.expect("clean shutdown");
}

/// Seconds from submit to the fetched result, the fastest of two transmissions (a
/// stall of the loaded machine in one of them does not count), and the symbols sent.
async fn fastest_delivery(clients: &mut Clients, bytes: &[u8], options: &TransmitOptions) -> (f64, u64) {
    let mut best = f64::INFINITY;
    let mut symbols = 0;
    for i in 0..2 {
        let started = Instant::now();
        let d = clients.transmit(&format!("timed{i}"), bytes.to_vec(), options.clone()).await.expect("delivered");
        best = best.min(started.elapsed().as_secs_f64());
        symbols = d.submit.split.expect("split").total;
    }
    (best, symbols)
}

async fn set_network(clients: &mut Clients, delay_ms: f64, jitter_ms: f64, rate_symbols_per_s: f64) {
    let control = clients.control.as_mut().expect("control");
    let set = control
        .set_channel(ChannelSettings {
            delay_ms: Some(delay_ms),
            jitter_ms: Some(jitter_ms),
            rate_symbols_per_s: Some(rate_symbols_per_s),
            ..ChannelSettings::default()
        })
        .await
        .expect("set network")
        .into_inner();
    assert_eq!((set.delay_ms, set.jitter_ms), (Some(delay_ms), Some(jitter_ms)));
}

/// Delay, rate limit and jitter measured end to end (submit to fetched result), against
/// the same transmission on an unimpaired link. A transmission of 50 frames or more: a delay
/// paid per frame instead of once would add ~50 × D, where a bound below 2 × D is
/// asserted; every lower bound follows from the impairment alone and cannot flake.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_impairments_measured_end_to_end() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stack = Stack::start(dir.path(), &StackOptions { snr_db: 15.0, ..StackOptions::default() })
        .await
        .expect("stack starts");
    let mut clients = stack.clients().await.expect("clients");
    let bytes = sample_bytes("chelsea.png");
    // SoftCast decodes in milliseconds: the times are the link's.
    let opts = softcast(1.0 / 8.0);

    let (base, symbols) = fastest_delivery(&mut clients, &bytes, &opts).await;
    // At least this many frames of 1024 symbols (more where a part ends mid-frame).
    let frames = symbols.div_ceil(1024);
    assert!(frames >= 40, "{symbols} symbols: too few frames to tell a per-frame delay");
    // Room for what the two measurements do besides the impairment (encoding,
    // decoding, gRPC) differing on a loaded machine.
    let slack = 1.2;

    // Delay: paid once.
    let delay = 1.5;
    set_network(&mut clients, delay * 1e3, 0.0, 0.0).await;
    let (delayed, _) = fastest_delivery(&mut clients, &bytes, &opts).await;
    println!("{frames} frames: {base:.3} s unimpaired, {delayed:.3} s with {delay} s delay");
    assert!(delayed >= delay, "delivered in {delayed:.3} s despite a {delay} s delay");
    assert!(delayed - base < delay + slack && delay + slack < 2.0 * delay, "delay added {:.3} s", delayed - base);

    // Rate limit: the symbols take at least symbols / rate to cross, and not much more.
    let serialise = 1.0;
    let rate = symbols as f64 / serialise;
    set_network(&mut clients, 0.0, 0.0, rate).await;
    let (limited, _) = fastest_delivery(&mut clients, &bytes, &opts).await;
    println!("{limited:.3} s at {rate:.0} symbols/s");
    assert!(limited >= serialise, "{symbols} symbols at {rate} symbols/s in {limited:.3} s");
    assert!(limited - base < serialise + slack, "rate limit added {:.3} s", limited - base);

    // Both: serialisation, then the delay on top, once.
    set_network(&mut clients, delay * 1e3, 0.0, rate).await;
    let (both, _) = fastest_delivery(&mut clients, &bytes, &opts).await;
    println!("{both:.3} s with both");
    assert!(both >= delay + serialise, "{both:.3} s");
    assert!(both - base < delay + serialise + slack, "delay and rate limit added {:.3} s", both - base);

    // Jitter: frames stay in order, so the last leaves after the longest of its ~50
    // draws, which lie within ± jitter around the delay (the draws are seeded: the
    // longest is close to delay + jitter, far above delay + jitter / 2).
    let jitter = 0.5;
    set_network(&mut clients, delay * 1e3, jitter * 1e3, 0.0).await;
    let (jittered, _) = fastest_delivery(&mut clients, &bytes, &opts).await;
    println!("{jittered:.3} s with {delay} ± {jitter} s");
    assert!(jittered >= delay + jitter / 2.0, "{jittered:.3} s");
    assert!(jittered - base < delay + jitter + slack, "jitter added {:.3} s", jittered - base);

    let stats = clients.control.as_mut().expect("control").stats(StatsRequest {}).await.expect("stats").into_inner();
    assert_eq!(stats.frames_erased, 0);
    stack.shutdown().await.expect("clean shutdown");
}

/// SoftCast under Rayleigh block fading on the wire (coherence = the codec's pilot block): the
/// receiver tracks the channel from the per-block pilots, the LDPC-coded metadata
/// survives, and the image comes out — worse than AWGN at the same average SNR,
/// as fading costs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rayleigh_fading_through_channel_sim_is_tracked_by_the_pilots() {
    use semcom_proto::v1::Fading;

    let dir = tempfile::tempdir().expect("tempdir");
    let stack = Stack::start(dir.path(), &StackOptions { snr_db: 15.0, ..StackOptions::default() })
        .await
        .expect("stack starts");
    let mut clients = stack.clients().await.expect("clients");
    let bytes = sample_bytes("astronaut.png");
    let original = decode(&bytes);

    let awgn = clients.transmit("awgn", bytes.clone(), softcast(1.0 / 32.0)).await.expect("delivered");
    let psnr_awgn = semcom_metrics::psnr(&original, &decode(&awgn.result.png)).expect("psnr");

    let control = clients.control.as_mut().expect("control");
    control
        .set_channel(ChannelSettings {
            fading: Fading::Rayleigh as i32,
            coherence_symbols: Some(1024),
            ..ChannelSettings::default()
        })
        .await
        .expect("set fading");
    let mut faded = Vec::new();
    for i in 0..3 {
        let d =
            clients.transmit(&format!("rayleigh{i}"), bytes.clone(), softcast(1.0 / 32.0)).await.expect("delivered");
        faded.push(semcom_metrics::psnr(&original, &decode(&d.result.png)).expect("psnr"));
    }
    let stats = clients.control.as_mut().expect("control").stats(StatsRequest {}).await.expect("stats").into_inner();
    // The applied gains average to E|h|² = 1 over ~100 blocks (sd of the mean ≈ 0.06
    // per transmission, pooled with one AWGN transmission at exactly 1).
    assert!((stats.mean_channel_gain - 1.0).abs() < 0.2, "mean |h|^2 = {}", stats.mean_channel_gain);
    let mean_faded = faded.iter().sum::<f64>() / faded.len() as f64;
    println!(
        "AWGN 15 dB: {psnr_awgn:.2} dB; Rayleigh 15 dB: {faded:.2?} dB; mean |h|^2 {:.3}",
        stats.mean_channel_gain
    );
    // Fading at 15 dB average: some blocks sit in deep fades, so the mean PSNR drops
    // below AWGN's, but LLSE with per-block estimates keeps it far above an unusable
    // image (astronaut's mean-grey PSNR is about 11 dB).
    assert!(mean_faded < psnr_awgn, "fading {faded:?} vs AWGN {psnr_awgn}");
    assert!(mean_faded > 18.0, "fading PSNRs {faded:?}");
    stack.shutdown().await.expect("clean shutdown");
}
