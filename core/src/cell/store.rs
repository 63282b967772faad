//! The store port: how a cell's consensus service reaches events and its
//! own decisions. The cell's environment ([`super::env::Environment`])
//! hands it one at every start; two implementations decide alike, event
//! for event:
//!
//! - [`LocalStore`] (here): one full [`Hashgraph`] per cell that forgets no
//!   event, nothing shared — what a real deployment runs.
//! - the simulator's view over a world's shared arena (`celluler-sim`'s
//!   `arena`), which computes each event's ancestry facts once for every
//!   cell; what a view decides (fame, order, forks it sees, what it can
//!   serve) is its own. A run must be the same, bit for bit, on either.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::hashgraph::{
    Config, ConfigError, Decisions, Event, EventHash, Frontier, Hashgraph, InsertError, Member,
    TieBreak,
};

/// What the consensus service asks of its store.
pub trait EventStore {
    /// Whether this cell knows the event.
    fn knows(&self, hash: &EventHash) -> bool;
    /// Learn an event this cell created or accepted (every receive check
    /// passed; its parents are known): what this cell newly decided.
    fn learn(&mut self, event: Arc<Event>) -> Result<Decisions, InsertError>;
    /// What this cell knows, as it tells a peer to ask for what it lacks
    /// (fork-aware: [`crate::hashgraph::engine::frontier`]).
    fn frontier(&self) -> Frontier;
    /// `member`'s latest event this cell knows (for a forker, its highest
    /// branch tip).
    fn latest_of(&self, member: u32) -> Option<EventHash>;
    /// The highest round among `parents` (0 for none), or `None` if this
    /// cell does not know one of them.
    fn parent_round(&self, parents: [Option<EventHash>; 2]) -> Option<u32>;
    /// What a peer with frontier `peer` lacks, in the canonical order (by
    /// generation, creator, sequence number, hash: parents first).
    fn missing_for(&self, peer: &Frontier) -> Vec<Arc<Event>>;
    /// Rounds this cell has ordered (every round below this one).
    fn decided_rounds(&self) -> u32;
    /// An event's round and whether it is a witness (ancestry facts).
    fn round(&self, hash: &EventHash) -> Option<(u32, bool)>;
    /// The creator of an event this cell knows.
    fn creator(&self, hash: &EventHash) -> Option<u32>;
    /// The events that are ancestors of `own` (itself included) but not of
    /// `before`, by creator, sequence number and hash (an ancestry fact;
    /// empty if either is unknown).
    fn reached_since(&self, own: &EventHash, before: Option<&EventHash>) -> Vec<Arc<Event>>;
}

/// One full engine per cell: every decision computed from this cell's own
/// events alone.
pub struct LocalStore {
    graph: Hashgraph,
    tie_break: TieBreak,
    /// Creators this cell has seen fork (one proof each is reported, as a
    /// view does).
    forkers_seen: BTreeSet<u32>,
}

impl LocalStore {
    pub fn new(
        members: Vec<Member>,
        config: Config,
        tie_break: TieBreak,
    ) -> Result<LocalStore, ConfigError> {
        Ok(LocalStore {
            graph: Hashgraph::keeping_every_event(members, config)?,
            tie_break,
            forkers_seen: BTreeSet::new(),
        })
    }
}

impl EventStore for LocalStore {
    fn knows(&self, hash: &EventHash) -> bool {
        self.graph.contains(hash)
    }

    fn learn(&mut self, event: Arc<Event>) -> Result<Decisions, InsertError> {
        let mut decisions = self.graph.insert_verified_shared(event)?;
        decisions
            .forks
            .retain(|fork| self.forkers_seen.insert(fork.creator));
        if self.tie_break == TieBreak::DescendingHash {
            // The planted mutation, as a view applies it: within each round,
            // ties of consensus timestamp by descending event hash.
            let ordered = &mut decisions.ordered;
            let mut start = 0;
            while start < ordered.len() {
                let round = ordered[start].round_received;
                let end = start
                    + ordered[start..]
                        .iter()
                        .take_while(|o| o.round_received == round)
                        .count();
                let first_position = ordered[start].position;
                ordered[start..end].sort_by(|a, b| {
                    a.consensus_timestamp_ns
                        .cmp(&b.consensus_timestamp_ns)
                        .then_with(|| b.event.hash().cmp(&a.event.hash()))
                });
                for (offset, event) in ordered[start..end].iter_mut().enumerate() {
                    event.position = first_position + offset as u64;
                }
                start = end;
            }
        }
        Ok(decisions)
    }

    fn frontier(&self) -> Frontier {
        self.graph.frontier()
    }

    fn latest_of(&self, member: u32) -> Option<EventHash> {
        self.graph.latest_of(member)
    }

    fn parent_round(&self, parents: [Option<EventHash>; 2]) -> Option<u32> {
        let mut round = 0;
        for parent in parents.iter().flatten() {
            round = round.max(self.graph.event_info(parent)?.round);
        }
        Some(round)
    }

    fn missing_for(&self, peer: &Frontier) -> Vec<Arc<Event>> {
        self.graph.missing_for(peer)
    }

    fn decided_rounds(&self) -> u32 {
        self.graph.decided_rounds()
    }

    fn round(&self, hash: &EventHash) -> Option<(u32, bool)> {
        let info = self.graph.event_info(hash)?;
        Some((info.round, info.witness))
    }

    fn creator(&self, hash: &EventHash) -> Option<u32> {
        Some(self.graph.event_info(hash)?.creator)
    }

    fn reached_since(&self, own: &EventHash, before: Option<&EventHash>) -> Vec<Arc<Event>> {
        self.graph.reached_since(own, before).unwrap_or_default()
    }
}
