//! The store port: how a cell's consensus service reaches events and its
//! own decisions. Two implementations decide alike, event for event:
//!
//! - [`SharedStore`]: a [`MemberView`] over the world's shared arena
//!   ([`crate::hashgraph::SharedHashgraph`]), which computes each event's
//!   ancestry facts once for every cell. What the view decides (fame, order,
//!   forks it sees, what it can serve) is its own.
//! - [`LocalStore`]: one full [`Hashgraph`] per cell that forgets no event,
//!   nothing shared — what a real deployment runs, and the proof that the
//!   shared arena decides nothing for anyone (`[consensus] store =
//!   "independent"` must give the same run, bit for bit).

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::hashgraph::{
    Config, ConfigError, Decisions, Event, EventHash, Hashgraph, InsertError, Member, MemberView,
    TieBreak,
};

use super::shared::WorldHandle;
use crate::hashgraph::{ParentKind, ViewError};

/// Which store a cell's consensus runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreMode {
    /// A view over the world's shared arena (fast; the default).
    #[default]
    Shared,
    /// A full engine per cell, nothing shared.
    Independent,
}

/// What the consensus service asks of its store.
pub trait EventStore {
    /// Whether this cell knows the event.
    fn knows(&self, hash: &EventHash) -> bool;
    /// Learn an event this cell created or accepted (every receive check
    /// passed; its parents are known): what this cell newly decided.
    fn learn(&mut self, event: Arc<Event>) -> Result<Decisions, InsertError>;
    /// Per member, how many events of its first-registered chain this cell
    /// knows (what it sends to ask a peer for what it lacks).
    fn known_counts(&self) -> Vec<u32>;
    /// [`EventStore::known_counts`] of one member.
    fn known_count(&self, member: u32) -> u32;
    /// The highest round among `parents` (0 for none), or `None` if this
    /// cell does not know one of them.
    fn parent_round(&self, parents: [Option<EventHash>; 2]) -> Option<u32>;
    /// What a peer with `peer_counts` lacks, in the canonical order (by
    /// generation, creator, sequence number, hash: parents first).
    fn missing_for(&self, peer_counts: &[u32]) -> Vec<Arc<Event>>;
    /// Rounds this cell has ordered (every round below this one).
    fn decided_rounds(&self) -> u32;
    /// An event's round and whether it is a witness (ancestry facts).
    fn round(&self, hash: &EventHash) -> Option<(u32, bool)>;
    /// The known event of `member`'s first-registered chain at `seq`.
    fn chain_event(&self, member: u32, seq: u32) -> Option<Arc<Event>>;
    /// Per member, 1 + the highest sequence number among the ancestors of
    /// `hash` (itself included).
    fn ancestor_reach(&self, hash: &EventHash) -> Option<Vec<u32>>;
}

/// A cell's view over the world's shared arena.
pub struct SharedStore {
    world: WorldHandle,
    view: MemberView,
}

impl SharedStore {
    pub fn new(world: WorldHandle, tie_break: TieBreak) -> SharedStore {
        let view = world.borrow().store.new_view_with(tie_break);
        SharedStore { world, view }
    }
}

impl EventStore for SharedStore {
    fn knows(&self, hash: &EventHash) -> bool {
        self.view.knows(&self.world.borrow().store, hash)
    }

    fn learn(&mut self, event: Arc<Event>) -> Result<Decisions, InsertError> {
        let mut world = self.world.borrow_mut();
        let hash = event.hash();
        let self_parent = event.self_parent();
        let found = world.accept(event)?;
        // The view refuses what a full engine would: an event it knows, or
        // one whose parent it lacks (callers check both first).
        self.view
            .learn_event(&world.store, found)
            .map_err(|error| match error {
                ViewError::ParentNotKnown { event, parent } => InsertError::UnknownParent {
                    event,
                    kind: if Some(parent) == self_parent {
                        ParentKind::SelfParent
                    } else {
                        ParentKind::OtherParent
                    },
                    parent,
                },
                ViewError::AlreadyKnown(_) | ViewError::UnknownEvent(_) => {
                    InsertError::Duplicate(hash)
                }
            })
    }

    fn known_counts(&self) -> Vec<u32> {
        self.view.known_counts().to_vec()
    }

    fn known_count(&self, member: u32) -> u32 {
        self.view
            .known_counts()
            .get(member as usize)
            .copied()
            .unwrap_or(0)
    }

    fn parent_round(&self, parents: [Option<EventHash>; 2]) -> Option<u32> {
        let world = self.world.borrow();
        let mut round = 0;
        for parent in parents.iter().flatten() {
            let found = world.store.find(parent)?;
            if !self.view.knows_event(&world.store, found) {
                return None;
            }
            round = round.max(world.store.round_of(found));
        }
        Some(round)
    }

    fn missing_for(&self, peer_counts: &[u32]) -> Vec<Arc<Event>> {
        let world = self.world.borrow();
        self.view
            .missing_for(&world.store, peer_counts)
            .iter()
            .map(|hash| {
                let found = world.store.find(hash).expect("a view knows stored events");
                Arc::clone(world.store.event(found))
            })
            .collect()
    }

    fn decided_rounds(&self) -> u32 {
        self.view.decided_rounds()
    }

    fn round(&self, hash: &EventHash) -> Option<(u32, bool)> {
        let world = self.world.borrow();
        let info = world.store.graph().event_info(hash)?;
        Some((info.round, info.witness))
    }

    fn chain_event(&self, member: u32, seq: u32) -> Option<Arc<Event>> {
        self.world.borrow().store.chain_event(member, seq).cloned()
    }

    fn ancestor_reach(&self, hash: &EventHash) -> Option<Vec<u32>> {
        self.world.borrow().store.ancestor_reach(hash)
    }
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

    fn known_counts(&self) -> Vec<u32> {
        self.graph.chain_counts()
    }

    fn known_count(&self, member: u32) -> u32 {
        self.graph.chain_count(member)
    }

    fn parent_round(&self, parents: [Option<EventHash>; 2]) -> Option<u32> {
        let mut round = 0;
        for parent in parents.iter().flatten() {
            round = round.max(self.graph.event_info(parent)?.round);
        }
        Some(round)
    }

    fn missing_for(&self, peer_counts: &[u32]) -> Vec<Arc<Event>> {
        self.graph.missing_for(peer_counts)
    }

    fn decided_rounds(&self) -> u32 {
        self.graph.decided_rounds()
    }

    fn round(&self, hash: &EventHash) -> Option<(u32, bool)> {
        let info = self.graph.event_info(hash)?;
        Some((info.round, info.witness))
    }

    fn chain_event(&self, member: u32, seq: u32) -> Option<Arc<Event>> {
        self.graph.chain_event(member, seq).cloned()
    }

    fn ancestor_reach(&self, hash: &EventHash) -> Option<Vec<u32>> {
        self.graph.ancestor_reach(hash)
    }
}
