//! Library side of the `semcom` command: the loopback stack used by `semcom demo`
//! and the end-to-end tests, the gRPC client workflow, and the demo itself.

pub mod client;
pub mod demo;
pub mod phy_curves;
pub mod stack;
