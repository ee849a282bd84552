//! semcom's gRPC APIs (`semcom.v1`), generated at build time from `proto/`, with the
//! messages on the QUIC link (`semcom.v1.wire`, `semcom.v1.prompt`) re-exported from
//! semcom-wire.

/// gRPC APIs of the sender, receiver and channel-sim daemons.
pub mod v1 {
    tonic::include_proto!("semcom.v1");

    pub use semcom_wire::v1::{prompt, wire};
}

pub use semcom_wire::WIRE_PROTOCOL_VERSION;

/// Encoded `FileDescriptorSet` of every semcom proto, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/semcom_descriptor.bin"));
