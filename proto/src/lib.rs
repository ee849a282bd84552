//! semcom's gRPC APIs (`semcom.v1`) and the messages on the QUIC link
//! (`semcom.v1.wire`), generated at build time from `proto/`.

/// gRPC APIs of the sender, receiver and channel-sim daemons.
pub mod v1 {
    tonic::include_proto!("semcom.v1");

    /// Messages that cross the QUIC link.
    pub mod wire {
        tonic::include_proto!("semcom.v1.wire");
    }

    /// Structured prompt describing the non-key regions (DESIGN §3).
    pub mod prompt {
        tonic::include_proto!("semcom.v1.prompt");
    }
}

/// Encoded `FileDescriptorSet` of every semcom proto, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/semcom_descriptor.bin"));

/// Version of the QUIC wire protocol, agreed in the `Handshake`.
pub const WIRE_PROTOCOL_VERSION: u32 = 1;
