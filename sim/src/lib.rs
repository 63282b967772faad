//! The world cells live in: a deterministic discrete-event simulator.
//!
//! A [`engine::Simulation`] runs any `celluler_core::node::Node` over a
//! virtual clock and a simulated network ([`network`]) shaped by a
//! [`topology`] and a fault timeline ([`faults`]), configured by plain types
//! ([`config`]). Every handled input is folded into a trace hash ([`trace`]);
//! messages and faults are counted ([`metrics`]).

pub mod adversary;
pub mod agents;
pub mod arena;
pub mod clients;
pub mod config;
pub mod engine;
pub mod faults;
pub mod gossip;
pub mod latency;
pub mod links;
pub mod market;
pub mod metrics;
pub mod network;
pub mod queue;
pub mod scenario;
pub mod topology;
pub mod trace;
pub mod workload;
pub mod world;

pub use config::{
    ConfigError, Fault, LatencyModel, LinkModel, RegionMatrix, ScheduledFault, SimConfig,
    TopologySpec,
};
pub use engine::{Observed, Simulation};
pub use links::{CellSet, LinkAction, LinkRule, NetworkAdversary};
pub use trace::{TraceMode, TraceRecord};
