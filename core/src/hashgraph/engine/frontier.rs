//! Fork-aware sync: what a holder of events tells a peer it knows (its
//! [`Frontier`]), what it sends a peer that told it a frontier, and which of
//! a member's events is that member's latest.
//!
//! Each is a function of the holder's own known events alone — never of the
//! order in which events reached it or anyone else — so a cell running its
//! own engine ([`Hashgraph`]) and a cell viewing a shared arena
//! ([`super::shared::MemberView`]) compute them alike, forks included.
//!
//! A member the holder has not seen fork is summed up by a count: the holder
//! knows its events at sequence numbers `0..count`, one chain. For a member
//! it has seen fork (two known events at one sequence number), the count is
//! the length of the common prefix below the lowest fork it knows, and the
//! frontier adds the hashes of the member's branch tips: its known events
//! that are no known event's self-parent.
//!
//! With each count goes a fingerprint (the first 8 bytes of the hash) of
//! the event at sequence number `count - 1`, so that a holder can tell a
//! peer on another branch from one on its own.
//!
//! What a peer lacks: every known event of member `m` at or above a floor —
//! the peer's count, lowered to the lowest fork the holder knows of `m`
//! (the peer cannot have said which branch it holds below that), and to 0
//! when the holder's event at `count - 1` has another fingerprint (the
//! peer is on a branch the holder has not seen: the holder sends all of
//! its own) — except the self-ancestors of the peer's event at `count - 1`
//! and of the peer's branch tips that the holder knows. A peer that knows
//! no fork of `m` is sent every branch above the fork, and learns the fork
//! from them; a fork whose branches never met in one holder is found the
//! first time a holder of one branch answers a holder of the other.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::{EventId, Hashgraph};
use crate::hashgraph::event::{Event, EventHash, MemberIndex};

/// Most branch tips a frontier is read with: a peer's claim costs the
/// holder a walk per tip, so a longer list is cut (its tips are only a
/// saving: an uncovered event is sent again, never lost).
pub const FRONTIER_TIPS_MAX: usize = 1024;

/// What a holder of events knows, as it tells a peer (module docs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    /// Per member (by member index): events at sequence numbers `0..count`
    /// are known — a member's whole chain, or, for a member seen forking,
    /// the prefix below its lowest known fork.
    pub counts: Vec<u32>,
    /// Per member: the first 8 bytes (little-endian) of the hash of the
    /// known event at sequence number `count - 1`; 0 when the count is 0.
    pub fingerprints: Vec<u64>,
    /// The branch tips of every member seen forking, ascending.
    pub branch_tips: Vec<EventHash>,
}

impl Frontier {
    /// Encoded size on the wire: four bytes per count, eight per
    /// fingerprint, 32 per tip (the message's framing carries the lengths).
    pub fn wire_bytes(&self) -> u32 {
        let bytes =
            4 * self.counts.len() + 8 * self.fingerprints.len() + 32 * self.branch_tips.len();
        u32::try_from(bytes).unwrap_or(u32::MAX)
    }

    /// A digest word over every count and tip (for trace records).
    pub fn digest_word(&self) -> u64 {
        let counts = self.counts.iter().fold(0x5157_u64, |acc, &count| {
            acc.rotate_left(5) ^ u64::from(count)
        });
        let counts = self
            .fingerprints
            .iter()
            .fold(counts, |acc, &fingerprint| acc.rotate_left(3) ^ fingerprint);
        self.branch_tips.iter().fold(counts, |acc, tip| {
            let word = u64::from_le_bytes(tip.0[..8].try_into().expect("8 bytes"));
            acc.rotate_left(7) ^ word
        })
    }
}

/// One holder's known events, over a graph that holds them (and maybe
/// more): the engine itself, or a view of a shared arena.
pub(crate) trait Known {
    fn graph(&self) -> &Hashgraph;
    /// Appends the known events of `member` at sequence numbers `floor`
    /// and above to `out`.
    fn extend_known_from(&self, member: usize, floor: u32, out: &mut Vec<EventId>);

    /// The known events of `member` at sequence numbers `floor` and above.
    fn known_from(&self, member: usize, floor: u32) -> Vec<EventId> {
        let mut ids = Vec::new();
        self.extend_known_from(member, floor, &mut ids);
        ids
    }
    /// For a member not seen forking: how many of its events are known.
    fn chain_length(&self, member: usize) -> u32;
    /// The lowest sequence number at which two events of `member` are known.
    fn fork_floor(&self, member: usize) -> Option<u32>;
    fn knows(&self, id: EventId) -> bool;
}

/// The fingerprint of an event hash ([`Frontier::fingerprints`]).
pub fn fingerprint(hash: &EventHash) -> u64 {
    u64::from_le_bytes(hash.0[..8].try_into().expect("8 bytes"))
}

/// The known events of `member` at sequence number `seq`, into `ids`
/// (cleared first: one scratch vector serves every member).
fn known_at(known: &impl Known, member: usize, seq: u32, ids: &mut Vec<EventId>) {
    let graph = known.graph();
    ids.clear();
    known.extend_known_from(member, seq, ids);
    ids.retain(|&id| graph.records[id as usize].seq == seq);
}

/// Among `ids` (events of one member), those that are no other's self-parent.
fn tips_among(graph: &Hashgraph, ids: &[EventId]) -> Vec<EventId> {
    let parents: BTreeSet<EventId> = ids
        .iter()
        .filter_map(|&id| graph.records[id as usize].self_parent)
        .collect();
    ids.iter()
        .copied()
        .filter(|id| !parents.contains(id))
        .collect()
}

pub(crate) fn frontier(known: &impl Known) -> Frontier {
    let graph = known.graph();
    let members = graph.members.len();
    let mut counts = Vec::with_capacity(members);
    let mut fingerprints = Vec::with_capacity(members);
    let mut branch_tips = Vec::new();
    let mut scratch = Vec::new();
    for member in 0..members {
        let count = known
            .fork_floor(member)
            .unwrap_or_else(|| known.chain_length(member));
        counts.push(count);
        // Below the lowest fork (or with none) one event per number.
        fingerprints.push(count.checked_sub(1).map_or(0, |last| {
            known_at(known, member, last, &mut scratch);
            scratch
                .first()
                .map_or(0, |&id| fingerprint(&graph.records[id as usize].hash))
        }));
        match known.fork_floor(member) {
            None => {}
            Some(floor) => {
                let ids = known.known_from(member, floor);
                branch_tips.extend(
                    tips_among(graph, &ids)
                        .into_iter()
                        .map(|id| graph.records[id as usize].hash),
                );
            }
        }
    }
    branch_tips.sort_unstable();
    Frontier {
        counts,
        fingerprints,
        branch_tips,
    }
}

/// What a peer with frontier `peer` lacks, in the canonical order (by
/// generation, creator, sequence number, hash: parents first).
pub(crate) fn missing_for(known: &impl Known, peer: &Frontier) -> Vec<EventId> {
    let graph = known.graph();
    let mut peer_tips: BTreeMap<MemberIndex, Vec<EventId>> = BTreeMap::new();
    for hash in peer.branch_tips.iter().take(FRONTIER_TIPS_MAX) {
        if let Some(&id) = graph.index.get(hash)
            && known.knows(id)
        {
            peer_tips
                .entry(graph.records[id as usize].creator)
                .or_default()
                .push(id);
        }
    }
    let mut ids = Vec::new();
    let mut here = Vec::new();
    for member in 0..graph.members.len() {
        let count = peer.counts.get(member).copied().unwrap_or(0);
        let mut floor = count;
        // The peer's event at `count - 1`, if this holder knows it; if it
        // knows another there, the peer is on a branch it has not seen.
        let mut peer_last = None;
        if let Some(last) = count.checked_sub(1) {
            known_at(known, member, last, &mut here);
            let wanted = peer.fingerprints.get(member).copied().unwrap_or(0);
            peer_last = here
                .iter()
                .copied()
                .find(|&id| fingerprint(&graph.records[id as usize].hash) == wanted);
            if peer_last.is_none() && !here.is_empty() {
                floor = 0;
            }
        }
        if let Some(fork) = known.fork_floor(member) {
            floor = floor.min(fork);
        }
        let declared = peer_tips.get(&(member as MemberIndex));
        if declared.is_none() && (floor == count || peer_last.is_none()) {
            known.extend_known_from(member, floor, &mut ids);
            continue;
        }
        let tips = declared.into_iter().flatten().copied().chain(peer_last);
        // The peer holds every self-ancestor of its tips.
        let mut covered = BTreeSet::new();
        for tip in tips {
            let mut current = Some(tip);
            while let Some(id) = current {
                let record = &graph.records[id as usize];
                if record.seq < floor || !covered.insert(id) {
                    break;
                }
                current = record.self_parent;
            }
        }
        let mut candidates = known.known_from(member, floor);
        candidates.retain(|id| !covered.contains(id));
        ids.extend(candidates);
    }
    graph.sort_canonically(&mut ids);
    ids.dedup();
    ids
}

/// `member`'s latest known event: the end of its chain, or, for a member
/// seen forking, the branch tip of the highest sequence number (ties by
/// the lower hash).
pub(crate) fn latest_of(known: &impl Known, member: usize) -> Option<EventId> {
    let graph = known.graph();
    if member >= graph.members.len() {
        return None;
    }
    let floor = match known.fork_floor(member) {
        Some(floor) => floor,
        None => known.chain_length(member).checked_sub(1)?,
    };
    let ids = known.known_from(member, floor);
    tips_among(graph, &ids).into_iter().min_by_key(|&id| {
        let record = &graph.records[id as usize];
        (std::cmp::Reverse(record.seq), record.hash)
    })
}

impl Known for Hashgraph {
    fn graph(&self) -> &Hashgraph {
        self
    }

    fn extend_known_from(&self, member: usize, floor: u32, ids: &mut Vec<EventId>) {
        let chain = &self.by_seq[member];
        ids.extend((floor.max(chain.base)..chain.next_seq()).filter_map(|seq| chain.get(seq)));
        if let Some(off_chain) = self.off_chain.get(&(member as MemberIndex)) {
            ids.extend(
                off_chain
                    .iter()
                    .copied()
                    .filter(|&id| self.records[id as usize].seq >= floor),
            );
        }
    }

    fn chain_length(&self, member: usize) -> u32 {
        self.by_seq[member].next_seq()
    }

    fn fork_floor(&self, member: usize) -> Option<u32> {
        self.fork_floors.get(&(member as MemberIndex)).copied()
    }

    fn knows(&self, id: EventId) -> bool {
        (id as usize) < self.records.len()
    }
}

impl Hashgraph {
    /// What this engine knows, as it tells a peer ([`Frontier`]).
    pub fn frontier(&self) -> Frontier {
        frontier(self)
    }

    /// The events this engine holds that a peer with frontier `peer`
    /// lacks, parents first, in the canonical order every holder of the
    /// same events computes (by generation, creator, sequence number and
    /// hash).
    pub fn missing_for(&self, peer: &Frontier) -> Vec<Arc<Event>> {
        missing_for(self, peer)
            .into_iter()
            .filter_map(|id| self.records[id as usize].event.clone())
            .collect()
    }

    /// `member`'s latest event this engine holds (see [`latest_of`]).
    pub fn latest_of(&self, member: MemberIndex) -> Option<EventHash> {
        latest_of(self, member as usize).map(|id| self.records[id as usize].hash)
    }

    /// The events that are ancestors of `own` (itself included) but not of
    /// `before` (`None`: no event), by creator, then sequence number, then
    /// hash. An ancestry fact: the same in every holder of `own`. `None` if
    /// `own` or `before` is not held.
    pub fn reached_since(
        &self,
        own: &EventHash,
        before: Option<&EventHash>,
    ) -> Option<Vec<Arc<Event>>> {
        let own = *self.index.get(own)?;
        let before = match before {
            Some(hash) => Some(*self.index.get(hash)?),
            None => None,
        };
        let own_reach = self.reach(own);
        let before_reach = before.map(|id| self.reach(id));
        let mut reached = Vec::new();
        for member in 0..self.members.len() {
            let from = before_reach.as_ref().map_or(0, |reach| reach[member]);
            let to = own_reach[member];
            if !self.forked[member] {
                // One chain: the events between the two reaches.
                reached.extend(
                    (from..to)
                        .filter_map(|seq| self.by_seq[member].get(seq))
                        .filter_map(|id| self.records[id as usize].event.clone()),
                );
                continue;
            }
            // Branches: walk down from the tips `own` has, stopping at what
            // `before` already had.
            let before_tips = before.map(|id| self.tips(id, member as MemberIndex));
            let had = |id: EventId| {
                before_tips.as_ref().is_some_and(|tips| {
                    tips.iter()
                        .any(|&tip| self.is_self_ancestor_or_equal(id, tip))
                })
            };
            let mut found = BTreeSet::new();
            for &tip in self.tips(own, member as MemberIndex).iter() {
                let mut current = Some(tip);
                while let Some(id) = current {
                    if had(id) || !found.insert(id) {
                        break;
                    }
                    current = self.records[id as usize].self_parent;
                }
            }
            let mut ids: Vec<EventId> = found.into_iter().collect();
            ids.sort_unstable_by_key(|&id| {
                let record = &self.records[id as usize];
                (record.seq, record.hash)
            });
            reached.extend(
                ids.into_iter()
                    .filter_map(|id| self.records[id as usize].event.clone()),
            );
        }
        Some(reached)
    }
}
