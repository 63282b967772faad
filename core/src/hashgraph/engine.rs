//! The incremental consensus engine: Baird 2016, section 4 (divideRounds,
//! decideFame, findOrder), run one inserted event at a time.
//!
//! Data layout (why it is fast): events live in an arena indexed by insertion
//! number (renumbered in order when pruned events are forgotten). Each event
//! carries `last_ancestors`, one `u32` per member: one plus the highest
//! sequence number of that member's events among its ancestors, so "is `x` an
//! ancestor of `y`" is one comparison while `x`'s creator has not forked.
//! Without forks and with equal stake, each event's seen-witness rows live in
//! dense per-round arrays (`rows`) and strongly-seen sets are column counts
//! over its members' latest rows (`bits::columns_at_least`). Otherwise each
//! member's chain keeps running counts, per witness of its current round, of
//! the stake of members whose latest known event sees that witness; an event
//! inherits its self-parent's counts and adds only what its new ancestors
//! brought (`first_sees`: the witnesses an event is its creator's first event
//! to see). Votes are dense bit matrices per round pair (`votes`). Per-event
//! vectors of long-decided rounds are dropped, then the events forgotten.

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap, VecDeque}; // tidy: lookup-only (event index by hash)
use std::sync::Arc;

use super::bits::{BitSet, columns_at_least, count_and_words, iter_and_words};
use super::event::{DigestHasher, Event, EventHash, MemberIndex};
use crate::identity::{PublicKey, SIGNATURE_LEN, SignatureError};
use crate::time::TimeNs;
use std::hash::BuildHasherDefault;

pub mod frontier;
mod rows;
pub mod shared;
mod votes;

use rows::RowStore;
use votes::VoteMatrix;

type EventId = u32;
type WitnessId = u32;

/// The prune horizon is this many rounds below the next round to order. A
/// new event needs a parent of the horizon's round or above (else it is
/// refused as [`InsertError::AncientParent`] or [`InsertError::AncientRound`]);
/// ordered events more than one round below the horizon lose their
/// per-event vectors, and are forgotten at the next compaction.
pub const PRUNE_LAG_ROUNDS: u32 = 6;

/// Compact once at least this many records are pruned and they are at least
/// half of all records (so compaction costs O(1) per event, amortized).
const COMPACT_MIN_PRUNED: usize = 4096;

/// One voting member: its key and its stake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub public_key: PublicKey,
    pub stake: u64,
}

impl Member {
    /// One member per key, each with stake 1.
    pub fn equal_stake(keys: Vec<PublicKey>) -> Vec<Member> {
        keys.into_iter()
            .map(|public_key| Member {
                public_key,
                stake: 1,
            })
            .collect()
    }
}

/// Engine parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Every `coin_round_frequency`-th round of an election is a coin round
    /// (the paper's `c`). At least 2.
    pub coin_round_frequency: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            coin_round_frequency: 10,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("a hashgraph needs at least one member")]
    NoMembers,
    #[error("member {member} has zero stake")]
    ZeroStake { member: MemberIndex },
    #[error("total stake overflows a u64")]
    StakeOverflow,
    #[error("the coin round frequency must be at least 2, got {0}")]
    CoinRoundFrequency(u32),
}

/// Which parent an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParentKind {
    SelfParent,
    OtherParent,
}

impl std::fmt::Display for ParentKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ParentKind::SelfParent => "self-parent",
            ParentKind::OtherParent => "other-parent",
        })
    }
}

/// Why an event was refused. The engine is unchanged after an error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InsertError {
    #[error("event {0} is already known")]
    Duplicate(EventHash),
    #[error("event {event} names creator {creator}, but there are {members} members")]
    UnknownCreator {
        event: EventHash,
        creator: MemberIndex,
        members: usize,
    },
    #[error("event {event}: unknown {kind} {parent}")]
    UnknownParent {
        event: EventHash,
        kind: ParentKind,
        parent: EventHash,
    },
    #[error(
        "event {event}: its self-parent {parent} was created by member {parent_creator}, not by {creator}"
    )]
    SelfParentByOtherCreator {
        event: EventHash,
        parent: EventHash,
        creator: MemberIndex,
        parent_creator: MemberIndex,
    },
    #[error("event {event}: {kind} {parent} is from a round decided long ago")]
    AncientParent {
        event: EventHash,
        kind: ParentKind,
        parent: EventHash,
    },
    #[error("event {event} would be in round {round}, decided and pruned long ago")]
    AncientRound { event: EventHash, round: u32 },
    #[error("event {event}: {source}")]
    BadSignature {
        event: EventHash,
        source: SignatureError,
    },
}

/// Two signed events by one creator, neither a self-ancestor of the other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForkProof {
    pub creator: MemberIndex,
    pub first: Arc<Event>,
    pub second: Arc<Event>,
}

/// A witness whose fame became decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FameDecision {
    pub witness: EventHash,
    pub round: u32,
    pub famous: bool,
    /// The round of the witness whose vote decided it (`round` for a late
    /// witness decided not famous on arrival): the election took
    /// `decided_in_round - round` voting rounds, and passed a coin round
    /// when that is at least the coin round frequency.
    pub decided_in_round: u32,
}

/// An event that received its place in the total order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderedEvent {
    pub event: Arc<Event>,
    pub round_received: u32,
    pub consensus_timestamp_ns: TimeNs,
    /// Position in the total order, from 0.
    pub position: u64,
}

/// What one insertion decided.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decisions {
    pub fame: Vec<FameDecision>,
    pub ordered: Vec<OrderedEvent>,
    pub forks: Vec<ForkProof>,
}

/// The consensus facts known about one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventInfo {
    pub creator: MemberIndex,
    /// Position in its creator's chain (0 for a first event).
    pub sequence: u32,
    pub round: u32,
    pub witness: bool,
    /// `None` for non-witnesses and undecided witnesses.
    pub famous: Option<bool>,
    pub round_received: Option<u32>,
    pub consensus_timestamp_ns: Option<TimeNs>,
    pub position: Option<u64>,
}

struct Record {
    /// Dropped once the event is ordered and pruned.
    event: Option<Arc<Event>>,
    hash: EventHash,
    creator: MemberIndex,
    seq: u32,
    self_parent: Option<EventId>,
    other_parent: Option<EventId>,
    /// For a member known to fork: the self-ancestor at sequence number
    /// `seq & (seq - 1)`, so that a walk down a chain takes O(log n) steps.
    skip: Option<EventId>,
    timestamp_ns: TimeNs,
    /// 1 + the highest generation of its parents (0 without parents): an
    /// ancestry fact, so sorting by it is a topological order every holder
    /// of the events computes alike.
    generation: u32,
    round: u32,
    witness: Option<WitnessId>,
    /// `last_ancestors[m]` = 1 + the highest sequence number among member
    /// `m`'s ancestors of this event (itself included); 0 when none.
    last_ancestors: Option<Box<[u32]>>,
    /// Witnesses this event is its creator's first event to see.
    /// As `(round, slot, witness creator)`, so counting needs no lookup.
    first_sees: Vec<Sight>,
    /// For members known to have forked when this event arrived: the maximal
    /// events of that member among this event's ancestors (two or more = this
    /// event sees the member forking).
    /// Shared between events whose tips are the same (most of them).
    fork_tips: Vec<(MemberIndex, Arc<[EventId]>)>,
    round_received: Option<u32>,
    consensus_timestamp_ns: Option<TimeNs>,
    position: Option<u64>,
}

#[derive(Clone, Copy)]
struct Sight {
    round: u32,
    slot: u32,
    creator: MemberIndex,
}

struct Witness {
    event: EventId,
    creator: MemberIndex,
    round: u32,
    slot: u32,
    /// Members whose chain has an event with this witness as ancestor.
    seen_by: BitSet,
    /// Slots of the previous round's witnesses this witness strongly sees.
    strongly_seen: BitSet,
    fame: Option<bool>,
    decided_round: u32,
    /// Witnesses whose vote decides this witness's fame, with the decision
    /// (a fact of their ancestry; read by views of a shared store).
    deciders: Vec<(WitnessId, bool)>,
    /// Witnesses this witness decides, with the decision.
    decides: Vec<(WitnessId, bool)>,
    /// Decided not famous on arrival, its round being already ordered here:
    /// no witness voted on it, so `deciders` is empty (see `MemberView`).
    late: bool,
}

/// One member's events by sequence number (the first registered at each),
/// from `base` on; events below `base` are forgotten.
#[derive(Default, Clone)]
struct ChainIndex {
    base: u32,
    /// `FORGOTTEN` where a forgotten event sits among kept ones (forks only).
    ids: Vec<EventId>,
}

const FORGOTTEN: EventId = EventId::MAX;

impl ChainIndex {
    fn get(&self, seq: u32) -> Option<EventId> {
        let id = *self.ids.get(seq.checked_sub(self.base)? as usize)?;
        (id != FORGOTTEN).then_some(id)
    }

    /// One past the highest sequence number registered.
    fn next_seq(&self) -> u32 {
        self.base + self.ids.len() as u32
    }

    fn last(&self) -> Option<EventId> {
        self.ids.last().copied().filter(|&id| id != FORGOTTEN)
    }

    /// Events of sequence numbers `from..to` (all kept).
    fn range(&self, from: u32, to: u32) -> impl Iterator<Item = EventId> + '_ {
        (from..to).map(|seq| self.get(seq).expect("a view's known chain events are kept"))
    }
}

#[derive(Default)]
struct RoundInfo {
    witnesses: Vec<WitnessId>,
    /// `(creator, sequence number)` of each witness, by slot.
    positions: Vec<(MemberIndex, u32)>,
    decided: usize,
    /// `votes[d - 1]`: the votes of round `r + d` witnesses on this round's.
    votes: Vec<VoteMatrix>,
}

/// Running strongly-see counts of one member's chain, valid at `head`.
struct ChainCounts {
    head: EventId,
    round: u32,
    /// Per witness slot of `round`: stake of the members whose latest event
    /// known to `head` sees that witness.
    seen_stake: Vec<u64>,
    strongly: BitSet,
    strongly_stake: u64,
}

/// The hashgraph of one view: every event inserted, with its consensus facts.
pub struct Hashgraph {
    members: Vec<Member>,
    total_stake: u64,
    /// The least stake that is more than 2/3 of the total.
    supermajority_stake: u64,
    equal_stake: bool,
    config: Config,
    records: Vec<Record>,
    /// `(creator, sequence number)` by event id: what a view's membership
    /// test reads, dense so that it stays in cache (a record is ~250 bytes).
    positions: Vec<(MemberIndex, u32)>,
    index: HashMap<EventHash, EventId, BuildHasherDefault<DigestHasher>>, // tidy: lookup-only
    /// First event registered at each (member, sequence number).
    by_seq: Vec<ChainIndex>,
    forked: Vec<bool>,
    forked_members: Vec<MemberIndex>,
    /// Per forking member: its events that are not the first registered at
    /// their sequence number (what `by_seq` does not list).
    off_chain: BTreeMap<MemberIndex, Vec<EventId>>,
    /// Per forking member: the lowest sequence number holding two events.
    fork_floors: BTreeMap<MemberIndex, u32>,
    forks: Vec<ForkProof>,
    witnesses: Vec<Witness>,
    rounds: Vec<RoundInfo>,
    chains: Vec<Option<ChainCounts>>,
    /// Witnesses still voted on, ascending.
    active: Vec<WitnessId>,
    next_round_to_order: u32,
    /// Events without a place in the order yet, in insertion order.
    pending: Vec<EventId>,
    next_position: u64,
    prune_queue: VecDeque<EventId>,
    /// Rounds below this one keep only their decided count.
    pruned_rounds: u32,
    /// Records pruned since the last compaction.
    pruned_records: usize,
    /// Events inserted, forgotten ones included.
    event_count: usize,
    /// Off in a shared store, whose views may lag behind its own order.
    prune_automatically: bool,
    /// Pruned events are forgotten (records and payloads dropped, the rest
    /// renumbered). Off, an engine keeps every event it was given: what a
    /// cell that serves its history to lagging peers runs.
    forget: bool,
    /// A shared store's prune horizon, set by the store (see
    /// `SharedHashgraph::prune`): there, pruning keeps event payloads and
    /// never forgets an event, as views hold event ids and replay old rounds.
    shared_horizon: Option<u32>,
    /// Per member: `(event, round, cells)` — the strongly-see filter's cell
    /// count for that member's latest event, reused by its next event.
    filter_cells: Vec<Option<(EventId, u32, u64)>>,
    /// The consensus-timestamp sweep's matrix, kept between rounds (tens of
    /// megabytes at 1,000 members: fresh pages each round cost more).
    sweep_scratch: Cell<Vec<TimeNs>>,
    /// Seen-witness rows of the fast path (equal stake, no fork seen yet);
    /// `None` otherwise.
    rows: Option<RowStore>,
}

impl Hashgraph {
    pub fn new(members: Vec<Member>, config: Config) -> Result<Hashgraph, ConfigError> {
        if members.is_empty() {
            return Err(ConfigError::NoMembers);
        }
        if config.coin_round_frequency < 2 {
            return Err(ConfigError::CoinRoundFrequency(config.coin_round_frequency));
        }
        let mut total_stake: u64 = 0;
        for (index, member) in members.iter().enumerate() {
            if member.stake == 0 {
                return Err(ConfigError::ZeroStake {
                    member: index as MemberIndex,
                });
            }
            total_stake = total_stake
                .checked_add(member.stake)
                .ok_or(ConfigError::StakeOverflow)?;
        }
        let equal_stake = members.iter().all(|m| m.stake == members[0].stake);
        let count = members.len();
        Ok(Hashgraph {
            members,
            total_stake,
            supermajority_stake: (u128::from(total_stake) * 2 / 3) as u64 + 1,
            equal_stake,
            config,
            records: Vec::new(),
            positions: Vec::new(),
            index: HashMap::default(), // tidy: lookup-only
            by_seq: vec![ChainIndex::default(); count],
            forked: vec![false; count],
            forked_members: Vec::new(),
            off_chain: BTreeMap::new(),
            fork_floors: BTreeMap::new(),
            forks: Vec::new(),
            witnesses: Vec::new(),
            rounds: Vec::new(),
            chains: (0..count).map(|_| None).collect(),
            active: Vec::new(),
            next_round_to_order: 0,
            pending: Vec::new(),
            next_position: 0,
            prune_queue: VecDeque::new(),
            pruned_rounds: 0,
            pruned_records: 0,
            event_count: 0,
            prune_automatically: true,
            forget: true,
            shared_horizon: None,
            filter_cells: vec![None; count],
            rows: equal_stake.then(|| RowStore::new(count)),
            sweep_scratch: Cell::new(Vec::new()),
        })
    }

    /// Members with equal stake 1 each.
    pub fn with_equal_stake(
        keys: Vec<PublicKey>,
        config: Config,
    ) -> Result<Hashgraph, ConfigError> {
        Hashgraph::new(Member::equal_stake(keys), config)
    }

    /// An engine that prunes per-event vectors behind its own horizon but
    /// forgets no event: every payload stays, so it can serve any event it
    /// knows, and a pruned parent's vector is found again by a walk.
    pub fn keeping_every_event(
        members: Vec<Member>,
        config: Config,
    ) -> Result<Hashgraph, ConfigError> {
        let mut graph = Hashgraph::new(members, config)?;
        graph.forget = false;
        Ok(graph)
    }

    /// Sorts events into the canonical order of [`Self::missing_for`].
    pub(crate) fn sort_canonically(&self, ids: &mut [EventId]) {
        ids.sort_unstable_by_key(|&id| {
            let record = &self.records[id as usize];
            (record.generation, record.creator, record.seq, record.hash)
        });
    }

    pub fn members(&self) -> &[Member] {
        &self.members
    }

    pub fn total_stake(&self) -> u64 {
        self.total_stake
    }

    pub fn config(&self) -> Config {
        self.config
    }

    /// Verify the creator's signature, then insert.
    pub fn insert(&mut self, event: Event) -> Result<Decisions, InsertError> {
        let creator = event.creator();
        let Some(member) = self.members.get(creator as usize) else {
            return Err(InsertError::UnknownCreator {
                event: event.hash(),
                creator,
                members: self.members.len(),
            });
        };
        event
            .verify(&member.public_key)
            .map_err(|source| InsertError::BadSignature {
                event: event.hash(),
                source,
            })?;
        self.insert_verified(event)
    }

    /// Insert an event whose signature the caller has already checked with
    /// [`Event::verify`]. Parents must already be inserted.
    pub fn insert_verified(&mut self, event: Event) -> Result<Decisions, InsertError> {
        self.insert_verified_shared(Arc::new(event))
    }

    /// [`Self::insert_verified`] of an event already behind an `Arc`: the
    /// engine keeps that one (event bytes are content, shared freely).
    pub fn insert_verified_shared(&mut self, event: Arc<Event>) -> Result<Decisions, InsertError> {
        let hash = event.hash();
        if self.index.contains_key(&hash) {
            return Err(InsertError::Duplicate(hash));
        }
        let creator = event.creator();
        if creator as usize >= self.members.len() {
            return Err(InsertError::UnknownCreator {
                event: hash,
                creator,
                members: self.members.len(),
            });
        }
        let self_parent = self.parent(hash, event.self_parent(), ParentKind::SelfParent)?;
        let other_parent = self.parent(hash, event.other_parent(), ParentKind::OtherParent)?;
        if let Some(parent) = self_parent {
            let parent_creator = self.records[parent as usize].creator;
            if parent_creator != creator {
                return Err(InsertError::SelfParentByOtherCreator {
                    event: hash,
                    parent: self.records[parent as usize].hash,
                    creator,
                    parent_creator,
                });
            }
        }
        let parent_round = [self_parent, other_parent]
            .into_iter()
            .flatten()
            .map(|p| self.records[p as usize].round)
            .max()
            .unwrap_or(0);
        // A shared store's horizon lies behind every live view's own (each
        // cell applies its ancient rule before an event reaches the store),
        // so this refuses no event a live cell accepted: only what the
        // store's pruned data could no longer place.
        if let Some(horizon) = self.prune_horizon()
            && parent_round < horizon
        {
            // Both parents are of rounds decided long ago, or none and round
            // 0 is: the event's round is pruned (its rows are gone).
            let parent = match (other_parent, self_parent) {
                (Some(parent), _) => Some((ParentKind::OtherParent, parent)),
                (None, Some(parent)) => Some((ParentKind::SelfParent, parent)),
                (None, None) => None,
            };
            return Err(match parent {
                Some((kind, parent)) => InsertError::AncientParent {
                    event: hash,
                    kind,
                    parent: self.records[parent as usize].hash,
                },
                None => InsertError::AncientRound {
                    event: hash,
                    round: 0,
                },
            });
        }
        // Validated: from here on the insertion cannot fail.
        let mut decisions = Decisions::default();
        let id = self.records.len() as EventId;
        let seq = self_parent.map_or(0, |p| self.records[p as usize].seq + 1);
        let member_count = self.members.len();
        let mut last_ancestors: Box<[u32]> = match (self_parent, other_parent) {
            (None, None) => vec![0; member_count].into_boxed_slice(),
            (Some(p), None) | (None, Some(p)) => self.reach(p).into(),
            (Some(a), Some(b)) => {
                let (a, b) = (self.reach(a), self.reach(b));
                a.iter().zip(b.iter()).map(|(x, y)| *x.max(y)).collect()
            }
        };
        let own = &mut last_ancestors[creator as usize];
        *own = (*own).max(seq + 1);
        let generation = [self_parent, other_parent]
            .into_iter()
            .flatten()
            .map(|p| self.records[p as usize].generation + 1)
            .max()
            .unwrap_or(0);
        self.records.push(Record {
            event: Some(event.clone()),
            hash,
            creator,
            seq,
            self_parent,
            other_parent,
            skip: None,
            timestamp_ns: event.timestamp_ns(),
            generation,
            round: parent_round,
            witness: None,
            last_ancestors: Some(last_ancestors),
            first_sees: Vec::new(),
            fork_tips: Vec::new(),
            round_received: None,
            consensus_timestamp_ns: None,
            position: None,
        });
        self.index.insert(hash, id);
        self.positions.push((creator, seq));
        self.event_count += 1;
        self.prune_queue.push_back(id);
        self.register_sequence(id, &mut decisions);
        if self.forked[creator as usize] && seq > 0 {
            let skip = self_parent.and_then(|p| self.self_ancestor_at(p, seq & (seq - 1)));
            self.records[id as usize].skip = skip;
        }
        self.compute_fork_tips(id, self_parent, other_parent);

        // divideRounds (Baird 2016, fig. "divideRounds"): r = max parent
        // round; round r + 1 if the event strongly sees more than 2/3 (by
        // stake) of the round-r witnesses.
        self.record_first_sights(id, parent_round);
        // Sights of the round below count too: a later witness of this round
        // that does not advance itself votes with what it strongly sees there,
        // and events of this round among its ancestors may see late witnesses
        // of that round.
        if parent_round > 0 {
            self.record_first_sights(id, parent_round - 1);
        }
        self.compute_rows(id, parent_round);
        let (strongly, strongly_stake) = self.strongly_seen_for_round(id, parent_round, true);
        let round = if self.is_supermajority(strongly_stake) {
            parent_round + 1
        } else {
            parent_round
        };
        self.records[id as usize].round = round;
        let is_witness = self_parent.is_none_or(|p| self.records[p as usize].round < round);
        if is_witness {
            let strongly_seen_previous = if round == parent_round + 1 {
                strongly
            } else if round > 0 {
                self.strongly_seen_for_round(id, round - 1, false).0
            } else {
                BitSet::new()
            };
            let witness = self.register_witness(id, round, strongly_seen_previous);
            self.decide_fame_for_new_witness(witness, &mut decisions);
        }
        self.pending.push(id);
        self.find_order(&mut decisions);
        Ok(decisions)
    }

    fn parent(
        &self,
        event: EventHash,
        parent: Option<EventHash>,
        kind: ParentKind,
    ) -> Result<Option<EventId>, InsertError> {
        let Some(parent) = parent else {
            return Ok(None);
        };
        let Some(&id) = self.index.get(&parent) else {
            return Err(InsertError::UnknownParent {
                event,
                kind,
                parent,
            });
        };
        if self.forget && self.records[id as usize].last_ancestors.is_none() {
            return Err(InsertError::AncientParent {
                event,
                kind,
                parent,
            });
        }
        Ok(Some(id))
    }

    /// `id`'s last-ancestor vector: held, or — once pruned, in a store that
    /// forgets no event — found again by a walk down its ancestry to the
    /// nearest events that still hold theirs. (A lagging cell's event may
    /// rest on a parent that others pruned long ago.)
    pub(crate) fn reach(&self, id: EventId) -> std::borrow::Cow<'_, [u32]> {
        if let Some(last) = self.records[id as usize].last_ancestors.as_deref() {
            return std::borrow::Cow::Borrowed(last);
        }
        let mut reach = vec![0u32; self.members.len()];
        let mut visited = std::collections::BTreeSet::new();
        let mut stack = vec![id];
        while let Some(current) = stack.pop() {
            if !visited.insert(current) {
                continue;
            }
            let record = &self.records[current as usize];
            if let Some(last) = record.last_ancestors.as_deref() {
                for (slot, &seen) in reach.iter_mut().zip(last) {
                    *slot = (*slot).max(seen);
                }
                continue;
            }
            let slot = &mut reach[record.creator as usize];
            *slot = (*slot).max(record.seq + 1);
            stack.extend(record.self_parent);
            stack.extend(record.other_parent);
        }
        std::borrow::Cow::Owned(reach)
    }

    fn last_ancestors(&self, id: EventId) -> &[u32] {
        self.records[id as usize]
            .last_ancestors
            .as_deref()
            .expect("parents and recent events keep their ancestor vectors")
    }

    /// Events of rounds below this one are pruned once ordered, and a new
    /// event needs a parent of this round or above; `None` while nothing is
    /// pruned (and always in a shared store).
    fn prune_horizon(&self) -> Option<u32> {
        if !self.prune_automatically {
            return self.shared_horizon;
        }
        self.next_round_to_order.checked_sub(PRUNE_LAG_ROUNDS)
    }

    fn is_supermajority(&self, stake: u64) -> bool {
        stake >= self.supermajority_stake
    }

    /// Fork detection: a second event at a (creator, sequence) already taken.
    fn register_sequence(&mut self, id: EventId, decisions: &mut Decisions) {
        let record = &self.records[id as usize];
        let (creator, seq) = (record.creator as usize, record.seq);
        let chain = &mut self.by_seq[creator];
        assert!(
            chain.next_seq() >= seq,
            "a self-parent is registered before its child"
        );
        if chain.next_seq() == seq {
            chain.ids.push(id);
            return;
        }
        self.off_chain
            .entry(creator as MemberIndex)
            .or_default()
            .push(id);
        let floor = self
            .fork_floors
            .entry(creator as MemberIndex)
            .or_insert(seq);
        *floor = (*floor).min(seq);
        // The first event is gone only if it was pruned long ago; the fork
        // is still recorded, without a proof.
        let first = chain
            .get(seq)
            .and_then(|first| self.records[first as usize].event.clone());
        if let (Some(first), Some(second)) = (first, self.records[id as usize].event.clone()) {
            let proof = ForkProof {
                creator: creator as MemberIndex,
                first,
                second,
            };
            self.forks.push(proof.clone());
            decisions.forks.push(proof);
        }
        if !self.forked[creator] {
            self.forked[creator] = true;
            self.forked_members.push(creator as MemberIndex);
            // Until now the chain was one line, registered in `by_seq`.
            let chain = &self.by_seq[creator];
            for seq in chain.base.max(1)..chain.next_seq() {
                if let (Some(event), Some(skip)) = (chain.get(seq), chain.get(seq & (seq - 1))) {
                    self.records[event as usize].skip = Some(skip);
                }
            }
            // Chain counts include the forker's sights; rebuild them without.
            for chain in &mut self.chains {
                *chain = None;
            }
            // The fast path assumes no forks; its rows are not needed again,
            // but witnesses' `seen_by` sets are read from now on.
            if let Some(rows) = self.rows.take() {
                self.rebuild_seen_by(&rows);
            }
        }
    }

    /// Witnesses' `seen_by` sets, which the fast path leaves to its rows: a
    /// member's chain has seen a witness when its last row for the witness's
    /// round holds it.
    fn rebuild_seen_by(&mut self, rows: &RowStore) {
        for (round, info) in self.rounds.iter().enumerate() {
            for member in 0..self.members.len() {
                let Some(row) = rows.last_row(round as u32, member) else {
                    continue;
                };
                for slot in iter_and_words(row, row, None) {
                    if let Some(&witness) = info.witnesses.get(slot) {
                        self.witnesses[witness as usize].seen_by.insert(member);
                    }
                }
            }
        }
    }

    /// The maximal events of `member` among the ancestors of `id`, by
    /// sequence number (then id).
    fn tips(&self, id: EventId, member: MemberIndex) -> std::borrow::Cow<'_, [EventId]> {
        let record = &self.records[id as usize];
        if let Some((_, tips)) = record.fork_tips.iter().find(|(m, _)| *m == member) {
            return std::borrow::Cow::Borrowed(tips);
        }
        std::borrow::Cow::Owned(match record.last_ancestors.as_deref() {
            // Recorded before the member was known to fork: its ancestry of
            // that member is one chain, ending at the first event registered
            // at that sequence number.
            Some(last) if last[member as usize] > 0 => self.by_seq[member as usize]
                .get(last[member as usize] - 1)
                .into_iter()
                .collect(),
            _ => Vec::new(),
        })
    }

    fn compute_fork_tips(
        &mut self,
        id: EventId,
        self_parent: Option<EventId>,
        other_parent: Option<EventId>,
    ) {
        if self.forked_members.is_empty() {
            return;
        }
        let creator = self.records[id as usize].creator;
        let mut all_tips = Vec::new();
        let shared_tips = |parent: Option<EventId>, member: MemberIndex| {
            parent.and_then(|p| {
                self.records[p as usize]
                    .fork_tips
                    .iter()
                    .find(|(m, _)| *m == member)
                    .map(|(_, tips)| Arc::clone(tips))
            })
        };
        for &member in &self.forked_members {
            if member != creator {
                // Parents that hold the same tips (or one parent): share them.
                let reused = match (self_parent, other_parent) {
                    (Some(_), None) => shared_tips(self_parent, member),
                    (None, Some(_)) => shared_tips(other_parent, member),
                    _ => shared_tips(self_parent, member).filter(|tips| {
                        other_parent.is_some_and(|p| self.tips(p, member)[..] == tips[..])
                    }),
                };
                if let Some(tips) = reused {
                    if !tips.is_empty() {
                        all_tips.push((member, tips));
                    }
                    continue;
                }
            }
            // Each parent's tips are an antichain (no tip is a self-ancestor
            // of another), so only tips held by one parent alone can be
            // below a tip held by the other alone; shared tips stay.
            let tips_of = |parent: Option<EventId>| -> Vec<EventId> {
                let mut tips = parent.map_or_else(Vec::new, |p| self.tips(p, member).into_owned());
                tips.sort_unstable();
                tips
            };
            let (from_self, from_other) = (tips_of(self_parent), tips_of(other_parent));
            let only_self: Vec<EventId> = from_self
                .iter()
                .copied()
                .filter(|t| from_other.binary_search(t).is_err())
                .collect();
            let only_other: Vec<EventId> = from_other
                .iter()
                .copied()
                .filter(|t| from_self.binary_search(t).is_err())
                .collect();
            let below_any = |tip: EventId, others: &[EventId]| {
                others
                    .iter()
                    .any(|&other| self.is_self_ancestor_or_equal(tip, other))
            };
            let mut maximal: Vec<EventId> = from_self
                .iter()
                .copied()
                .filter(|&t| !only_self.contains(&t) || !below_any(t, &only_other))
                .chain(
                    only_other
                        .iter()
                        .copied()
                        .filter(|&t| !below_any(t, &only_self)),
                )
                .collect();
            if member == creator {
                // The new event is above its self-parent and below nothing.
                maximal.retain(|&t| Some(t) != self_parent);
                maximal.push(id);
            }
            // By sequence number: an ancestry test skips the tips below.
            maximal.sort_unstable_by_key(|&t| (self.records[t as usize].seq, t));
            if !maximal.is_empty() {
                all_tips.push((member, maximal.into()));
            }
        }
        self.records[id as usize].fork_tips = all_tips;
    }

    /// `x` is `y` or a self-ancestor of `y` (both by one creator).
    fn is_self_ancestor_or_equal(&self, x: EventId, y: EventId) -> bool {
        self.self_ancestor_at(y, self.records[x as usize].seq) == Some(x)
    }

    /// The self-ancestor (or `from` itself) at sequence number `target`,
    /// jumping by skip pointers where they lead no lower than `target`.
    fn self_ancestor_at(&self, from: EventId, target: u32) -> Option<EventId> {
        let mut current = from;
        loop {
            let record = &self.records[current as usize];
            if record.seq < target {
                return None;
            }
            if record.seq == target {
                return Some(current);
            }
            let skip_seq = record.seq & (record.seq - 1);
            current = match record.skip {
                Some(skip) if skip_seq >= target => skip,
                _ => record.self_parent?,
            };
        }
    }

    /// `x` is an ancestor of `y` (or `y` itself).
    fn is_ancestor(&self, x: EventId, y: EventId) -> bool {
        if x == y {
            return true;
        }
        let (x_record, y_record) = (&self.records[x as usize], &self.records[y as usize]);
        if x_record.round > y_record.round {
            return false;
        }
        let creator = x_record.creator;
        if !self.forked[creator as usize] {
            return match y_record.last_ancestors.as_deref() {
                Some(last) => last[creator as usize] > x_record.seq,
                None => false,
            };
        }
        // Only a tip at or above `x`'s sequence number can have it as a
        // self-ancestor; abandoned branches' old tips are skipped at once.
        let tips = self.tips(y, creator);
        let from = tips.partition_point(|&tip| self.records[tip as usize].seq < x_record.seq);
        tips[from..]
            .iter()
            .any(|&tip| self.is_self_ancestor_or_equal(x, tip))
    }

    /// `y` has two events of `member` neither of which is a self-ancestor of
    /// the other among its ancestors.
    fn sees_forking(&self, y: EventId, member: MemberIndex) -> bool {
        self.records[y as usize]
            .fork_tips
            .iter()
            .any(|(m, tips)| *m == member && tips.len() >= 2)
    }

    /// Baird 2016, "see": `x` is an ancestor of `y` and `y` does not see
    /// `x`'s creator forking.
    fn sees(&self, y: EventId, x: EventId) -> bool {
        self.is_ancestor(x, y) && !self.sees_forking(y, self.records[x as usize].creator)
    }

    /// For each witness of `round` not yet seen by the creator's chain: is
    /// `id` the creator's first event to have it as ancestor? If `id` sees
    /// the witness's creator forking, no later event of the chain sees the
    /// witness either, so it is marked seen without a sight.
    fn record_first_sights(&mut self, id: EventId, round: u32) {
        let creator = self.records[id as usize].creator;
        if self.forked[creator as usize] {
            return; // forkers' sights are computed on demand
        }
        let Some(info) = self.rounds.get(round as usize) else {
            return;
        };
        if let Some(rows) = &self.rows {
            // Fast path: the chain has seen what its self-parent's row holds
            // (witnesses' `seen_by` sets are rebuilt from rows at a fork).
            let record = &self.records[id as usize];
            let last = self.last_ancestors(id);
            let parent_row = record
                .seq
                .checked_sub(1)
                .and_then(|seq| rows.row(round, creator as usize, seq))
                .map_or(&[][..], |(row, _)| row);
            let sights: Vec<Sight> = info
                .positions
                .iter()
                .enumerate()
                .filter(|&(slot, &(witness_creator, witness_seq))| {
                    let seen = parent_row
                        .get(slot / 64)
                        .is_some_and(|word| word >> (slot % 64) & 1 == 1);
                    !seen && last[witness_creator as usize] > witness_seq
                })
                .map(|(slot, &(witness_creator, _))| Sight {
                    round,
                    slot: slot as u32,
                    creator: witness_creator,
                })
                .collect();
            self.records[id as usize].first_sees.extend(sights);
            return;
        }
        let mut sights = Vec::new();
        for &witness_id in &info.witnesses {
            let witness = &self.witnesses[witness_id as usize];
            if witness.seen_by.contains(creator as usize) {
                continue;
            }
            if self.is_ancestor(witness.event, id) {
                sights.push((witness_id, !self.sees_forking(id, witness.creator)));
            }
        }
        for (witness_id, sees) in sights {
            self.witnesses[witness_id as usize]
                .seen_by
                .insert(creator as usize);
            if sees {
                let witness = &self.witnesses[witness_id as usize];
                let sight = Sight {
                    round: witness.round,
                    slot: witness.slot,
                    creator: witness.creator,
                };
                self.records[id as usize].first_sees.push(sight);
            }
        }
    }

    /// Add member `member`'s sights from its events `from_seq..to_seq` to
    /// `counts`.
    fn add_sights(&self, counts: &mut ChainCounts, member: usize, from_seq: u32, to_seq: u32) {
        let stake = self.members[member].stake;
        for seq in from_seq..to_seq {
            // A forgotten event is of a round long decided: no sight counts.
            let Some(event) = self.by_seq[member].get(seq) else {
                continue;
            };
            for sight in &self.records[event as usize].first_sees {
                if sight.round != counts.round {
                    continue;
                }
                let slot = sight.slot as usize;
                if slot >= counts.seen_stake.len() {
                    counts.seen_stake.resize(slot + 1, 0);
                }
                let before = counts.seen_stake[slot];
                counts.seen_stake[slot] = before + stake;
                if before < self.supermajority_stake && before + stake >= self.supermajority_stake {
                    counts.strongly.insert(slot);
                    counts.strongly_stake += self.members[sight.creator as usize].stake;
                }
            }
        }
    }

    /// Chain counts for `id` over the witnesses of `round`, from scratch.
    fn build_counts(&self, id: EventId, round: u32) -> ChainCounts {
        let mut counts = ChainCounts {
            head: id,
            round,
            seen_stake: Vec::new(),
            strongly: BitSet::new(),
            strongly_stake: 0,
        };
        for (member, &known) in self.last_ancestors(id).iter().enumerate() {
            if self.forked[member] || known == 0 {
                continue;
            }
            // Only events of round >= `round` can see a round-`round` witness,
            // and an honest chain's rounds never decrease.
            let mut from = known;
            while from > 0 {
                let Some(event) = self.by_seq[member].get(from - 1) else {
                    break;
                };
                let record = &self.records[event as usize];
                if record.round < round || record.last_ancestors.is_none() {
                    break;
                }
                from -= 1;
            }
            self.add_sights(&mut counts, member, from, known);
        }
        counts
    }

    /// Baird 2016, "strongly see": the round-`round` witnesses `id` strongly
    /// sees (by slot) and the stake of their creators. With `incremental`,
    /// reuses and updates the creator's chain counts.
    fn strongly_seen_for_round(
        &mut self,
        id: EventId,
        round: u32,
        incremental: bool,
    ) -> (BitSet, u64) {
        if self.forked_members.is_empty() && self.equal_stake {
            if incremental {
                let cells = self.filter_cell_count(id, round);
                let creator = self.records[id as usize].creator as usize;
                self.filter_cells[creator] = Some((id, round, cells));
                let needed = (self.members.len() as u128 * 2 / 3) as u64 + 1;
                if u128::from(cells) < u128::from(needed) * u128::from(needed) {
                    return (BitSet::new(), 0);
                }
            }
            return self.strongly_seen_by_rows(id, round);
        }
        let record = &self.records[id as usize];
        let creator = record.creator as usize;
        let honest_creator = !self.forked[creator];
        let reusable = incremental
            && honest_creator
            && match (&self.chains[creator], record.self_parent) {
                (Some(chain), Some(parent)) => chain.head == parent && chain.round == round,
                _ => false,
            };
        let counts = if reusable {
            let mut counts = self.chains[creator].take().expect("checked above");
            let parent = record.self_parent.expect("checked above");
            let (before, after) = (self.last_ancestors(parent), self.last_ancestors(id));
            for member in 0..self.members.len() {
                if after[member] > before[member] && !self.forked[member] {
                    self.add_sights(&mut counts, member, before[member], after[member]);
                }
            }
            counts.head = id;
            counts
        } else {
            self.build_counts(id, round)
        };
        let result = self.finish_strongly_seen(id, &counts);
        if incremental && honest_creator {
            self.chains[creator] = Some(counts);
        }
        result
    }

    /// The fast path's rows for `id`: its self-parent's rows for `round` and
    /// the round below, plus its first sights.
    fn compute_rows(&mut self, id: EventId, round: u32) {
        let Some(rows) = self.rows.as_mut() else {
            return;
        };
        let record = &self.records[id as usize];
        let (creator, seq) = (record.creator as usize, record.seq);
        let words = rows.words();
        let mut seen = vec![0u64; words];
        let mut below = vec![0u64; words];
        if let Some(parent_seq) = seq.checked_sub(1) {
            if let Some((row, _)) = rows.row(round, creator, parent_seq) {
                seen.copy_from_slice(row);
            }
            if let Some(below_round) = round.checked_sub(1)
                && let Some((row, _)) = rows.row(below_round, creator, parent_seq)
            {
                below.copy_from_slice(row);
            }
        }
        for sight in &record.first_sees {
            let (word, bit) = (sight.slot as usize / 64, sight.slot % 64);
            if sight.round == round {
                seen[word] |= 1 << bit;
            } else if sight.round + 1 == round {
                below[word] |= 1 << bit;
            }
        }
        rows.set(round, creator, seq, &seen);
        if let Some(below_round) = round.checked_sub(1) {
            rows.set(below_round, creator, seq, &below);
        }
    }

    /// The strongly-see filter: the number of (member, witness) cells in the
    /// rows of `id`'s members' latest events. More than 2/3 of the witnesses
    /// can each be in more than 2/3 of the rows only if there are at least
    /// `needed^2` cells. Reuses the self-parent's count, revisiting only the
    /// members whose latest event changed.
    fn filter_cell_count(&self, id: EventId, round: u32) -> u64 {
        let record = &self.records[id as usize];
        let after = self.last_ancestors(id);
        let rows = self.rows.as_ref().expect("the fast path keeps rows");
        let row_count = |member: usize, known: u32| u64::from(rows.count(round, member, known - 1));
        if let (Some((head, cached_round, cells)), Some(parent)) = (
            self.filter_cells[record.creator as usize],
            record.self_parent,
        ) && head == parent
            && cached_round == round
        {
            let before = self.last_ancestors(parent);
            let mut cells = cells;
            for (member, (&old, &new)) in before.iter().zip(after).enumerate() {
                if old != new {
                    if old > 0 {
                        cells -= row_count(member, old);
                    }
                    cells += row_count(member, new);
                }
            }
            return cells;
        }
        after
            .iter()
            .enumerate()
            .filter(|&(_, &known)| known > 0)
            .map(|(member, &known)| row_count(member, known))
            .sum()
    }

    /// Strongly seen witnesses of `round` without forks and with equal stake:
    /// row `m` is the set of witnesses member `m`'s latest event known to `id`
    /// sees; a witness is strongly seen when more than 2/3 of the rows hold
    /// it. Rows are added into bit-sliced counters (one bit plane per bit of
    /// the count), 64 witnesses per word operation.
    fn strongly_seen_by_rows(&self, id: EventId, round: u32) -> (BitSet, u64) {
        let Some(info) = self.rounds.get(round as usize) else {
            return (BitSet::new(), 0);
        };
        let slots = info.witnesses.len();
        let member_count = self.members.len();
        let last = self.last_ancestors(id);
        let rows = self.rows.as_ref().expect("the fast path keeps rows");
        let present = last.iter().enumerate().filter_map(|(member, &known)| {
            let seq = known.checked_sub(1)?;
            rows.row(round, member, seq).map(|(row, _)| row)
        });
        let needed = (member_count as u64 * 2 / 3) + 1;
        let strongly = columns_at_least(present, slots, member_count, needed);
        let count = strongly.count() as u64;
        (strongly, count * self.members[0].stake)
    }

    /// Mask out witnesses whose creator `id` sees forking, and add the sights
    /// of forking members (whose chains the counts leave out).
    fn finish_strongly_seen(&self, id: EventId, counts: &ChainCounts) -> (BitSet, u64) {
        if self.forked_members.is_empty() {
            return (counts.strongly.clone(), counts.strongly_stake);
        }
        let mut strongly = BitSet::new();
        let mut stake = 0;
        let Some(info) = self.rounds.get(counts.round as usize) else {
            return (strongly, 0);
        };
        for (slot, &witness_id) in info.witnesses.iter().enumerate() {
            let witness = &self.witnesses[witness_id as usize];
            if self.sees_forking(id, witness.creator) || !self.is_ancestor(witness.event, id) {
                continue;
            }
            let mut seen = counts.seen_stake.get(slot).copied().unwrap_or(0);
            if !self.is_supermajority(seen) {
                for &member in &self.forked_members {
                    if !self.sees_forking(id, member)
                        && self.forker_chain_sees(id, member, witness.event)
                    {
                        seen += self.members[member as usize].stake;
                    }
                }
            }
            if self.is_supermajority(seen) {
                strongly.insert(slot);
                stake += self.members[witness.creator as usize].stake;
            }
        }
        (strongly, stake)
    }

    /// Does some event of `member` among `id`'s ancestors (one chain, since
    /// `id` does not see `member` forking) see `witness`?
    fn forker_chain_sees(&self, id: EventId, member: MemberIndex, witness: EventId) -> bool {
        let Some(&tip) = self.tips(id, member).first() else {
            return false;
        };
        let witness_round = self.records[witness as usize].round;
        let mut earliest = None;
        let mut current = Some(tip);
        while let Some(event) = current {
            let record = &self.records[event as usize];
            if record.round < witness_round || !self.is_ancestor(witness, event) {
                break;
            }
            earliest = Some(event);
            current = record.self_parent;
        }
        earliest
            .is_some_and(|event| !self.sees_forking(event, self.records[witness as usize].creator))
    }

    fn register_witness(&mut self, id: EventId, round: u32, strongly_seen: BitSet) -> WitnessId {
        let witness_id = self.witnesses.len() as WitnessId;
        let creator = self.records[id as usize].creator;
        while self.rounds.len() <= round as usize {
            self.rounds.push(RoundInfo::default());
        }
        let slot = self.rounds[round as usize].witnesses.len() as u32;
        self.rounds[round as usize].witnesses.push(witness_id);
        let seq = self.records[id as usize].seq;
        self.rounds[round as usize].positions.push((creator, seq));
        let mut seen_by = BitSet::with_len(self.members.len());
        seen_by.insert(creator as usize);
        self.witnesses.push(Witness {
            event: id,
            creator,
            round,
            slot,
            seen_by,
            strongly_seen,
            fame: None,
            decided_round: 0,
            deciders: Vec::new(),
            decides: Vec::new(),
            late: false,
        });
        self.records[id as usize].witness = Some(witness_id);
        // An event sees itself (the paper's ancestors include the event).
        if !self.sees_forking(id, creator) {
            let seq = self.records[id as usize].seq;
            if let Some(rows) = self.rows.as_mut() {
                let mut row = rows
                    .row(round, creator as usize, seq)
                    .map_or_else(|| vec![0; rows.words()], |(row, _)| row.to_vec());
                let (word, bit) = (slot as usize / 64, slot % 64);
                if row[word] & (1 << bit) == 0 {
                    row[word] |= 1 << bit;
                    rows.set(round, creator as usize, seq, &row);
                    if let Some((head, cached_round, cells)) = self.filter_cells[creator as usize]
                        && head == id
                        && cached_round == round
                    {
                        self.filter_cells[creator as usize] = Some((head, cached_round, cells + 1));
                    }
                }
            }
            self.records[id as usize].first_sees.push(Sight {
                round,
                slot,
                creator,
            });
            let chain_counts_this_round = self.chains[creator as usize]
                .as_ref()
                .is_some_and(|chain| chain.head == id && chain.round == round);
            if chain_counts_this_round {
                // The chain's counts already hold this event's other sights;
                // add its sight of itself.
                let mut chain = self.chains[creator as usize].take().expect("checked");
                let stake = self.members[creator as usize].stake;
                let slot = slot as usize;
                if slot >= chain.seen_stake.len() {
                    chain.seen_stake.resize(slot + 1, 0);
                }
                let before = chain.seen_stake[slot];
                chain.seen_stake[slot] += stake;
                if !self.is_supermajority(before) && self.is_supermajority(before + stake) {
                    chain.strongly.insert(slot);
                    chain.strongly_stake += stake;
                }
                self.chains[creator as usize] = Some(chain);
            }
        }
        witness_id
    }

    /// Baird 2016, decideFame: the new witness votes on every active
    /// witness of an earlier round; if it is a late witness, the existing
    /// witnesses of later rounds vote on it.
    fn decide_fame_for_new_witness(&mut self, witness: WitnessId, decisions: &mut Decisions) {
        let round = self.witnesses[witness as usize].round;
        // Votes on a decided witness change nothing here, but a shared
        // store's views look for every witness whose vote decides one.
        let keep_voting_decided = !self.prune_automatically;
        if round < self.next_round_to_order && !keep_voting_decided {
            // A late witness of a round already decided: the witnesses that
            // decided the round all vote it down (it is not their ancestor),
            // so it is decided not famous. A shared store votes instead (below):
            // a view that has not ordered the round decides it from those votes.
            self.witnesses[witness as usize].late = true;
            self.decide(witness, false, round, decisions);
            return;
        }
        let voters: Vec<WitnessId> = self.active.clone();
        for target in voters {
            let target_witness = &self.witnesses[target as usize];
            if target_witness.round < round
                && (keep_voting_decided || target_witness.fame.is_none())
            {
                self.vote(witness, target, decisions);
            }
        }
        // Existing witnesses of later rounds vote on the newcomer, round by round.
        let highest = self.rounds.len() as u32;
        for later in round + 1..highest {
            let target = &self.witnesses[witness as usize];
            if target.fame.is_some() && (!keep_voting_decided || later > target.decided_round + 2) {
                break;
            }
            let voters = self.rounds[later as usize].witnesses.clone();
            for voter in voters {
                self.vote(voter, witness, decisions);
            }
        }
        self.active.push(witness);
        let highest_round = highest.saturating_sub(1);
        let witnesses = &self.witnesses;
        self.active.retain(|&w| {
            let w = &witnesses[w as usize];
            w.fame.is_none() || (keep_voting_decided && w.decided_round + 2 >= highest_round)
        });
    }

    /// The vote of witness `voter` on the fame of witness `target`.
    fn vote(&mut self, voter: WitnessId, target: WitnessId, decisions: &mut Decisions) {
        let (voter_round, voter_slot, voter_event) = {
            let v = &self.witnesses[voter as usize];
            (v.round, v.slot as usize, v.event)
        };
        let target_round = self.witnesses[target as usize].round;
        let distance = voter_round - target_round;
        let mut decided = None;
        let vote = if distance == 1 {
            self.sees(voter_event, self.witnesses[target as usize].event)
        } else {
            let strongly_seen = self.witnesses[voter as usize].strongly_seen.words();
            let target_slot = self.witnesses[target as usize].slot as usize;
            let (yes, no) = match self.rounds[target_round as usize]
                .votes
                .get(distance as usize - 2)
            {
                Some(matrix) => {
                    let (cast, yes) = matrix.votes_on(target_slot);
                    (
                        self.slot_stake(voter_round - 1, strongly_seen, yes, None),
                        self.slot_stake(voter_round - 1, strongly_seen, cast, Some(yes)),
                    )
                }
                None => (0, 0),
            };
            let majority = yes >= no; // a tie votes yes
            let agreeing = if majority { yes } else { no };
            if distance % self.config.coin_round_frequency != 0 {
                if self.is_supermajority(agreeing) {
                    decided = Some(majority);
                }
                majority
            } else if self.is_supermajority(agreeing) {
                majority
            } else {
                self.coin(voter_event)
            }
        };
        let target_slot = self.witnesses[target as usize].slot as usize;
        let member_count = self.members.len();
        let votes = &mut self.rounds[target_round as usize].votes;
        let column_index = distance as usize - 1;
        while votes.len() <= column_index {
            votes.push(VoteMatrix::new(member_count));
        }
        votes[column_index].record(target_slot, voter_slot, vote);
        if let Some(famous) = decided {
            self.witnesses[target as usize]
                .deciders
                .push((voter, famous));
            self.witnesses[voter as usize]
                .decides
                .push((target, famous));
            self.decide(target, famous, voter_round, decisions);
        }
    }

    /// Stake of the witnesses of `round` at slots in `a ∩ b \ exclude`.
    fn slot_stake(&self, round: u32, a: &[u64], b: &[u64], exclude: Option<&[u64]>) -> u64 {
        if self.equal_stake {
            return count_and_words(a, b, exclude) as u64 * self.members[0].stake;
        }
        let witnesses = &self.rounds[round as usize].witnesses;
        iter_and_words(a, b, exclude)
            .map(|slot| {
                self.members[self.witnesses[witnesses[slot] as usize].creator as usize].stake
            })
            .sum()
    }

    /// The paper's coin: the middle bit of the voter's signature (bit 256 of
    /// 512, counting from the most significant bit of the first byte).
    fn coin(&self, voter_event: EventId) -> bool {
        let event = self.records[voter_event as usize]
            .event
            .as_ref()
            .expect("a voter is recent");
        event.signature().to_bytes()[SIGNATURE_LEN / 2] & 0x80 != 0
    }

    fn decide(
        &mut self,
        witness: WitnessId,
        famous: bool,
        at_round: u32,
        decisions: &mut Decisions,
    ) {
        let record = &mut self.witnesses[witness as usize];
        if record.fame.is_some() {
            // Decisions agree while forkers hold under 1/3 of the stake;
            // beyond that the first decision stands.
            return;
        }
        record.fame = Some(famous);
        record.decided_round = at_round;
        let round = record.round;
        self.rounds[round as usize].decided += 1;
        decisions.fame.push(FameDecision {
            witness: self.records[record.event as usize].hash,
            round,
            famous,
            decided_in_round: at_round,
        });
    }

    /// Baird 2016, findOrder: once every witness of the next round is
    /// decided, the events that are ancestors of all its unique famous
    /// witnesses receive that round, a consensus timestamp (median) and a
    /// position.
    fn find_order(&mut self, decisions: &mut Decisions) {
        loop {
            let round = self.next_round_to_order;
            let Some(info) = self.rounds.get(round as usize) else {
                return;
            };
            if info.witnesses.is_empty() || info.decided < info.witnesses.len() {
                return;
            }
            let famous: Vec<WitnessId> = info
                .witnesses
                .iter()
                .copied()
                .filter(|&w| self.witnesses[w as usize].fame == Some(true))
                .collect();
            let mut pending = std::mem::take(&mut self.pending);
            let keyed = self.receive_round(&famous, &mut pending);
            self.pending = pending;
            for (event, timestamp) in keyed {
                let position = self.next_position;
                self.next_position += 1;
                let record = &mut self.records[event as usize];
                record.round_received = Some(round);
                record.consensus_timestamp_ns = Some(timestamp);
                record.position = Some(position);
                decisions.ordered.push(OrderedEvent {
                    event: record.event.clone().expect("not yet pruned"),
                    round_received: round,
                    consensus_timestamp_ns: timestamp,
                    position,
                });
            }
            self.next_round_to_order += 1;
            if self.prune_automatically {
                self.prune();
            }
        }
    }

    /// findOrder for one decided round with famous witnesses `famous`: takes
    /// the events of `pending` that are ancestors of every unique famous
    /// witness, and returns them in consensus order with their consensus
    /// timestamps.
    pub(crate) fn receive_round(
        &self,
        famous: &[WitnessId],
        pending: &mut Vec<EventId>,
    ) -> Vec<(EventId, TimeNs)> {
        let mut famous_by_creator: BTreeMap<MemberIndex, Vec<WitnessId>> = BTreeMap::new();
        for &witness in famous {
            famous_by_creator
                .entry(self.witnesses[witness as usize].creator)
                .or_default()
                .push(witness);
        }
        let unique_famous: Vec<EventId> = famous_by_creator
            .values()
            .filter(|list| list.len() == 1)
            .map(|list| self.witnesses[list[0] as usize].event)
            .collect();
        let mut whitening = [0u8; SIGNATURE_LEN];
        for &event in &unique_famous {
            let signature = self.records[event as usize]
                .event
                .as_ref()
                .expect("a famous witness of the round being ordered is recent")
                .signature()
                .to_bytes();
            for (w, s) in whitening.iter_mut().zip(signature) {
                *w ^= s;
            }
        }
        let mut min_last = vec![u32::MAX; self.members.len()];
        for &event in &unique_famous {
            for (min, &last) in min_last.iter_mut().zip(self.last_ancestors(event)) {
                *min = (*min).min(last);
            }
        }
        let mut received = Vec::new();
        pending.retain(|&event| {
            let record = &self.records[event as usize];
            let is_ancestor_of_all = if self.forked[record.creator as usize] {
                unique_famous.iter().all(|&w| self.is_ancestor(event, w))
            } else {
                min_last[record.creator as usize] > record.seq
            };
            if is_ancestor_of_all {
                received.push(event);
            }
            !is_ancestor_of_all
        });
        let swept = if self.forked_members.is_empty() && !unique_famous.is_empty() {
            Some(self.sweep_consensus_timestamps(&received, &unique_famous))
        } else {
            None
        };
        let mut keyed: Vec<(TimeNs, [u8; SIGNATURE_LEN], EventHash, EventId)> = received
            .into_iter()
            .enumerate()
            .map(|(index, event)| {
                let timestamp = match &swept {
                    Some(timestamps) => timestamps[index],
                    None => self.consensus_timestamp(event, &unique_famous),
                };
                let record = &self.records[event as usize];
                let mut whitened = record
                    .event
                    .as_ref()
                    .expect("an event is pruned only once ordered")
                    .signature()
                    .to_bytes();
                for (w, x) in whitened.iter_mut().zip(whitening) {
                    *w ^= x;
                }
                (timestamp, whitened, record.hash, event)
            })
            .collect();
        keyed.sort_unstable();
        keyed
            .into_iter()
            .map(|(timestamp, _, _, event)| (event, timestamp))
            .collect()
    }

    /// Consensus timestamps of `received` (fork-free): for each unique famous
    /// witness, one forward sweep along its creator's chain finds, for every
    /// received event, the earliest chain event that has it as ancestor (the
    /// first whose last-ancestor vector covers it). Same result as
    /// [`Self::consensus_timestamp`], without a search per pair.
    fn sweep_consensus_timestamps(
        &self,
        received: &[EventId],
        unique_famous: &[EventId],
    ) -> Vec<TimeNs> {
        let member_count = self.members.len();
        // Received events of one creator are consecutive sequence numbers.
        let mut first_seq = vec![u32::MAX; member_count];
        let mut end_seq = vec![0u32; member_count];
        for &event in received {
            let record = &self.records[event as usize];
            let creator = record.creator as usize;
            first_seq[creator] = first_seq[creator].min(record.seq);
            end_seq[creator] = end_seq[creator].max(record.seq + 1);
        }
        let mut base = vec![0usize; member_count];
        let mut slot_of = vec![usize::MAX; 0];
        let mut total = 0;
        for creator in 0..member_count {
            base[creator] = total;
            if end_seq[creator] > 0 {
                total += (end_seq[creator] - first_seq[creator]) as usize;
            }
        }
        slot_of.resize(total, usize::MAX);
        for (index, &event) in received.iter().enumerate() {
            let record = &self.records[event as usize];
            let creator = record.creator as usize;
            slot_of[base[creator] + (record.seq - first_seq[creator]) as usize] = index;
        }
        let witnesses = unique_famous.len();
        // Column-major by (creator, sequence) slot, so a chain's sweep writes
        // runs of neighbouring cells; read back eight slots per cache line.
        let mut times = self.sweep_scratch.take();
        times.clear();
        times.resize(total * witnesses, 0);
        for (column, &witness) in unique_famous.iter().enumerate() {
            let w = &self.records[witness as usize];
            let member = w.creator as usize;
            let chain = &self.by_seq[member];
            // Walk back to the first chain event that covers nothing new.
            let mut start = w.seq;
            while start > 0 {
                let Some(previous) = chain.get(start - 1) else {
                    break;
                };
                let Some(last) = self.records[previous as usize].last_ancestors.as_deref() else {
                    break;
                };
                let covers_any =
                    (0..member_count).any(|c| end_seq[c] > 0 && last[c] > first_seq[c]);
                if !covers_any {
                    break;
                }
                start -= 1;
            }
            let mut covered: Vec<u32> = start
                .checked_sub(1)
                .and_then(|seq| chain.get(seq))
                .and_then(|id| self.records[id as usize].last_ancestors.as_deref())
                .map_or_else(|| vec![0; member_count], <[u32]>::to_vec);
            for seq in start..=w.seq {
                let z = &self.records[chain.get(seq).expect("kept after the walk-back") as usize];
                let last = z
                    .last_ancestors
                    .as_deref()
                    .expect("chain events after the walk-back are recent");
                for creator in 0..member_count {
                    if end_seq[creator] == 0 {
                        continue;
                    }
                    let from = covered[creator].max(first_seq[creator]);
                    let to = last[creator].min(end_seq[creator]);
                    if from < to {
                        let first = column * total + base[creator];
                        let cells = (from - first_seq[creator]) as usize
                            ..(to - first_seq[creator]) as usize;
                        times[first + cells.start..first + cells.end].fill(z.timestamp_ns);
                    }
                    covered[creator] = covered[creator].max(last[creator]);
                }
            }
        }
        let mut medians = vec![0 as TimeNs; received.len()];
        let mut column_values = vec![0 as TimeNs; witnesses];
        for (slot, &index) in slot_of.iter().enumerate() {
            if index == usize::MAX {
                continue;
            }
            for (column, value) in column_values.iter_mut().enumerate() {
                *value = times[column * total + slot];
            }
            medians[index] = *column_values.select_nth_unstable(witnesses / 2).1;
        }
        self.sweep_scratch.set(times);
        medians
    }

    /// Median (upper middle for an even count) of the timestamps of each
    /// unique famous witness's earliest self-ancestor that has `event` as an
    /// ancestor. With no unique famous witness, the event's own timestamp.
    fn consensus_timestamp(&self, event: EventId, unique_famous: &[EventId]) -> TimeNs {
        if unique_famous.is_empty() {
            return self.records[event as usize].timestamp_ns;
        }
        let mut timestamps: Vec<TimeNs> = unique_famous
            .iter()
            .map(|&witness| {
                let earliest = self.earliest_self_ancestor_with(witness, event);
                self.records[earliest as usize].timestamp_ns
            })
            .collect();
        let middle = timestamps.len() / 2;
        *timestamps.select_nth_unstable(middle).1
    }

    /// The earliest self-ancestor of `witness` that has `event` as an
    /// ancestor (`event` is an ancestor of `witness`).
    fn earliest_self_ancestor_with(&self, witness: EventId, event: EventId) -> EventId {
        let (w, x) = (
            &self.records[witness as usize],
            &self.records[event as usize],
        );
        let member = w.creator as usize;
        let event_creator = x.creator as usize;
        if self.forked[member] || self.forked[event_creator] {
            let mut earliest = witness;
            let mut current = w.self_parent;
            while let Some(candidate) = current {
                if !self.is_ancestor(event, candidate) {
                    break;
                }
                earliest = candidate;
                current = self.records[candidate as usize].self_parent;
            }
            return earliest;
        }
        if member == event_creator {
            return event;
        }
        // Binary search on the member's chain: its events up to the last one
        // `event` descends from cannot have `event` as an ancestor.
        let chain = &self.by_seq[member];
        let mut low = self.last_ancestors(event)[member];
        let mut high = w.seq;
        while low < high {
            let middle = low + (high - low) / 2;
            let has_event = chain.get(middle).is_some_and(|candidate| {
                self.records[candidate as usize]
                    .last_ancestors
                    .as_deref()
                    .is_some_and(|last| last[event_creator] > x.seq)
            });
            if has_event {
                high = middle;
            } else {
                low = middle + 1;
            }
        }
        chain
            .get(low)
            .expect("the earliest self-ancestor with the event is kept")
    }

    /// Drop the per-event vectors of events long ordered (keeping each
    /// member's latest event, the self-parent of its next one).
    pub(crate) fn prune(&mut self) {
        let Some(horizon) = self.prune_horizon() else {
            return;
        };
        // New events have a parent of round `horizon` or above, so they ask
        // for rows, sights and witnesses of round `horizon - 1` at the lowest:
        // everything of that round is kept.
        let keep_from = horizon.saturating_sub(1);
        if let Some(rows) = self.rows.as_mut() {
            rows.drop_below(keep_from);
        }
        let mut deferred = 0;
        while let Some(&event) = self.prune_queue.front() {
            let record = &self.records[event as usize];
            if record.round >= keep_from {
                break;
            }
            self.prune_queue.pop_front();
            let is_latest = self.by_seq[record.creator as usize].last() == Some(event);
            if record.position.is_none() || is_latest {
                // Still needed; look again at the next prune.
                self.prune_queue.push_back(event);
                deferred += 1;
                if deferred > self.prune_queue.len() {
                    break;
                }
                continue;
            }
            let record = &mut self.records[event as usize];
            record.last_ancestors = None;
            record.first_sees = Vec::new();
            record.fork_tips = Vec::new();
            if self.forget {
                record.event = None;
            }
            self.pruned_records += 1;
        }
        // Rounds below `keep_from` get no new witness, votes or sights. A
        // shared store still votes on decided witnesses for a while; their
        // rounds keep their votes until none is voted on.
        let mut prunable = keep_from.min(self.rounds.len() as u32);
        if !self.prune_automatically {
            let witnesses = &self.witnesses;
            if let Some(lowest_active) = self
                .active
                .iter()
                .map(|&w| witnesses[w as usize].round)
                .min()
            {
                prunable = prunable.min(lowest_active);
            }
        }
        while self.pruned_rounds < prunable {
            let round = &mut self.rounds[self.pruned_rounds as usize];
            for &witness in &round.witnesses {
                let witness = &mut self.witnesses[witness as usize];
                witness.seen_by = BitSet::new();
                witness.strongly_seen = BitSet::new();
            }
            round.votes = Vec::new();
            round.witnesses = Vec::new();
            round.positions = Vec::new();
            self.pruned_rounds += 1;
        }
        if self.forget
            && self.pruned_records >= COMPACT_MIN_PRUNED
            && self.pruned_records * 2 >= self.records.len()
        {
            self.compact();
        }
    }

    /// Forget pruned events: drop their records, hashes and chain entries,
    /// and the witnesses they were, renumbering what is kept (in the same
    /// order, so insertion order still orders ids).
    ///
    /// A forking member's events are never forgotten, only pruned: the
    /// maximal events of its branches are how every later event sees it
    /// forking, and deciding which is maximal walks its self-parent chains.
    fn compact(&mut self) {
        const GONE: u32 = u32::MAX;
        let old_records = std::mem::take(&mut self.records);
        let mut event_map = vec![GONE; old_records.len()];
        let mut records = Vec::with_capacity(old_records.len() - self.pruned_records);
        let mut pruned_kept = 0;
        for (old, record) in old_records.into_iter().enumerate() {
            let pruned = record.last_ancestors.is_none();
            if !pruned || self.forked[record.creator as usize] {
                event_map[old] = records.len() as EventId;
                records.push(record);
                pruned_kept += usize::from(pruned);
            }
        }
        let map_event = |id: EventId| Some(event_map[id as usize]).filter(|&id| id != GONE);
        let old_witnesses = std::mem::take(&mut self.witnesses);
        let mut witness_map = vec![GONE; old_witnesses.len()];
        let mut witnesses = Vec::with_capacity(old_witnesses.len());
        for (old, mut witness) in old_witnesses.into_iter().enumerate() {
            if let Some(event) = map_event(witness.event) {
                witness.event = event;
                witness_map[old] = witnesses.len() as WitnessId;
                witnesses.push(witness);
            }
        }
        let map_witness = |id: WitnessId| Some(witness_map[id as usize]).filter(|&id| id != GONE);
        for witness in &mut witnesses {
            for list in [&mut witness.deciders, &mut witness.decides] {
                *list = list
                    .iter()
                    .filter_map(|&(other, famous)| Some((map_witness(other)?, famous)))
                    .collect();
            }
        }
        // Tip lists shared between events stay shared (keyed by address: a
        // lookup only, never iterated).
        let mut remapped_tips: BTreeMap<usize, Arc<[EventId]>> = BTreeMap::new();
        for record in &mut records {
            record.self_parent = record.self_parent.and_then(map_event);
            record.skip = record.skip.and_then(map_event);
            record.other_parent = record.other_parent.and_then(map_event);
            record.witness = record
                .witness
                .map(|w| map_witness(w).expect("a kept event's witness is kept"));
            for (_, tips) in &mut record.fork_tips {
                let key = Arc::as_ptr(tips).cast::<EventId>() as usize;
                *tips =
                    Arc::clone(remapped_tips.entry(key).or_insert_with(|| {
                        tips.iter().filter_map(|&tip| map_event(tip)).collect()
                    }));
            }
        }
        for round in &mut self.rounds {
            for witness in &mut round.witnesses {
                *witness = map_witness(*witness).expect("witnesses of kept rounds are kept");
            }
        }
        self.active = self.active.iter().filter_map(|&w| map_witness(w)).collect();
        for chain in &mut self.by_seq {
            let forgotten_prefix = chain
                .ids
                .iter()
                .take_while(|&&id| id == FORGOTTEN || map_event(id).is_none())
                .count();
            chain.ids.drain(..forgotten_prefix);
            chain.base += forgotten_prefix as u32;
            for id in &mut chain.ids {
                *id = if *id == FORGOTTEN {
                    FORGOTTEN
                } else {
                    map_event(*id).unwrap_or(FORGOTTEN)
                };
            }
            chain.ids.shrink_to_fit();
        }
        for ids in self.off_chain.values_mut() {
            *ids = ids.iter().filter_map(|&id| map_event(id)).collect();
        }
        for chain in &mut self.chains {
            if let Some(counts) = chain {
                match map_event(counts.head) {
                    Some(head) => counts.head = head,
                    None => *chain = None,
                }
            }
        }
        for cached in &mut self.filter_cells {
            *cached =
                cached.and_then(|(head, round, cells)| Some((map_event(head)?, round, cells)));
        }
        for id in self.pending.iter_mut().chain(self.prune_queue.iter_mut()) {
            *id = map_event(*id).expect("unordered and unpruned events are kept");
        }
        self.index =
            HashMap::with_capacity_and_hasher(records.len(), BuildHasherDefault::default()); // tidy: lookup-only
        for (id, record) in records.iter().enumerate() {
            self.index.insert(record.hash, id as EventId);
        }
        self.positions = records.iter().map(|r| (r.creator, r.seq)).collect();
        self.records = records;
        self.witnesses = witnesses;
        self.pruned_records = pruned_kept;
    }

    /// The consensus facts of one event, if known (not if forgotten: see
    /// [`PRUNE_LAG_ROUNDS`]).
    pub fn event_info(&self, hash: &EventHash) -> Option<EventInfo> {
        let id = *self.index.get(hash)?;
        let record = &self.records[id as usize];
        Some(EventInfo {
            creator: record.creator,
            sequence: record.seq,
            round: record.round,
            witness: record.witness.is_some(),
            famous: record.witness.and_then(|w| self.witnesses[w as usize].fame),
            round_received: record.round_received,
            consensus_timestamp_ns: record.consensus_timestamp_ns,
            position: record.position,
        })
    }

    pub fn contains(&self, hash: &EventHash) -> bool {
        self.index.contains_key(hash)
    }

    /// Events inserted so far, forgotten ones included.
    pub fn event_count(&self) -> usize {
        self.event_count
    }

    /// Events whose record is still held (inserted, not yet forgotten).
    pub fn retained_events(&self) -> usize {
        self.records.len()
    }

    /// Events with a place in the total order so far.
    pub fn ordered_count(&self) -> u64 {
        self.next_position
    }

    /// Rounds whose order is final (every round below this one).
    pub fn decided_rounds(&self) -> u32 {
        self.next_round_to_order
    }

    /// Every fork detected so far.
    pub fn forks(&self) -> &[ForkProof] {
        &self.forks
    }

    /// The latest event of `member` (the first registered at its highest
    /// sequence number), for building a next event on top of it.
    pub fn latest_event(&self, member: MemberIndex) -> Option<EventHash> {
        let id = self.by_seq.get(member as usize)?.last()?;
        Some(self.records[id as usize].hash)
    }
}
