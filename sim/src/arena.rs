//! What the cells of one simulated world share, under the rule "share work,
//! never decisions": the [`Arena`] — one [`SharedHashgraph`] holding each
//! event a cell created or accepted once, with its ancestry-only facts — and
//! memos of checks that are pure functions of content (an event's signature,
//! a transaction's decode and signature). Each cell reaches the arena
//! through its own [`ArenaStore`], a [`MemberView`]: what it knows and
//! decides is its own. [`SimEnvironment`] is the environment port
//! ([`Environment`]) the world hands every cell; in
//! [`StoreMode::Independent`] it gives each cell a full engine of its own
//! instead, which must give the same run bit for bit.
//!
//! One world runs on one thread (`Rc<RefCell<_>>`). For a run spread over
//! threads the arena's reads (facts of events already inserted) are
//! independent of its writes (insertions, which a window would commit in
//! `(time, cell, seq)` order); the memos are pure.

use std::cell::RefCell;
use std::collections::HashMap; // tidy: lookup-only (memos keyed by hash)
use std::rc::Rc;
use std::sync::Arc;

use celluler_core::cell::env::{Environment, Standalone};
use celluler_core::cell::store::EventStore;
use celluler_core::cell::{CellConfig, MemberInfo};
use celluler_core::hashgraph::event::DigestHasher;
use celluler_core::hashgraph::{
    Config, ConfigError, Decisions, Event, EventHash, Frontier, InsertError, Member, MemberView,
    ParentKind, SharedHashgraph, TieBreak, ViewError,
};
use celluler_core::identity::PublicKey;
use celluler_core::message::Message;

type DigestMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<DigestHasher>>; // tidy: lookup-only

/// Where each cell's consensus keeps its events and decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreMode {
    /// A view over the world's shared arena (fast; the default).
    #[default]
    Shared,
    /// A full engine per cell, nothing shared.
    Independent,
}

/// The world's shared arena and memos (module docs).
pub struct Arena {
    pub store: SharedHashgraph,
    /// Signature validity by event hash, with the bytes of the key it was
    /// checked against (a check under another key is made again).
    signatures: DigestMap<EventHash, ([u8; 32], bool)>,
    /// Decoded, verified consensus transactions by the hash of their
    /// bytes; `None` if the bytes did not decode or verify.
    transactions: DigestMap<[u8; 32], Option<Arc<Message>>>,
    /// Signature checks actually performed (the rest came from the memos).
    pub signatures_checked: u64,
}

impl Arena {
    /// An empty arena for a world of `members`.
    pub fn new(members: Vec<Member>, config: Config) -> Result<Arena, ConfigError> {
        Ok(Arena {
            store: SharedHashgraph::new(members, config)?,
            signatures: DigestMap::default(),
            transactions: DigestMap::default(),
            signatures_checked: 0,
        })
    }

    /// Insert an event a cell created or accepted (every receive check
    /// passed); one already held is found, not inserted again. The store's
    /// refusals (ancient parents…) are the caller's to report.
    fn accept(
        &mut self,
        event: Arc<Event>,
    ) -> Result<celluler_core::hashgraph::StoreEvent, InsertError> {
        let hash = event.hash();
        if let Some(found) = self.store.find(&hash) {
            return Ok(found);
        }
        self.store.insert_verified_shared(event)?;
        Ok(self
            .store
            .find(&hash)
            .expect("an event just inserted is in the store"))
    }

    /// Whether `event`'s signature verifies under `key`, checked once per
    /// world and key.
    pub fn signature_valid(&mut self, event: &Event, key: &PublicKey) -> bool {
        let hash = event.hash();
        let key_bytes = *key.as_bytes();
        if let Some((checked_key, valid)) = self.signatures.get(&hash)
            && *checked_key == key_bytes
        {
            return *valid;
        }
        let valid = event.verify(key).is_ok();
        self.signatures_checked += 1;
        self.signatures.insert(hash, (key_bytes, valid));
        valid
    }

    /// A consensus transaction decoded and verified once per world.
    pub fn transaction(&mut self, bytes: &[u8]) -> Option<Arc<Message>> {
        let hash = *blake3::hash(bytes).as_bytes();
        if let Some(cached) = self.transactions.get(&hash) {
            return cached.clone();
        }
        self.signatures_checked += 1;
        let decoded = Message::decode_verified(bytes).ok().map(Arc::new);
        self.transactions.insert(hash, decoded.clone());
        decoded
    }

    /// Events the arena holds.
    pub fn event_count(&self) -> usize {
        self.store.graph().event_count()
    }
}

/// The environment every cell of a world is handed (module docs).
pub struct SimEnvironment {
    arena: Rc<RefCell<Arena>>,
    mode: StoreMode,
}

impl SimEnvironment {
    /// The environment of a world of `members` (in member-index order).
    pub fn new(
        members: &[MemberInfo],
        config: Config,
        mode: StoreMode,
    ) -> Result<SimEnvironment, ConfigError> {
        let members = members.iter().map(MemberInfo::consensus_member).collect();
        Ok(SimEnvironment {
            arena: Rc::new(RefCell::new(Arena::new(members, config)?)),
            mode,
        })
    }

    pub fn arena(&self) -> std::cell::Ref<'_, Arena> {
        self.arena.borrow()
    }

    pub fn mode(&self) -> StoreMode {
        self.mode
    }
}

impl Environment for SimEnvironment {
    fn new_store(&self, config: &CellConfig) -> Box<dyn EventStore> {
        match self.mode {
            StoreMode::Shared => Box::new(ArenaStore::new(self.arena.clone(), config.tie_break)),
            // What a host of one cell gives it: an engine of its own.
            StoreMode::Independent => Standalone.new_store(config),
        }
    }

    fn signature_valid(&self, event: &Event, key: &PublicKey) -> bool {
        self.arena.borrow_mut().signature_valid(event, key)
    }

    fn transaction(&self, bytes: &[u8]) -> Option<Arc<Message>> {
        self.arena.borrow_mut().transaction(bytes)
    }
}

/// A cell's view over the world's shared arena.
pub struct ArenaStore {
    arena: Rc<RefCell<Arena>>,
    view: MemberView,
}

impl ArenaStore {
    pub fn new(arena: Rc<RefCell<Arena>>, tie_break: TieBreak) -> ArenaStore {
        let view = arena.borrow().store.new_view_with(tie_break);
        ArenaStore { arena, view }
    }
}

impl EventStore for ArenaStore {
    fn knows(&self, hash: &EventHash) -> bool {
        self.view.knows(&self.arena.borrow().store, hash)
    }

    fn learn(&mut self, event: Arc<Event>) -> Result<Decisions, InsertError> {
        let mut arena = self.arena.borrow_mut();
        let hash = event.hash();
        let self_parent = event.self_parent();
        let found = arena.accept(event)?;
        // The view refuses what a full engine would: an event it knows, or
        // one whose parent it lacks (callers check both first).
        self.view
            .learn_event(&arena.store, found)
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

    fn frontier(&self) -> Frontier {
        self.view.frontier(&self.arena.borrow().store)
    }

    fn latest_of(&self, member: u32) -> Option<EventHash> {
        self.view.latest_of(&self.arena.borrow().store, member)
    }

    fn parent_round(&self, parents: [Option<EventHash>; 2]) -> Option<u32> {
        let arena = self.arena.borrow();
        let mut round = 0;
        for parent in parents.iter().flatten() {
            let found = arena.store.find(parent)?;
            if !self.view.knows_event(&arena.store, found) {
                return None;
            }
            round = round.max(arena.store.round_of(found));
        }
        Some(round)
    }

    fn missing_for(&self, peer: &Frontier) -> Vec<Arc<Event>> {
        let arena = self.arena.borrow();
        self.view
            .missing_for(&arena.store, peer)
            .iter()
            .map(|hash| {
                let found = arena.store.find(hash).expect("a view knows stored events");
                Arc::clone(arena.store.event(found))
            })
            .collect()
    }

    fn decided_rounds(&self) -> u32 {
        self.view.decided_rounds()
    }

    fn round(&self, hash: &EventHash) -> Option<(u32, bool)> {
        let arena = self.arena.borrow();
        let info = arena.store.graph().event_info(hash)?;
        Some((info.round, info.witness))
    }

    fn creator(&self, hash: &EventHash) -> Option<u32> {
        let arena = self.arena.borrow();
        let found = arena.store.find(hash)?;
        self.view
            .knows_event(&arena.store, found)
            .then(|| arena.store.event(found).creator())
    }

    fn reached_since(&self, own: &EventHash, before: Option<&EventHash>) -> Vec<Arc<Event>> {
        self.arena
            .borrow()
            .store
            .graph()
            .reached_since(own, before)
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use celluler_core::hashgraph::EventBody;
    use celluler_core::identity::CellKeys;

    fn keys(count: u32) -> Vec<CellKeys> {
        (0..count)
            .map(|index| CellKeys::for_simulated_cell(5, index))
            .collect()
    }

    fn environment(keys: &[CellKeys], mode: StoreMode) -> SimEnvironment {
        let members: Vec<MemberInfo> = keys
            .iter()
            .map(|keys| MemberInfo::new(*keys.public(), 1))
            .collect();
        SimEnvironment::new(&members, Config::default(), mode).unwrap()
    }

    fn config(keys: &[CellKeys], index: u32) -> CellConfig {
        CellConfig {
            seed: 5,
            index: celluler_core::node::CellIndex(index),
            members: Arc::new(
                keys.iter()
                    .map(|keys| MemberInfo::new(*keys.public(), 1))
                    .collect(),
            ),
            consensus: Config::default(),
            gossip_interval_ns: 1,
            genesis_balance: 0,
            ledger: celluler_core::ledger::LedgerConfig {
                fee_min: 0,
                ..Default::default()
            },
            genesis: Arc::from(Vec::new()),
            accounts: Vec::new().into(),
            trust: Default::default(),
            access: Default::default(),
            record_consensus: false,
            tie_break: TieBreak::WhitenedSignature,
            gossip: Default::default(),
        }
    }

    fn event(keys: &CellKeys, creator: u32, self_parent: Option<EventHash>, time: u64) -> Event {
        Event::sign(
            EventBody {
                creator,
                self_parent,
                other_parent: None,
                timestamp_ns: time,
                transactions: Vec::new(),
            },
            keys,
        )
    }

    #[test]
    fn a_signature_is_checked_once_per_event_and_key() {
        let keys = keys(3);
        let environment = environment(&keys, StoreMode::Shared);
        let honest = event(&keys[1], 1, None, 7);
        let forged = event(&keys[2], 1, None, 8);
        for _ in 0..3 {
            assert!(environment.signature_valid(&honest, keys[1].public()));
            assert!(!environment.signature_valid(&forged, keys[1].public()));
        }
        assert_eq!(environment.arena().signatures_checked, 2);
        // The memo's input is the event and the key: under another key the
        // check is made again, and answers for that key.
        assert!(!environment.signature_valid(&honest, keys[2].public()));
        assert!(environment.signature_valid(&forged, keys[2].public()));
        assert_eq!(environment.arena().signatures_checked, 4);
    }

    #[test]
    fn an_event_enters_the_arena_only_when_a_cell_learns_it_and_views_stay_apart() {
        let keys = keys(3);
        let environment = environment(&keys, StoreMode::Shared);
        let mut first = environment.new_store(&config(&keys, 0));
        let second = environment.new_store(&config(&keys, 1));
        let genesis = Arc::new(event(&keys[2], 2, None, 1));
        assert!(environment.signature_valid(&genesis, keys[2].public()));
        assert_eq!(environment.arena().event_count(), 0, "checked, not stored");
        first.learn(Arc::clone(&genesis)).unwrap();
        assert_eq!(environment.arena().event_count(), 1);
        assert!(first.knows(&genesis.hash()));
        assert!(
            !second.knows(&genesis.hash()),
            "the other view never heard of it"
        );
        assert_eq!(second.creator(&genesis.hash()), None);
        assert_eq!(second.latest_of(2), None);
        assert_eq!(first.latest_of(2), Some(genesis.hash()));
        assert_eq!(second.frontier().counts, vec![0, 0, 0]);
        assert_eq!(first.frontier().counts, vec![0, 0, 1]);
        assert_eq!(
            first
                .missing_for(&second.frontier())
                .iter()
                .map(|event| event.hash())
                .collect::<Vec<_>>(),
            vec![genesis.hash()]
        );
    }

    #[test]
    fn independent_mode_shares_no_events() {
        let keys = keys(2);
        let environment = environment(&keys, StoreMode::Independent);
        let config = config(&keys, 0);
        let mut store = environment.new_store(&config);
        store.learn(Arc::new(event(&keys[1], 1, None, 1))).unwrap();
        assert_eq!(environment.arena().event_count(), 0);
    }
}
