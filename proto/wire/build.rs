//! Compiles the link messages with protox (pure Rust), so no system `protoc` is needed.
//! The schema lives with the gRPC APIs in `../proto`, one source tree for all of semcom's
//! protobuf.
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = ["../proto/semcom/v1/wire.proto", "../proto/semcom/v1/prompt.proto"];
    for f in &files {
        println!("cargo:rerun-if-changed={f}");
    }
    let fds = protox::compile(files, ["../proto"])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    prost_build::Config::new().out_dir(&out).compile_fds(fds)?;
    Ok(())
}
