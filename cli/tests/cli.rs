//! The `semcom` binary itself, run as a user would.
#![allow(clippy::unwrap_used)] // a test or example that fails should stop loudly

use std::process::Command;

fn sample(name: &str) -> String {
    format!("{}/../samples/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn metrics_prints_json_for_a_pair_and_has_no_lpips_flag() {
    let out = Command::new(env!("CARGO_BIN_EXE_semcom"))
        .args(["metrics", &sample("chelsea.png"), &sample("chelsea.png"), "--json"])
        .output()
        .expect("run semcom");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    // Identical images: the PSNR cap, SSIM/MS-SSIM/VSI 1, GMSD and SWD 0.
    assert_eq!(v["psnr"], 100.0);
    for k in ["ssim", "ms_ssim", "vsi"] {
        assert!((v[k].as_f64().expect(k) - 1.0).abs() < 1e-9, "{k} = {}", v[k]);
    }
    assert!(v["gmsd"].as_f64().expect("gmsd").abs() < 1e-9);
    assert_eq!(v["swd"]["mean"], 0.0);

    // LPIPS is not offered (it needs network weights semcom cannot load yet).
    let out = Command::new(env!("CARGO_BIN_EXE_semcom"))
        .args(["metrics", &sample("chelsea.png"), &sample("chelsea.png"), "--lpips"])
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("run semcom");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unexpected argument '--lpips'"));

    let out = Command::new(env!("CARGO_BIN_EXE_semcom"))
        .args(["metrics", &sample("chelsea.png"), &sample("astronaut.png")])
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("run semcom");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("dimensions differ"));
}

/// `semcom demo --compare` on one image at one SNR: both codecs' reconstructions,
/// the key mask and prompt of the semantic run, and a summary whose rows carry the
/// metrics, a split that adds up and the generator (the default, the embedded diffusion
/// model).
#[test]
fn demo_compares_the_codecs_and_writes_masks_prompts_and_a_summary() {
    let dir = tempfile::tempdir().expect("tempdir");
    let images = dir.path().join("images");
    std::fs::create_dir(&images).expect("mkdir");
    std::fs::copy(sample("chelsea.png"), images.join("chelsea.png")).expect("copy");
    let out = dir.path().join("out");
    let run = Command::new(env!("CARGO_BIN_EXE_semcom"))
        .args(["demo", "--snr", "10", "--compare", "--images"])
        .arg(&images)
        .arg("--out")
        .arg(&out)
        .output()
        .expect("run semcom");
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(stdout.contains("| key PSNR dB |"), "{stdout}");
    for f in [
        "chelsea_original.png",
        "chelsea_snr10dB_semantic.png",
        "chelsea_snr10dB_softcast.png",
        "chelsea_snr10dB_mask.png",
        "chelsea_snr10dB_prompt.txt",
        "chelsea_snr10dB_prompt.json",
        "summary.md",
        "summary.json",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let rows: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).expect("read")).expect("JSON");
    let rows = rows.as_array().expect("rows");
    assert_eq!(rows.len(), 2);
    assert_eq!((rows[0]["codec"].as_str(), rows[1]["codec"].as_str()), (Some("semantic"), Some("softcast")));
    for r in rows {
        let n = |k: &str| r[k].as_u64().unwrap_or_else(|| panic!("{k}: {r}"));
        assert_eq!(n("pilots") + n("meta") + n("analog"), n("channel_uses"));
        assert!(n("channel_uses") <= n("budget"));
        // SoftCast is scored on the semantic run's key mask too.
        assert!(r["key_psnr_db"].as_f64().is_some() && r["psnr_db"].as_f64().is_some(), "{r}");
        assert!(r["vsi"].as_f64().is_some() && r["ms_ssim"].as_f64().is_some(), "{r}");
    }
    let sem = &rows[0];
    assert!(sem["key_share"].as_f64().is_some_and(|s| s > 0.0 && s < 1.0));
    let text = std::fs::read_to_string(out.join("chelsea_snr10dB_prompt.txt")).expect("prompt");
    assert_eq!(sem["prompt_text"].as_str().map(str::trim_end), Some(text.trim_end()));
    assert_eq!(rows[1]["key_share"], serde_json::Value::Null);
    // The chosen generator regenerated the semantic run; SoftCast has none.
    assert_eq!((sem["generator"].as_str(), &rows[1]["generator"]), (Some("diffusion-int8"), &serde_json::Value::Null));
    let summary = std::fs::read_to_string(out.join("summary.md")).expect("summary.md");
    assert!(summary.contains("| semantic | diffusion-int8 |") && summary.contains("| softcast | – |"), "{summary}");
    assert!(summary.contains("## chelsea at 10 dB, semantic, diffusion-int8 generator"), "{summary}");
}

/// `semcom demo` run from an empty folder, as after `cargo install`: it sends the
/// samples built into the binary and writes `demo-out/` there. One SNR and the classical
/// fill keep it short; a missing `--images` folder is an error that names where it looked.
#[test]
fn demo_runs_from_any_folder_with_the_built_in_samples() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = Command::new(env!("CARGO_BIN_EXE_semcom"))
        .args(["demo", "--snr", "10", "--generator", "classical"])
        .current_dir(dir.path())
        .output()
        .expect("run semcom");
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let out = dir.path().join("demo-out");
    let stems = ["astronaut", "chelsea", "coffee", "rocket"];
    for stem in stems {
        for suffix in
            ["original.png", "snr10dB_semantic.png", "snr10dB_mask.png", "snr10dB_prompt.txt", "snr10dB_prompt.json"]
        {
            let f = out.join(format!("{stem}_{suffix}"));
            assert!(f.is_file(), "{} missing", f.display());
        }
    }
    // The originals are the repository's samples.
    let original = image::open(out.join("chelsea_original.png")).expect("original").to_rgb8();
    assert_eq!(original, image::open(sample("chelsea.png")).expect("sample").to_rgb8());
    let rows: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).expect("summary.json")).expect("JSON");
    let images: Vec<&str> = rows.as_array().expect("rows").iter().filter_map(|r| r["image"].as_str()).collect();
    assert_eq!(images, stems);
    assert!(out.join("summary.md").is_file());

    let run = Command::new(env!("CARGO_BIN_EXE_semcom"))
        .args(["demo", "--images", "no-such-folder"])
        .current_dir(dir.path())
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("run semcom");
    assert!(!run.status.success());
    let stderr = String::from_utf8_lossy(&run.stderr);
    let looked_at = dir.path().join("no-such-folder");
    assert!(stderr.contains(&looked_at.display().to_string()), "{stderr}");
}

/// `semcom submit` with the semantic options, then `semcom fetch`, against a
/// running stack: the fetched files are the stored ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_with_semantic_options_and_fetch_saves_mask_and_prompt() {
    use semcom_cli::stack::{Stack, StackOptions};

    let dir = tempfile::tempdir().expect("tempdir");
    let stack = Stack::start(dir.path(), &StackOptions { snr_db: 20.0, ..StackOptions::default() })
        .await
        .expect("stack starts");
    let sender = format!("http://{}", stack.sender.grpc_addr);
    let receiver = format!("http://{}", stack.receiver.grpc_addr);
    let run = |args: Vec<String>| {
        tokio::task::spawn_blocking(move || {
            Command::new(env!("CARGO_BIN_EXE_semcom")).args(args).output().expect("run")
        })
    };
    let out = run(vec![
        "submit".into(),
        sample("chelsea.png"),
        "--sender".into(),
        sender,
        "--receiver".into(),
        receiver.clone(),
        "--expected-snr".into(),
        "20".into(),
        "--caption".into(),
        "a tabby cat".into(),
        "--roi".into(),
        "0,0,40,40".into(),
    ])
    .await
    .expect("join");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let id = stdout.split("as result ").nth(1).and_then(|s| s.split_whitespace().next()).expect("result id").to_owned();

    let target = dir.path().join("fetched.png");
    let out =
        run(vec!["fetch".into(), id.clone(), "--receiver".into(), receiver, "-o".into(), target.display().to_string()])
            .await
            .expect("join");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    stack.shutdown().await.expect("shutdown");

    let stored = dir.path().join("receiver").join("results");
    for (fetched, original) in [
        ("fetched.png", format!("{id}.png")),
        ("fetched.mask.png", format!("{id}.mask.png")),
        ("fetched.prompt.json", format!("{id}.prompt.json")),
        ("fetched.prompt.txt", format!("{id}.prompt.txt")),
    ] {
        assert_eq!(
            std::fs::read(dir.path().join(fetched)).expect(fetched),
            std::fs::read(stored.join(&original)).expect("stored"),
            "{fetched}"
        );
    }
    let text = std::fs::read_to_string(dir.path().join("fetched.prompt.txt")).expect("text");
    assert!(text.contains("a tabby cat"), "{text}");
    let mask = image::open(dir.path().join("fetched.mask.png")).expect("mask").to_luma8();
    assert!((0..40).all(|y| (0..40).all(|x| mask.get_pixel(x, y).0[0] == 255)), "ROI not key");
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("fetched.json")).expect("json")).expect("JSON");
    assert_eq!(meta["codec"], "semantic-v1");
}
