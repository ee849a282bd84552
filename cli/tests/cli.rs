//! The `semcom` binary itself, run as a user would.

use std::process::Command;

fn sample(name: &str) -> String {
    format!("{}/../samples/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn metrics_prints_json_for_a_pair_and_refuses_lpips_clearly() {
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

    let out = Command::new(env!("CARGO_BIN_EXE_semcom"))
        .args(["metrics", &sample("chelsea.png"), &sample("chelsea.png"), "--lpips"])
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("run semcom");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("LPIPS needs"));

    let out = Command::new(env!("CARGO_BIN_EXE_semcom"))
        .args(["metrics", &sample("chelsea.png"), &sample("astronaut.png")])
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("run semcom");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("dimensions differ"));
}
