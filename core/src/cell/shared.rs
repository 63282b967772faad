//! What the services of one cell share: the member directory, the journals,
//! the outbox and the signing capability.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;

use crate::identity::{CellId, CellKeys, PublicKey};
use crate::journal::{Journal, JournalTag, JournalWriter, MemoryStorage, SignedHead};
use crate::message::{Body, Message, MessageError};
use crate::node::CellIndex;
use crate::time::TimeNs;

use super::api::CellObservation;
use super::protocol::{CellWire, JournalKind};

/// One consensus member: its key, the cell id it hashes to, and its stake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberInfo {
    pub public_key: PublicKey,
    pub cell_id: CellId,
    /// Consensus stake (Hashgraph's weighted votes); at least 1.
    pub stake: u64,
}

impl MemberInfo {
    /// The member whose key is `public_key`, with `stake`.
    pub fn new(public_key: PublicKey, stake: u64) -> MemberInfo {
        MemberInfo {
            public_key,
            cell_id: public_key.cell_id(),
            stake,
        }
    }

    /// The member as the hashgraph engine weighs it.
    pub fn consensus_member(&self) -> crate::hashgraph::Member {
        crate::hashgraph::Member {
            public_key: self.public_key,
            stake: self.stake,
        }
    }
}

/// The member directory: every consensus member in member-index order
/// (= cell-index order), and each member's index by cell id, so a receiver
/// tells a member's message from a non-member identity's without a scan.
/// Built once per world and shared behind an `Arc`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directory {
    members: Box<[MemberInfo]>,
    index_by_cell_id: BTreeMap<CellId, CellIndex>,
}

impl Directory {
    /// The member whose cell id is `cell_id`, if it is one.
    pub fn index_of(&self, cell_id: &CellId) -> Option<CellIndex> {
        self.index_by_cell_id.get(cell_id).copied()
    }
}

impl FromIterator<MemberInfo> for Directory {
    fn from_iter<I: IntoIterator<Item = MemberInfo>>(members: I) -> Directory {
        let members: Box<[MemberInfo]> = members.into_iter().collect();
        let index_by_cell_id = members
            .iter()
            .enumerate()
            .map(|(index, member)| (member.cell_id, CellIndex(index as u32)))
            .collect();
        Directory {
            members,
            index_by_cell_id,
        }
    }
}

impl std::ops::Deref for Directory {
    type Target = [MemberInfo];

    fn deref(&self) -> &[MemberInfo] {
        &self.members
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

    /// Copies of the five storages (the journals stay open).
    pub fn copy_storages(&self) -> Vec<MemoryStorage> {
        self.writers
            .iter()
            .map(|writer| writer.journal().storage().clone())
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
