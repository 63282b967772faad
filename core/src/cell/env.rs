//! The environment port: what the host a cell runs in provides besides its
//! inputs. A cell asks it for a fresh event store at every start (the store
//! is volatile: a restarted cell rebuilds from its journals and gossip),
//! and for two checks that depend on content alone, which a host may
//! memoise on their complete input and share between the cells it hosts.
//! Every cell is still charged the CPU cost of each check it asks for.
//!
//! [`Standalone`] is what a real deployment runs: an engine of its own, every
//! check made. The simulator hosts many cells with one shared arena and
//! memo (`celluler-sim`'s `arena`); nothing it shares is a decision.

use std::rc::Rc;
use std::sync::Arc;

use crate::hashgraph::Event;
use crate::identity::PublicKey;
use crate::message::Message;

use super::store::{EventStore, LocalStore};
use super::{CellConfig, MemberInfo};

/// What a cell's host provides (module docs).
pub trait Environment {
    /// A new, empty event store for the cell configured by `config`.
    fn new_store(&self, config: &CellConfig) -> Box<dyn EventStore>;
    /// Whether `event`'s signature verifies under `key`. A memo must be
    /// keyed by both: the event's hash covers every signed byte and the
    /// signature.
    fn signature_valid(&self, event: &Event, key: &PublicKey) -> bool;
    /// Consensus transaction bytes, decoded and verified (`None`: they do
    /// not decode or do not verify). A memo must be keyed by the bytes.
    fn transaction(&self, bytes: &[u8]) -> Option<Arc<Message>>;
}

/// A cell's handle on its environment (held by the services that ask it;
/// environment, never durable state).
pub type EnvironmentHandle = Rc<dyn Environment>;

/// A host of one cell: its own engine, every check made, nothing memoised.
#[derive(Debug, Clone, Copy, Default)]
pub struct Standalone;

impl Standalone {
    pub fn handle() -> EnvironmentHandle {
        Rc::new(Standalone)
    }
}

impl Environment for Standalone {
    fn new_store(&self, config: &CellConfig) -> Box<dyn EventStore> {
        Box::new(
            LocalStore::new(
                config
                    .members
                    .iter()
                    .map(MemberInfo::consensus_member)
                    .collect(),
                config.consensus,
                config.tie_break,
            )
            .expect("a cell's configured members and consensus config are valid"),
        )
    }

    fn signature_valid(&self, event: &Event, key: &PublicKey) -> bool {
        event.verify(key).is_ok()
    }

    fn transaction(&self, bytes: &[u8]) -> Option<Arc<Message>> {
        Message::decode_verified(bytes).ok().map(Arc::new)
    }
}
