//! The semantic codec end to end: the real daemons on loopback, channel-sim
//! applying AWGN, the sender told the channel's SNR (CSI feedback), the receiver
//! regenerating with the embedded diffusion model (the default) or the classical fill
//! where a test selects it, and storing the image with its key mask, prompt and
//! channel-use split.
#![allow(clippy::unwrap_used)] // a test that fails should stop loudly

mod common;

use common::{decode, mask_bits, result_files, sample_bytes, semantic_files};
use semcom_cli::stack::{Stack, StackOptions};
use semcom_models::GeneratorKind;
use semcom_proto::v1::{Codec, ListResultsRequest, Rect, TransmitOptions};

fn semantic(rho: f64, snr_db: f64) -> TransmitOptions {
    TransmitOptions {
        rho,
        seed: 7,
        expected_snr_db: Some(snr_db),
        codec: Codec::Semantic as i32,
        ..TransmitOptions::default()
    }
}

fn read_json(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).expect("read")).expect("JSON")
}

/// At 10 and 20 dB the result arrives whole: five files on disk that agree with
/// each other, with the gRPC answer and with what the sender planned; the split adds
/// up and stays within the budget; the key regions get better with the SNR.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn semantic_results_store_mask_prompt_and_a_consistent_split() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = StackOptions::default();
    assert_eq!(opts.generator, GeneratorKind::Diffusion, "the default generator");
    let stack = Stack::start(dir.path(), &opts).await.expect("stack starts");
    let mut clients = stack.clients().await.expect("clients");
    let bytes = sample_bytes("astronaut.png");
    let original = decode(&bytes);
    let (w, h) = original.dimensions();
    let results = dir.path().join("receiver").join("results");

    let mut key_psnrs = Vec::new();
    let mut ids = Vec::new();
    for snr in [10.0, 20.0] {
        clients.set_snr(snr).await.expect("set SNR");
        let d = clients.transmit("astronaut", bytes.clone(), semantic(1.0 / 32.0, snr)).await.expect("delivered");
        assert_eq!(d.submit.codec, "semantic-v1");
        let plan = d.submit.semantic.clone().expect("semantic report");
        let sent = d.submit.split.expect("split");
        // What the sender sends adds up, and fits the budget round(rho*H*W*3).
        assert_eq!(sent.budget, (f64::from(w) * f64::from(h) * 3.0 / 32.0).round() as u64);
        assert_eq!(sent.pilots + sent.meta + sent.analog, sent.total, "{sent:?}");
        assert!(sent.total <= sent.budget, "{sent:?}");
        assert_eq!(sent.header_symbols + sent.prompt_symbols, sent.meta, "{sent:?}");
        assert!(sent.header_symbols > 0 && sent.analog > 0, "{sent:?}");

        let info = d.result.info.clone().expect("info");
        assert_eq!(info.codec, "semantic-v1");
        // The receiver counted the same channel uses, header and prompt included
        // (nothing was lost at these SNRs).
        let got = info.split.expect("split");
        assert_eq!(
            (got.pilots, got.meta, got.analog, got.total, got.header_symbols, got.prompt_symbols),
            (sent.pilots, sent.meta, sent.analog, sent.total, sent.header_symbols, sent.prompt_symbols)
        );
        assert!((info.snr_est_db - snr).abs() < 2.0, "estimated {} dB at {snr} dB", info.snr_est_db);
        assert_eq!(info.mcs, plan.mcs);
        let sem = info.semantic.expect("semantic result");
        assert_eq!(sem.generator, "diffusion-int8");
        assert!(sem.failed_records.is_empty() && sem.repaired_segments == 0, "{sem:?}");
        assert_eq!((sem.key_blocks, sem.blocks), (plan.key_blocks, plan.blocks));
        assert_eq!(sem.prompt_segments, plan.prompt_segments);
        assert!(!sem.prompt_text.is_empty());

        // The key mask: image-sized, binary, as many key blocks as planned.
        let (mw, mh, mask) = mask_bits(&d.result.mask_png);
        assert_eq!((mw, mh), (w, h));
        let key_px = mask.iter().filter(|k| **k).count() as f64;
        let px_per_block = 16.0 * 16.0;
        assert!(key_px <= f64::from(plan.key_blocks) * px_per_block && key_px > 0.0);
        let recon = decode(&d.result.png);
        key_psnrs.push(semcom_metrics::psnr_masked(&original, &recon, &mask).expect("psnr").expect("key pixels"));

        // The files on disk say the same as the API.
        let id = info.id.clone();
        assert_eq!(std::fs::read(results.join(format!("{id}.mask.png"))).expect("mask"), d.result.mask_png);
        let text = std::fs::read_to_string(results.join(format!("{id}.prompt.txt"))).expect("prompt text");
        assert_eq!(text.trim_end(), sem.prompt_text);
        assert_eq!(d.result.prompt_text, text);
        let prompt = read_json(&results.join(format!("{id}.prompt.json")));
        assert_eq!(serde_json::from_str::<serde_json::Value>(&d.result.prompt_json).expect("JSON"), prompt);
        assert_eq!((prompt["width"].as_u64(), prompt["height"].as_u64()), (Some(u64::from(w)), Some(u64::from(h))));
        let segments = prompt["segments"].as_array().expect("segments");
        assert_eq!(segments.len() as u32, sem.prompt_segments);
        // Prompt segments lie on non-key blocks only.
        let wb = u64::from(w.div_ceil(16));
        for s in segments {
            for b in s["blocks"].as_array().expect("blocks") {
                let b = b.as_u64().expect("index");
                let (bx, by) = ((b % wb) as u32 * 16, (b / wb) as u32 * 16);
                assert!(!mask[(by * w + bx) as usize], "prompt segment on key block {b}");
            }
        }
        let meta = read_json(&results.join(format!("{id}.json")));
        assert_eq!(meta["codec"], "semantic-v1");
        assert_eq!(meta["generator"], "diffusion-int8");
        assert_eq!(meta["mcs"].as_u64(), Some(u64::from(plan.mcs)));
        assert_eq!(meta["channel_uses"]["total"].as_u64(), Some(sent.total));
        assert_eq!(meta["channel_uses"]["prompt"].as_u64(), Some(sent.prompt_symbols));
        assert_eq!(meta["semantic"]["prompt_text"], sem.prompt_text.as_str());
        assert_eq!(meta["semantic"]["failed_records"], serde_json::json!([]));
        assert_eq!(info.metadata_json.parse::<serde_json::Value>().expect("metadata JSON"), meta);
        ids.push(id);
    }
    println!("key-region PSNR at 10, 20 dB: {key_psnrs:.2?}");
    assert!(key_psnrs[0] < key_psnrs[1], "key PSNR not rising with SNR: {key_psnrs:?}");

    let listed = clients.receiver.list(ListResultsRequest {}).await.expect("list").into_inner();
    assert_eq!(listed.results.len(), 2);
    assert!(listed.results.iter().all(|r| r.codec == "semantic-v1" && r.semantic.is_some()));
    stack.shutdown().await.expect("clean shutdown");
    let mut expected: Vec<String> = ids.iter().flat_map(|id| semantic_files(id)).collect();
    expected.sort();
    assert_eq!(result_files(dir.path()), expected, "exactly the two results' files, no temporary files");
}

/// A region the request marks is key whatever the importance map says, and the
/// caption reaches the prompt; the sender refuses absurd semantic options. (The
/// receiver runs the classical fill here, selected as in its configuration.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rois_and_caption_reach_the_receiver_and_bad_options_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = StackOptions { snr_db: 20.0, generator: GeneratorKind::Classical, ..StackOptions::default() };
    let stack = Stack::start(dir.path(), &opts).await.expect("stack starts");
    let mut clients = stack.clients().await.expect("clients");
    let bytes = sample_bytes("coffee.png");
    // The bottom-left corner: background that saliency alone would not pick.
    let roi = Rect { x: 0, y: 368, width: 32, height: 32 };
    let options =
        TransmitOptions { caption: Some("a cup of coffee".into()), rois: vec![roi], ..semantic(1.0 / 32.0, 20.0) };
    let d = clients.transmit("coffee", bytes.clone(), options).await.expect("delivered");
    let (w, _, mask) = mask_bits(&d.result.mask_png);
    for y in roi.y..roi.y + roi.height {
        for x in roi.x..roi.x + roi.width {
            assert!(mask[(y * w + x) as usize], "ROI pixel ({x}, {y}) not key");
        }
    }
    assert!(d.result.prompt_text.contains("a cup of coffee"), "{}", d.result.prompt_text);
    let info = d.result.info.as_ref().expect("info");
    assert_eq!(info.semantic.as_ref().map(|s| s.generator.as_str()), Some("classical"));

    for (what, bad) in [
        ("infinite SNR", TransmitOptions { expected_snr_db: Some(f64::INFINITY), ..semantic(1.0 / 32.0, 0.0) }),
        ("caption", TransmitOptions { caption: Some("x".repeat(5000)), ..semantic(1.0 / 32.0, 0.0) }),
        ("ROIs", TransmitOptions { rois: vec![roi; 65], ..semantic(1.0 / 32.0, 0.0) }),
        ("codec", TransmitOptions { codec: 99, ..semantic(1.0 / 32.0, 0.0) }),
    ] {
        let err = semcom_cli::client::submit(&mut clients.sender, what, bytes.clone(), bad).await.expect_err(what);
        assert!(format!("{err:#}").contains("invalid argument"), "{what}: {err:#}");
    }
    stack.shutdown().await.expect("clean shutdown");
}

/// Far below where the semantics are meant to work (−10 dB) the digital header does
/// not survive: told the truth (the codec picks its most robust MCS) or told 10 dB
/// too optimistically, the receiver refuses to reconstruct and says why (the
/// preamble failed its CRC, with these seeds) — never garbage, never a half-stored
/// result — and it keeps serving: the next transmission at 10 dB is delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn semantic_at_very_low_snr_is_refused_and_the_receiver_keeps_serving() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stack = Stack::start(dir.path(), &StackOptions { snr_db: -10.0, seed: 3, ..StackOptions::default() })
        .await
        .expect("stack starts");
    let mut clients = stack.clients().await.expect("clients");
    let bytes = sample_bytes("chelsea.png");
    for expected in [-10.0, 10.0] {
        let err = clients
            .transmit("low", bytes.clone(), semantic(1.0 / 32.0, expected))
            .await
            .expect_err("refused at -10 dB");
        let msg = format!("{err:#}");
        assert!(msg.contains("receiver:") && msg.contains("preamble failed its CRC"), "expected {expected} dB: {msg}");
    }
    let listed = clients.receiver.list(ListResultsRequest {}).await.expect("list").into_inner();
    assert!(listed.results.is_empty(), "{listed:?}");

    clients.set_snr(10.0).await.expect("set SNR");
    let d = clients.transmit("after", bytes, semantic(1.0 / 32.0, 10.0)).await.expect("delivered after the failures");
    let id = d.result.info.expect("info").id;
    let listed = clients.receiver.list(ListResultsRequest {}).await.expect("list").into_inner();
    assert_eq!(listed.results.len(), 1);
    stack.shutdown().await.expect("clean shutdown");
    assert_eq!(result_files(dir.path()), semantic_files(&id), "only the complete result, no temporary files");
}

/// Stale CSI: the sender plans for 16 dB, the channel gives 6 dB, so the semantic
/// MCS is too fast. With this channel seed the header survives and both prompt
/// records fail their CRC (other seeds lose the header, or one record, or none). The
/// stored result lists the lost records and their repairs in its metadata, its
/// prompt is complete (every lost segment repaired from a safe prior), the image is
/// whole, and the split still gives the header/prompt division (record lengths travel
/// in the header).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_csi_loses_prompt_records_which_are_repaired_and_recorded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stack = Stack::start(dir.path(), &StackOptions { snr_db: 6.0, seed: 8, ..StackOptions::default() })
        .await
        .expect("stack starts");
    let mut clients = stack.clients().await.expect("clients");
    let results = dir.path().join("receiver").join("results");
    let d = clients
        .transmit("stale", sample_bytes("chelsea.png"), semantic(1.0 / 32.0, 16.0))
        .await
        .expect("stored despite the lost records");
    let info = d.result.info.expect("info");
    let sem = info.semantic.expect("semantic result");
    println!("stored: failed records {:?}, {} repaired", sem.failed_records, sem.repaired_segments);
    assert_eq!(sem.failed_records, [0, 1], "records lost with this seed");
    assert_eq!(sem.repaired_segments, 2, "{sem:?}");
    let meta = read_json(&results.join(format!("{}.json", info.id)));
    assert_eq!(meta["semantic"]["failed_records"], serde_json::json!([0, 1]));
    let repairs = meta["semantic"]["repairs"].as_array().expect("repairs");
    assert_eq!(repairs.len(), 2);
    for f in [0, 1] {
        let r = repairs.iter().find(|r| r["segment"].as_u64() == Some(f)).expect("lost record repaired");
        assert!(matches!(r["source"].as_str(), Some("neighbours" | "neutral_prior")), "{r}");
    }
    // The prompt as used is complete: every segment has a colour again, and every
    // non-key block a segment (lost geometry becomes the blocks no surviving segment
    // claims, which the generator intersects with the key mask).
    let prompt = read_json(&results.join(format!("{}.prompt.json", info.id)));
    let segments = prompt["segments"].as_array().expect("segments");
    assert_eq!(segments.len() as u32, sem.prompt_segments);
    assert!(segments.iter().all(|s| !s["colour"].is_null()), "{prompt}");
    let mut covered: Vec<u64> = segments
        .iter()
        .flat_map(|s| s["blocks"].as_array().expect("blocks").iter().map(|b| b.as_u64().expect("index")))
        .collect();
    covered.sort_unstable();
    let (w, h, mask) = mask_bits(&d.result.mask_png);
    let (wb, hb) = (w.div_ceil(16), h.div_ceil(16));
    let non_key: Vec<u64> =
        (0..wb * hb).filter(|b| !mask[((b / wb) * 16 * w + (b % wb) * 16) as usize]).map(u64::from).collect();
    assert!(!non_key.is_empty() && non_key.iter().all(|b| covered.binary_search(b).is_ok()), "{covered:?}");
    let split = info.split.expect("split");
    // The header says how long every record was, so the division stays known
    // even for records that were lost.
    assert_eq!(split.header_symbols + split.prompt_symbols, split.meta);
    assert!(split.prompt_symbols > 0);
    assert_eq!(meta["channel_uses"]["prompt"].as_u64(), Some(split.prompt_symbols));
    assert_eq!(split.pilots + split.meta + split.analog, split.total);
    assert_eq!(decode(&d.result.png).dimensions(), (w, h));
    stack.shutdown().await.expect("clean shutdown");
    assert_eq!(result_files(dir.path()), semantic_files(&info.id));
}
