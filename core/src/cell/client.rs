//! A client: an account that is not a consensus member (also what a
//! non-member identity signs with). It signs its own
//! TXs (with its own sequential nonces) and hands them to an entry cell,
//! which submits them through consensus (`CellCommand::Relay`). Its
//! identity is a one-block identity journal, as a cell's starts.

use std::sync::Arc;

use crate::identity::{CellId, CellKeys};
use crate::journal::{JournalTag, JournalWriter, MemoryStorage, SignedHead};
use crate::message::{Body, Message, MessageError, Tx, TxKind};
use crate::time::TimeNs;

use super::protocol::JournalKind;
use super::services::IDENTITY_GENESIS;

/// A client's signing state (module docs).
pub struct Client {
    keys: Arc<CellKeys>,
    head: SignedHead,
    next_nonce: u64,
}

impl Client {
    /// The client whose keys are `keys`, with its identity genesis block.
    pub fn new(keys: CellKeys) -> Client {
        let keys = Arc::new(keys);
        let mut journal = JournalWriter::open(
            keys.clone(),
            JournalTag::named(JournalKind::Identity.name()),
            MemoryStorage::new(),
        )
        .expect("an empty journal opens");
        let mut genesis = vec![IDENTITY_GENESIS];
        genesis.extend(keys.public().as_bytes());
        let head = journal
            .append(&genesis)
            .expect("a genesis block fits a journal");
        Client {
            keys,
            head,
            next_nonce: 0,
        }
    }

    pub fn cell_id(&self) -> CellId {
        self.keys.cell_id()
    }

    /// The nonce the client's next TX carries.
    pub fn next_nonce(&self) -> u64 {
        self.next_nonce
    }

    /// Sign `body` to `receiver` as this identity (a direct message, an
    /// AUTH step).
    pub fn sign(
        &self,
        timestamp: TimeNs,
        receiver: CellId,
        body: Body,
    ) -> Result<Message, MessageError> {
        Message::sign(&self.keys, self.head.clone(), timestamp, receiver, body)
    }

    /// Sign a transfer of `amount` to `to` with the client's next nonce.
    pub fn sign_transfer(
        &mut self,
        timestamp: TimeNs,
        to: CellId,
        amount: u64,
        fee: u64,
    ) -> Result<Message, MessageError> {
        let message = self.sign(
            timestamp,
            to,
            Body::Tx(Tx {
                nonce: self.next_nonce,
                fee,
                kind: TxKind::Transfer { to, amount },
            }),
        )?;
        self.next_nonce += 1;
        Ok(message)
    }
}
