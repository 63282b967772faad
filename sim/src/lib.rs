//! The world cells live in: a deterministic discrete-event simulator.

pub mod scenario;
