//! NucleusService: the cell's coordinator and the only writer of its journals.

// tidy: lookup-only (seen transactions, visited events)

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::bus::{Service, ServiceSpec};
use crate::identity::CellKeys;
use crate::journal::{JournalWriter, MemoryStorage};
use crate::market::storage_journal_tag;
use crate::message::{Body, Tx, TxKind};
use crate::node::CellIndex;

use crate::cell::protocol::{
    CellError, CellProtocol, CellRequest, CellResponse, JournalKind, cost,
};
use crate::cell::shared::JournalSet;
use std::cell::RefCell;
use std::rc::Rc;

use super::{CallResult, Ctx, misrouted};

/// The cell's coordinator: its configuration and metadata, the writer of all
/// five journals (every append goes through `nucleus.append`) and of the
/// storage journals it keeps for its storage-market consumers.
pub struct NucleusService {
    journals: Rc<RefCell<Option<JournalSet>>>,
    metadata: Vec<u8>,
    keys: Arc<CellKeys>,
    me: CellIndex,
    /// The fee a storage proof pays (the ledger's minimum).
    fee_min: u64,
    /// One journal per storage lease this cell provides, by lease id. Kept
    /// in memory: a restarted cell reopens them as its ledger replays the
    /// leases (the data is a function of the lease, as a disk would keep it).
    storage: BTreeMap<u64, JournalWriter>,
}

impl NucleusService {
    pub const NAME: &'static str = "nucleus";

    pub fn spec() -> ServiceSpec {
        ServiceSpec::new(Self::NAME)
            .action("nucleus.append")
            .action("nucleus.storage_open")
            .action("nucleus.storage_answer")
    }

    /// `metadata`: the block recorded at every boot (index, id, config).
    pub fn new(
        journals: Rc<RefCell<Option<JournalSet>>>,
        metadata: Vec<u8>,
        keys: Arc<CellKeys>,
        me: CellIndex,
        fee_min: u64,
    ) -> Self {
        NucleusService {
            journals,
            metadata,
            keys,
            me,
            fee_min,
            storage: BTreeMap::new(),
        }
    }

    fn append_now(&mut self, journal: JournalKind, blocks: &[Vec<u8>]) -> Result<(), CellError> {
        let mut set = self.journals.borrow_mut();
        let set = set.as_mut().expect("journals open");
        set.writer_mut(journal)
            .append_batch(blocks)
            .map(|_| ())
            .map_err(|error| CellError::Journal(error.to_string()))
    }
}

impl Service<CellProtocol> for NucleusService {
    fn on_start(&mut self, ctx: &mut Ctx<'_>) {
        let metadata = self.metadata.clone();
        self.append_now(JournalKind::Nucleus, &[metadata])
            .expect("the boot record fits a journal block");
        ctx.charge_cpu(cost::SIGNATURE_SIGN_NS);
    }

    fn on_call(&mut self, request: CellRequest, ctx: &mut Ctx<'_>) -> CallResult {
        match request {
            CellRequest::NucleusAppend { journal, blocks } => {
                let bytes: usize = blocks.iter().map(Vec::len).sum();
                ctx.charge_cpu(cost::SIGNATURE_SIGN_NS + cost::bytes_ns(bytes));
                self.append_now(journal, &blocks)?;
                Ok(CellResponse::Done)
            }
            CellRequest::NucleusStorageOpen { lease, blocks } => {
                if self.storage.contains_key(&lease) {
                    return Ok(CellResponse::Done);
                }
                let bytes: usize = blocks.iter().map(Vec::len).sum();
                ctx.charge_cpu(cost::SIGNATURE_SIGN_NS + cost::bytes_ns(bytes));
                let mut journal = JournalWriter::open(
                    self.keys.clone(),
                    storage_journal_tag(lease),
                    MemoryStorage::new(),
                )
                .map_err(|error| CellError::Journal(error.to_string()))?;
                journal
                    .append_batch(&blocks)
                    .map_err(|error| CellError::Journal(error.to_string()))?;
                self.storage.insert(lease, journal);
                Ok(CellResponse::Done)
            }
            CellRequest::NucleusStorageAnswer {
                lease,
                challenge,
                index,
            } => {
                let journal = self
                    .storage
                    .get(&lease)
                    .ok_or_else(|| CellError::Journal(format!("no storage journal {lease}")))?;
                let proof = journal
                    .range_proof(index, index + 1, journal.length())
                    .map_err(|error| CellError::Journal(error.to_string()))?;
                ctx.charge_cpu(cost::bytes_ns(1024));
                ctx.call(CellRequest::MessageSubmit {
                    to: self.me,
                    body: Body::Tx(Tx {
                        nonce: 0,
                        fee: self.fee_min,
                        kind: TxKind::StorageProof {
                            lease,
                            challenge,
                            proof: proof.to_bytes(),
                        },
                    }),
                })
                .expect("queue has room");
                Ok(CellResponse::Done)
            }
            other => Err(misrouted(&other)),
        }
    }
}
