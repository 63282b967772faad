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
    /// Forkers fork only at the events (by step) in this window; `0..usize::MAX`:
    /// from their second event on.
    pub fork_window: std::ops::Range<usize>,
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
    let mut generator = GossipGenerator::new(config);
    let events = (0..config.events).map(|_| generator.next_event()).collect();
    GossipDag {
        public_keys: generator.public_keys(),
        events,
    }
}

/// The same gossip, one event at a time (so a long run need not hold every
/// event in memory). `config.events` is ignored.
pub struct GossipGenerator {
    config: GossipConfig,
    keys: Vec<CellKeys>,
    rng: rng::DetRng,
    latest: Vec<Option<EventHash>>,
    previous: Vec<Option<EventHash>>,
    step: usize,
}

impl GossipGenerator {
    pub fn new(config: &GossipConfig) -> GossipGenerator {
        assert!(config.members >= 1, "gossip needs a member");
        let count = config.members as usize;
        GossipGenerator {
            config: config.clone(),
            keys: (0..config.members)
                .map(|i| CellKeys::for_simulated_cell(config.seed, i))
                .collect(),
            rng: rng::stream(config.seed, GOSSIP_COMPONENT, 0),
            latest: vec![None; count],
            previous: vec![None; count],
            step: 0,
        }
    }

    pub fn public_keys(&self) -> Vec<PublicKey> {
        self.keys.iter().map(|k| *k.public()).collect()
    }

    pub fn next_event(&mut self) -> Event {
        let count = self.keys.len();
        let step = self.step;
        self.step += 1;
        let rng = &mut self.rng;
        // Everyone's first event comes first, so every member takes part.
        let creator = if step < count {
            step
        } else {
            rng::index(rng, count)
        };
        let other = if count == 1 {
            creator
        } else {
            (creator + 1 + rng::index(rng, count - 1)) % count
        };
        let forks = self.config.forkers.contains(&(creator as MemberIndex))
            && self.previous[creator].is_some()
            && self.config.fork_window.contains(&step)
            && rng.next_u32() % 4 == 0;
        let self_parent = if forks {
            self.previous[creator]
        } else {
            self.latest[creator]
        };
        let other_parent = if other == creator {
            None
        } else {
            self.latest[other]
        };
        let size = self.config.transaction_bytes;
        let transactions = if size > 0 {
            let mut bytes = vec![0u8; size];
            let stamp = (step as u64).to_le_bytes();
            bytes[..8.min(size)].copy_from_slice(&stamp[..8.min(size)]);
            vec![bytes]
        } else {
            Vec::new()
        };
        let body = EventBody {
            creator: creator as MemberIndex,
            self_parent,
            other_parent,
            timestamp_ns: step as TimeNs * STEP_NS + rng::below(rng, STEP_NS / 2),
            transactions,
        };
        let event = Event::sign(body, &self.keys[creator]);
        if !forks {
            self.previous[creator] = self.latest[creator];
        }
        self.latest[creator] = Some(event.hash());
        event
    }
}

/// A uniformly random topological order of `events` (which must be in a
/// topological order already), drawn from `rng`.
pub fn shuffle_topologically(events: &[Event], rng: &mut impl RngCore) -> Vec<Event> {
    use std::collections::HashMap; // tidy: lookup-only
    let position: HashMap<EventHash, usize> = events // tidy: lookup-only
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
