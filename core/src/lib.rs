//! The Celluler cell stack, sans-IO and deterministic: no threads, no wall
//! clock, no OS randomness, no hash-ordered iteration on any path whose order
//! can reach an output. See ARCHITECTURE.md for the map.

pub mod book;
pub mod bus;
pub mod cell;
pub mod codec;
pub mod hashgraph;
pub mod identity;
pub mod journal;
pub mod ledger;
pub mod market;
pub mod message;
pub mod node;
pub mod rng;
pub mod time;
pub mod trust;
