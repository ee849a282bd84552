//! Library side of the `semcom` command: the loopback stack used by `semcom demo`
//! and the end-to-end tests, the gRPC client workflow, the demo itself, the physical
//! layer curves and the evaluation sweeps (`semcom eval`).

pub mod client;
pub mod commands;
pub mod demo;
pub mod eval;
pub mod phy_curves;
pub mod stack;
pub mod train;
