//! A Celluler cell: the five services (Nucleus, Message, State, Identity,
//! Consensus) on an in-cell bus, as one sans-IO [`crate::node::Node`].

pub mod api;

pub use api::{CellCommand, CellObservation, TxId};
