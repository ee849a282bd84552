//! The protobuf messages semcom puts on the link, generated at build time from
//! `proto/semcom/v1/`: the QUIC transmission header and acknowledgement
//! (`semcom.v1.wire`) and the structured prompt carried inside the symbols
//! (`semcom.v1.prompt`). Plain prost messages: the libraries that use them (the codec)
//! stay free of gRPC; the daemons' gRPC APIs are `semcom-proto`, which re-exports
//! these modules.

pub mod v1 {
    /// Messages that cross the QUIC link.
    pub mod wire {
        include!(concat!(env!("OUT_DIR"), "/semcom.v1.wire.rs"));
    }

    /// Structured prompt describing the non-key regions (docs/architecture.md §3).
    pub mod prompt {
        include!(concat!(env!("OUT_DIR"), "/semcom.v1.prompt.rs"));
    }
}

/// Version of the QUIC wire protocol, carried in every `TransmissionHeader`; a
/// receiver refuses versions it does not speak.
pub const WIRE_PROTOCOL_VERSION: u32 = 2;
