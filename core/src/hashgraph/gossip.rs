//! Random-gossip DAGs of signed events, for tests and benchmarks: at each
//! step a random member creates an event on top of its own latest event and
//! the latest event of a random other member (the paper's "gossip about
//! gossip" with one sync per event). Forking members sometimes build on their
//! second-latest event instead, creating a fork.

use rand_core::RngCore;

use super::event::{Event, EventBody, EventHash, MemberIndex};
use crate::identity::{CellKeys, PublicKey};
use crate::rng;
use crate::time::TimeNs;

const GOSSIP_COMPONENT: &str = "hashgraph-gossip";
/// Virtual time between two consecutive events of the gossip.
pub const STEP_NS: TimeNs = 1_000_000;

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GossipConfig {
    pub members: u32,
    pub events: usize,
    pub seed: u64,
    /// Members that fork: one in four of their events builds on their
    /// second-latest event.
    pub forkers: Vec<MemberIndex>,
    /// Bytes of one transaction carried by every event (0: none).
    pub transaction_bytes: usize,
}

/// Generated events in creation order (a topological order), with the keys
/// of the members (member `i` is `CellKeys::for_simulated_cell(seed, i)`).
pub struct GossipDag {
    pub public_keys: Vec<PublicKey>,
    pub events: Vec<Event>,
}

pub fn random_gossip(config: &GossipConfig) -> GossipDag {
    assert!(config.members >= 1, "gossip needs a member");
    let keys: Vec<CellKeys> = (0..config.members)
        .map(|i| CellKeys::for_simulated_cell(config.seed, i))
        .collect();
    let mut rng = rng::stream(config.seed, GOSSIP_COMPONENT, 0);
    let count = config.members as usize;
    let mut latest: Vec<Option<EventHash>> = vec![None; count];
    let mut previous: Vec<Option<EventHash>> = vec![None; count];
    let mut events = Vec::with_capacity(config.events);
    for step in 0..config.events {
        // Everyone's first event comes first, so every member takes part.
        let creator = if step < count {
            step
        } else {
            rng::index(&mut rng, count)
        };
        let other = if count == 1 {
            creator
        } else {
            (creator + 1 + rng::index(&mut rng, count - 1)) % count
        };
        let forks = config.forkers.contains(&(creator as MemberIndex))
            && previous[creator].is_some()
            && rng.next_u32() % 4 == 0;
        let self_parent = if forks {
            previous[creator]
        } else {
            latest[creator]
        };
        let other_parent = if other == creator {
            None
        } else {
            latest[other]
        };
        let transactions = if config.transaction_bytes > 0 {
            let mut bytes = vec![0u8; config.transaction_bytes];
            bytes[..8.min(config.transaction_bytes)]
                .copy_from_slice(&(step as u64).to_le_bytes()[..8.min(config.transaction_bytes)]);
            vec![bytes]
        } else {
            Vec::new()
        };
        let body = EventBody {
            creator: creator as MemberIndex,
            self_parent,
            other_parent,
            timestamp_ns: step as TimeNs * STEP_NS + rng::below(&mut rng, STEP_NS / 2),
            transactions,
        };
        let event = Event::sign(body, &keys[creator]);
        if !forks {
            previous[creator] = latest[creator];
        }
        latest[creator] = Some(event.hash());
        events.push(event);
    }
    GossipDag {
        public_keys: keys.iter().map(|k| *k.public()).collect(),
        events,
    }
}

/// A uniformly random topological order of `events` (which must be in a
/// topological order already), drawn from `rng`.
pub fn shuffle_topologically(events: &[Event], rng: &mut impl RngCore) -> Vec<Event> {
    use std::collections::HashMap;
    let position: HashMap<EventHash, usize> = events
        .iter()
        .enumerate()
        .map(|(i, e)| (e.hash(), i))
        .collect();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); events.len()];
    let mut waiting: Vec<u8> = vec![0; events.len()];
    for (i, event) in events.iter().enumerate() {
        let mut parents: Vec<usize> = [event.self_parent(), event.other_parent()]
            .into_iter()
            .flatten()
            .filter_map(|p| position.get(&p).copied())
            .collect();
        parents.dedup();
        for p in parents {
            children[p].push(i);
            waiting[i] += 1;
        }
    }
    let mut ready: Vec<usize> = (0..events.len()).filter(|&i| waiting[i] == 0).collect();
    let mut order = Vec::with_capacity(events.len());
    while !ready.is_empty() {
        let pick = rng::index(rng, ready.len());
        let i = ready.swap_remove(pick);
        order.push(events[i].clone());
        for &child in &children[i] {
            waiting[child] -= 1;
            if waiting[child] == 0 {
                ready.push(child);
            }
        }
    }
    order
}
