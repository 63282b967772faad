//! One content-addressed store of every event, with its consensus facts
//! computed once ([`SharedHashgraph`]), and per-member views over it
//! ([`MemberView`]) that keep only what is their own: which events they know
//! (a down-closed set) and what they have decided.
//!
//! Every fact the store computes — round, witness, strongly-seen sets, votes,
//! and which witnesses a witness's vote decides — depends only on the event's
//! ancestry (and, for votes, on the witness voted on), so it is the same in
//! every view that holds the event. A view decides a witness's fame as soon
//! as it knows the witness and a witness whose vote decides it; a witness of
//! a round the view has already ordered is decided not famous; a round is
//! ordered once all its witnesses known to the view are decided. That is
//! exactly what a full [`Hashgraph`] fed the view's events in the view's
//! order decides, event for event (see the differential test).
//!
//! What a round receives — its events, their consensus timestamps and their
//! order — is consensus too: every view that orders a round orders the same
//! events the same way (the famous witnesses are the same, and a view knows
//! every ancestor of them). The first view to order a round computes it;
//! every other view reads it from the store's cache (`received`), so the
//! work is done once per world, not once per cell.
//!
//! The store prunes behind its views: once it has ordered a round itself
//! and some view has ordered it (so its received events are cached for every
//! later view), events [`PRUNE_LAG_ROUNDS`] rounds below drop their
//! per-member vectors (the n-entry ancestor vector, sights, rows), which is
//! most of an event's memory with many members. It keeps every event, its
//! payload and its consensus facts: views hold event ids, lagging or
//! restarted views learn old events and order old rounds (from the cache),
//! and a restarted cell relearns its history from the store. A new event
//! whose parents are both of rounds below the horizon is refused
//! ([`InsertError::AncientParent`]).

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::rc::{Rc, Weak};
use std::sync::Arc;

use super::frontier::{self, Frontier, Known};
use super::{
    Config, ConfigError, Decisions, EventId, FameDecision, ForkProof, Hashgraph, InsertError,
    Member, OrderedEvent, PRUNE_LAG_ROUNDS, WitnessId,
};
use crate::hashgraph::event::{Event, EventHash, MemberIndex};
use crate::identity::PublicKey;
use crate::time::TimeNs;

/// What one round received, in consensus order, with the same events
/// sorted by id for membership tests, for views whose famous witnesses of
/// every round up to this one chain to `famous_chain`.
struct ReceivedRound {
    famous_chain: [u8; 32],
    in_order: Rc<[(EventId, TimeNs)]>,
    ids_sorted: Box<[EventId]>,
}

/// An event of a [`SharedHashgraph`], by its place in the store: found by
/// hash once, then tested and learned by views without another lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreEvent(EventId);

/// The global store: insert each event once, parents first.
pub struct SharedHashgraph {
    graph: Hashgraph,
    /// By round: what it received, once some view has ordered it; one
    /// entry per distinct history of famous witnesses (one, unless views
    /// disagree).
    received: RefCell<Vec<Vec<ReceivedRound>>>,
    /// Rounds `0..cached_rounds` are all in `received`.
    cached_rounds: Cell<u32>,
    /// Each live view's ordered rounds (a view's handle drops with it):
    /// the store prunes behind the slowest, so that any event a live cell
    /// accepts under its own ancient rule can still be inserted.
    view_progress: RefCell<Vec<Weak<Cell<u32>>>>,
}

impl SharedHashgraph {
    pub fn new(members: Vec<Member>, config: Config) -> Result<SharedHashgraph, ConfigError> {
        let mut graph = Hashgraph::new(members, config)?;
        graph.prune_automatically = false;
        graph.forget = false;
        Ok(SharedHashgraph {
            graph,
            received: RefCell::new(Vec::new()),
            cached_rounds: Cell::new(0),
            view_progress: RefCell::new(Vec::new()),
        })
    }

    /// Members with equal stake 1 each.
    pub fn with_equal_stake(
        keys: Vec<PublicKey>,
        config: Config,
    ) -> Result<SharedHashgraph, ConfigError> {
        SharedHashgraph::new(Member::equal_stake(keys), config)
    }

    /// Insert an event whose signature was checked once by the caller. The
    /// returned decisions are those of a view that knows every event.
    pub fn insert_verified(&mut self, event: Event) -> Result<Decisions, InsertError> {
        self.insert_verified_shared(Arc::new(event))
    }

    /// [`Self::insert_verified`] of an event already behind an `Arc` (the
    /// store keeps that one: no copy).
    pub fn insert_verified_shared(&mut self, event: Arc<Event>) -> Result<Decisions, InsertError> {
        let decisions = self.graph.insert_verified_shared(event)?;
        self.prune();
        Ok(decisions)
    }

    /// Move the prune horizon up to [`PRUNE_LAG_ROUNDS`] below the first
    /// round that the store has not ordered or no view has ordered yet.
    fn prune(&mut self) {
        let mut slowest_view = None::<u32>;
        self.view_progress
            .borrow_mut()
            .retain(|progress| match progress.upgrade() {
                Some(progress) => {
                    slowest_view =
                        Some(slowest_view.map_or(progress.get(), |s| s.min(progress.get())));
                    true
                }
                None => false,
            });
        let settled = self
            .graph
            .next_round_to_order
            .min(self.cached_rounds.get())
            .min(slowest_view.unwrap_or(u32::MAX));
        let horizon = settled.checked_sub(PRUNE_LAG_ROUNDS);
        if horizon > self.graph.shared_horizon {
            self.graph.shared_horizon = horizon;
            self.graph.prune();
        }
    }

    /// Events whose per-member vectors are still held (not pruned).
    pub fn unpruned_events(&self) -> usize {
        self.graph.records.len() - self.graph.pruned_records
    }

    /// The store as a full engine (the view that knows everything).
    pub fn graph(&self) -> &Hashgraph {
        &self.graph
    }

    pub fn contains(&self, hash: &EventHash) -> bool {
        self.graph.contains(hash)
    }

    /// The event with this hash, if the store holds it.
    pub fn find(&self, hash: &EventHash) -> Option<StoreEvent> {
        self.graph.index.get(hash).map(|&id| StoreEvent(id))
    }

    /// A stored event's round.
    pub fn round_of(&self, event: StoreEvent) -> u32 {
        self.graph.records[event.0 as usize].round
    }

    /// The payload of a stored event (the store keeps every payload).
    pub fn event(&self, event: StoreEvent) -> &Arc<Event> {
        self.graph.records[event.0 as usize]
            .event
            .as_ref()
            .expect("the shared store keeps every event's payload")
    }

    /// What `round` receives, given its famous witnesses, taking those
    /// events out of `pending` (a view's known, unordered events).
    ///
    /// The events a round receives, their consensus timestamps and their
    /// order are a pure function of the famous witnesses of that round and
    /// of every round before it (Baird 2016, findOrder: each earlier round
    /// took its own events out first), so the result is memoised on exactly
    /// that: `famous_chain`, a digest chained over the famous witnesses of
    /// rounds `0..=round`. A view that decided any fame differently has
    /// another chain and computes its own answer.
    fn received_in_round(
        &self,
        round: u32,
        famous_chain: &[u8; 32],
        famous: &[WitnessId],
        pending: &mut Vec<EventId>,
    ) -> Rc<[(EventId, TimeNs)]> {
        let mut cache = self.received.borrow_mut();
        if let Some(cached) = cache
            .get(round as usize)
            .and_then(|variants| variants.iter().find(|v| v.famous_chain == *famous_chain))
        {
            // With the same famous witnesses so far, this view knows every
            // event the round receives (they are ancestors of the famous
            // witnesses) and has ordered none of them. Checked, not assumed:
            // a view that fails it computes its own answer below.
            let present = pending
                .iter()
                .filter(|event| cached.ids_sorted.binary_search(event).is_ok())
                .count();
            if present == cached.ids_sorted.len() {
                pending.retain(|event| cached.ids_sorted.binary_search(event).is_err());
                return Rc::clone(&cached.in_order);
            }
        }
        let in_order: Rc<[(EventId, TimeNs)]> = self.graph.receive_round(famous, pending).into();
        let mut ids_sorted: Box<[EventId]> = in_order.iter().map(|&(event, _)| event).collect();
        ids_sorted.sort_unstable();
        if cache.len() <= round as usize {
            cache.resize_with(round as usize + 1, Vec::new);
        }
        cache[round as usize].push(ReceivedRound {
            famous_chain: *famous_chain,
            in_order: Rc::clone(&in_order),
            ids_sorted,
        });
        let mut cached = self.cached_rounds.get();
        while cache
            .get(cached as usize)
            .is_some_and(|variants| !variants.is_empty())
        {
            cached += 1;
        }
        self.cached_rounds.set(cached);
        in_order
    }

    /// A new, empty view.
    pub fn new_view(&self) -> MemberView {
        MemberView {
            known_prefix: vec![0; self.graph.members.len()],
            known_off_prefix: BTreeMap::new(),
            fork_floors: BTreeMap::new(),
            rounds: VecDeque::new(),
            first_open_round: 0,
            pending: Vec::new(),
            next_position: 0,
            famous_chain: [0; 32],
            tie_break: TieBreak::WhitenedSignature,
            forkers_seen: BTreeSet::new(),
            progress: self.register_view(),
        }
    }

    fn register_view(&self) -> Rc<Cell<u32>> {
        let progress = Rc::new(Cell::new(0));
        self.view_progress
            .borrow_mut()
            .push(Rc::downgrade(&progress));
        progress
    }

    /// A new, empty view that breaks timestamp ties by `tie_break`.
    pub fn new_view_with(&self, tie_break: TieBreak) -> MemberView {
        MemberView {
            tie_break,
            ..self.new_view()
        }
    }
}

/// Why a view could not learn an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ViewError {
    #[error("event {0} is not in the shared store")]
    UnknownEvent(EventHash),
    #[error("event {0} is already known to this view")]
    AlreadyKnown(EventHash),
    #[error("event {event}: its parent {parent} is not known to this view yet")]
    ParentNotKnown { event: EventHash, parent: EventHash },
}

/// The witnesses of one round known to a view, and their fame in the view.
#[derive(Default)]
struct ViewRound {
    /// By the witness's slot in its round (the store's numbering), so that
    /// finding one is an index, not a search among up to n.
    witnesses: Vec<Option<(WitnessId, Option<bool>)>>,
    known: usize,
    decided: usize,
}

impl ViewRound {
    fn add(&mut self, slot: usize, witness: WitnessId) {
        if self.witnesses.len() <= slot {
            self.witnesses.resize(slot + 1, None);
        }
        assert!(
            self.witnesses[slot].is_none(),
            "a view learns a witness once"
        );
        self.witnesses[slot] = Some((witness, None));
        self.known += 1;
    }
}

/// One member's knowledge: the events it knows and what it has decided.
pub struct MemberView {
    /// Per member: the view knows that member's first-registered events at
    /// sequence numbers `0..known_prefix[m]` (all of an honest member's).
    known_prefix: Vec<u32>,
    /// Known events off that prefix (forks and what follows them), by
    /// creator.
    known_off_prefix: BTreeMap<MemberIndex, BTreeSet<EventId>>,
    /// Per creator this view has seen fork: the lowest sequence number at
    /// which it knows two events.
    fork_floors: BTreeMap<MemberIndex, u32>,
    /// Rounds from `first_open_round` on (the ones not yet ordered).
    rounds: VecDeque<ViewRound>,
    first_open_round: u32,
    pending: Vec<EventId>,
    next_position: u64,
    /// Chained over the famous witnesses of every round this view has
    /// ordered: with the round, the complete input of what the next round
    /// receives (see [`SharedHashgraph::received_in_round`]).
    famous_chain: [u8; 32],
    /// How this view breaks ties of consensus timestamp.
    tie_break: TieBreak,
    /// Creators this view has seen fork (one proof each is reported).
    forkers_seen: BTreeSet<u32>,
    /// Rounds this view has ordered, shared with the store's pruning.
    progress: Rc<Cell<u32>>,
}

/// How a view orders the events a round receives that share a consensus
/// timestamp. Baird 2016 uses the whitened signature; the other rule exists
/// only to plant a disagreement that the safety checkers must report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TieBreak {
    /// The paper's rule: whitened signature, then event hash.
    #[default]
    WhitenedSignature,
    /// A deliberate protocol mutation (tests only): descending event hash.
    DescendingHash,
}

impl MemberView {
    fn knows_id(&self, store: &SharedHashgraph, id: EventId) -> bool {
        let graph = &store.graph;
        let (creator, seq) = graph.positions[id as usize];
        let creator = creator as usize;
        // An unforked creator has one event per sequence number.
        (seq < self.known_prefix[creator]
            && (!graph.forked[creator] || graph.by_seq[creator].get(seq) == Some(id)))
            || self
                .known_off_prefix
                .get(&(creator as MemberIndex))
                .is_some_and(|ids| ids.contains(&id))
    }

    pub fn knows(&self, store: &SharedHashgraph, hash: &EventHash) -> bool {
        store
            .find(hash)
            .is_some_and(|event| self.knows_event(store, event))
    }

    pub fn knows_event(&self, store: &SharedHashgraph, event: StoreEvent) -> bool {
        self.knows_id(store, event.0)
    }

    /// Rounds this view has ordered (every round below this one).
    pub fn decided_rounds(&self) -> u32 {
        self.first_open_round
    }

    /// What this view knows, as it tells a peer ([`Frontier`]): a
    /// function of its known events alone.
    pub fn frontier(&self, store: &SharedHashgraph) -> Frontier {
        frontier::frontier(&ViewKnown { view: self, store })
    }

    /// Events this view knows that a peer with frontier `peer` lacks, in
    /// the canonical order (parents first; see [`frontier`]).
    pub fn missing_for(&self, store: &SharedHashgraph, peer: &Frontier) -> Vec<EventHash> {
        frontier::missing_for(&ViewKnown { view: self, store }, peer)
            .into_iter()
            .map(|id| store.graph.records[id as usize].hash)
            .collect()
    }

    /// `member`'s latest event this view knows (see [`frontier`]).
    pub fn latest_of(&self, store: &SharedHashgraph, member: MemberIndex) -> Option<EventHash> {
        frontier::latest_of(&ViewKnown { view: self, store }, member as usize)
            .map(|id| store.graph.records[id as usize].hash)
    }

    /// Learn one event (parents first). Returns what this view newly decided:
    /// exactly what a full engine over this view's events would.
    pub fn learn(
        &mut self,
        store: &SharedHashgraph,
        hash: &EventHash,
    ) -> Result<Decisions, ViewError> {
        let event = store.find(hash).ok_or(ViewError::UnknownEvent(*hash))?;
        self.learn_event(store, event)
    }

    /// [`MemberView::learn`] of an event already found in the store.
    pub fn learn_event(
        &mut self,
        store: &SharedHashgraph,
        event: StoreEvent,
    ) -> Result<Decisions, ViewError> {
        let graph = &store.graph;
        let id = event.0;
        let record = &graph.records[id as usize];
        let hash = &record.hash;
        if self.knows_id(store, id) {
            return Err(ViewError::AlreadyKnown(*hash));
        }
        for parent in [record.self_parent, record.other_parent]
            .into_iter()
            .flatten()
        {
            if !self.knows_id(store, parent) {
                return Err(ViewError::ParentNotKnown {
                    event: *hash,
                    parent: graph.records[parent as usize].hash,
                });
            }
        }
        let creator = record.creator as usize;
        let mut decisions = Decisions::default();
        // A view is down-closed, so it knows two events of one creator
        // neither of which is the other's self-ancestor exactly when it
        // knows two at one sequence number: a fork, seen by this view.
        if let Some(other) = self.known_at(store, record.creator, record.seq) {
            let floor = self.fork_floors.entry(record.creator).or_insert(record.seq);
            *floor = (*floor).min(record.seq);
            if self.forkers_seen.insert(record.creator) {
                decisions.forks.push(ForkProof {
                    creator: record.creator,
                    first: store.event(StoreEvent(other)).clone(),
                    second: store.event(event).clone(),
                });
            }
        }
        if record.seq == self.known_prefix[creator]
            && graph.by_seq[creator].get(record.seq) == Some(id)
        {
            self.known_prefix[creator] += 1;
        } else {
            self.known_off_prefix
                .entry(record.creator)
                .or_default()
                .insert(id);
        }
        self.pending.push(id);
        if let Some(witness) = record.witness {
            self.learn_witness(store, witness, &mut decisions);
        }
        self.order(store, &mut decisions);
        Ok(decisions)
    }

    /// An event of `creator` at sequence number `seq` this view knows, if any.
    fn known_at(&self, store: &SharedHashgraph, creator: u32, seq: u32) -> Option<EventId> {
        let graph = &store.graph;
        if seq < self.known_prefix[creator as usize] {
            return graph.by_seq[creator as usize].get(seq);
        }
        // Off the prefix: only forks and what follows them, a short list.
        self.known_off_prefix
            .get(&creator)?
            .iter()
            .copied()
            .find(|&id| graph.positions[id as usize].1 == seq)
    }

    fn round_mut(&mut self, round: u32) -> &mut ViewRound {
        let index = (round - self.first_open_round) as usize;
        while self.rounds.len() <= index {
            self.rounds.push_back(ViewRound::default());
        }
        &mut self.rounds[index]
    }

    /// The view's fame of `witness`: `None` if unknown or undecided.
    fn fame_in_view(&self, store: &SharedHashgraph, witness: WitnessId) -> Option<(usize, usize)> {
        let round = store.graph.witnesses[witness as usize].round;
        let index = round.checked_sub(self.first_open_round)? as usize;
        let view_round = self.rounds.get(index)?;
        let slot = store.graph.witnesses[witness as usize].slot as usize;
        view_round.witnesses.get(slot)?.as_ref()?;
        Some((index, slot))
    }

    fn decide(
        &mut self,
        store: &SharedHashgraph,
        witness: WitnessId,
        famous: bool,
        decided_in_round: u32,
        decisions: &mut Decisions,
    ) {
        let Some((index, slot)) = self.fame_in_view(store, witness) else {
            return;
        };
        let view_round = &mut self.rounds[index];
        let Some((_, fame)) = view_round.witnesses[slot].as_mut() else {
            return;
        };
        if fame.is_some() {
            return;
        }
        *fame = Some(famous);
        view_round.decided += 1;
        let w = &store.graph.witnesses[witness as usize];
        decisions.fame.push(FameDecision {
            witness: store.graph.records[w.event as usize].hash,
            round: w.round,
            famous,
            decided_in_round,
        });
    }

    fn learn_witness(
        &mut self,
        store: &SharedHashgraph,
        witness: WitnessId,
        decisions: &mut Decisions,
    ) {
        let graph = &store.graph;
        let w = &graph.witnesses[witness as usize];
        if w.round < self.first_open_round {
            // A late witness of a round this view has ordered.
            decisions.fame.push(FameDecision {
                witness: graph.records[w.event as usize].hash,
                round: w.round,
                famous: false,
                decided_in_round: w.round,
            });
            return;
        }
        // A witness the store met after other witnesses of later rounds
        // (late for the store or for some view) is voted on by those
        // witnesses when it arrives, so its deciders are facts of the store
        // like any other witness's: this view decides it from them.
        self.round_mut(w.round).add(w.slot as usize, witness);
        // As the engine does: the new witness's votes come first (it may
        // decide earlier witnesses), then the votes of known later ones on it.
        let mut decided_by_new: Vec<(WitnessId, bool)> = w
            .decides
            .iter()
            .copied()
            .filter(|&(target, _)| self.knows_id(store, graph.witnesses[target as usize].event))
            .collect();
        // The engine visits targets in ascending witness order.
        decided_by_new.sort_unstable();
        for (target, famous) in decided_by_new {
            self.decide(store, target, famous, w.round, decisions);
        }
        // Deciders already known, the earliest in the engine's voting order
        // (by round, then slot) first.
        let mut known_deciders: Vec<(u32, u32, bool)> = w
            .deciders
            .iter()
            .filter(|&&(voter, _)| self.knows_id(store, graph.witnesses[voter as usize].event))
            .map(|&(voter, famous)| {
                let v = &graph.witnesses[voter as usize];
                (v.round, v.slot, famous)
            })
            .collect();
        known_deciders.sort_unstable();
        if let Some(&(voter_round, _, famous)) = known_deciders.first() {
            self.decide(store, witness, famous, voter_round, decisions);
        }
    }

    /// findOrder over the view: order every round whose known witnesses
    /// are all decided, in round order.
    fn order(&mut self, store: &SharedHashgraph, decisions: &mut Decisions) {
        while let Some(front) = self.rounds.front() {
            if front.known == 0 || front.decided < front.known {
                return;
            }
            let famous: Vec<WitnessId> = front
                .witnesses
                .iter()
                .flatten()
                .filter(|(_, fame)| *fame == Some(true))
                .map(|(w, _)| *w)
                .collect();
            let round = self.first_open_round;
            let mut chain = blake3::Hasher::new();
            chain.update(&self.famous_chain);
            chain.update(&round.to_le_bytes());
            for &witness in &famous {
                let event = store.graph.witnesses[witness as usize].event;
                chain.update(&store.graph.records[event as usize].hash.0);
            }
            self.famous_chain = *chain.finalize().as_bytes();
            let received =
                store.received_in_round(round, &self.famous_chain, &famous, &mut self.pending);
            let mutated;
            let received: &[(EventId, TimeNs)] = match self.tie_break {
                TieBreak::WhitenedSignature => &received,
                TieBreak::DescendingHash => {
                    let mut reordered = received.to_vec();
                    reordered.sort_by(|a, b| {
                        let hash = |event: EventId| store.graph.records[event as usize].hash;
                        a.1.cmp(&b.1).then_with(|| hash(b.0).cmp(&hash(a.0)))
                    });
                    mutated = reordered;
                    &mutated
                }
            };
            for &(event, timestamp) in received {
                decisions.ordered.push(OrderedEvent {
                    event: store.graph.records[event as usize]
                        .event
                        .clone()
                        .expect("the shared store keeps every event's payload"),
                    round_received: round,
                    consensus_timestamp_ns: timestamp,
                    position: self.next_position,
                });
                self.next_position += 1;
            }
            self.rounds.pop_front();
            self.first_open_round += 1;
            self.progress.set(self.first_open_round);
        }
    }
}

/// A view's known events, as the fork-aware sync reads them.
struct ViewKnown<'a> {
    view: &'a MemberView,
    store: &'a SharedHashgraph,
}

impl Known for ViewKnown<'_> {
    fn graph(&self) -> &Hashgraph {
        &self.store.graph
    }

    fn extend_known_from(&self, member: usize, floor: u32, ids: &mut Vec<EventId>) {
        let prefix = self.view.known_prefix[member];
        if floor < prefix {
            ids.extend(self.store.graph.by_seq[member].range(floor, prefix));
        }
        if let Some(off) = self.view.known_off_prefix.get(&(member as MemberIndex)) {
            ids.extend(
                off.iter()
                    .copied()
                    .filter(|&id| self.store.graph.positions[id as usize].1 >= floor),
            );
        }
    }

    fn chain_length(&self, member: usize) -> u32 {
        let off_end = self
            .view
            .known_off_prefix
            .get(&(member as MemberIndex))
            .into_iter()
            .flatten()
            .map(|&id| self.store.graph.positions[id as usize].1 + 1)
            .max()
            .unwrap_or(0);
        self.view.known_prefix[member].max(off_end)
    }

    fn fork_floor(&self, member: usize) -> Option<u32> {
        self.view.fork_floors.get(&(member as MemberIndex)).copied()
    }

    fn knows(&self, id: EventId) -> bool {
        self.view.knows_id(self.store, id)
    }
}
