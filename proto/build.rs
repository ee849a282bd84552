//! Compiles the gRPC APIs with protox (pure Rust), so no system `protoc` is needed,
//! and writes the file descriptor set of every semcom proto for gRPC reflection.
use std::path::PathBuf;

use prost::Message;

const API: &str = "proto/semcom/v1/api.proto";
/// The link messages, compiled into code by semcom-wire; here only described for
/// reflection.
const LINK: [&str; 2] = ["proto/semcom/v1/wire.proto", "proto/semcom/v1/prompt.proto"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for f in std::iter::once(API).chain(LINK) {
        println!("cargo:rerun-if-changed={f}");
    }
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let all = protox::compile(std::iter::once(API).chain(LINK), ["proto"])?;
    std::fs::write(out.join("semcom_descriptor.bin"), all.encode_to_vec())?;
    let api = protox::compile([API], ["proto"])?;
    tonic_prost_build::configure().build_server(true).build_client(true).compile_fds(api)?;
    Ok(())
}
