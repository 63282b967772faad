//! What the services of one cell share (the journals, the outbox, the
//! signing capability), and what all cells of a simulated world share (the
//! event store and the verification caches).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::collections::HashMap; // tidy: lookup-only (caches keyed by hash)
use std::rc::Rc;
use std::sync::Arc;

use crate::hashgraph::{
    Config, Event, EventHash, InsertError, Member, SharedHashgraph, StoreEvent,
};
use crate::identity::{CellId, CellKeys, PublicKey};
use crate::journal::{Journal, JournalTag, JournalWriter, MemoryStorage, SignedHead};
use crate::message::{Body, Message, MessageError};
use crate::node::CellIndex;
use crate::time::TimeNs;

use super::api::CellObservation;
use super::protocol::{CellWire, JournalKind};

pub use crate::hashgraph::event::DigestHasher;

type DigestMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<DigestHasher>>; // tidy: lookup-only

/// One member of the world: its key and the cell id it hashes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberInfo {
    pub public_key: PublicKey,
    pub cell_id: CellId,
}

impl MemberInfo {
    /// The member whose key is `public_key`.
    pub fn new(public_key: PublicKey) -> MemberInfo {
        MemberInfo {
            public_key,
            cell_id: public_key.cell_id(),
        }
    }
}

/// An event in the world store, with what every cell would compute from it.
struct StoredEvent {
    event: Arc<Event>,
    /// Checked once against its creator's key (`None`: not checked yet).
    signature_valid: Option<bool>,
}

/// Everything the cells of one simulated world share: the hashgraph store
/// (each event and its consensus facts held once), each creator's chain, and
/// caches so that a signature or a transaction is checked once per world.
/// Cells are still charged the CPU cost of every check they would have made.
pub struct SharedWorld {
    pub store: SharedHashgraph,
    /// The member directory, in member-index order: the keys the signature
    /// memo checks against. Cells are given the same list as configuration
    /// ([`super::CellConfig::members`]; this `Arc` can be shared into it),
    /// and their services read it from there.
    pub members: Arc<[MemberInfo]>,
    events: DigestMap<EventHash, StoredEvent>,
    /// Signature validity of events received but not in the store (refused
    /// ones, or not accepted yet), by event hash.
    signatures_off_store: DigestMap<EventHash, bool>,
    /// Per creator, the events it created ([`SharedWorld::insert_created`])
    /// in sequence order (what a restarted cell reads back as its own event
    /// history). Events that entered the store by
    /// [`SharedWorld::accept`] are not on it.
    chains: Vec<Vec<EventHash>>,
    /// Decoded, verified consensus transactions by message hash; `None` if
    /// the bytes did not decode or verify.
    transactions: DigestMap<[u8; 32], Option<Arc<Message>>>,
    /// Signature checks actually performed (the rest came from the cache).
    pub signatures_checked: u64,
    /// Whether events enter the shared arena (`store`): off when every cell
    /// runs its own engine (`StoreMode::Independent`); the world then only
    /// interns events and memoises signature and transaction checks.
    arena: bool,
}

/// A handle every cell of one world holds.
pub type WorldHandle = Rc<RefCell<SharedWorld>>;

impl SharedWorld {
    /// A world of `members` (in member-index order = cell-index order).
    pub fn new(
        members: Vec<(PublicKey, u64)>,
        config: Config,
    ) -> Result<SharedWorld, crate::hashgraph::ConfigError> {
        let infos = members
            .iter()
            .map(|(key, _)| MemberInfo::new(*key))
            .collect();
        let store = SharedHashgraph::new(
            members
                .iter()
                .map(|&(public_key, stake)| Member { public_key, stake })
                .collect(),
            config,
        )?;
        let chains = vec![Vec::new(); members.len()];
        Ok(SharedWorld {
            store,
            members: infos,
            events: DigestMap::default(),
            signatures_off_store: DigestMap::default(),
            chains,
            transactions: DigestMap::default(),
            signatures_checked: 0,
            arena: true,
        })
    }

    /// The same world with no shared arena: for cells that each run their
    /// own engine.
    pub fn without_arena(mut self) -> SharedWorld {
        self.arena = false;
        self
    }

    pub fn handle(self) -> WorldHandle {
        Rc::new(RefCell::new(self))
    }

    /// Add an event its creator just signed. Its signature is checked by
    /// the first cell that receives it ([`SharedWorld::signature_valid`]),
    /// as a receiver would, whoever created it.
    pub fn insert_created(&mut self, event: Event) -> Result<EventHash, InsertError> {
        let hash = event.hash();
        let creator = event.creator() as usize;
        let stored = self.store_event(event)?;
        self.events.insert(
            hash,
            StoredEvent {
                event: stored,
                signature_valid: None,
            },
        );
        self.chains[creator].push(hash);
        Ok(hash)
    }

    /// Insert into the store; the store's own copy of the payload (one per
    /// world), which the world's map shares.
    fn store_event(&mut self, event: Event) -> Result<Arc<Event>, InsertError> {
        if !self.arena {
            return Ok(Arc::new(event));
        }
        let hash = event.hash();
        self.store.insert_verified(event)?;
        let found = self
            .store
            .find(&hash)
            .expect("an event just inserted is in the store");
        Ok(Arc::clone(self.store.event(found)))
    }

    /// Add an event a cell received and accepted (every receive check
    /// passed, [`SharedWorld::signature_valid`] included) that no creation
    /// put in the store: a peer made it off the honest path. An event the
    /// store holds already is found, not inserted again. The store's
    /// refusals ([`InsertError`]: ancient parents or round, a self-parent by
    /// another creator…) are the caller's to report.
    pub fn accept(&mut self, event: Arc<Event>) -> Result<StoreEvent, InsertError> {
        let hash = event.hash();
        if let Some(found) = self.store.find(&hash) {
            return Ok(found);
        }
        let stored = self.store_event(Arc::unwrap_or_clone(event))?;
        let signature_valid = self.signatures_off_store.remove(&hash);
        self.events.insert(
            hash,
            StoredEvent {
                event: stored,
                signature_valid,
            },
        );
        Ok(self
            .store
            .find(&hash)
            .expect("an event just inserted is in the store"))
    }

    pub fn event(&self, hash: &EventHash) -> Option<&Arc<Event>> {
        self.events.get(hash).map(|stored| &stored.event)
    }

    /// Whether `event`'s signature verifies under its creator's key
    /// (`false` for a creator that is not a member), checked once per
    /// world. The memo is keyed by the event hash: it covers every signed
    /// byte and the signature, and the creator index that picks the key
    /// from the fixed member directory, so it is the check's whole input.
    pub fn signature_valid(&mut self, event: &Event) -> bool {
        let hash = event.hash();
        let cached = match self.events.get(&hash) {
            Some(stored) => stored.signature_valid,
            None => self.signatures_off_store.get(&hash).copied(),
        };
        if let Some(valid) = cached {
            return valid;
        }
        let Some(member) = self.members.get(event.creator() as usize) else {
            return false;
        };
        let valid = event.verify(&member.public_key).is_ok();
        self.signatures_checked += 1;
        match self.events.get_mut(&hash) {
            Some(stored) => stored.signature_valid = Some(valid),
            None => {
                self.signatures_off_store.insert(hash, valid);
            }
        }
        valid
    }

    pub fn chain(&self, creator: u32) -> &[EventHash] {
        self.chains
            .get(creator as usize)
            .map_or(&[][..], |chain| chain.as_slice())
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

    pub fn event_count(&self) -> usize {
        self.events.len()
    }
}

/// The five journal writers of a cell. Only the Nucleus appends; the other
/// services hold a [`JournalReader`].
pub struct JournalSet {
    writers: Vec<JournalWriter<MemoryStorage>>,
}

impl JournalSet {
    /// Reopen (or create, from empty storages) the five journals.
    pub fn open(
        keys: &Arc<CellKeys>,
        storages: Vec<MemoryStorage>,
    ) -> Result<JournalSet, crate::journal::JournalError> {
        assert_eq!(storages.len(), JournalKind::ALL.len(), "five journals");
        let writers = JournalKind::ALL
            .iter()
            .zip(storages)
            .map(|(kind, storage)| {
                JournalWriter::open(keys.clone(), JournalTag::named(kind.name()), storage)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(JournalSet { writers })
    }

    pub fn writer_mut(&mut self, kind: JournalKind) -> &mut JournalWriter<MemoryStorage> {
        &mut self.writers[kind as usize]
    }

    pub fn journal(&self, kind: JournalKind) -> &Journal<MemoryStorage> {
        self.writers[kind as usize].journal()
    }

    /// Give up the writers; the storages are the durable state.
    pub fn into_storages(self) -> Vec<MemoryStorage> {
        self.writers
            .into_iter()
            .map(JournalWriter::into_storage)
            .collect()
    }

    pub fn total_blocks(&self) -> u64 {
        self.writers.iter().map(|writer| writer.length()).sum()
    }
}

/// A read-only view of a cell's journals: what the services other than the
/// Nucleus hold. It has no method that appends.
#[derive(Clone)]
pub struct JournalReader {
    set: Rc<RefCell<Option<JournalSet>>>,
}

impl JournalReader {
    pub(crate) fn new(set: Rc<RefCell<Option<JournalSet>>>) -> Self {
        JournalReader { set }
    }

    /// Read `kind` through `read`.
    pub fn with<R>(&self, kind: JournalKind, read: impl FnOnce(&Journal<MemoryStorage>) -> R) -> R {
        let set = self.set.borrow();
        read(set.as_ref().expect("journals open").journal(kind))
    }

    /// Every block of `kind`, in order.
    pub fn blocks(&self, kind: JournalKind) -> Vec<Vec<u8>> {
        self.with(kind, |journal| {
            (0..journal.length())
                .map(|index| {
                    journal
                        .block(index)
                        .expect("a block below the length is stored")
                        .into_owned()
                })
                .collect()
        })
    }

    pub fn identity_head(&self) -> Option<SignedHead> {
        self.with(JournalKind::Identity, |journal| {
            journal.head().expect("stored head")
        })
    }
}

/// What the services hand the cell to turn into node outputs: network sends
/// and observations, plus the cell's local time during the current input,
/// and the count of rejected inputs.
#[derive(Default)]
pub struct CellIo {
    pub now: TimeNs,
    pub sends: Vec<(CellIndex, CellWire)>,
    pub observations: Vec<CellObservation>,
    /// Rejected inputs by reason since the cell (re)started: direct
    /// messages (MessageService) and sync events (ConsensusService).
    pub rejected: BTreeMap<&'static str, u64>,
}

pub type IoHandle = Rc<RefCell<CellIo>>;

/// The signing capability IdentityService hands to the services that sign
/// messages: the cell's keys and its identity journal's latest head.
#[derive(Clone)]
pub struct Signer {
    keys: Arc<CellKeys>,
    journals: JournalReader,
}

impl Signer {
    pub(crate) fn new(keys: Arc<CellKeys>, journals: JournalReader) -> Self {
        Signer { keys, journals }
    }

    pub fn cell_id(&self) -> CellId {
        self.keys.cell_id()
    }

    pub fn sign(
        &self,
        timestamp: TimeNs,
        receiver: CellId,
        body: Body,
    ) -> Result<Message, MessageError> {
        let head = self
            .journals
            .identity_head()
            .expect("the identity journal has its genesis block from the first start");
        Message::sign(&self.keys, head, timestamp, receiver, body)
    }
}
